"""What one source repeats from page to page, remembered in the database.

Two kinds of furniture that one page's structure does not give away: a line that is the
title of another item of the same source (a headline listed without a link), and a short
line that recurs on many of the source's pages (a block heading, a slogan, a "latest news"
entry shown on every page fetched the same week). The source's stored items teach both:
each stored item adds its title and its short lines to the memory.

A line is only ever removed whole, and never one that ends like a sentence because it
recurs: articles of one ministry repeat stock sentences ("The meeting was held in a
friendly atmosphere.") that are their own text. A line that is another item's title goes
whatever its ending ("What next for the talks?").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from monitor.store.models import utcnow
from monitor.store.repo import Writer

RECUR_ITEMS = 3  # a line on this many earlier items of a source is its furniture
MAX_LINE_CHARS = 300  # longer lines are paragraphs: never looked up
FORGET_AFTER = timedelta(days=60)  # a line seen once, this long ago, is forgotten

_SENTENCE_END = re.compile(r"[.!?…؟;][\"'»”’)\]]*$")
_LETTER = re.compile(r"[^\W\d_]")


def fold(line: str) -> str:
    """A line reduced for comparison: NFC, case, spacing, leading bullets."""
    text = unicodedata.normalize("NFC", line).casefold()
    return " ".join(text.split()).strip(" -–—•·*|»>")


def line_key(line: str) -> int:
    """A signed 64-bit key of a folded line."""
    digest = hashlib.blake2b(fold(line).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class Recalled:
    """A text with the lines the memory knows as furniture removed."""

    text: str
    keys: tuple[int, ...]  # the short lines of the text as it came, to learn once stored
    title: int | None  # the key of the item's own title
    removed: int


def _lines(text: str) -> list[tuple[str, int | None]]:
    """Each line with its key, or None when it is too long or has no letter."""
    out: list[tuple[str, int | None]] = []
    for line in text.splitlines():
        short = len(line) <= MAX_LINE_CHARS and _LETTER.search(line) is not None
        out.append((line, line_key(line) if short else None))
    return out


def recall(w: Writer, source: str, title: str | None, text: str) -> Recalled:
    """``text`` without the lines that are another item's title or that recur on
    RECUR_ITEMS items of ``source``."""
    lines = _lines(text)
    own = line_key(title) if title and title.strip() else None
    keys = [k for _, k in lines if k is not None]
    known = w.known_lines(source, keys)
    kept: list[str] = []
    for line, key in lines:
        seen = known.get(key) if key is not None else None
        if seen is not None and key != own and _is_furniture(line, *seen):
            continue
        kept.append(line)
    learn = tuple(k for line, k in lines if k is not None and not _SENTENCE_END.search(line))
    removed = len(lines) - len(kept)
    if not removed or not any(_LETTER.search(line) for line in kept):
        return Recalled(text, learn, own, 0)
    return Recalled("\n".join(kept), learn, own, removed)


def _is_furniture(line: str, items: int, is_title: bool) -> bool:
    if is_title:
        return True
    return items >= RECUR_ITEMS and not _SENTENCE_END.search(line.rstrip())


def learn(w: Writer, source: str, recalled: Recalled) -> None:
    """Remember the lines and title of an item just stored."""
    w.learn_lines(source, recalled.keys, recalled.title, utcnow() - FORGET_AFTER)
