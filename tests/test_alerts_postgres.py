"""Outbox claims on PostgreSQL: SKIP LOCKED, leases and concurrent dispatchers."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlmodel import Session, col, select

from monitor.alerts.dispatcher import DispatcherSettings, dispatch_due
from monitor.store import outbox
from monitor.store.models import Alert, utcnow
from monitor.store.repo import Store
from tests.alerts_support import Receiver, add_story, settings_with
from tests.webserver import Request, Response

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
HOOK = "/hook"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL is not reachable: {e}")
    name = "oic_alerts_" + secrets.token_hex(6)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    s = Store.open(pg_url)
    with s.session() as session:
        session.connection().execute(
            text("TRUNCATE alert, item, item_search, seen_url, source_state RESTART IDENTITY")
        )
        session.commit()
    try:
        yield s
    finally:
        s.close()


def test_a_row_locked_by_another_dispatcher_is_skipped(store: Store) -> None:
    add_story(store, ["hook"], title="first OIC story")
    add_story(store, ["hook"], title="second OIC story")
    now = utcnow()
    lease = timedelta(minutes=5)

    with Session(store.engine) as other:
        # Another dispatcher is between its SELECT ... FOR UPDATE and its commit.
        locked = other.exec(select(Alert).where(col(Alert.id) == 1).with_for_update()).one()
        assert locked.id == 1
        claimed = outbox.claim_due(store, now=now, lease=lease, limit=10, channels=["hook"])
        assert [r.id for r in claimed] == [2]
        other.rollback()

    rest = outbox.claim_due(store, now=now, lease=lease, limit=10, channels=["hook"])
    assert [r.id for r in rest] == [1]
    assert outbox.claim_due(store, now=now, lease=lease, limit=10, channels=["hook"]) == []


def test_two_dispatchers_deliver_each_row_exactly_once(
    store: Store, pg_url: str, receiver: Receiver
) -> None:
    def slow_ok(_: Request) -> Response:
        time.sleep(0.005)  # long enough for the two dispatchers to interleave
        return Response(body="ok")

    receiver.routes[HOOK] = slow_ok
    for n in range(20):
        add_story(store, ["hook"], title=f"OIC story {n}")
    settings = settings_with({"name": "hook", "kind": "webhook", "url": receiver.url(HOOK)})
    ds = DispatcherSettings(batch_size=3, concurrency=2)
    now = utcnow()
    stores = [Store.open(pg_url), Store.open(pg_url)]
    start = threading.Barrier(2, timeout=10)
    sent: list[int] = []
    errors: list[BaseException] = []

    def worker(s: Store) -> None:
        try:
            start.wait()
            report = asyncio.run(dispatch_due(s, settings, now=now, dsettings=ds))
            sent.append(report.sent)
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
    assert sorted(keys) == sorted({*keys}) and len(keys) == 20
    assert sum(sent) == 20
    rows = outbox.alerts(store)
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}


def test_leased_row_is_delivered_after_the_lease_runs_out(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    settings = settings_with({"name": "hook", "kind": "webhook", "url": receiver.url(HOOK)})
    add_story(store, ["hook"])
    now = utcnow()
    assert outbox.claim_due(store, now=now, lease=timedelta(minutes=5), limit=10, channels=["hook"])

    during = asyncio.run(dispatch_due(store, settings, now=now + timedelta(minutes=4)))
    after = asyncio.run(dispatch_due(store, settings, now=now + timedelta(minutes=6)))

    assert (during.sent, after.sent) == (0, 1)
    assert len(receiver.posted(HOOK)) == 1


def test_operator_alert_is_queued_once_per_channel_and_episode(store: Store) -> None:
    from monitor.alerts.operator import queue_operator_alert

    settings = settings_with(
        {"name": "ops", "kind": "webhook", "url": "https://ops.example/hook", "operator": True}
    )
    long_name = "a-source-with-a-very-long-name-" + "x" * 80
    added = [
        queue_operator_alert(
            store, settings, source=long_name, event="failing", episode=2, message="down"
        )
        for _ in range(2)
    ]

    assert added == [1, 0]
    [row] = outbox.alerts(store)
    assert row.kind == "operator" and len(row.story_key) <= outbox.STORY_KEY_LENGTH
    assert row.story_key.startswith("op:a-source") and row.story_key.endswith(":failing:2")
