"""How each source is doing: its poll state, items, items per day and when it is polled next.

`sources list` and the dashboard's Sources page both show this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from monitor.config import Settings, Source
from monitor.store.models import SourceState, utcnow
from monitor.store.queries import source_activity
from monitor.store.repo import Store


@dataclass(frozen=True)
class SourceStatus:
    name: str
    source: Source | None  # None: a source no longer in the config that left items or state
    state: SourceState | None
    items: int
    per_day: list[tuple[date, int]]  # oldest first; empty unless asked for
    next_poll: datetime | None

    @property
    def status(self) -> str:
        st = self.state
        if self.source is not None and not self.source.enabled:
            return "disabled"
        if st is None or st.polls == 0:
            return "never polled"
        if st.consecutive_failures:
            return f"failing ×{st.consecutive_failures}"
        return "ok"

    @property
    def overdue(self) -> bool:
        return self.next_poll is not None and self.next_poll < utcnow()


def next_poll(
    source: Source | None, state: SourceState | None, scheduled: datetime | None = None
) -> datetime | None:
    """When `source` is polled next: as the running scheduler says, else as a daemon last
    recorded it, else one interval after its last poll. None when it is not polled."""
    if source is None or not source.enabled:
        return None
    if scheduled is not None:
        return scheduled
    if state is None:
        return None
    if state.next_poll_at is not None:
        return state.next_poll_at
    return state.last_poll_at + source.interval if state.last_poll_at else None


def source_status(
    store: Store,
    settings: Settings,
    *,
    scheduled: Mapping[str, datetime] | None = None,
    days: int = 0,
) -> list[SourceStatus]:
    """Every configured source in config order, then any other name the database knows.

    `scheduled`: next run times from a running scheduler; `days`: how many days of items
    per day to count (none by default).
    """
    configured = {s.name: s for s in settings.sources}
    rows = source_activity(store, list(configured), days)
    return [
        SourceStatus(
            name=row.name,
            source=configured.get(row.name),
            state=row.state,
            items=row.items,
            per_day=row.per_day,
            next_poll=next_poll(
                configured.get(row.name), row.state, (scheduled or {}).get(row.name)
            ),
        )
        for row in rows
    ]
