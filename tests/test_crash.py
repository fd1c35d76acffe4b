"""Crash safety: SIGKILL the daemon and the backfill at random moments while sources publish,
check the database after every kill, and at the end find every article stored once and
every relevant story delivered once (by idempotency key)."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from monitor.store.repo import Store
from tests.daemon_support import (
    PATIENCE,
    Hook,
    Process,
    Site,
    SourceSpec,
    Zygote,
    kill,
    log_text,
    oic_article,
    plain_article,
    stop,
    wait_for,
    write_config,
)
from tests.webserver import Handler, LocalWeb, Request, Response

KILLS = 20
SEED = 20261126
# Problems the database must never show, whatever moment the process died at.
INVARIANTS = {
    "items sharing a URL": "SELECT url FROM item GROUP BY url HAVING count(*) > 1",
    "items sharing a content hash": (
        "SELECT content_hash FROM item GROUP BY content_hash HAVING count(*) > 1"
    ),
    "two alerts for one story and channel": (
        "SELECT channel, story_key FROM alert GROUP BY channel, story_key HAVING count(*) > 1"
    ),
    "story alerts without their item": (
        "SELECT a.id FROM alert a LEFT JOIN item i ON i.id = a.item_id "
        "WHERE a.kind = 'story' AND i.id IS NULL"
    ),
    # Item, URLs, band keys and alerts are written in one transaction: all or nothing.
    "items without their seen URL": (
        "SELECT i.id FROM item i LEFT JOIN seen_url u ON u.url = i.url AND u.item_id = i.id "
        "WHERE u.url IS NULL"
    ),
    "items without story band keys": (
        "SELECT i.id FROM item i WHERE NOT EXISTS "
        "(SELECT 1 FROM story_band b WHERE b.item_id = i.id)"
    ),
    "relevant stories without their alert": (
        "SELECT i.story_id FROM item i WHERE i.tier = 'relevant' AND i.id = i.story_id "
        "AND NOT EXISTS (SELECT 1 FROM alert a WHERE a.item_id = i.id)"
    ),
    "seen URLs pointing at no item": (
        "SELECT u.url FROM seen_url u LEFT JOIN item i ON i.id = u.item_id "
        "WHERE u.item_id IS NOT NULL AND i.id IS NULL"
    ),
}


def check_consistent(store: Store, db_url: str, after: str) -> None:
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", after
    with store.engine.connect() as conn:
        for problem, sql in INVARIANTS.items():
            rows = conn.execute(text(sql)).fetchall()
            assert not rows, f"after {after}: {problem}: {rows[:5]}"


def _active(web: LocalWeb, seen: int, proc: Process) -> Callable[[], bool]:
    return lambda: len(web.log) > seen or proc.poll() is not None


class Gate:
    """Holds the n-th article request after `arm(n)` until `open()`: a process killed
    while it waits is certainly in the middle of its work, whatever the machine's speed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.countdown: int | None = None
        self.holding = threading.Event()
        self.opened = threading.Event()

    def arm(self, n: int) -> None:
        with self.lock:
            self.countdown = n
        self.holding.clear()
        self.opened.clear()

    def open(self) -> None:
        with self.lock:
            self.countdown = None
        self.opened.set()

    def wrap(self, page: Response) -> Handler:
        def handler(req: Request) -> Response:
            with self.lock:
                if self.countdown is not None:
                    self.countdown -= 1
                hold = self.countdown == 0
            if not hold:
                return page
            self.holding.set()
            self.opened.wait(PATIENCE)
            return Response(status=503, body="gone")

        return handler


