"""What one source repeats from page to page, remembered in the database.

Two kinds of furniture that one page's structure does not give away: a line that is the
title of another item of the same source (a headline listed without a link), and a short
line that recurs on many of the source's pages (a block heading, a slogan, a "latest news"
entry shown on every page fetched the same week). The source's stored items teach both:
each stored item adds its title and its short lines to the memory.

A line is only ever removed whole, and never one that ends like a sentence because it
recurs: articles of one ministry repeat stock sentences ("The meeting was held in a
friendly atmosphere.") that are their own text. A line that is another item's title goes
even when it ends with a question or exclamation mark; lines ending with a full stop are
not looked up at all (a headline does not end with one), which leaves most of a text's
paragraphs out of the query.
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
FORGET_ONE_IN = 64  # the forgetting runs with one stored item in this many

_SENTENCE_END = re.compile(r"[.!?…؟;][\"'»”’)\]]*$")
_FULL_STOP = re.compile(r"[.…;][\"'»”’)\]]*$")
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


Lines = list[tuple[str, int | None]]


def _lines(text: str) -> Lines:
    """Each line with its key, or None when it is not looked up: too long, no letter, or
    ending with a full stop."""
    out: list[tuple[str, int | None]] = []
    for line in text.splitlines():
        stripped = line.rstrip()
        looked_up = (
            len(stripped) <= MAX_LINE_CHARS
            and _FULL_STOP.search(stripped) is None
            and _LETTER.search(stripped) is not None
        )
        out.append((line, line_key(line) if looked_up else None))
    return out


def prefetch(w: Writer, texts: list[tuple[str, str]]) -> list[Lines]:
    """The lines of these (source, text) pairs, their keys read for ``recall`` with one
    query a source: the writer keeps what it read for the rest of its transaction."""
    lines = [_lines(text) for _, text in texts]
    asked: dict[str, set[int]] = {}
    for (source, _), found in zip(texts, lines, strict=True):
        asked.setdefault(source, set()).update(k for _, k in found if k is not None)
    for source, keys in asked.items():
        w.known_lines(source, list(keys))
    return lines


def recall(w: Writer, source: str, title: str | None, text: str, lines: Lines) -> Recalled:
    """``text`` without the lines that are another item's title or that recur on
    RECUR_ITEMS items of ``source``. ``lines``: the text's, from ``prefetch``."""
    own = line_key(title) if title and title.strip() else None
    keys = [k for _, k in lines if k is not None]
    known = w.known_lines(source, keys) if keys else {}
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
    """Remember the lines and title of an item just stored; now and then (with one item in
    FORGET_ONE_IN, chosen by its title), forget lines long seen on a single item."""
    forget = recalled.title is not None and recalled.title % FORGET_ONE_IN == 0
    w.learn_lines(
        source, recalled.keys, recalled.title, utcnow() - FORGET_AFTER if forget else None
    )
