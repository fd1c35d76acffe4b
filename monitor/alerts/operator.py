"""Operator alerts: messages about the monitor itself, such as a source that keeps failing."""

from __future__ import annotations

import logging
from datetime import datetime

from monitor.alerts.message import OperatorEvent
from monitor.config import Settings
from monitor.store import outbox
from monitor.store.models import Alert, utcnow
from monitor.store.repo import Store

log = logging.getLogger("monitor.alerts")


def queue_operator_alert(
    store: Store,
    settings: Settings,
    *,
    source: str,
    event: OperatorEvent,
    episode: int,
    message: str,
    now: datetime | None = None,
) -> int:
    """Queue `message` for every channel with operator = true; returns the rows queued.

    `episode` tells one failing spell from the next (e.g. the poll count at which it
    began): the story key "op:<source>:<event>:<episode>" makes each spell alert once
    per channel, however often it is reported.
    """
    now = now or utcnow()
    key = outbox.operator_key(source, event, episode)
    rows = [
        Alert(
            channel=ch.label,
            story_key=key,
            kind="operator",
            created_at=now,
            next_attempt_at=now,
            payload={"message": message, "source": source, "event": event},
        )
        for ch in settings.alerts
        if ch.operator
    ]
    added = outbox.insert_alerts(store, rows)
    if added:
        log.info("operator alert %s queued for %d channels", key, added)
    return added
