"""A daemon's heartbeat, and its part of the sources among the live daemons.

Every few seconds each daemon writes its heartbeat and reads who else is live; from that set
and the enabled sources it computes the same split as all the others (monitor.sharing) and
polls only its own part. Leases stay the guard against two polls of one source at once:
views differ for up to one heartbeat when a daemon joins or goes.

A source changes hands at the time its last poller planned to poll it next, so the cadence
holds across a handover. The old owner ends its lease as soon as its poll in flight is done;
a killed daemon's leases are ended by the first daemon to see its heartbeat run out.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta

from monitor.config import Source
from monitor.metrics import Metrics
from monitor.sharing import split
from monitor.store import daemons
from monitor.store.db import DB_UNAVAILABLE, db_reason
from monitor.store.models import utcnow
from monitor.store.repo import Store

log = logging.getLogger("monitor.membership")

# A tenth of the shortest interval, within these bounds (seconds).
BEAT_MIN, BEAT_MAX = 0.25, 5.0
# A daemon that missed this many heartbeats counts as gone: 0.4 of an interval at most, so
# the others see it within half an interval and poll its sources within one.
GONE_AFTER_BEATS = 4

# source name -> when to poll it next (None: as at a fresh start); returns the time set,
# or None if the daemon has no such job.
TakeOver = Callable[[str, datetime | None], datetime | None]


def beat_every(sources: Iterable[Source]) -> float:
    """Seconds between heartbeats for these sources."""
    shortest = min(
        (
            (s.min_interval if s.adaptive and s.min_interval else s.interval).total_seconds()
            for s in sources
        ),
        default=BEAT_MAX * 10,
    )
    return max(BEAT_MIN, min(BEAT_MAX, shortest / 10))


class Membership:
    def __init__(
        self,
        store: Store,
        owner: str,
        *,
        sources: Callable[[], Sequence[Source]],
        busy: Callable[[], Collection[str]],
        take_over: TakeOver,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.sources = sources  # the config's sources, read again after a reload
        self.busy = busy  # sources with a poll in flight
        self.take_over = take_over
        self.metrics = metrics
        self.every = BEAT_MAX
        self.live: list[str] = []
        self.names: tuple[str, ...] = ()
        self.shares: dict[str, set[str]] = {}
        self.mine: set[str] = set()  # nothing until the first heartbeat says who else runs
        self.to_release: set[str] = set()  # lost sources whose lease this daemon may hold
        self.pending: dict[str, datetime] = {}  # sources taken over, until polled here
        self.db_down = False

    def owns(self, name: str) -> bool:
        """Whether this daemon polls `name`; a source just lost has its lease ended here."""
        if name in self.mine:
            return True
        if name in self.to_release and name not in self.busy():
            daemons.release(self.store, self.owner, [name])
            self.to_release.discard(name)
        return False

    async def run(self) -> None:
        """Beat until cancelled (after the daemon's last poll is done), then leave. The
        daemon takes the first step itself, before its first tick."""
        try:
            while True:
                await asyncio.sleep(self.every)
                try:
                    self.step()
                except Exception:
                    # Beating on matters more than any one step: a daemon that stopped
                    # beating would be counted gone while it still polls its part.
                    log.exception("heartbeat step failed; retried at the next one")
        finally:
            try:
                daemons.leave(self.store, self.owner)
            except DB_UNAVAILABLE as e:
                log.warning("could not remove this daemon's heartbeat: %s", db_reason(e))

    def step(self) -> None:
        """One heartbeat: who is live, what is this daemon's, what changes hands."""
        sources = {s.name: s for s in self.sources() if s.enabled}
        self.every = beat_every(sources.values())
        try:
            live = daemons.beat(
                self.store, self.owner, timedelta(seconds=self.every) * GONE_AFTER_BEATS
            )
            names = tuple(sorted(sources))
            if live != self.live or names != self.names:
                self._reshare(live, names, sources)
            self._release_lost()
            self._check_pending(sources)
        except DB_UNAVAILABLE as e:
            if not self.db_down:
                log.warning("heartbeat failed, keeping this daemon's sources: %s", db_reason(e))
            self.db_down = True
            return
        if self.db_down:
            log.info("heartbeat written again")
            self.db_down = False

    def _reshare(self, live: list[str], names: tuple[str, ...], sources: dict[str, Source]) -> None:
        before = {s: d for d, mine in self.shares.items() for s in mine}
        self.shares = split(live, names)
        mine = self.shares.get(self.owner, set())
        gained = mine - self.mine
        self.to_release = (self.to_release | self.mine) - mine
        self.mine = mine
        self.live, self.names = live, names
        # A source whose last owner is gone changes hands at once; one whose owner lives (or
        # may: a daemon's first view knows no owners) waits a heartbeat longer, for that
        # owner to see the change and end its lease.
        alive = {n for n in gained if not before or before.get(n) in live}
        self._plan(gained, sources, alive=alive)
        log.info(
            "%d daemon(s) live; this one polls %d of %d sources", len(live), len(mine), len(names)
        )
        if self.metrics is not None:
            self.metrics.daemons_live.set(len(live))
            self.metrics.sources_owned.set(len(mine))

    def _plan(
        self, names: Collection[str], sources: dict[str, Source], *, alive: Collection[str]
    ) -> None:
        if not names:
            return
        planned = daemons.planned_polls(self.store)
        now = utcnow()
        beat = timedelta(seconds=self.every)
        for name in names:
            interval = sources[name].interval
            nxt, last = planned.get(name, (None, None))
            if nxt is None and last is not None:
                nxt = last + interval
            when = None
            if nxt is not None:
                # Due already (its poller died or was slow to notice): soon, spread out.
                when = max(nxt, now + beat * random.random() / 2)
                when = min(when, now + interval) + (beat * 1.5 if name in alive else timedelta())
            set_at = self.take_over(name, when)
            if set_at is not None:
                self.pending[name] = set_at

    def _release_lost(self) -> None:
        free = self.to_release - set(self.busy())
        if free:
            daemons.release(self.store, self.owner, free)
            self.to_release -= free

    def _check_pending(self, sources: dict[str, Source]) -> None:
        """A source taken over whose lease the old owner still held when this daemon's poll
        came (it polled once more before seeing the change) is planned again."""
        late = utcnow() - timedelta(seconds=self.every) * 2
        due = [n for n, at in self.pending.items() if at < late]
        if not due:
            return
        holders = daemons.lease_holders(self.store)
        again = []
        for name in due:
            holder = holders.get(name)
            if holder == self.owner or name not in self.mine:
                del self.pending[name]
            else:
                again.append(name)
        self._plan(again, sources, alive=[n for n in again if holders.get(n) is not None])