def test_sigkill_at_random_moments_loses_and_repeats_nothing(
    web: LocalWeb, db_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    sites = [Site(web, f"/s{i}") for i in range(2)]
    hook = Hook(web)
    cfg = write_config(
        tmp_path / "monitor.toml",
        db_url,
        [SourceSpec(f"s{i}", s.feed_url, "1s") for i, s in enumerate(sites)],
        hook_url=hook.url,
        # A claim that died with its daemon is retried after a second, not five minutes.
        delivery='lease = "1s"',
    )
    log = tmp_path / "monitor.log"
    relevant: set[str] = set()  # paths of the relevant articles
    published: set[str] = set()
    store = Store.open(db_url)
    zygote = Zygote()
    gate = Gate()
    n = 0

    def publish(count: int) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            site = sites[n % len(sites)]
            if n % 2:
                path = site.publish(f"oic-{n}", *oic_article(n), "en")
                relevant.add(path)
            else:
                path = site.publish(f"plain-{n}", *plain_article(n), "en")
            page = web.routes[path]
            assert isinstance(page, Response)
            web.routes[path] = gate.wrap(page)
            published.add(path)

    kills = {"run": 0, "backfill": 0}
    runs = 0
    publish(4)
    while sum(kills.values()) < KILLS:
        runs += 1
        command = "backfill" if runs % 4 == 0 else "run"
        args = ("--alerts", "--workers", "1") if command == "backfill" else ()
        hook.down = rng.random() < 0.3  # sometimes alerts pile up in the outbox
        fresh = rng.randint(1, 3)
        publish(fresh)
        if command == "backfill":
            # Nothing runs between runs, so the backfill fetches each article just
            # published: hold one of them, and kill while the others are extracted and
            # stored (a fast backfill would otherwise finish before any kill).
            gate.arm(rng.randint(1, fresh))
        proc = zygote.start(cfg, log, *args, command=command)
        try:
            if command == "backfill":
                wait_for(
                    lambda p=proc: gate.holding.is_set() or p.poll() is not None,
                    "an article held",
                )
                time.sleep(rng.uniform(0.0, 1.0))
            else:
                # From its first request on, the daemon is doing real work; kill it there.
                wait_for(_active(web, len(web.log), proc), "activity")
                time.sleep(rng.uniform(0.2, 2.0))
            if proc.poll() is None:
                kills[command] += 1
        finally:
            kill(proc)
            gate.open()
        assert proc.returncode in (0, -9), log_text(log)[-3000:]
        check_consistent(store, db_url, f"kill {sum(kills.values())} ({command})")

    # Then let a daemon finish the work.
    hook.down = False
    proc = zygote.start(cfg, log)
    try:
        wait_for(lambda: store.count_items() == len(published), "every article stored")
        wait_for(lambda: len(set(hook.keys)) >= len(relevant), "every relevant story delivered")
        time.sleep(1.0)  # a few more dispatch rounds: nothing may arrive twice
        assert stop(proc) == 0
    finally:
        kill(proc)
        zygote.close()
    check_consistent(store, db_url, "the final run")

    items = store.items()
    base = web.base
    assert sorted(i.url.removeprefix(base) for i in items) == sorted(published)
    relevant_items = [i for i in items if i.tier == "relevant"]
    assert sorted(i.url.removeprefix(base) for i in relevant_items) == sorted(relevant)
    stories = {str(i.story_id) for i in relevant_items}
    assert len(stories) == len(relevant)
    # Exactly one delivery per story, counting by idempotency key; a repeat (a kill between
    # the receiver's 200 and the daemon recording it) must carry the same key.
    assert set(hook.keys) == stories
    bodies = hook.stories()
    assert all(str(b["story_id"]) == k for b, k in zip(bodies, hook.keys, strict=True))
    assert hook.bad_signatures == 0
    with store.engine.connect() as conn:
        statuses = conn.execute(text("SELECT status, count(*) FROM alert GROUP BY status"))
        assert dict(statuses.fetchall()) == {"sent": len(relevant)}
    repeats = len(hook.keys) - len(set(hook.keys))
    print(f"kills: {kills}, runs: {runs}, repeated deliveries: {repeats}")
    assert kills["run"] and kills["backfill"]
    store.close()
