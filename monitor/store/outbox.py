"""The alert outbox in the database: claim due rows under a lease, record the outcome, and
remember which channels are failing.

A claim sets `claimed_until` and pushes `next_attempt_at` to now + lease in a short
transaction before anything is sent, so no other dispatcher takes the row meanwhile. If the
process dies mid-send, the row falls due again when the lease runs out: delivery is at
least once, and receivers drop repeats by the idempotency key (the story key).

A channel whose receiver fails has a `channel_state` row, shared by every daemon: one of
them probes it when `next_probe_at` comes, with one queued row whatever that row's own
backoff, and the first delivery that gets through makes every row queued for it due.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, not_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from monitor.store.models import Alert, ChannelState, Item
from monitor.store.repo import Store

STORY_KEY_LENGTH = 64  # Alert.story_key column width


def aware(dt: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; the monitor stores UTC only."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def claim_due(
    store: Store,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    channels: Collection[str],
    digest_channels: Collection[str] = (),
    exclude: Collection[int] = (),
) -> list[Alert]:
    """Lease up to `limit` queued rows due at `now` for the given channels.

    Story rows of `digest_channels` are left for `claim_digest`; rows in `exclude`
    (already handled in this run) are skipped.
    """
    if not channels:
        return []
    q = select(Alert).where(
        Alert.status == "queued",
        col(Alert.next_attempt_at) <= now,
        col(Alert.channel).in_(list(channels)),
    )
    if digest_channels:
        digest_story = and_(
            col(Alert.kind) == "story", col(Alert.channel).in_(list(digest_channels))
        )
        q = q.where(not_(digest_story))
    if exclude:
        q = q.where(col(Alert.id).not_in(list(exclude)))
    q = q.order_by(col(Alert.next_attempt_at), col(Alert.id)).limit(limit)
    return _lease(store, q, now=now, lease=lease)


def digest_due(store: Store, channel: str, *, now: datetime, every: timedelta) -> bool:
    """A digest is due once a period has passed since its oldest queued story."""
    q = select(func.min(Alert.created_at)).where(
        Alert.channel == channel, Alert.kind == "story", Alert.status == "queued"
    )
    with store.session() as s:
        first = s.exec(q).one()
    return first is not None and aware(first) + every <= now


def claim_digest(
    store: Store,
    channel: str,
    *,
    now: datetime,
    lease: timedelta,
    every: timedelta,
    limit: int,
    probe: bool = False,
) -> list[Alert]:
    """Lease the queued stories of a digest channel, if its period is over (``probe``:
    whatever the rows' own backoff)."""
    if not digest_due(store, channel, now=now, every=every):
        return []
    q = select(Alert).where(
        Alert.channel == channel, Alert.kind == "story", Alert.status == "queued"
    )
    if not probe:
        q = q.where(col(Alert.next_attempt_at) <= now)
    q = q.order_by(col(Alert.id)).limit(limit)
    return _lease(store, q, now=now, lease=lease, probe=probe)


def claim_probe(
    store: Store, channel: str, *, now: datetime, lease: timedelta, stories: bool = True
) -> list[Alert]:
    """Lease the oldest queued row of `channel` that nobody is sending, whatever its own
    backoff: it probes whether the receiver answers again. ``stories=False`` leaves story
    rows (a digest channel's) out."""
    q = select(Alert).where(Alert.channel == channel, Alert.status == "queued", _unclaimed(now))
    if not stories:
        q = q.where(Alert.kind != "story")
    q = q.order_by(col(Alert.created_at), col(Alert.id)).limit(1)
    return _lease(store, q, now=now, lease=lease, probe=True)


# --- failing channels --------------------------------------------------------------------


def has_queued(store: Store, channel: str) -> bool:
    q = select(Alert.id).where(Alert.channel == channel, Alert.status == "queued").limit(1)
    with store.session() as s:
        return s.exec(q).first() is not None


def failing_channels(store: Store) -> dict[str, ChannelState]:
    with store.session() as s:
        return {row.channel: row for row in s.exec(select(ChannelState))}


def channel_failed(
    store: Store, channel: str, *, now: datetime, error: str, probe_every: timedelta
) -> None:
    """A send to `channel` failed for a reason of the receiver's: failing since the first
    such failure, probed again `probe_every` from now."""
    with store.session() as s:
        row = s.get(ChannelState, channel)
        if row is None:
            row = ChannelState(channel=channel, failing_since=now, next_probe_at=now)
        row.next_probe_at = now + probe_every
        row.last_error = error
        s.add(row)
        try:
            s.commit()
        except IntegrityError:  # another dispatcher recorded it a moment ago: theirs stands
            s.rollback()


def take_probe(store: Store, channel: str, *, now: datetime, probe_every: timedelta) -> bool:
    """Whether this dispatcher probes the failing `channel` now: true for one dispatcher
    per `probe_every`, whichever gets there first."""
    with store.session() as s:
        taken = s.connection().execute(
            update(ChannelState)
            .where(col(ChannelState.channel) == channel, col(ChannelState.next_probe_at) <= now)
            .values(next_probe_at=now + probe_every)
        )
        s.commit()
    return taken.rowcount == 1


def channel_recovered(store: Store, channel: str, *, now: datetime) -> int:
    """A send to `channel` went through: it is no longer failing, and every row queued
    for it that nobody is sending is due now. The number of rows made due."""
    with store.session() as s:
        conn = s.connection()
        forgotten = conn.execute(delete(ChannelState).where(col(ChannelState.channel) == channel))
        released = 0
        if forgotten.rowcount:
            released = conn.execute(
                update(Alert)
                .where(
                    col(Alert.channel) == channel,
                    col(Alert.status) == "queued",
                    col(Alert.next_attempt_at) > now,
                    _unclaimed(now),
                )
                .values(next_attempt_at=now)
            ).rowcount
        s.commit()
    return int(released)


def _lease(
    store: Store,
    q: SelectOfScalar[Alert],
    *,
    now: datetime,
    lease: timedelta,
    probe: bool = False,
) -> list[Alert]:
    """Claim the rows `q` selects; ``probe``: whatever their own next attempt time."""
    until = now + lease
    won: list[Alert] = []
    with store.session() as s:
        if s.get_bind().dialect.name == "postgresql":
            # Rows another dispatcher holds are skipped, not waited for.
            q = q.with_for_update(skip_locked=True)
        rows = list(s.exec(q))
        conn = s.connection()
        for row in rows:
            # Guarded so that, where rows cannot be locked (SQLite), a row another
            # dispatcher leased since our SELECT is not taken a second time.
            guard = [col(Alert.id) == row.id, col(Alert.status) == "queued", _unclaimed(now)]
            if not probe:
                guard.append(col(Alert.next_attempt_at) <= now)
            taken = conn.execute(
                update(Alert)
                .where(*guard)
                .values(
                    next_attempt_at=until, claimed_until=until, attempts=col(Alert.attempts) + 1
                )
            )
            if taken.rowcount == 1:
                won.append(row)
        s.commit()
    for row in won:
        row.next_attempt_at = row.claimed_until = until
        row.attempts += 1
        row.created_at = aware(row.created_at)
    return won


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    """No dispatcher is sending the row (or the one that was has died: its lease ran out)."""
    return or_(col(Alert.claimed_until).is_(None), col(Alert.claimed_until) <= now)


def mark_sent(store: Store, ids: Sequence[int], *, now: datetime) -> None:
    _set(store, ids, status="sent", sent_at=now, last_error=None, claimed_until=None)


def mark_retry(store: Store, ids: Sequence[int], *, at: datetime, error: str) -> None:
    """Leave the rows queued, due again at `at`."""
    _set(store, ids, next_attempt_at=at, last_error=error, claimed_until=None)


def mark_failed(store: Store, ids: Sequence[int], *, error: str) -> None:
    _set(store, ids, status="failed", last_error=error, claimed_until=None)


def _set(store: Store, ids: Sequence[int], **values: object) -> None:
    if not ids:
        return
    with store.session() as s:
        s.connection().execute(update(Alert).where(col(Alert.id).in_(list(ids))).values(**values))
        s.commit()


def queued_for_unknown_channels(store: Store, known: Collection[str]) -> dict[str, int]:
    """Queued rows per channel label that is not in the configuration."""
    q = select(Alert.channel, func.count()).where(Alert.status == "queued")
    if known:
        q = q.where(col(Alert.channel).not_in(list(known)))
    with store.session() as s:
        return {channel: int(n) for channel, n in s.exec(q.group_by(col(Alert.channel)))}


def story_items(store: Store, item_ids: Collection[int]) -> dict[int, tuple[Item, list[str]]]:
    """Items by id, each with the other sources that reported the same story."""
    if not item_ids:
        return {}
    with store.session() as s:
        items = list(s.exec(select(Item).where(col(Item.id).in_(list(item_ids)))))
        story_ids = {i.story_id for i in items if i.story_id is not None}
        sources: dict[int, set[str]] = {}
        if story_ids:
            pairs = select(Item.story_id, Item.source).where(
                col(Item.story_id).in_(list(story_ids))
            )
            for story_id, source in s.exec(pairs.distinct()):
                if story_id is not None:
                    sources.setdefault(story_id, set()).add(source)
    out: dict[int, tuple[Item, list[str]]] = {}
    for item in items:
        assert item.id is not None
        others = sources.get(item.story_id, set()) if item.story_id is not None else set()
        out[item.id] = (item, sorted(others - {item.source}))
    return out


def operator_key(source: str, event: str, episode: int) -> str:
    """'op:<source>:<event>:<n>', shortened with a hash when the source name is long."""
    key = f"op:{source}:{event}:{episode}"
    if len(key) <= STORY_KEY_LENGTH:
        return key
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return f"op:{source[:20]}~{digest}:{event}:{episode}"[:STORY_KEY_LENGTH]


def insert_alerts(store: Store, alerts: Sequence[Alert]) -> int:
    """Insert rows one by one; a row whose (channel, story_key) exists is skipped."""
    added = 0
    for alert in alerts:
        with store.session() as s:
            exists = s.exec(
                select(Alert.id).where(
                    Alert.channel == alert.channel, Alert.story_key == alert.story_key
                )
            ).first()
            if exists is not None:
                continue
            s.add(alert)
            try:
                s.commit()
            except IntegrityError:  # another process queued it first
                s.rollback()
                continue
            added += 1
    return added


def alerts(store: Store, *, status: str | None = None) -> list[Alert]:
    """Outbox rows in id order (for reports and tests)."""
    q = select(Alert).order_by(col(Alert.id))
    if status:
        q = q.where(Alert.status == status)
    with store.session() as s:
        return list(s.exec(q))
