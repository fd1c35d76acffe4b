"""How values are written for people, alike in `items`, the command line's tables, the web
pages, the Atom and JSON feeds, downloads and alerts.

An item without a title (an imported text file, a page that names none) is shown with one
made from its text: the first line when it is short, otherwise the first sentence, cut at
a word with "…". A date line or view counter at the top is skipped, and a date written
right after the title on the same line ("Partnership for development 24 March 2022 0:08
247 ...") ends it. An item without a date is shown as undated, never as published when
it was stored; one whose text gave only a month is shown as that month.

Only the standard library is imported up front, so the command line can use this module
without slowing its start; the date reader is loaded when a title is made from a text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.dates import Precision

TITLE_CHARS = 150  # a first line this long or shorter is the title
HEAD_LINES = 5  # lines looked at for a title
DATE_IN_LINE = 80  # a date this far into the first line may follow the title
MIN_TITLE_WORDS = 2  # words before such a date that make a title ("date 2023-03" does not)

# A cut cell (a title, an error) is at most this many characters, "…" included.
CELL_WIDTH = 70

_WORD = re.compile(r"[^\W\d_]{2,}")
_SENTENCE = re.compile(r"[.!?…؟](?=[\"'»”’)\]]*(?:\s+\S|\s*$))")
_EDGE = " \t,;:|/·•–—-"


def cut(text: str | None, width: int = CELL_WIDTH) -> str:
    """`text` on one line, cut to `width` characters with "…" when it was longer."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def cut_at_word(text: str, width: int) -> str:
    """`text` on one line; when longer than `width` characters, its whole words that fit
    and "…", `width` characters at most. Titles, snippets, feed summaries and alert texts
    are all cut by this. Punctuation left hanging before the "…" is dropped; one word
    longer than `width` is cut inside."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    room = width - 1
    if room <= 0:
        return ""
    head = flat[: room + 1]  # a word ending right at the room is whole
    head = head.rsplit(" ", 1)[0] if " " in head else flat[:room]
    return head.rstrip(_EDGE + ".") + "…"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 source", "2 sources", "0 sources"; `plural` when the noun does not just add -s."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """3600 -> 1h, 5400 -> 1h30m, 90061 -> 1d1h: the two largest units, as the config
    writes durations."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return "".join(shown) or "0s"


# --- titles ------------------------------------------------------------------------------


def _is_words(line: str) -> bool:
    return len(_WORD.findall(line)) >= 3


def _first_sentence(text: str) -> str:
    for match in _SENTENCE.finditer(text):
        end = match.end()
        if len(_WORD.findall(text[:end])) >= 3:  # not "г." or "St." after a word or two
            return text[:end]
    return text


def title_from_text(text: str) -> str | None:
    """A title for a text that came without one (see the module docstring)."""
    from monitor.dates import date_near_top  # here: the CLI imports this module at start

    lines = [line.strip() for line in text.splitlines() if line.strip()][:HEAD_LINES]
    for line in lines:
        if not _is_words(line):
            continue  # "13.01.2026, 13:31 636", "Фото: ..."
        found = date_near_top(line, limit=DATE_IN_LINE)
        if found is not None:
            before = line[: found.start].strip(_EDGE)
            if len(_WORD.findall(before)) >= MIN_TITLE_WORDS:
                return cut_at_word(before, TITLE_CHARS)
            after = line[found.end :].strip(_EDGE)
            line = after if _is_words(after) else line
        if len(line) <= TITLE_CHARS:
            return line
        sentence = _first_sentence(line)
        return (
            cut_at_word(sentence, TITLE_CHARS)
            if len(sentence) > TITLE_CHARS
            else sentence.removesuffix(".")
        )
    return None


def item_title(title: str | None, text: str | None) -> str:
    """The title an item is shown with: its own, else one from its text ("" if none)."""
    if title and title.strip():
        return " ".join(title.split())
    return title_from_text(text or "") or ""


# --- publication dates -------------------------------------------------------------------

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def published_label(
    published: datetime | None, precision: str | None, *, with_time: bool = True
) -> str:
    """ "2022-03-24 00:08 UTC", "March 2023" or "undated"."""
    if published is None:
        return "undated"
    value = _utc(published)
    if precision == "month":
        return f"{MONTHS[value.month - 1]} {value.year}"
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def published_short(published: datetime | None, precision: str | None) -> str:
    """ "2022-03-24 00:08", "2023-03" or "undated", for tables."""
    if published is None:
        return "undated"
    value = _utc(published)
    return value.strftime("%Y-%m" if precision == "month" else "%Y-%m-%d %H:%M")


def precision_of(published: datetime | None, precision: str | None) -> Precision | None:
    """The precision an output states: "month", "day" for any full date, None if undated."""
    if published is None:
        return None
    return "month" if precision == "month" else "day"
