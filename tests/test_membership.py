"""One daemon's view of the split, heartbeat by heartbeat, on the real database: which
sources it polls, when it polls one it takes over, and which leases it gives up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from monitor.config import Source
from monitor.membership import Membership, beat_every
from monitor.store import daemons
from monitor.store.models import utcnow
from monitor.store.repo import Store

SOURCES = [
    Source.model_validate({"name": f"s{i}", "url": f"http://s{i}.invalid/", "interval": 60})
    for i in range(6)
]
LONG = timedelta(minutes=5)


class Jobs:
    """Stands in for the scheduler's jobs: when each source is to be polled next."""

    def __init__(self) -> None:
        self.next: dict[str, datetime | None] = {}

    def take_over(self, name: str, when: datetime | None) -> datetime | None:
        self.next[name] = when
        return when or utcnow()


@pytest.fixture
def db(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as store:
        yield store


def member(db: Store, owner: str, jobs: Jobs, busy: set[str] | None = None) -> Membership:
    return Membership(
        db, owner, sources=lambda: SOURCES, busy=lambda: busy or set(), take_over=jobs.take_over
    )


def test_heartbeats_come_a_tenth_of_the_shortest_interval_apart_within_bounds() -> None:
    assert beat_every(SOURCES) == 5.0
    fast = Source.model_validate({"name": "f", "url": "http://f.invalid/", "interval": 2})
    assert beat_every([*SOURCES, fast]) == 0.25
    three = Source.model_validate({"name": "t", "url": "http://t.invalid/", "interval": 3})
    assert beat_every([three]) == 0.3
    assert beat_every([]) == 5.0


def test_a_daemon_alone_polls_everything_and_a_second_one_takes_half(db: Store) -> None:
    a_jobs, b_jobs = Jobs(), Jobs()
    a, b = member(db, "a", a_jobs), member(db, "b", b_jobs)
    assert not a.owns("s0")  # before its first heartbeat a daemon polls nothing
    a.step()
    assert all(a.owns(s.name) for s in SOURCES)
    assert set(a_jobs.next) == {s.name for s in SOURCES}
    for s in SOURCES:
        assert db.acquire_lease(s.name, "a", LONG)

    b.step()
    a.step()
    assert len(a.mine) == len(b.mine) == 3 and a.mine.isdisjoint(b.mine)
    assert not any(a.owns(n) for n in b.mine)
    # The first daemon gave up the leases of the sources it lost, so the second need not
    # wait for them to lapse.
    assert daemons.lease_holders(db) == dict.fromkeys(sorted(a.mine), "a")
    assert all(db.acquire_lease(n, "b", LONG) for n in b.mine)


def test_a_source_changes_hands_when_its_last_poller_meant_to_poll_it(db: Store) -> None:
    a_jobs, b_jobs = Jobs(), Jobs()
    a = member(db, "a", a_jobs)
    a.step()
    planned = utcnow() + timedelta(seconds=20)
    for s in SOURCES:
        db.source_state(s.name)
        db.set_next_poll(s.name, planned)
    b = member(db, "b", b_jobs)
    b.step()
    assert set(b_jobs.next) == b.mine
    for when in b_jobs.next.values():
        # A heartbeat or two later than planned: the old owner must see the change first.
        assert when is not None and planned < when <= planned + timedelta(seconds=2 * b.every)


def test_a_lease_held_by_a_poll_in_flight_is_given_up_when_the_poll_ends(db: Store) -> None:
    busy: set[str] = set()
    a = member(db, "a", Jobs(), busy)
    a.step()
    for s in SOURCES:
        assert db.acquire_lease(s.name, "a", LONG)
    b = member(db, "b", Jobs())
    b.step()
    busy.update(b.mine)  # a is polling all of them right now
    a.step()
    assert set(daemons.lease_holders(db)) == {s.name for s in SOURCES}
    assert not a.owns(min(b.mine))  # skipped, and still held: the poll is not done
    busy.clear()
    assert not a.owns(min(b.mine))  # done: the skip gives it up
    assert min(b.mine) not in daemons.lease_holders(db)
    a.step()
    assert daemons.lease_holders(db) == dict.fromkeys(sorted(a.mine), "a")


def test_a_takeover_whose_lease_is_still_held_elsewhere_is_planned_again(db: Store) -> None:
    a = member(db, "a", Jobs())
    a.step()
    b_jobs = Jobs()
    b = member(db, "b", b_jobs)
    b.step()
    name = min(b.mine)
    # Its planned time passed, and the old owner polled once more meanwhile.
    b.pending[name] = utcnow() - timedelta(minutes=1)
    assert db.acquire_lease(name, "a", LONG)
    later = utcnow() + timedelta(seconds=30)
    db.source_state(name)
    db.set_next_poll(name, later)
    b_jobs.next.clear()
    b.step()
    assert list(b_jobs.next) == [name]
    assert b_jobs.next[name] is not None and b_jobs.next[name] >= later  # type: ignore[operator]
    # Once this daemon holds the lease, the takeover is done.
    b.pending[name] = utcnow() - timedelta(minutes=1)
    daemons.release(db, "a", [name])
    assert db.acquire_lease(name, "b", LONG)
    b_jobs.next.clear()
    b.step()
    assert b_jobs.next == {} and name not in b.pending


def test_a_clean_stop_leaves_and_the_other_daemon_takes_everything(db: Store) -> None:
    a, b = member(db, "a", Jobs()), member(db, "b", Jobs())
    a.step()
    b.step()
    daemons.leave(db, "b")
    a.step()
    assert a.mine == {s.name for s in SOURCES}
