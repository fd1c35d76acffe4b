"""Reading sources: one reader per kind (feed.py, sitemap.py, listing.py), each with two ways
in, ``latest()`` for a poll and ``history(window)`` for catch-up and backfill.

The pipeline, the catch-up and the backfill get a reader from ``reader_for`` and never ask
what kind of source they have: the reader knows its lists (feed pages, listing pages,
sitemaps) and how to walk back through them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from monitor.urls import url_days

if TYPE_CHECKING:
    from monitor.config import Source
    from monitor.sources.lists import Lists

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_SUBSET_END = re.compile(rb"\]\s*>")

Route = Literal["feed", "listing", "sitemap"]
# Routes that list newest first: once one of their pages reaches back far enough, every
# later page is older still.
ORDERED_ROUTES: frozenset[Route] = frozenset({"feed", "listing"})


@dataclass(frozen=True)
class Entry:
    """One article a source points at, before it is fetched."""

    url: str  # absolute, canonicalised
    title: str | None = None
    published: datetime | None = None  # timezone-aware UTC, or None when unknown
    summary: str | None = None  # plain text, HTML stripped


class SourceError(Exception):
    """A source's body is not what its kind promises, or is unsafe to parse.

    ``reason`` is a short code for reports and counters: "not_a_feed", "not_a_sitemap",
    "bad_xml", "xml_entities", "too_large".
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def reject_entity_declarations(content: bytes) -> None:
    """Raise SourceError "xml_entities" when the DOCTYPE declares entities.

    No feed or sitemap needs its own entities, and nested ones expand exponentially
    ("billion laughs") in the parsers that accept them.
    """
    doctype = _DOCTYPE.search(content)
    if not doctype:
        return
    subset_end = _SUBSET_END.search(content, doctype.end())
    stop = subset_end.end() if subset_end else len(content)
    if _ENTITY_DECL.search(content, doctype.end(), stop):
        raise SourceError(
            "the document declares XML entities in its DOCTYPE; refused to expand them",
            reason="xml_entities",
        )


@dataclass(frozen=True)
class SitemapRef:
    """A sitemap named by a sitemap index, with the index's <lastmod> for it."""

    url: str
    lastmod: datetime | None = None


@dataclass(frozen=True)
class Validators:
    """What a list answered when last read in full: its HTTP validators, so the next read
    can be conditional; for a sitemap, the lastmod its index gave it then; for a sitemap
    index, its children (reused when it answers 304 Not Modified)."""

    etag: str | None = None
    last_modified: str | None = None
    lastmod: datetime | None = None
    children: tuple[SitemapRef, ...] | None = None


@dataclass
class ListPage:
    """One list document a reader read: a feed page, a listing page or a sitemap file."""

    url: str  # as requested: the key of its validators
    route: Route
    entries: list[Entry] = field(default_factory=list)
    next: str | None = None  # the following (older) page of a feed or listing
    not_modified: bool = False  # answered 304: everything on it was handled before
    # Remembered once every entry on the page has its outcome (None: nothing to remember).
    validators: Validators | None = None

    @property
    def ordered(self) -> bool:
        return self.route in ORDERED_ROUTES


@dataclass(frozen=True)
class DateRange:
    """Inclusive publication-day bounds; None is open-ended."""

    since: date | None = None
    until: date | None = None

    @property
    def scope(self) -> str:
        """The checkpoint scope: a rerun of the same range resumes, another starts fresh."""
        return f"backfill:{self.since or ''}..{self.until or ''}"

    def overlaps(self, first: date, last: date) -> bool:
        """Whether any day of [first, last] is within the range."""
        return (self.since is None or last >= self.since) and (
            self.until is None or first <= self.until
        )

    def contains(self, day: date) -> bool:
        return self.overlaps(day, day)

    def before(self, entries: list[Entry]) -> bool:
        """Whether the dated ones among `entries` are all from before the range (and at
        least one is dated): on a newest-first route every later page is older still."""
        spans = [d for d in map(entry_days, entries) if d is not None]
        return bool(spans) and self.since is not None and max(d[1] for d in spans) < self.since


def entry_days(entry: Entry) -> tuple[date, date] | None:
    """The earliest and latest day the entry can have been published, when it says.

    A date in the URL is the publication date ("/2024/03/" may be any day of March);
    otherwise the listed date: the feed's or Google News publication date, or <lastmod>.
    """
    days = url_days(entry.url)
    if days is not None:
        return days
    if entry.published is not None:
        day = entry.published.date()
        return day, day
    return None


class Reader(Protocol):
    """How a source is read, whatever its kind."""

    async def latest(self) -> list[ListPage]:
        """The lists a poll reads: what the source shows now. Raises FetchError or
        SourceError when the source itself cannot be read."""
        ...

    def history(
        self, window: DateRange, after: list[ListPage] | None = None
    ) -> AsyncIterator[ListPage]:
        """Older lists, back to ``window.since``: the source's own paging, then the site's
        sitemaps. ``after``: the pages ``latest()`` read, to go on from rather than read
        again. The first list's failure raises when ``after`` is None."""
        ...


def reader_for(source: Source, lists: Lists) -> Reader:
    """The reader of the source's kind. Each is imported when first asked for: a backfill
    of sitemaps alone never loads feedparser or the listing parser (2 MB, 80 ms)."""
    if source.kind == "feed":
        from monitor.sources.feed import FeedReader

        return FeedReader(source, lists)
    if source.kind == "html":
        from monitor.sources.listing import ListingReader

        return ListingReader(source, lists)
    if source.kind == "sitemap":
        from monitor.sources.sitemap import SitemapReader

        return SitemapReader(source, lists)
    raise ValueError(f"no reader for sources of kind {source.kind!r}")
