"""Latency: from an article's publication to its alert at a webhook, through the real daemon.

    python bench/bench_latency.py [--articles 60] [--publish-every 3] [--interval 15]
                                  [--sources 1]

A local threaded web server serves `--sources` RSS feeds (ETag, 304 when unchanged) and a
webhook receiver. A publisher thread puts one article about the OIC online every
`--publish-every` seconds, in turn on each feed, and notes the moment it appears in the
feed. `oic-monitor run` (a subprocess, default [delivery] settings) polls every feed every
`--interval` seconds. The receiver notes when each article's alert arrives. Reported: the
publication-to-alert delay, p50, p95 and max, against the target of one poll interval plus
10 s at p95.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import localweb
from localweb import Answer

FEED_SIZE = 50  # entries a feed shows: more than one poll interval publishes
CITIES = ("Astana", "Bishkek", "Tashkent", "Dushanbe", "Ashgabat", "Baku", "Jeddah", "Cairo")
WORDS = (
    "delegation", "agreement", "budget", "committee", "harvest", "railway", "port", "bridge",
    "school", "clinic", "festival", "museum", "library", "exhibition", "seminar", "forum",
    "grant", "loan", "scholarship", "satellite", "pipeline", "reservoir", "orchard", "cotton",
)  # fmt: skip


class Site:
    """Feeds and articles in memory; the moment each article was published and alerted."""

    def __init__(self, sources: int) -> None:
        self.lock = threading.Lock()
        self.feeds: list[list[int]] = [[] for _ in range(sources)]
        self.published: dict[int, float] = {}  # article -> time.monotonic() when listed
        self.alerted: dict[int, float] = {}  # article -> first alert's arrival
        self.repeats = 0
        self.base = ""

    def publish(self, n: int) -> None:
        with self.lock:
            self.feeds[n % len(self.feeds)].append(n)
            self.published[n] = time.monotonic()

    def feed(self, i: int, if_none_match: str | None) -> tuple[int, bytes, str]:
        with self.lock:
            items = self.feeds[i][-FEED_SIZE:]
        etag = f'"{i}-{items[-1] if items else 0}"'
        if if_none_match == etag:
            return 304, b"", etag
        now = format_datetime(datetime.now(UTC))
        entries = "".join(
            f"<item><title>OIC meeting {n}</title><link>{self.base}/a/{n}.html</link>"
            f"<pubDate>{now}</pubDate></item>"
            for n in reversed(items)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{i}</title>{entries}'
        return 200, (body + "</channel></rss>").encode(), etag

    def alert(self, body: bytes) -> None:
        n = int(json.loads(body)["url"].rsplit("/", 1)[1].split(".")[0])
        with self.lock:
            if n in self.alerted:
                self.repeats += 1
            self.alerted.setdefault(n, time.monotonic())


def article(n: int) -> bytes:
    """A page about an OIC meeting, in words of its own: each is a story of its own."""
    rng = random.Random(n)
    city = rng.choice(CITIES)
    filler = " ".join(
        f"The {rng.choice(WORDS)} of {rng.choice(CITIES)} reported {rng.randint(2, 999)} new "
        f"{rng.choice(WORDS)}s for the {rng.choice(WORDS)} programme."
        for _ in range(12)
    )
    text = (
        f"<p>Foreign ministers of the Organisation of Islamic Cooperation met in {city} for "
        f"session {n}.</p><p>{filler}</p><p>The OIC Secretary General said the member states "
        "would review the plan at the next session of the Council of Foreign Ministers.</p>"
    )
    stamp = datetime.now(UTC).isoformat()
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>OIC {n}</title>'
        f'<meta property="article:published_time" content="{stamp}"></head><body>'
        f"<article><h1>OIC ministers meet in {city} (session {n})</h1>{text}</article>"
        "</body></html>"
    ).encode()


def serve(site: Site) -> ThreadingHTTPServer:
    def post(path: str, body: bytes) -> Answer:
        site.alert(body)
        return 200, b"ok", "text/plain", {}

    return localweb.serve_feeds(site.feed, lambda parts: article(int(parts[0].split(".")[0])), post)


def write_config(folder: Path, base: str, sources: int, interval: float) -> Path:
    text = f"""
[storage]
url = "sqlite:///{folder / "monitor.db"}"
archive_dir = "archive"

[fetch]
per_host_delay = "1ms"
per_host_concurrency = 8

[[alerts]]
name = "hook"
kind = "webhook"
url = "{base}/hook"
"""
    for i in range(sources):
        text += (
            f'\n[[sources]]\nname = "f{i}"\nurl = "{base}/f/{i}"\nkind = "feed"\n'
            f'interval = "{interval:g}s"\n'
        )
    cfg = folder / "monitor.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=60)
    ap.add_argument("--publish-every", type=float, default=3.0, help="seconds between articles")
    ap.add_argument("--interval", type=float, default=15.0, help="seconds between polls")
    ap.add_argument("--sources", type=int, default=1)
    args = ap.parse_args()

    site = Site(args.sources)
    server = serve(site)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = write_config(folder, site.base, args.sources, args.interval)
        log = (folder / "daemon.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
            stdout=log,
            stderr=log,
            env={**os.environ},
        )
        try:
            time.sleep(args.interval + 5)  # every source polled once: the start is behind us
            for n in range(1, args.articles + 1):
                site.publish(n)
                time.sleep(args.publish_every)
            deadline = time.monotonic() + 3 * args.interval + 60
            while len(site.alerted) < args.articles and time.monotonic() < deadline:
                if proc.poll() is not None:
                    sys.exit(f"the daemon exited with status {proc.returncode}")
                time.sleep(0.2)
        finally:
            localweb.stop_daemon(proc)
            server.shutdown()

    delays = sorted(site.alerted[n] - site.published[n] for n in site.alerted)
    missing = args.articles - len(delays)
    target = args.interval + 10
    p95 = percentile(delays, 95)
    print(f"sources             {args.sources}, polled every {args.interval:g}s")
    print(f"articles            {args.articles}, one every {args.publish_every:g}s")
    print(f"alerts              {len(delays)} ({missing} missing, {site.repeats} repeated)")
    print(f"publication->alert  p50 {percentile(delays, 50):.1f}s  p95 {p95:.1f}s  "
          f"max {delays[-1]:.1f}s")  # fmt: skip
    print(f"target              p95 <= {target:g}s: {'met' if p95 <= target else 'NOT met'}")


if __name__ == "__main__":
    main()
