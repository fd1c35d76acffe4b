"""The daemon: one APScheduler job per source, the alert dispatcher, health, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.alerts.dispatcher import DispatcherSettings, client_for, dispatch_due
from monitor.config import ConfigError, Settings, Source, load_settings
from monitor.membership import Membership
from monitor.metrics import Metrics
from monitor.pipeline import PollReport
from monitor.runtime import Runtime
from monitor.store.db import DB_UNAVAILABLE, db_reason
from monitor.store.polls import PollLease
from monitor.watch import after_poll, check_silence

log = logging.getLogger("monitor.scheduler")

# Signals must not leave a half-written poll behind; past this the daemon stops anyway.
SHUTDOWN_GRACE = 8.0
CATCHUP_LEASE = "~catch-up"


def next_interval(
    source: Source, current: timedelta, *, new_items: int, window_hours: float | None
) -> timedelta:
    """The adaptive policy: shorter after news, longer after silence, inside the bounds,
    and at most a third of the feed window so three polls fit in what one poll can see."""
    assert source.min_interval is not None and source.max_interval is not None
    nxt = current * 0.75 if new_items else current * 1.25
    if window_hours is not None and window_hours > 0:
        nxt = min(nxt, timedelta(hours=window_hours) / 3)
    return max(source.min_interval, min(source.max_interval, nxt))


def lease_ttl(source: Source) -> timedelta:
    """Held a little past one interval: a live owner renews in time, a dead one's lapses
    so another daemon takes the source at its next tick."""
    return source.interval + min(source.interval / 2, timedelta(minutes=2))


# How often leases of long-running polls are looked at (renewed at a third of their TTL).
LEASE_CHECK_SECONDS = 0.5


def lease_margin(ttl: timedelta) -> float:
    """Seconds a lease held since the last poll must still run for a poll to start on it
    without asking the database: long enough for the lease check to renew it in time."""
    return max(2 * LEASE_CHECK_SECONDS, min(ttl.total_seconds() / 4, 10.0))


# Errors that mean "cannot reach the database now" (down, restarting, locked), not a bug.


# First polls start spread over at least this many seconds, longer when there are more
# sources than FIRST_POLLS_PER_SECOND can start in that time.
FIRST_POLLS_WITHIN = 30.0
FIRST_POLLS_PER_SECOND = 10.0


def first_delay(interval: timedelta, sources: int = 1) -> timedelta:
    """A random start within the first interval: daemons started together split the
    sources between them, and many sources do not all poll at once. The ticks keep that
    phase, so with thousands of sources the spread is what keeps polls steady instead of
    a burst every interval."""
    spread = max(FIRST_POLLS_WITHIN, sources / FIRST_POLLS_PER_SECOND)
    return timedelta(seconds=random.uniform(0, min(interval.total_seconds(), spread)))


def jitter_for(interval: timedelta) -> int:
    """Spread polls of many sources: a tenth of the interval, at most a minute."""
    return int(min(interval.total_seconds() * 0.1, 60))


class Daemon:
    def __init__(self, settings: Settings, *, http: str | None = None) -> None:
        self.settings = settings
        self.http = http
        self.metrics = Metrics()
        self.stop_event = asyncio.Event()
        self.deliver_now = asyncio.Event()
        self.inflight: set[asyncio.Task[object]] = set()
        self.polling: dict[str, tuple[timedelta, float]] = {}  # source -> (lease TTL, renewed)
        # Leases this daemon holds: source -> time.monotonic() by which each lapses at the
        # latest. One held since the last poll lets the next start without a transaction.
        self.leases: dict[str, float] = {}
        self.sources = {s.name: s for s in settings.sources}
        self.intervals: dict[str, timedelta] = {}  # adaptive intervals now in force
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.rt: Runtime | None = None
        self.members: Membership | None = None
        self.started_at = datetime.now(UTC)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # --- jobs ---------------------------------------------------------------

    def _schedule(self, source: Source, *, first_run: datetime | None = None) -> None:
        self.scheduler.add_job(
            self._poll_job,
            IntervalTrigger(
                seconds=source.interval.total_seconds(), jitter=jitter_for(source.interval)
            ),
            id=source.name,
            args=[source.name],
            max_instances=1,  # never two runs of one source at once
            coalesce=True,  # after a pause, one catch-up run, not a burst
            misfire_grace_time=int(max(30, source.interval.total_seconds() / 2)),
            next_run_time=first_run
            or datetime.now(UTC) + first_delay(source.interval, len(self.sources)),
            replace_existing=True,
        )

    def _take_lease(self, name: str, ttl: timedelta) -> PollLease | None:
        """The lease to poll `name` under, or None while another daemon holds it. A lease
        renewed at the end of the last poll and still running for a while is used as it
        is; otherwise the database is asked (take, or renew, for one TTL)."""
        now = time.monotonic()
        until = self.leases.get(name)
        if until is not None and until - now >= lease_margin(ttl):
            return PollLease(self.owner, ttl, held=True, renewed_at=until - ttl.total_seconds())
        assert self.rt is not None
        if not self.rt.store.acquire_lease(name, self.owner, ttl):
            self.leases.pop(name, None)
            return None
        self.leases[name] = now + ttl.total_seconds()
        # Held without a break since our last poll: nobody else can have polled it since.
        return PollLease(self.owner, ttl, held=until is not None and until > now, renewed_at=now)

    async def _poll_job(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None and self.rt is not None
        self.inflight.add(task)
        try:
            source = self.sources.get(name)
            if source is None or not source.enabled or self.stop_event.is_set():
                return
            if self.members is not None and not self.members.owns(name):
                return  # another daemon's part of the sources
            lease = self._take_lease(name, lease_ttl(source))
            if lease is None:
                return  # another daemon polls this source
            job = self.scheduler.get_job(name)
            # APScheduler set the job's next run before starting this one.
            lease.next_poll = job.next_run_time if job else None
            assert lease.renewed_at is not None
            self.polling[name] = (lease.ttl, lease.renewed_at)
            try:
                # The write that ends the poll renews the lease from then: the next tick
                # is one interval away.
                report = await self.rt.pipeline.poll(source, lease)
            finally:
                self.polling.pop(name, None)
            if lease.kept and lease.renewed_at is not None:
                self.leases[name] = lease.renewed_at + lease.ttl.total_seconds()
            elif self.leases.pop(name, None) is not None:  # not yet noticed by _keep_leases
                log.warning("%s: lease lost to another daemon during a poll", name)
            if source.adaptive and report.ok and self._adapt(source, report):
                job = self.scheduler.get_job(name)
                self.rt.store.set_next_poll(name, job.next_run_time if job else None)
            outcome = "not_modified" if report.not_modified else ("ok" if report.ok else "error")
            self.metrics.polls.labels(name, outcome).inc()
            self.metrics.items.labels(name).inc(report.stored)
            for reason, n in report.errors.items():
                self.metrics.article_errors.labels(name, reason).inc(n)
            if report.ok:
                self.metrics.last_success.labels(name).set(datetime.now(UTC).timestamp())
            after_poll(self.rt.store, self.settings, source, report)
            if report.queued_alerts:
                self.deliver_now.set()  # new alerts go out now, not at the next round
        except DB_UNAVAILABLE as e:
            # Nothing is lost: what was not stored is not marked seen, so the next poll
            # fetches it again.
            log.error(
                "%s: poll failed, the database is unavailable (%s); retried at the next interval",
                name,
                db_reason(e),
            )
        except Exception:
            log.exception("%s: poll crashed; the source stays scheduled", name)
        except asyncio.CancelledError:
            if not self.stop_event.is_set():
                raise
            # Cancelled by our own shutdown after the grace period: what was not stored is
            # not marked seen, so the next start fetches it again. Returning keeps
            # APScheduler from logging the cancellation as a crash.
            log.warning("%s: poll cut short by shutdown; resumed at the next start", name)
        finally:
            self.inflight.discard(task)

    def _take_over(self, name: str, when: datetime | None) -> datetime | None:
        """A source that just became this daemon's: polled next at `when` (None: as at a
        start). Returns the time set, or None if there is no such job."""
        # Whatever this daemon remembers of the source's lease is void: it may have been
        # ended here when the source was lost, and polled by another daemon since. The
        # next poll takes the lease from the database and reads the state again.
        self.leases.pop(name, None)
        job = self.scheduler.get_job(name)
        if job is None:
            return None
        when = when or datetime.now(UTC) + first_delay(job.trigger.interval)
        job.modify(next_run_time=when)
        return when

    async def _keep_leases(self) -> None:
        """Renew the leases of polls that run long (a slow site, many new articles), all in
        one transaction a second, so no other daemon starts on a source still being polled."""
        assert self.rt is not None
        while not self.stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), LEASE_CHECK_SECONDS)
            now = time.monotonic()
            due = {
                name: ttl
                for name, (ttl, renewed) in self.polling.items()
                if now - renewed >= ttl.total_seconds() / 3
            }
            if not due:
                continue
            try:
                lost = self.rt.store.renew_leases(self.owner, due)
            except DB_UNAVAILABLE as e:
                log.warning("cannot renew the leases of running polls: %s", db_reason(e))
                continue
            for name, ttl in due.items():
                if name in self.polling:
                    self.polling[name] = (ttl, now)
                    self.leases[name] = now + ttl.total_seconds()
            for name in lost:
                self.leases.pop(name, None)
                log.warning("%s: lease lost to another daemon during a poll", name)

    def dispatcher_settings(self) -> DispatcherSettings:
        return DispatcherSettings.of(self.settings.delivery)

    async def _catchup_job(self) -> None:
        """Fill open gaps; one daemon at a time, never two rounds at once."""
        assert self.rt is not None
        if self.stop_event.is_set():
            return
        every = self.settings.catchup_every
        if not self.rt.store.acquire_lease(CATCHUP_LEASE, self.owner, every * 2):
            return
        try:
            from monitor.catchup import fill_gaps

            await fill_gaps(self.rt.pipeline, self.settings)
        except Exception:
            log.exception("gap catch-up failed; will retry")

    def _adapt(self, source: Source, report: PollReport) -> bool:
        """Whether the source's interval changed (and its job was rescheduled)."""
        current = self.intervals.get(source.name, source.interval)
        window = report.state.window_hours if report.state else None
        nxt = next_interval(source, current, new_items=report.stored, window_hours=window)
        if abs((nxt - current).total_seconds()) >= 1:
            self.intervals[source.name] = nxt
            job = self.scheduler.get_job(source.name)
            if job is not None:
                job.reschedule(IntervalTrigger(seconds=nxt.total_seconds(), jitter=jitter_for(nxt)))
                log.info("%s: now polled every %s", source.name, nxt)
            return True
        return False

    async def _dispatch_loop(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            ds: DispatcherSettings | None = None
            client: httpx.AsyncClient | None = None
            while not self.stop_event.is_set():
                fresh = self.dispatcher_settings()
                if client is None or fresh != ds:  # first round, or a reload changed them
                    await stack.aclose()
                    client = await stack.enter_async_context(client_for(fresh))
                ds = fresh
                await self._dispatch_round(fresh, client)

    async def _dispatch_round(self, ds: DispatcherSettings, client: httpx.AsyncClient) -> None:
        """One round of deliveries, then the wait for the next."""
        assert self.rt is not None
        self.deliver_now.clear()  # a poll that queues alerts from here on wakes the next
        try:
            report = await dispatch_due(self.rt.store, self.settings, client=client, dsettings=ds)
            self.metrics.alerts_sent.inc(report.sent)
            self.metrics.alerts_failed.inc(report.failed + report.retried)
            check_silence(self.rt.store, self.settings)
        except DB_UNAVAILABLE as e:
            log.error("alert dispatch failed, the database is unavailable (%s)", db_reason(e))
        except Exception:
            log.exception("alert dispatch failed; will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._next_round(), self.settings.delivery.every.total_seconds())

    async def _next_round(self) -> None:
        """Until the daemon stops or a poll queues alerts."""
        stop = asyncio.ensure_future(self.stop_event.wait())
        wake = asyncio.ensure_future(self.deliver_now.wait())
        try:
            await asyncio.wait({stop, wake}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()

    # --- reload and stop ----------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: re-read the config; add, change and remove source jobs."""
        path = self.settings.config_path
        try:
            new = load_settings(Path(path) if path else None)
        except ConfigError as e:
            log.error("reload refused, keeping the running config: %s", e)
            return
        old = {s.name: s for s in self.settings.sources if s.enabled}
        fresh = {s.name: s for s in new.sources if s.enabled}
        self.settings = new
        self.sources = {s.name: s for s in new.sources}
        assert self.rt is not None
        self.rt.settings = new
        self.rt.pipeline.settings = new
        for name in old.keys() - fresh.keys():
            self.scheduler.remove_job(name)
            log.info("reload: removed source %s", name)
        for name, src in fresh.items():
            if name not in old:
                self._schedule(src)
                log.info("reload: added source %s", name)
            elif old[name] != src:
                self.intervals.pop(name, None)
                job = self.scheduler.get_job(name)
                self._schedule(src, first_run=job.next_run_time if job else None)
                log.info("reload: updated source %s", name)

    def request_stop(self) -> None:
        if not self.stop_event.is_set():
            log.info("stopping: finishing polls in flight")
            self.stop_event.set()

    # --- main ---------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        sock = None
        if self.http:
            from monitor.web.server import listen

            sock = listen(self.http)  # fail before polling starts if the port is taken
        async with Runtime(self.settings) as rt:
            self.rt = rt
            for source in self.settings.sources:
                if source.enabled:
                    self._schedule(source)
            self.scheduler.add_job(
                self._catchup_job,
                IntervalTrigger(seconds=self.settings.catchup_every.total_seconds()),
                id=CATCHUP_LEASE,
                max_instances=1,
                coalesce=True,
                # Low priority: the first round waits for the first polls to be done.
                next_run_time=datetime.now(UTC) + self.settings.catchup_every / 4,
            )
            self.members = Membership(
                rt.store,
                self.owner,
                sources=lambda: self.settings.sources,
                busy=lambda: self.polling,
                take_over=self._take_over,
                metrics=self.metrics,
            )
            self.members.step()  # before the first tick: which sources are this daemon's
            self.scheduler.start()
            tasks = [
                asyncio.create_task(self.members.run()),
                asyncio.create_task(self._dispatch_loop()),
                asyncio.create_task(self._keep_leases()),
            ]
            if sock is not None:
                from monitor.web.app import daemon_app as health_app
                from monitor.web.server import serve_app

                tasks.append(
                    asyncio.create_task(
                        serve_app(health_app(self), sock, self.stop_event, self.settings.web)
                    )
                )
            log.info(
                "running: %d sources, %d alert channels",
                sum(1 for s in self.settings.sources if s.enabled),
                len(self.settings.alerts),
            )
            await self.stop_event.wait()
            # Paused, not shut down, while polls finish: APScheduler's shutdown cancels the
            # coroutine jobs still running.
            self.scheduler.pause()
            if self.inflight:
                _, pending = await asyncio.wait(set(self.inflight), timeout=SHUTDOWN_GRACE)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            self.scheduler.shutdown(wait=False)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            rt.store.release_leases(self.owner)
            self.leases.clear()
        log.info("stopped")
