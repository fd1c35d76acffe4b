"""Daemon heartbeats in the database: who is live, who is gone, and the leases a gone or
departing daemon leaves behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitor.store import daemons
from monitor.store.repo import Store

LONG = timedelta(minutes=5)
BRIEF = timedelta(milliseconds=50)


@pytest.fixture
def db(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as store:
        yield store


def test_each_heartbeat_answers_with_every_live_daemon(db: Store) -> None:
    assert daemons.beat(db, "b", LONG) == ["b"]
    assert daemons.beat(db, "a", LONG) == ["a", "b"]
    assert daemons.beat(db, "b", LONG) == ["a", "b"]  # a second beat: still one row
    assert daemons.live(db) == ["a", "b"]


def test_a_daemon_that_stops_beating_is_forgotten_and_its_leases_end(db: Store) -> None:
    daemons.beat(db, "alive", LONG)
    assert db.acquire_lease("kabar", "quiet", LONG)
    assert db.acquire_lease("akipress", "alive", LONG)
    # Its brief beat comes last: any beat after it would forget it once BRIEF is over,
    # which a slow machine can take between two statements.
    daemons.beat(db, "quiet", BRIEF)
    time.sleep(BRIEF.total_seconds() * 2)
    assert daemons.live(db) == ["alive"]
    assert daemons.lease_holders(db) == {"kabar": "quiet", "akipress": "alive"}
    # The next heartbeat of any daemon forgets it and frees its sources at once.
    assert daemons.beat(db, "alive", LONG) == ["alive"]
    assert daemons.lease_holders(db) == {"akipress": "alive"}
    assert db.acquire_lease("kabar", "alive", LONG)


def test_a_clean_stop_leaves_at_once(db: Store) -> None:
    daemons.beat(db, "a", LONG)
    daemons.beat(db, "b", LONG)
    daemons.leave(db, "a")
    assert daemons.live(db) == ["b"]
    assert daemons.beat(db, "a", LONG) == ["a", "b"]  # and may come back


def test_release_ends_only_this_daemons_leases_on_the_named_sources(db: Store) -> None:
    for name, owner in [("s1", "a"), ("s2", "a"), ("s3", "a"), ("s4", "b")]:
        assert db.acquire_lease(name, owner, LONG)
    daemons.release(db, "a", ["s1", "s2", "s4"])
    daemons.release(db, "a", [])
    assert daemons.lease_holders(db) == {"s3": "a", "s4": "b"}
    assert db.acquire_lease("s1", "b", LONG)


def test_planned_polls_say_when_the_last_poller_meant_to_poll_next(db: Store) -> None:
    db.source_state("kabar")
    db.record_poll("kabar", error=None)
    last = db.source_state("kabar").last_poll_at
    assert daemons.planned_polls(db) == {"kabar": (None, last)}
    assert last is not None
    db.set_next_poll("kabar", last + timedelta(seconds=30))
    assert daemons.planned_polls(db) == {"kabar": (last + timedelta(seconds=30), last)}
