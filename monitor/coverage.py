"""How complete the record of each source is: feed windows, gaps, delays.

A feed or listing shows only its newest entries. When everything a poll returns is new
and even its oldest entry is newer than the newest item stored before, the source
published more than one window's worth since the last look; the poll then reads further
back (pipeline.py). What no route reached is a gap: left open when reading failed, for the
daemon's catch-up to try again, or given up at once with an operator alert.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.alerts.operator import queue_operator_alert
from monitor.config import Settings
from monitor.sources import Entry
from monitor.store.models import Gap
from monitor.store.queries import source_days
from monitor.store.repo import Store

log = logging.getLogger("monitor.coverage")

UNREACHABLE = "no feed paging, listing pagination or sitemap reaches that far back"


def feed_window(entries: list[Entry]) -> timedelta | None:
    """Publishing time one poll sees: newest minus oldest dated entry."""
    dates = [e.published for e in entries if e.published]
    if len(dates) < 2:
        return None
    return max(dates) - min(dates)


def give_up_gap(store: Store, settings: Settings, gap: Gap) -> None:
    """Close a gap no route reaches, with one operator alert naming the source and dates."""
    assert gap.id is not None
    store.close_gap(gap.id, status="unrecoverable", items_found=0, route=UNREACHABLE)
    queue_operator_alert(
        store, settings, source=gap.source, event="gap", episode=gap.id,
        message=f"Articles of {gap.source} published between {gap.start:%Y-%m-%d %H:%M} "
        f"and {gap.end:%Y-%m-%d %H:%M} UTC were never seen and cannot be recovered: "
        f"{UNREACHABLE}.",
    )  # fmt: skip
    log.warning("%s: gap %s is unrecoverable: %s", gap.source, gap.id, UNREACHABLE)


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
    days = source_days(store, [s.name for s in settings.sources], since)
    rows = []
    for source in settings.sources:
        row = SourceCoverage(source.name, source.interval, source.min_interval)
        st = states.get(source.name)
        row.window_hours = st.window_hours if st else None
        counted = days[source.name]
        row.per_day.update(counted.per_day)
        row.items = sum(counted.per_day.values())
        row.max_delay = counted.max_delay
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
