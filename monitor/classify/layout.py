"""Where a term stands: lead, body, or the trailing block of headlines after the article.

Extraction sometimes keeps a "Most read" or "Related news" list after the article. Its
headlines may name the OIC while the article does not, so that block must count little.
It starts at a short line that begins with a known heading (layout.toml), or it is a run of
three or more short lines without sentence punctuation at the very end, after some body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_HEADLINE_MAX = 160
_MARKER_LINE_MAX = 80
_MIN_RUN = 3
_MIN_BODY_BEFORE_RUN = 200
_SENTENCE_END = (".", "!", "?", "…", ":", ";")


def compile_markers(markers: Iterable[str]) -> re.Pattern[str] | None:
    """One regex finding a line that starts with any heading (folded text)."""
    alternatives = sorted({re.escape(m) for m in markers if m}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"^[ \t]*(?:" + "|".join(alternatives) + ")", re.MULTILINE)


def tail_start(folded_text: str, markers: re.Pattern[str] | None) -> int:
    """Offset where the trailing headline block begins, or len(text) if there is none."""
    text = folded_text
    end = len(text)
    first_break = text.find("\n")
    if first_break < 0:
        return end
    if markers is not None:
        pos = first_break + 1
        while m := markers.search(text, pos):
            line_end = text.find("\n", m.start())
            line_end = end if line_end < 0 else line_end
            if len(text[m.start() : line_end].strip()) <= _MARKER_LINE_MAX:
                return m.start()
            pos = line_end
    # Walk back over short unpunctuated lines at the very end.
    run = 0
    first = end
    stop = end
    while stop > first_break:
        start = text.rfind("\n", 0, stop) + 1
        line = text[start:stop].strip()
        if line:
            if len(line) > _HEADLINE_MAX or line.endswith(_SENTENCE_END):
                break
            run += 1
            first = start
        stop = start - 1
    if run >= _MIN_RUN and first >= _MIN_BODY_BEFORE_RUN:
        return first
    return end
