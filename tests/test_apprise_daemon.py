"""The daemon with an Apprise channel aimed at a local receiver, and `alerts test`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.store import outbox
from monitor.store.repo import ItemFilter, Store
from tests.alerts_support import Receiver
from tests.pages import article_page, seed_articles
from tests.webserver import LocalWeb, Request, Response

HOOK = "/apprise"
DOWN_FOR = 4  # the receiver refuses this many messages before it comes back
WAIT = 45.0  # a guard against hanging, not a measurement

OFF_TOPIC = [
    "Spring sowing campaign begins in the southern regions",
    [
        "Farmers in the southern regions have started the spring sowing campaign, the ministry "
        "of agriculture said on Monday. Wheat, cotton and vegetables will be planted on more "
        "than two million hectares this year.",
        "The ministry expects yields to stay at last year's level if the weather holds. "
        "Irrigation canals were cleaned in March and new seed varieties were delivered.",
        "Local authorities have been told to keep fuel prices stable during the campaign.",
    ],
]


class Inbox:
    """What the receiver accepted, after refusing the first DOWN_FOR messages."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Response:
        with self.lock:
            if self.refused < DOWN_FOR:
                self.refused += 1
                return Response(status=503, body="down for maintenance")
            self.accepted.append(json.loads(req.body))
        return Response(body="ok")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()


def build_site(web: LocalWeb) -> list[str]:
    """Seed articles (about the OIC) and one off-topic article, listed in a feed."""
    now = datetime.now(UTC)
    articles = [(s.title, s.paragraphs, s.language) for s in seed_articles()]
    articles.append((OFF_TOPIC[0], OFF_TOPIC[1], "en"))  # type: ignore[arg-type]
    items = []
    for i, (title, paragraphs, lang) in enumerate(articles):
        published = now - timedelta(hours=i + 1)
        page = article_page(
            title, paragraphs, lang=lang, published_iso=published.isoformat(), template=0
        )
        path = f"/news/{i}.html"
        web.add(path, page.html)
        stamp = published.strftime("%a, %d %b %Y %H:%M:%S +0000")
        items.append(
            f"<item><title>{title}</title><link>{web.url(path)}</link>"
            f"<pubDate>{stamp}</pubDate></item>"
        )
    web.add(
        "/rss.xml",
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
        + "".join(items)
        + "</channel></rss>",
        content_type="application/rss+xml",
    )
    return [web.url(f"/news/{i}.html") for i in range(len(articles))]


def write_config(tmp_path: Path, site: str, receiver_port: int) -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        f"""
alert_window = "3650d"

[storage]
url = "sqlite:///data/monitor.db"
archive_dir = "data/archive"

[fetch]
per_host_delay = "10ms"
backoff = "10ms"
retries = 1

[delivery]
base_delay = "50ms"
max_delay = "200ms"
every = "100ms"

[[sources]]
name = "local-news"
url = "{site}/rss.xml"
interval = "1h"

[[alerts]]
name = "chat"
kind = "apprise"
urls = ["json://$RECEIVER_HOST:{receiver_port}{HOOK}"]
""",
        encoding="utf-8",
    )
    return cfg


def test_daemon_delivers_each_relevant_story_once_through_an_outage(
    web: LocalWeb, receiver: Receiver, tmp_path: Path
) -> None:
    urls = build_site(web)
    inbox = Inbox()
    receiver.routes[HOOK] = inbox
    cfg = write_config(tmp_path, web.base, receiver.port)
    env = {**os.environ, "RECEIVER_HOST": "127.0.0.1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and proc.poll() is None:
            if _settled(store):
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 0, stderr
    relevant = {i.url for i in store.items(ItemFilter(relevant_only=True))}
    store.close()
    assert relevant and urls[-1] not in relevant  # the seeds, not the farm news
    assert inbox.refused == DOWN_FOR
    delivered = [_link(m["message"], urls) for m in inbox.accepted]
    assert sorted(delivered) == sorted(relevant)  # each once, none lost
    for msg in inbox.accepted:
        assert "Evidence: " in msg["message"] and "> " in msg["message"]
        assert msg["title"]
    assert "RECEIVER_HOST" not in stderr


def _settled(store: Store) -> bool:
    """The source has been polled and no alert is left to deliver."""
    try:
        polled = store.source_state("local-news").polls > 0
        rows = outbox.alerts(store)
    except Exception:  # the daemon has not created the tables yet
        return False
    return polled and bool(rows) and all(r.status != "queued" for r in rows)


def _link(message: str, urls: list[str]) -> str:
    found = [u for u in urls if f"]({u})" in message]
    assert len(found) == 1, message
    return found[0]


def test_alerts_test_command_reports_each_channel_by_label(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.add(HOOK, "ok")
    receiver.routes["/down"] = Response(status=503, body="no")
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        f"""
[storage]
url = "sqlite:///monitor.db"

[[alerts]]
name = "team-chat"
kind = "apprise"
urls = ["json://bot:$HOOK_TOKEN@127.0.0.1:{receiver.port}{HOOK}"]

[[alerts]]
kind = "apprise"
urls = ["json://127.0.0.1:{receiver.port}/down"]
""",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(cfg), "alerts", "test"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", "HOOK_TOKEN": "tok-SECRET-42"},
    )

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any("team-chat" in line and "yes" in line for line in lines), result.stdout
    assert any("apprise:json" in line and "NO" in line for line in lines), result.stdout
    assert "tok-SECRET-42" not in result.stdout + result.stderr
    assert "127.0.0.1" not in result.stdout
    [post] = receiver.posted(HOOK)
    assert json.loads(post.body)["message"] == "oic-monitor test alert: this channel works."
