"""The real daemon as a subprocess: a site that publishes while it runs, a webhook receiver
that fails at first, a real SMTP server, SIGKILL mid-queue, and a clean SIGTERM."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from monitor.store.models import utcnow
from tests.pages import article_page, seed_articles
from tests.test_alerts_email import Inbox, Smtp, free_port
from tests.webserver import LocalWeb, Request, Response

SECRET = "daemon-test-secret-5b1c"
# Generous bounds so a slow machine never hangs the suite; nothing here measures speed.
PATIENCE = 90.0


class Site:
    """A news site whose feed grows when the test publishes."""

    def __init__(self, web: LocalWeb) -> None:
        self.web = web
        self.published: list[tuple[str, str]] = []  # (path, title)
        self.lock = threading.Lock()
        web.routes["/rss.xml"] = self.feed
        web.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")

    def publish(self, n: int, title: str, paragraphs: tuple[str, ...], lang: str) -> None:
        now = utcnow()
        page = article_page(title, paragraphs, lang=lang, published_iso=now.isoformat())
        path = f"/news/{n}.html"
        self.web.add(path, page.html)
        with self.lock:
            self.published.append((path, title))

    def feed(self, _: Request) -> Response:
        with self.lock:
            items = "".join(
                f"<item><title>{t}</title><link>{self.web.base}{p}</link>"
                f"<pubDate>{format_datetime(utcnow())}</pubDate></item>"
                for p, t in reversed(self.published)
            )
        return Response(
            body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )


class Hook:
    """Webhook receiver: answers 503 while `down`, else 200; records what it accepted."""

    def __init__(self, web: LocalWeb, fail_first: int) -> None:
        self.fail_left = fail_first
        self.down = False
        self.accepted: list[dict[str, object]] = []
        self.refused = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()
        web.routes["/hook"] = self.handle

    def handle(self, req: Request) -> Response:
        with self.lock:
            if self.down or self.fail_left > 0:
                self.fail_left = max(0, self.fail_left - 1)
                self.refused += 1
                return Response(status=503, body="busy")
            expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
            if req.headers.get("x-signature") != f"sha256={expected}":
                self.bad_signatures += 1
            self.accepted.append(json.loads(req.body))
            return Response(status=200, body="ok")


def write_config(tmp: Path, site: str, hook: str, smtp_port: int) -> Path:
    cfg = tmp / "monitor.toml"
    cfg.write_text(
        f"""
[storage]
url = "sqlite:///monitor.db"
archive_dir = "archive"

[fetch]
per_host_delay = "10ms"
backoff = "10ms"

[delivery]
base_delay = "200ms"
max_delay = "500ms"
every = "200ms"

[[sources]]
name = "site"
url = "{site}/rss.xml"
kind = "feed"
interval = "1s"

[[alerts]]
name = "hook"
kind = "webhook"
url = "{hook}"
secret_env = "OIC_TEST_HOOK_SECRET"

[[alerts]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_tls = "none"
sender = "monitor@example.org"
to = ["desk@example.org"]
""",
        encoding="utf-8",
    )
    return cfg


def start(cfg: Path, tmp: Path, http_port: int) -> subprocess.Popen[bytes]:
    log = (tmp / "daemon.log").open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--config",
            str(cfg),
            "run",
            "--http",
            f"127.0.0.1:{http_port}",
        ],  # fmt: skip
        stdout=log,
        stderr=log,
        env={**os.environ, "OIC_TEST_HOOK_SECRET": SECRET},
    )


def wait_for(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def story_ids(accepted: list[dict[str, object]]) -> list[object]:
    return [body["story_id"] for body in accepted]


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with Smtp(Inbox()) as server:
        yield server


def test_daemon_delivers_each_story_once_through_failures_and_a_kill(
    web: LocalWeb, smtp: Smtp, tmp_path: Path
) -> None:
    seeds = seed_articles()
    site = Site(web)
    hook = Hook(web, fail_first=3)
    cfg = write_config(tmp_path, web.base, web.url("/hook"), smtp.port)
    http_port = free_port()
    site.publish(0, seeds[0].title, seeds[0].paragraphs, seeds[0].language)
    # Not about the OIC: stored, never alerted.
    site.publish(99, "Weather in Astana", (
        "Light snow is expected in Astana on Thursday, with temperatures falling to minus "
        "twelve degrees at night and a moderate north wind during the day.",
        "Forecasters advise drivers to take care on the roads around the capital.",
    ), "en")  # fmt: skip

    proc = start(cfg, tmp_path, http_port)
    try:
        # The first story gets through after the receiver refused three times.
        wait_for(lambda: len(hook.accepted) >= 1, "the first webhook delivery")
        assert hook.refused >= 3
        health = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["database"] is True

        # The site publishes more while the daemon runs; the receiver goes down.
        hook.down = True
        for n in (1, 2):
            site.publish(n, seeds[n].title, seeds[n].paragraphs, seeds[n].language)
        wait_for(lambda: hook.refused >= 6, "queued alerts being retried")
        proc.send_signal(signal.SIGKILL)  # mid-queue: two stories wait in the outbox
        proc.wait(timeout=30)

        hook.down = False
        proc = start(cfg, tmp_path, http_port)
        wait_for(lambda: len(hook.accepted) >= 3, "the queued webhooks after restart")
        wait_for(lambda: len(smtp.inbox.messages) >= 3, "three emails")
        time.sleep(1.5)  # a few more dispatch rounds: nothing may arrive twice
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    ids = story_ids(hook.accepted)
    assert len(ids) == len(set(ids)) == 3, hook.accepted
    assert hook.bad_signatures == 0
    titles = {body["title"] for body in hook.accepted}
    assert titles == {seeds[n].title for n in (0, 1, 2)}
    for body in hook.accepted:
        assert body["relevance"] and body["evidence"] and body["url"]
    subjects = [str(m["Subject"]) for m in smtp.inbox.messages]
    assert len(subjects) == 3, subjects
    assert not any("Weather" in s for s in subjects)
    log = (tmp_path / "daemon.log").read_text(encoding="utf-8", errors="replace")
    assert SECRET not in log
