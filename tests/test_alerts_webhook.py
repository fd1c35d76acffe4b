"""Webhook delivery through the outbox, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.alerts.dispatcher import DispatcherSettings, dispatch_due, run_dispatcher, send_test
from monitor.alerts.operator import queue_operator_alert
from monitor.config import Settings
from monitor.store import outbox
from monitor.store.models import Alert, utcnow
from monitor.store.repo import Store
from tests.alerts_support import SECRET, Receiver, add_story, evidence, settings_with
from tests.webserver import Response

HOOK = "/hook"


def hook_settings(receiver: Receiver, **extra: object) -> Settings:
    return settings_with(
        {"name": "hook", "kind": "webhook", "url": receiver.url(HOOK), "secret": SECRET, **extra}
    )


def only_row(store: Store) -> Alert:
    rows = outbox.alerts(store)
    assert len(rows) == 1
    return rows[0]


def test_delivers_once_with_signature_and_idempotency_key(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok", status=200)
    settings = hook_settings(receiver)
    item = add_story(store, ["hook"], evidence_=evidence("OIC", snippet="the OIC met"))

    report = asyncio.run(dispatch_due(store, settings))
    again = asyncio.run(dispatch_due(store, settings, now=utcnow() + timedelta(days=1)))

    assert (report.sent, again.sent) == (1, 0)
    [post] = receiver.posted(HOOK)
    expected = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-signature"] == expected
    assert post.headers["idempotency-key"] == str(item.story_id)
    assert post.headers["content-type"] == "application/json"
    body = json.loads(post.body)
    for key in ("id", "url", "title", "source", "published", "language", "relevance", "tier"):
        assert key in body
    assert body["id"] == item.id and body["story_id"] == item.story_id
    assert body["evidence"][0]["term"] == "OIC"
    assert body["also_reported_by"] == [] and body["snippet"] == "the OIC met"
    row = only_row(store)
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1


def test_503_three_times_then_delivered_on_fourth_dispatch(
    store: Store, receiver: Receiver
) -> None:
    receiver.routes[HOOK] = [Response(status=503)] * 3 + [Response(status=200)]
    settings = hook_settings(receiver)
    add_story(store, ["hook"])
    now = utcnow()

    statuses = []
    for hour in range(5):
        asyncio.run(dispatch_due(store, settings, now=now + timedelta(hours=hour)))
        statuses.append(only_row(store).status)

    assert statuses == ["queued", "queued", "queued", "sent", "sent"]
    assert len(receiver.posted(HOOK)) == 4
    assert only_row(store).attempts == 4
    keys = {p.headers["idempotency-key"] for p in receiver.posted(HOOK)}
    assert len(keys) == 1


def test_retry_waits_with_backoff_and_is_not_due_before(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, status=502)
    settings = hook_settings(receiver)
    add_story(store, ["hook"])
    now = utcnow()

    asyncio.run(dispatch_due(store, settings, now=now))
    row = only_row(store)

    assert row.status == "queued" and row.last_error == "HTTP 502 Bad Gateway"
    assert outbox.aware(row.next_attempt_at) <= now + timedelta(seconds=30)
    # Same run time again: the row is not re-sent within one dispatch or before it is due.
    asyncio.run(dispatch_due(store, settings, now=now - timedelta(seconds=1)))
    assert len(receiver.posted(HOOK)) == 1


def test_429_honours_retry_after(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, status=429, headers={"Retry-After": "600"})
    settings = hook_settings(receiver)
    add_story(store, ["hook"])
    now = utcnow()

    asyncio.run(dispatch_due(store, settings, now=now))

    row = only_row(store)
    assert row.status == "queued"
    assert outbox.aware(row.next_attempt_at) >= now + timedelta(seconds=600)


def test_400_fails_at_once_and_is_logged(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.add(HOOK, "bad payload", status=400)
    settings = hook_settings(receiver)
    add_story(store, ["hook"])
    now = utcnow()

    with caplog.at_level(logging.INFO, logger="monitor.alerts"):
        report = asyncio.run(dispatch_due(store, settings, now=now))
        asyncio.run(dispatch_due(store, settings, now=now + timedelta(days=1)))

    assert report.failed == 1
    assert len(receiver.posted(HOOK)) == 1
    row = only_row(store)
    assert row.status == "failed" and row.last_error == "HTTP 400 Bad Request"
    assert any(
        r.levelno == logging.ERROR and "delivery failed" in r.getMessage() and "400" in r.message
        for r in caplog.records
    )


def test_fails_after_max_age(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, status=500)
    settings = hook_settings(receiver)
    ds = DispatcherSettings(max_age=timedelta(hours=2))
    add_story(store, ["hook"])
    now = utcnow()

    states = []
    for hour in (0, 1, 2, 3):
        asyncio.run(dispatch_due(store, settings, now=now + timedelta(hours=hour), dsettings=ds))
        states.append(only_row(store).status)

    assert states == ["queued", "queued", "failed", "failed"]
    row = only_row(store)
    assert row.last_error is not None and "HTTP 500" in row.last_error
    assert "gave up" in row.last_error


def test_network_error_is_retried(store: Store) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    settings = settings_with(
        {"name": "hook", "kind": "webhook", "url": f"http://127.0.0.1:{port}/"}
    )
    add_story(store, ["hook"])

    report = asyncio.run(dispatch_due(store, settings))

    assert report.retried == 1
    row = only_row(store)
    assert row.status == "queued" and row.last_error and "network error" in row.last_error


def test_slack_format_posts_text(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    settings = hook_settings(receiver, format="slack")
    item = add_story(
        store,
        ["hook"],
        title="OIC <summit> & more",
        relevance=0.87,
        evidence_=evidence("ОИС", "OIC", snippet="x"),
    )

    asyncio.run(dispatch_due(store, settings))

    body = json.loads(receiver.posted(HOOK)[0].body)
    assert list(body) == ["text"]
    text = body["text"]
    assert text.startswith(f"*<{item.url}|OIC &lt;summit&gt; &amp; more>*")
    assert "mfa-kz" in text and "relevant" in text and "score 0.87" in text
    assert "evidence: ОИС, OIC" in text


def test_also_reported_by_lists_other_sources_of_the_story(
    store: Store, receiver: Receiver
) -> None:
    receiver.add(HOOK, "ok")
    first = add_story(store, ["hook"])
    add_story(store, ["hook"], title="Same news elsewhere", source="kabar", story_id=first.id)

    asyncio.run(dispatch_due(store, hook_settings(receiver)))

    [post] = receiver.posted(HOOK)  # the second item shares the story: no second alert
    assert json.loads(post.body)["also_reported_by"] == ["kabar"]


def test_leased_row_is_delivered_after_the_lease_runs_out(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    settings = hook_settings(receiver)
    add_story(store, ["hook"])
    now = utcnow()
    # A dispatcher that claimed the row and died before sending.
    claimed = outbox.claim_due(
        store, now=now, lease=timedelta(minutes=5), limit=10, channels=["hook"]
    )
    assert len(claimed) == 1

    during = asyncio.run(dispatch_due(store, settings, now=now + timedelta(minutes=4)))
    after = asyncio.run(dispatch_due(store, settings, now=now + timedelta(minutes=6)))

    assert (during.sent, after.sent) == (0, 1)
    assert len(receiver.posted(HOOK)) == 1
    assert only_row(store).attempts == 2


def test_unknown_channel_rows_stay_queued_and_are_logged_once(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.add(HOOK, "ok")
    add_story(store, ["gone"])
    add_story(store, ["gone"], title="Another OIC story")

    with caplog.at_level(logging.WARNING, logger="monitor.alerts"):
        report = asyncio.run(dispatch_due(store, hook_settings(receiver)))

    assert report.unknown_channels == {"gone": 2}
    assert [r.status for r in outbox.alerts(store)] == ["queued", "queued"]
    assert len([r for r in caplog.records if "not configured" in r.getMessage()]) == 1


def test_operator_alert_webhook_json_once_per_episode(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    settings = settings_with(
        {"name": "hook", "kind": "webhook", "url": receiver.url(HOOK), "operator": True},
        {"name": "quiet", "kind": "webhook", "url": receiver.url("/quiet")},
    )
    for _ in range(2):
        queue_operator_alert(
            store,
            settings,
            source="mfa-kz",
            event="failing",
            episode=7,
            message="mfa-kz failed 5 polls in a row: HTTP 503",
        )

    asyncio.run(dispatch_due(store, settings))

    [post] = receiver.posted(HOOK)
    assert receiver.posted("/quiet") == []
    assert post.headers["idempotency-key"] == "op:mfa-kz:failing:7"
    assert json.loads(post.body) == {
        "kind": "operator",
        "key": "op:mfa-kz:failing:7",
        "source": "mfa-kz",
        "event": "failing",
        "message": "mfa-kz failed 5 polls in a row: HTTP 503",
    }


def test_secret_and_signature_never_logged(
    store: Store,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver.routes[HOOK] = [Response(status=503), Response(status=401), Response(status=200)]
    settings = settings_with(
        {"name": "hook", "kind": "webhook", "url": receiver.url(HOOK), "secret_env": "HOOK_SECRET"}
    )
    add_story(store, ["hook"])
    add_story(store, ["hook"], title="Second OIC story")
    now = utcnow()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(dispatch_due(store, settings, now=now))
        asyncio.run(dispatch_due(store, settings, now=now + timedelta(hours=2)))

    signatures = [p.headers["x-signature"] for p in receiver.posted(HOOK)]
    assert signatures
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert SECRET not in logged
    assert not any(sig.removeprefix("sha256=") in logged for sig in signatures)


def test_missing_secret_env_keeps_row_queued_and_sends_nothing(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    receiver.add(HOOK, "ok")
    settings = settings_with(
        {
            "name": "hook",
            "kind": "webhook",
            "url": receiver.url(HOOK),
            "secret_env": "NO_SUCH_SECRET",
        }
    )
    add_story(store, ["hook"])

    asyncio.run(dispatch_due(store, settings))

    assert receiver.posted(HOOK) == []
    row = only_row(store)
    assert row.status == "queued" and row.last_error and "NO_SUCH_SECRET" in row.last_error


def test_two_dispatchers_on_one_sqlite_file_deliver_each_row_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.add(HOOK, "ok")
    url = "sqlite:///" + str(tmp_path / "t.db")
    seed = Store.open(url)
    for n in range(12):
        add_story(seed, ["hook"], title=f"OIC story {n}")
    seed.close()
    settings = hook_settings(receiver)
    now = utcnow()
    ds = DispatcherSettings(batch_size=2)
    # Opened here: migrations are not meant to run from two threads at once.
    stores = [Store.open(url), Store.open(url)]
    start = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def worker(store: Store) -> None:
        try:
            start.wait()
            asyncio.run(dispatch_due(store, settings, now=now, dsettings=ds))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for s in stores:
        s.close()

    assert errors == []
    keys = [p.headers["idempotency-key"] for p in receiver.posted(HOOK)]
    assert len(keys) == 12 and len(set(keys)) == 12
    check = Store.open(url)
    assert {r.status for r in outbox.alerts(check)} == {"sent"}
    check.close()


def test_send_test_reports_each_channel(receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    receiver.add("/broken", status=404)
    settings = settings_with(
        {"name": "good", "kind": "webhook", "url": receiver.url(HOOK), "secret": SECRET},
        {"name": "bad", "kind": "webhook", "url": receiver.url("/broken")},
    )

    results = asyncio.run(send_test(settings))

    assert [(label, ok) for label, ok, _ in results] == [("good", True), ("bad", False)]
    assert "404" in results[1][2]
    body = json.loads(receiver.posted(HOOK)[0].body)
    assert body["kind"] == "test"
    assert receiver.posted(HOOK)[0].headers["x-signature"].startswith("sha256=")


def test_run_dispatcher_delivers_until_stopped(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    settings = hook_settings(receiver)
    add_story(store, ["hook"])

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_dispatcher(store, settings, stop, interval=0.05))
        for _ in range(100):
            if receiver.posted(HOOK):
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(go())

    assert len(receiver.posted(HOOK)) == 1 and only_row(store).status == "sent"
