"""Delivery after a receiver outage, with the default [delivery] settings, on a simulated
clock: the dispatcher runs every `every` seconds of simulated time against real receivers
on 127.0.0.1, and two dispatchers (two daemons) share one database."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta

from monitor.alerts.dispatcher import DispatcherSettings, dispatch_due
from monitor.config import Settings
from monitor.store import outbox
from monitor.store.repo import Store
from tests.alerts_support import Receiver, add_story, settings_with
from tests.webserver import Request, Response

OUTAGE = timedelta(hours=1)
RECOVERY_BOUND = timedelta(seconds=60)


class Switch:
    """A receiver route that answers 503 while down, 200 once up; logs each answer with
    the simulated time of the dispatch run that caused it."""

    def __init__(self, receiver: Receiver, path: str) -> None:
        self.up = True
        self.clock: datetime | None = None
        self.tries: list[datetime] = []  # every POST
        self.delivered: dict[str, datetime] = {}  # idempotency key -> first 200
        self.repeats = 0
        self.url = receiver.url(path)
        receiver.routes[path] = self.answer

    def answer(self, req: Request) -> Response:
        assert self.clock is not None
        self.tries.append(self.clock)
        if not self.up:
            return Response(status=503, body="down")
        key = req.headers["idempotency-key"]
        if key in self.delivered:
            self.repeats += 1
        self.delivered.setdefault(key, self.clock)
        json.loads(req.body)
        return Response(status=200, body="ok")


def test_alerts_queued_during_an_hour_long_outage_go_out_within_a_minute_of_recovery(
    db_url: str, receiver: Receiver
) -> None:
    random.seed(20261127)  # the retry jitter: the same run every time
    down = Switch(receiver, "/down")
    other = Switch(receiver, "/other")
    settings: Settings = settings_with(
        {"name": "desk", "kind": "webhook", "url": down.url},
        {"name": "ops", "kind": "webhook", "url": other.url},
    )
    ds = DispatcherSettings.of(settings.delivery)  # the defaults a config gets
    store, second = Store.open(db_url), Store.open(db_url)  # two daemons, one database
    every = timedelta(seconds=ds.interval)
    step = 3 * every  # runs during the outage, fewer than a daemon makes, to keep this quick
    start = datetime.now().astimezone()
    down.up = False

    def dispatch(at: datetime, n: int) -> None:
        down.clock = other.clock = at
        asyncio.run(dispatch_due((store, second)[n % 2], settings, now=at, dsettings=ds))

    # A story every five minutes while the desk's receiver is down, to both channels.
    clock, n, created = start, 0, {}
    while clock < start + OUTAGE:
        if n % 20 == 0:
            item = add_story(store, ["desk", "ops"], title=f"OIC session {n}", created_at=clock)
            created[str(item.story_id)] = clock
        dispatch(clock, n)
        clock, n = clock + step, n + 1

    # The other channel was never held back: each story went out in the run it came in.
    assert other.delivered == created
    # The failing one was tried at least every probe_every (plus a run's granularity).
    gaps = [b - a for a, b in zip(down.tries, down.tries[1:], strict=False)]
    assert down.tries and max(gaps) <= ds.probe_every + step
    queued = [r for r in outbox.alerts(store) if r.channel == "desk" and r.status == "queued"]
    assert len(queued) == len(created)
    assert max(outbox.aware(r.next_attempt_at) for r in queued) > clock + RECOVERY_BOUND

    recovered = clock
    down.up = True
    while len(down.delivered) < len(created) and clock < recovered + 2 * RECOVERY_BOUND:
        dispatch(clock, n)
        clock, n = clock + every, n + 1

    assert set(down.delivered) == set(created)
    assert max(down.delivered.values()) - recovered <= RECOVERY_BOUND
    assert down.repeats == other.repeats == 0
    assert {r.status for r in outbox.alerts(store)} == {"sent"}
    assert outbox.failing_channels(store) == {}
    store.close()
    second.close()


def test_the_first_delivery_that_gets_through_makes_the_channels_queue_due(
    store: Store, receiver: Receiver
) -> None:
    hook = Switch(receiver, "/hook")
    settings = settings_with({"name": "desk", "kind": "webhook", "url": hook.url})
    ds = DispatcherSettings.of(settings.delivery)
    now = datetime.now().astimezone()
    hook.up = False
    for i in range(3):
        add_story(store, ["desk"], title=f"OIC story {i}", created_at=now)

    def dispatch(at: datetime) -> int:
        hook.clock = at
        return asyncio.run(dispatch_due(store, settings, now=at, dsettings=ds)).sent

    dispatch(now)
    assert len(hook.tries) == 3 and "desk" in outbox.failing_channels(store)
    # Each row backed off for an hour: only the channel's probe tries one, every 30 s.
    ids = [r.id or 0 for r in outbox.alerts(store)]
    outbox.mark_retry(store, ids, at=now + timedelta(hours=1), error="HTTP 503")
    dispatch(now + timedelta(seconds=10))
    assert len(hook.tries) == 3
    dispatch(now + ds.probe_every)
    assert len(hook.tries) == 4
    hook.up = True
    assert dispatch(now + 2 * ds.probe_every) == 3  # the probe, then the two others at once
    assert len(hook.delivered) == 3 and hook.repeats == 0
    assert outbox.failing_channels(store) == {}
