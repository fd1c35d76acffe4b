"""How complete the record of each source is: feed windows, gaps, delays.

A feed or listing shows only its newest entries. When everything a poll returns is new
and even its oldest entry is newer than the newest item stored before, the source
published more than one window's worth since the last look: the articles in between were
never seen. That stretch is a gap; the daemon's catch-up tries to fill it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.config import Settings, Source
from monitor.sources import Entry
from monitor.store.models import Gap, SourceState, utcnow
from monitor.store.repo import Store

log = logging.getLogger("monitor.coverage")


def feed_window(entries: list[Entry]) -> timedelta | None:
    """Publishing time one poll sees: newest minus oldest dated entry."""
    dates = [e.published for e in entries if e.published]
    if len(dates) < 2:
        return None
    return max(dates) - min(dates)


def observe_poll(
    store: Store, source: Source, before: SourceState, entries: list[Entry], fresh: set[str]
) -> Gap | None:
    """Record the poll's window; open a gap when the window overflowed since the last poll.

    Call before the new entries are stored: the comparison is with what was stored before.
    """
    window = feed_window(entries)
    store.set_window(source.name, window.total_seconds() / 3600 if window else None)
    if before.polls == 0 or not entries or any(e.url not in fresh for e in entries):
        return None  # a first poll, or the window still overlaps what we have
    dated = [e.published for e in entries if e.published]
    newest_stored = store.newest_published(source.name)
    if dated and newest_stored:
        start, end = newest_stored, min(dated)
        if end <= start:
            return None
    elif before.last_success_at:
        # Undated entries: all that is known is that nothing listed was seen before.
        start, end = before.last_success_at, utcnow()
    else:
        return None
    gap = store.open_gap(source.name, start, end)
    log.warning(
        "%s: every entry is new; nothing was seen between %s and %s (gap %s)",
        source.name, f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}", gap.id,
    )  # fmt: skip
    return gap


@dataclass
class SourceCoverage:
    name: str
    interval: timedelta
    min_interval: timedelta | None = None  # set when the source's interval is adaptive
    items: int = 0
    per_day: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> items
    gaps_found: int = 0
    gaps_filled: int = 0
    gaps_unrecoverable: int = 0
    gaps_open: int = 0
    max_delay: timedelta | None = None  # largest poll-to-publish delay
    window_hours: float | None = None

    @property
    def window_warning(self) -> str | None:
        """A poll interval longer than the feed's window loses articles between polls."""
        if self.window_hours is None:
            return None
        window = timedelta(hours=self.window_hours)
        if self.min_interval is not None and self.interval * 3 > window:
            shorter = max(self.min_interval, window / 3)
            return f"window {window}: the adaptive interval polls every {shorter}"
        if self.interval > window:
            return f"polled every {self.interval}, but one poll sees only {window}"
        if self.interval * 3 > window:
            return f"window {window} is under three poll intervals"
        return None


def coverage(
    store: Store, settings: Settings, since: datetime | None = None
) -> list[SourceCoverage]:
    states = store.source_states()
    gaps = store.gaps(since=since)
    rows = []
    for source in settings.sources:
        row = SourceCoverage(source.name, source.interval, source.min_interval)
        st = states.get(source.name)
        row.window_hours = st.window_hours if st else None
        for fetched, published, backfilled in store.source_items(source.name, since):
            row.items += 1
            row.per_day[f"{(published or fetched):%Y-%m-%d}"] += 1
            if published and not backfilled and fetched >= published:
                delay = fetched - published
                row.max_delay = max(row.max_delay or delay, delay)
        for gap in (g for g in gaps if g.source == source.name):
            row.gaps_found += 1
            if gap.status == "filled":
                row.gaps_filled += 1
            elif gap.status == "unrecoverable":
                row.gaps_unrecoverable += 1
            else:
                row.gaps_open += 1
        rows.append(row)
    return rows
