"""The alert dispatcher: deliver due outbox rows to their channels, retrying with backoff.

Each run claims due rows under a lease (see store/outbox.py), builds the message from the
stored item at send time, sends it, and records sent / retry / failed. Temporary
failures come back after an exponential delay with full jitter, until `max_age`.

A failing receiver holds back only its own channel: sends run with a limit per channel,
the channel is probed with one queued row at least every `probe_every` whatever the rows'
own backoff, and the first delivery that gets through makes all its queued rows due.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx

import monitor
from monitor.alerts import apprise_channel, email, webhook
from monitor.alerts.errors import DeliveryError, PermanentError, TemporaryError
from monitor.alerts.message import (
    OperatorNotice,
    Story,
    digest_key,
    email_digest,
    email_operator,
    email_story,
    email_test,
    story_from_item,
)
from monitor.config import AlertChannel, DeliverySettings, Settings
from monitor.redact import url_origin
from monitor.store import outbox
from monitor.store.models import Alert, Item, utcnow
from monitor.store.repo import Store

log = logging.getLogger("monitor.alerts")


@dataclass(frozen=True)
class DispatcherSettings:
    base_delay: timedelta = timedelta(seconds=30)  # first retry within this, doubling
    max_delay: timedelta = timedelta(hours=1)  # the doubling stops here
    max_age: timedelta = timedelta(hours=48)  # a row still failing after this is failed
    max_retry_after: timedelta = timedelta(hours=1)  # cap on a receiver's Retry-After
    # Longer than any send can take, so a live dispatcher never loses its lease.
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 50
    concurrency: int = 4  # sends in flight at once
    digest_limit: int = 200  # stories in one digest message; the rest go in the next
    connect_timeout: float = 10.0
    timeout: float = 30.0  # webhook read/write, SMTP socket
    interval: float = 5.0  # seconds between runs of run_dispatcher
    probe_every: timedelta = timedelta(seconds=30)  # a failing channel is tried this often
    ca_file: Path | None = None  # extra CA for SMTP/HTTPS receivers with a private CA

    @staticmethod
    def of(d: DeliverySettings) -> DispatcherSettings:
        """The dispatcher settings of a config's [delivery] table."""
        return DispatcherSettings(
            base_delay=d.base_delay,
            max_delay=d.max_delay,
            max_age=d.max_age,
            lease=d.lease,
            timeout=d.timeout.total_seconds(),
            interval=d.every.total_seconds(),
            probe_every=d.probe_every,
        )


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown_channels: dict[str, int] = field(default_factory=dict)  # label -> queued rows


def retry_delay(
    attempt: int,
    *,
    base: timedelta,
    cap: timedelta,
    rand: Callable[[float, float], float] = random.uniform,
) -> timedelta:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2 ** min(max(attempt - 1, 0), 32))
    return timedelta(seconds=rand(0.0, ceiling))


def next_attempt(
    *,
    attempts: int,
    created_at: datetime,
    now: datetime,
    retry_after: float | None,
    ds: DispatcherSettings,
    rand: Callable[[float, float], float] = random.uniform,
) -> datetime | None:
    """When to try again after a temporary failure; None once the row is too old."""
    deadline = created_at + ds.max_age
    if now >= deadline:
        return None
    delay = retry_delay(attempts, base=ds.base_delay, cap=ds.max_delay, rand=rand)
    if retry_after is not None:
        asked = timedelta(seconds=min(retry_after, ds.max_retry_after.total_seconds()))
        delay = max(delay, asked)
    # One last try right at the deadline rather than giving up before it.
    return min(now + delay, deadline)


def late_reason(row: Alert) -> str | None:
    late = (row.payload or {}).get("late")
    return str(late) if late else None


def safe_label(label: str) -> str:
    """A channel label fit for logs: a URL label (Slack's holds a token) shows its host only."""
    return url_origin(label) if "://" in label else label


@asynccontextmanager
async def _http(
    client: httpx.AsyncClient | None, ds: DispatcherSettings
) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return
    async with client_for(ds) as own:
        yield own


