"""Poll states: what a source's next poll starts from, and the one write that ends a poll.

Polls of unchanged feeds are most of what a daemon does, so this path is SQLAlchemy Core
with statements built once, and a poll ends in a single transaction: the source's state,
the lists it read in full, its lease and its next poll time. The states are kept in
memory between polls, written through: what is cached is the row each write returned.
The database stays the truth: a caller that has not held the source's lease since its
last poll (another daemon may have polled it meanwhile) reads it again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import BindParameter, Engine, Update, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.sources import SitemapRef, Validators
from monitor.store.models import ListState, SourceLease, SourceState, utcnow

STATE = SourceState.__table__  # type: ignore[attr-defined]
LISTS = ListState.__table__  # type: ignore[attr-defined]
LEASE = SourceLease.__table__  # type: ignore[attr-defined]


@dataclass
class PollLease:
    """The lease a daemon polls a source under, renewed by the write that ends the poll.

    ``held``: held without a break since this process last polled the source, so the state
    it cached then is current. ``next_poll`` is recorded for the Sources page. The write
    sets ``kept`` (False: another daemon holds it now) and ``renewed_at``, a
    ``time.monotonic()`` taken before the lease's new expiry was computed."""

    owner: str
    ttl: timedelta
    next_poll: datetime | None = None
    held: bool = False
    kept: bool = True
    renewed_at: float | None = None


@dataclass(frozen=True)
class PollOutcome:
    """What a poll found, as the write that ends it records it."""

    error: str | None
    window_hours: float | None | Literal["keep"] = "keep"
    lists: Mapping[str, Validators] | None = None
    caught_up: bool = False


class PollStates:
    """The poll states of one process's sources, cached between polls."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, tuple[SourceState, dict[str, Validators]]] = {}

    def load(self, name: str, *, cached: bool = False) -> tuple[SourceState, dict[str, Validators]]:
        """The source's state and the validators of its lists by URL; from memory when
        ``cached`` and known, else from the database (a first poll creates the row)."""
        hit = self._cache.get(name) if cached else None
        if hit is not None:
            return hit
        with self.engine.begin() as conn:
            row = conn.execute(_select_state(), {"key": name}).first()
            if row is None:
                conn.execute(_create_state(conn.dialect.name), {"key": name})
                row = conn.execute(_select_state(), {"key": name}).one()
            lists = conn.execute(_select_lists(), {"source": name})
            known = {r.url: _validators(r) for r in lists}
        hit = (SourceState(**row._asdict()), known)
        self._cache[name] = hit
        return hit

    def record(self, name: str, outcome: PollOutcome, lease: PollLease | None) -> SourceState:
        """Write the outcome of one poll in one transaction (see Store.record_poll); with
        ``lease``, also renew it and record the source's next poll."""
        error, window_hours, lists = outcome.error, outcome.window_hours, outcome.lists
        now = utcnow()
        params: dict[str, Any] = {"key": name, "now": now, "error": error}
        if window_hours != "keep":
            params["window"] = window_hours
        if lease is not None:
            params["next_poll"] = lease.next_poll
            lease.renewed_at = time.monotonic()
            until = utcnow() + lease.ttl
        stmt = _record(
            error is not None, window_hours != "keep", outcome.caught_up, lease is not None
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt, params).one()
            if lists:
                rows = [_list_row(name, url, v, now) for url, v in lists.items()]
                conn.execute(_upsert_lists(conn.dialect.name), rows)
            if lease is not None:
                renew = {"key": name, "holder": lease.owner, "expires": until, "now": now}
                lease.kept = bool(conn.execute(_renew(), renew).rowcount)
        state = SourceState(**row._asdict())
        known = dict(self._cache[name][1]) if name in self._cache else {}
        known.update(lists or {})
        self._cache[name] = (state, known)
        return state

    def begin_catch_up(self, name: str, since: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(STATE).where(STATE.c.name == name).values(catch_up_from=since))
        self._change(name, catch_up_from=since)

    def set_next_poll(self, name: str, when: datetime | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(STATE).where(STATE.c.name == name).values(next_poll_at=when))
        self._change(name, next_poll_at=when)

    def _change(self, name: str, **values: object) -> None:
        if name in self._cache:
            state, known = self._cache[name]
            self._cache[name] = (
                SourceState(**(state.model_dump() | values)),
                known,
            )


# --- statements, built once: they run for every poll -----------------------------------


@lru_cache(maxsize=1)
def _select_state() -> Any:
    return select(STATE).where(STATE.c.name == bindparam("key"))


@lru_cache(maxsize=1)
def _select_lists() -> Any:
    return select(LISTS).where(LISTS.c.source == bindparam("source"))


@lru_cache(maxsize=2)
def _create_state(dialect: str) -> Any:
    """INSERT of a new state row that leaves one another process created first alone."""
    stmt = postgresql_insert(STATE) if dialect == "postgresql" else sqlite_insert(STATE)
    values = {"name": bindparam("key"), "polls": 0, "consecutive_failures": 0}
    return stmt.values(values).on_conflict_do_nothing(index_elements=["name"])


@lru_cache(maxsize=16)
def _record(failed: bool, window: bool, caught_up: bool, next_poll: bool) -> Update:
    """UPDATE of one source's state after a poll, returning the row as it now is."""
    now: BindParameter[datetime] = bindparam("now")
    values: dict[str, Any] = {"polls": STATE.c.polls + 1, "last_poll_at": now}
    if failed:
        values |= {
            "last_error": bindparam("error"),
            "last_error_at": now,
            "consecutive_failures": STATE.c.consecutive_failures + 1,
        }
    else:
        values |= {"last_success_at": now, "consecutive_failures": 0}
        if caught_up:
            values["catch_up_from"] = None
    if window:
        values["window_hours"] = bindparam("window")
    if next_poll:
        values["next_poll_at"] = bindparam("next_poll")
    stmt = update(STATE).where(STATE.c.name == bindparam("key")).values(values)
    return stmt.returning(*STATE.c)


@lru_cache(maxsize=1)
def _renew() -> Update:
    """Renew a lease its owner holds, or take it back if it lapsed and nobody took it:
    one conditional UPDATE (on PostgreSQL it waits for, then re-checks, a row another
    daemon is claiming)."""
    return (
        update(LEASE)
        .where(LEASE.c.name == bindparam("key"))
        .where(or_(LEASE.c.owner == bindparam("holder"), LEASE.c.until < bindparam("now")))
        .values(owner=bindparam("holder"), until=bindparam("expires"))
    )


@lru_cache(maxsize=2)
def _upsert_lists(dialect: str) -> Any:
    stmt = postgresql_insert(LISTS) if dialect == "postgresql" else sqlite_insert(LISTS)
    keys = ("source", "url")
    changed = {c.name: stmt.excluded[c.name] for c in LISTS.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=changed)


def _list_row(source: str, url: str, v: Validators, now: datetime) -> dict[str, object]:
    children = None
    if v.children is not None:
        children = [[c.url, c.lastmod.isoformat() if c.lastmod else None] for c in v.children]
    return {"source": source, "url": url, "etag": v.etag, "last_modified": v.last_modified,
            "lastmod": v.lastmod, "children": children, "read_at": now}  # fmt: skip


def _validators(row: Any) -> Validators:
    children = None
    if row.children is not None:
        children = tuple(
            SitemapRef(str(url), datetime.fromisoformat(lastmod) if lastmod else None)
            for url, lastmod in row.children
        )
    return Validators(row.etag, row.last_modified, row.lastmod, children)
