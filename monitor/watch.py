"""Watching the watcher: operator alerts for failing and silent sources."""

from __future__ import annotations

import logging
from datetime import datetime

from monitor.alerts.operator import queue_operator_alert
from monitor.config import Settings, Source
from monitor.pipeline import PollReport
from monitor.store.models import utcnow
from monitor.store.repo import Store

log = logging.getLogger("monitor.watch")


def after_poll(store: Store, settings: Settings, source: Source, report: PollReport) -> None:
    """One alert when a source starts failing in a row, one when it comes back."""
    threshold = settings.failures_before_alert
    state = report.state or store.source_state(source.name)
    if not report.ok and state.consecutive_failures == threshold:
        # The spell is named by the poll at which it began, so it alerts once.
        episode = state.polls - threshold + 1
        queue_operator_alert(
            store, settings, source=source.name, event="failing", episode=episode,
            message=f"Source {source.name} failed {threshold} polls in a row "
            f"({source.url}). Last error: {report.error}",
        )  # fmt: skip
    elif report.ok and report.failures_before >= threshold:
        episode = (state.polls - 1) - report.failures_before + 1
        queue_operator_alert(
            store, settings, source=source.name, event="recovered", episode=episode,
            message=f"Source {source.name} works again after "
            f"{report.failures_before} failed polls ({source.url}).",
        )  # fmt: skip


def check_silence(store: Store, settings: Settings, now: datetime | None = None) -> None:
    """One alert per silent spell for sources that have an `expect_within`."""
    now = now or utcnow()
    watched = [s for s in settings.sources if s.enabled and s.expect_within]
    if not watched:
        return
    newest = store.newest_item_times([s.name for s in watched])
    for source in watched:
        assert source.expect_within is not None
        last = newest.get(source.name)
        if last is None or now - last <= source.expect_within:
            continue
        queue_operator_alert(
            store, settings, source=source.name, event="silent", episode=int(last.timestamp()),
            message=f"Source {source.name} has stored nothing since {last:%Y-%m-%d %H:%M} UTC, "
            f"longer than its expect_within of {source.expect_within}.",
        )  # fmt: skip