@asynccontextmanager
async def client_for(ds: DispatcherSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client deliveries go through; kept across rounds by a long-running caller
    (building one reads the system's CA certificates, tens of milliseconds)."""
    verify: ssl.SSLContext | bool = email.tls_context(ds.ca_file) if ds.ca_file else True
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(ds.timeout, connect=ds.connect_timeout),
        headers={"User-Agent": f"oic-monitor/{monitor.__version__} (alerts)"},
        verify=verify,
    ) as own:
        yield own


class _Run:
    """One pass over the due rows; holds what every delivery in the pass shares."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        now: datetime,
        client: httpx.AsyncClient,
        ds: DispatcherSettings,
    ) -> None:
        self.store = store
        self.channels = {ch.label: ch for ch in settings.alerts}
        self.now = now
        self.client = client
        self.ds = ds
        self.report = DispatchReport()
        self.failing = set(outbox.failing_channels(store))
        self.slots: dict[str, asyncio.Semaphore] = {}  # sends in flight per channel

    async def instant(self, rows: Sequence[Alert]) -> None:
        ids = {r.item_id for r in rows if r.kind == "story" and r.item_id is not None}
        items = outbox.story_items(self.store, ids)

        async def one(row: Alert) -> None:
            slots = self.slots.setdefault(row.channel, asyncio.Semaphore(self.ds.concurrency))
            async with slots:
                await self._one(row, items)

        await asyncio.gather(*(one(r) for r in rows))

    async def _one(self, row: Alert, items: dict[int, tuple[Item, list[str]]]) -> None:
        channel = self.channels[row.channel]
        try:
            detail = await self._send(channel, row, items)
        except DeliveryError as e:
            self._failed(channel, [row], e)
            return
        except Exception as e:  # a bug for one row must not stall the others
            log.exception("alert %s to %s: unexpected error", row.id, safe_label(channel.label))
            self._failed(channel, [row], TemporaryError(f"unexpected error: {type(e).__name__}"))
            return
        self._sent(channel, [row], detail)

    async def _send(
        self, channel: AlertChannel, row: Alert, items: dict[int, tuple[Item, list[str]]]
    ) -> str:
        key = row.story_key
        if row.kind == "operator":
            try:
                notice = OperatorNotice.from_payload(row.payload)
            except ValueError as e:
                raise PermanentError(str(e)) from None
            if channel.kind == "webhook":
                body = webhook.operator_body(channel, notice, key=key)
                return await webhook.post(self.client, channel, body, key=key)
            if channel.kind == "apprise":
                return await apprise_channel.send_operator(
                    channel, notice, previous=[row.last_error]
                )
            return await self._email(channel, email_operator(notice, channel, key=key))
        if row.kind != "story":
            raise PermanentError(f"unknown alert kind {row.kind!r}")
        found = items.get(row.item_id) if row.item_id is not None else None
        if found is None:
            raise PermanentError(f"item {row.item_id} no longer exists")
        story = story_from_item(*found, late=late_reason(row))
        if channel.kind == "webhook":
            body = webhook.story_body(channel, story, key=key)
            return await webhook.post(self.client, channel, body, key=key)
        if channel.kind == "apprise":
            return await apprise_channel.send_story(channel, story, previous=[row.last_error])
        return await self._email(channel, email_story(story, channel, key=key))

    async def _email(self, channel: AlertChannel, msg: EmailMessage) -> str:
        return await email.send(channel, msg, timeout=self.ds.timeout, ca_file=self.ds.ca_file)

    async def digest(self, channel: AlertChannel, rows: Sequence[Alert]) -> None:
        """One message for all the period's stories; all of them sent, or none."""
        items = outbox.story_items(self.store, {r.item_id for r in rows if r.item_id is not None})
        stories: list[Story] = []
        kept: list[Alert] = []
        gone: list[Alert] = []
        for row in rows:
            found = items.get(row.item_id) if row.item_id is not None else None
            if found is None:
                gone.append(row)
            else:
                stories.append(story_from_item(*found, late=late_reason(row)))
                kept.append(row)
        if gone:
            self._failed(channel, gone, PermanentError("item no longer exists"))
        if not kept:
            return
        key = digest_key([r.story_key for r in kept])
        try:
            if channel.kind == "webhook":
                keyed = list(zip(stories, (r.story_key for r in kept), strict=True))
                body = webhook.digest_body(channel, keyed, key=key)
                detail = await webhook.post(self.client, channel, body, key=key)
            elif channel.kind == "apprise":
                previous = [r.last_error for r in kept]
                detail = await apprise_channel.send_digest(channel, stories, previous=previous)
            else:
                detail = await self._email(channel, email_digest(stories, channel, key=key))
        except DeliveryError as e:
            self._failed(channel, kept, e)
            return
        self._sent(channel, kept, f"digest of {len(kept)}: {detail}")

    def _sent(self, channel: AlertChannel, rows: Sequence[Alert], detail: str) -> None:
        outbox.mark_sent(self.store, _ids(rows), now=self.now)
        self.report.sent += len(rows)
        log.info("alert %s delivered to %s: %s", _keys(rows), safe_label(channel.label), detail)
        self._answers(channel)

    def _answers(self, channel: AlertChannel) -> None:
        """The receiver answered: if its channel was failing, all it has queued is due."""
        if channel.label not in self.failing:
            return
        self.failing.discard(channel.label)
        released = outbox.channel_recovered(self.store, channel.label, now=self.now)
        log.info(
            "%s answers again: %d queued alerts are due now", safe_label(channel.label), released
        )

    def _failed(self, channel: AlertChannel, rows: Sequence[Alert], err: DeliveryError) -> None:
        name = safe_label(channel.label)
        attempts = max(r.attempts for r in rows)
        if err.permanent:
            outbox.mark_failed(self.store, _ids(rows), error=err.detail)
            self.report.failed += len(rows)
            log.error("alert delivery failed: %s to %s: %s", _keys(rows), name, err.detail)
            self._answers(channel)  # it refused this message, but it is there
            return
        self.failing.add(channel.label)
        outbox.channel_failed(
            self.store,
            channel.label,
            now=self.now,
            error=err.detail,
            probe_every=self.ds.probe_every,
        )
        at = next_attempt(
            attempts=attempts,
            created_at=min(outbox.aware(r.created_at) for r in rows),
            now=self.now,
            retry_after=err.retry_after,
            ds=self.ds,
        )
        if at is None:
            error = f"{err.detail} (gave up after {attempts} attempts)"
            outbox.mark_failed(self.store, _ids(rows), error=error)
            self.report.failed += len(rows)
            log.error("alert delivery failed: %s to %s: %s", _keys(rows), name, error)
            return
        outbox.mark_retry(self.store, _ids(rows), at=at, error=err.detail)
        self.report.retried += len(rows)
        log.warning(
            "alert %s to %s not delivered (attempt %d): %s; next try at %s",
            _keys(rows),
            name,
            attempts,
            err.detail,
            at.isoformat(timespec="seconds"),
        )


def _ids(rows: Sequence[Alert]) -> list[int]:
    return [r.id for r in rows if r.id is not None]


def _keys(rows: Sequence[Alert]) -> str:
    keys = [r.story_key for r in rows]
    return keys[0] if len(keys) == 1 else f"{len(keys)} stories ({', '.join(keys[:5])}…)"


def _digest_channels(settings: Settings) -> list[AlertChannel]:
    # Operator alerts always go out at once, whatever the channel's mode.
    return [ch for ch in settings.alerts if ch.mode == "digest"]


async def dispatch_due(
    store: Store,
    settings: Settings,
    *,
    now: datetime | None = None,
    client: httpx.AsyncClient | None = None,
    dsettings: DispatcherSettings = DispatcherSettings(),
) -> DispatchReport:
    """Deliver every outbox row due at `now` (default: the current time) once."""
    ds = dsettings
    now = now or utcnow()
    async with _http(client, ds) as http:
        run = _Run(store, settings, now=now, client=http, ds=ds)
        unknown = outbox.queued_for_unknown_channels(store, run.channels)
        if unknown:
            # Kept, not dropped: the channel may come back in the configuration.
            run.report.unknown_channels = unknown
            log.warning(
                "%d queued alerts wait for channels that are not configured: %s",
                sum(unknown.values()),
                ", ".join(sorted(safe_label(label) for label in unknown)),
            )
        digests = _digest_channels(settings)
        handled = await _probe(run, digests)
        for ch in digests:
            rows = outbox.claim_digest(
                store,
                ch.label,
                now=now,
                lease=ds.lease,
                every=ch.digest_every,
                limit=ds.digest_limit,
            )
            if rows:
                await run.digest(ch, rows)
        while rows := outbox.claim_due(
            store,
            now=now,
            lease=ds.lease,
            limit=ds.batch_size,
            channels=list(run.channels),
            digest_channels=[ch.label for ch in digests],
            exclude=handled,
        ):
            handled.update(_ids(rows))
            await run.instant(rows)
    return run.report


async def _probe(run: _Run, digests: list[AlertChannel]) -> set[int]:
    """One row for each failing channel whose probe is due, whatever the row's backoff
    (for a digest channel, its digest if one is due); the ids of the rows tried."""
    tried: set[int] = set()
    failing = [ch for ch in run.channels.values() if ch.label in run.failing]
    for ch in failing:
        ds = run.ds
        if not outbox.take_probe(run.store, ch.label, now=run.now, probe_every=ds.probe_every):
            continue
        if ch in digests:
            rows = outbox.claim_digest(
                run.store, ch.label, now=run.now, lease=ds.lease, every=ch.digest_every,
                limit=ds.digest_limit, probe=True,
            )  # fmt: skip
            if rows:
                tried.update(_ids(rows))
                await run.digest(ch, rows)
                continue
        rows = outbox.claim_probe(
            run.store, ch.label, now=run.now, lease=ds.lease, stories=ch not in digests
        )
        if rows:
            tried.update(_ids(rows))
            await run.instant(rows)
        elif not outbox.has_queued(run.store, ch.label):  # nothing left to hold back
            outbox.channel_recovered(run.store, ch.label, now=run.now)
    return tried


async def run_dispatcher(
    store: Store,
    settings: Settings,
    stop: asyncio.Event,
    interval: float | None = None,
    *,
    dsettings: DispatcherSettings = DispatcherSettings(),
) -> None:
    """Deliver due alerts every `interval` seconds until `stop` is set."""
    wait = dsettings.interval if interval is None else interval
    async with _http(None, dsettings) as client:
        while not stop.is_set():
            try:
                report = await dispatch_due(store, settings, client=client, dsettings=dsettings)
                if report.sent or report.failed or report.retried:
                    log.debug("dispatch run: %s", report)
            except Exception:  # e.g. the database is briefly unreachable: try again next run
                log.exception("alert dispatch run failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


async def send_test(
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    dsettings: DispatcherSettings = DispatcherSettings(),
) -> list[tuple[str, bool, str]]:
    """Send a test message through every configured channel now, bypassing the outbox.

    Returns (channel label, ok, detail) per channel.
    """
    key = "test-" + utcnow().strftime("%Y%m%dT%H%M%S%f")  # unique: receivers must not drop it
    results: list[tuple[str, bool, str]] = []
    async with _http(client, dsettings) as http:
        for ch in settings.alerts:
            try:
                if ch.kind == "webhook":
                    body = webhook.test_body(ch, key=key)
                    detail = await webhook.post(http, ch, body, key=key)
                elif ch.kind == "apprise":
                    detail = await apprise_channel.send_test(ch)
                else:
                    detail = await email.send(
                        ch,
                        email_test(ch, key=key),
                        timeout=dsettings.timeout,
                        ca_file=dsettings.ca_file,
                    )
            except DeliveryError as e:
                results.append((ch.label, False, e.detail))
            else:
                results.append((ch.label, True, detail))
    return results
