"""Where a term stands: lead, body, or the trailing block of headlines after the article.

Extraction sometimes keeps a "Most read" or "Related news" list after the article. Its
headlines may name the OIC while the article does not, so that block must count little.
It starts at a short line that begins with a known heading (layout.toml), or it is a run of
three or more short lines without sentence punctuation at the very end, after some body.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"[^\n]+")
_HEADLINE_MAX = 160
_MARKER_LINE_MAX = 80
_MIN_RUN = 3
_MIN_BODY_BEFORE_RUN = 200
_SENTENCE_END = (".", "!", "?", "…", ":", ";")


def tail_start(folded_text: str, markers: tuple[str, ...]) -> int:
    """Offset where the trailing headline block begins, or len(text) if there is none."""
    lines = [(m.start(), m.group().strip()) for m in _LINE.finditer(folded_text)]
    lines = [(s, t) for s, t in lines if t]
    if len(lines) < 2:
        return len(folded_text)
    for start, line in lines[1:]:
        if len(line) <= _MARKER_LINE_MAX and line.startswith(markers):
            return start
    run = 0
    first = len(folded_text)
    for start, line in reversed(lines[1:]):
        if len(line) > _HEADLINE_MAX or line.endswith(_SENTENCE_END):
            break
        run += 1
        first = start
    if run >= _MIN_RUN and first >= _MIN_BODY_BEFORE_RUN:
        return first
    return len(folded_text)
