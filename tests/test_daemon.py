"""The real daemon as a subprocess: a site that publishes while it runs, a webhook receiver
that fails at first, a real SMTP server, SIGKILL mid-queue, and a clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.daemon_support import SECRET, Hook, Site, story_ids, wait_for
from tests.pages import seed_articles
from tests.test_alerts_email import Inbox, Smtp, free_port
from tests.webserver import LocalWeb


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
# An alert the killed daemon had claimed is sent again when its lease runs out: short here,
# still longer than a send may take.
lease = "5s"
timeout = "2s"

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
