"""Daemon heartbeats, and the lease and schedule facts a daemon needs to share sources.

Liveness is judged by the database's clock on PostgreSQL, so daemons on machines whose
clocks differ still agree on who is gone. SQLite serves one machine: Python's clock.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.store.models import DaemonBeat, SourceLease, SourceState, utcnow
from monitor.store.repo import Store

BEAT = DaemonBeat.__table__  # type: ignore[attr-defined]
LEASE = SourceLease.__table__  # type: ignore[attr-defined]
STATE = SourceState.__table__  # type: ignore[attr-defined]


def _now(conn: Connection) -> Any:
    return func.now() if conn.dialect.name == "postgresql" else utcnow()


def beat(store: Store, owner: str, gone_after: timedelta) -> list[str]:
    """Count `owner` among the live daemons for `gone_after` more, forget the daemons whose
    time ran out, and end their leases so their sources need not wait for the leases to
    lapse. Returns the live daemons, sorted."""
    with store.engine.begin() as conn:
        now = _now(conn)
        dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = dialect_insert(BEAT).values(
            owner=owner, started_at=now, seen_at=now, until=now + gone_after
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["owner"],
                set_={"seen_at": stmt.excluded.seen_at, "until": stmt.excluded.until},
            )
        )
        gone = conn.execute(delete(BEAT).where(BEAT.c.until <= now).returning(BEAT.c.owner))
        _end_leases(conn, LEASE.c.owner.in_(gone.scalars().all()))
        return sorted(conn.execute(select(BEAT.c.owner)).scalars())


def leave(store: Store, owner: str) -> None:
    """A clean stop: the others stop counting `owner` at their next heartbeat."""
    with store.engine.begin() as conn:
        conn.execute(delete(BEAT).where(BEAT.c.owner == owner))


def live(store: Store) -> list[str]:
    """The daemons whose heartbeat is current, sorted."""
    with store.engine.connect() as conn:
        q = select(BEAT.c.owner).where(BEAT.c.until > _now(conn)).order_by(BEAT.c.owner)
        return list(conn.execute(q).scalars())


def release(store: Store, owner: str, names: Collection[str]) -> None:
    """End `owner`'s leases on `names` (sources that are now another daemon's)."""
    if names:
        with store.engine.begin() as conn:
            _end_leases(conn, (LEASE.c.owner == owner) & LEASE.c.name.in_(list(names)))


def _end_leases(conn: Connection, which: Any) -> None:
    # The lease table keeps the daemons' own clock (see Store.acquire_lease).
    now = utcnow()
    conn.execute(update(LEASE).where(which, LEASE.c.until > now).values(until=now))


def lease_holders(store: Store) -> dict[str, str]:
    """Source name -> the daemon holding its lease now."""
    with store.engine.connect() as conn:
        q = select(LEASE.c.name, LEASE.c.owner).where(LEASE.c.until > utcnow())
        return {name: owner for name, owner in conn.execute(q)}


def planned_polls(store: Store) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Source name -> (the next poll its last poller planned, its last poll)."""
    with store.engine.connect() as conn:
        q = select(STATE.c.name, STATE.c.next_poll_at, STATE.c.last_poll_at)
        return {name: (nxt, last) for name, nxt, last in conn.execute(q)}
