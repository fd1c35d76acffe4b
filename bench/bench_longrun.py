"""Long run: resident memory and CPU of the real daemon over thousands of polls.

    python bench/bench_longrun.py [--sources 200] [--polls 10000] [--interval 2]
                                  [--publish-every 1.0] [--db sqlite|postgresql]

`--publish-every 0` publishes nothing: every measured poll is of an unchanged feed (304).

Starts `oic-monitor run` as a subprocess against one local threaded web server that serves
`--sources` feeds. Each feed answers 304 to a matching If-None-Match; a publisher thread adds
one article to a random feed every `--publish-every` seconds, so most polls are 304 and some
fetch, extract, classify and store a new item. Every source is polled every `--interval`
seconds by the daemon's own scheduler (leases, jitter and all). Polls are counted by the
server (one feed request is one poll). After a warm-up of one full cycle (every source
polled once, plus `--warmup` polls), the daemon's VmRSS and CPU time (utime + stime, from
/proc) are read, then again after `--polls` more polls; RSS is sampled every 1,000 polls.
Skipped ticks are the scheduler's warnings in the daemon's log while measured: a poll not
started because the previous one of the source still ran, or started too late.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import localweb
import machine
import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
WORDS = (
    "ministry", "delegation", "agreement", "budget", "committee", "harvest", "railway",
    "port", "bridge", "school", "clinic", "festival", "museum", "library", "exhibition",
)  # fmt: skip


class Feeds:
    """Feeds and articles held in memory; a feed's ETag changes when it gets an article."""

    def __init__(self, sources: int) -> None:
        self.lock = threading.Lock()
        self.items: list[list[int]] = [[] for _ in range(sources)]
        self.etags = [f'"{i}-0"' for i in range(sources)]
        self.bodies: list[bytes] = [b""] * sources
        self.polls = 0
        self.published = 0
        self.base = ""
        for i in range(sources):
            self._render(i)

    def _render(self, i: int) -> None:
        entries = "".join(
            f"<item><title>Article {n}</title><link>{self.base}/a/{i}/{n}.html</link>"
            f"<pubDate>{format_datetime(datetime.now(UTC))}</pubDate></item>"
            for n in self.items[i][-20:]
        )
        self.bodies[i] = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"{entries}</channel></rss>"
        ).encode()

    def publish(self, rng: random.Random) -> None:
        i = rng.randrange(len(self.items))
        with self.lock:
            self.published += 1
            self.items[i].append(self.published)
            self.etags[i] = f'"{i}-{self.published}"'
            self._render(i)

    def feed(self, i: int, if_none_match: str | None) -> tuple[int, bytes, str]:
        with self.lock:
            self.polls += 1
            etag = self.etags[i]
            if if_none_match == etag:
                return 304, b"", etag
            return 200, self.bodies[i], etag


def article(i: int, n: int) -> bytes:
    rng = random.Random(i * 1_000_003 + n)
    paragraphs = "".join(
        "<p>"
        + " ".join(
            f"The {rng.choice(WORDS)} of region {rng.randint(1, 99)} reported "
            f"{rng.randint(2, 999)} new {rng.choice(WORDS)}s this week."
            for _ in range(6)
        )
        + "</p>"
        for _ in range(4)
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Article {n}</title>'
        f'<meta property="article:published_time" content="{datetime.now(UTC).isoformat()}">'
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>Article {n} of feed {i}</h1>"
        f"{paragraphs}</article><footer>(c) Local News</footer></body></html>"
    ).encode()


def serve(feeds: Feeds) -> ThreadingHTTPServer:
    def page(parts: list[str]) -> bytes:  # /a/<feed>/<n>.html
        return article(int(parts[0]), int(parts[-1].split(".")[0]))

    return localweb.serve_feeds(feeds.feed, page)


def proc_stats(pid: int) -> tuple[float, float]:
    """(VmRSS in MB, CPU seconds user + system) of a process and any processes it started
    (none today: articles are extracted in the daemon's threads), from /proc."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # utime, stime, and those of children it has waited for
    cpu = sum(int(f) for f in fields[11:15]) / ticks
    for child in children(pid):
        child_rss, child_cpu = proc_stats(child)
        rss, cpu = rss + child_rss, cpu + child_cpu
    return rss, cpu


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def write_config(folder: Path, db_url: str, base: str, sources: int, interval: float) -> Path:
    text = f"""
[storage]
url = "{db_url}"
archive_dir = "archive"

[fetch]
per_host_delay = "1ms"
per_host_concurrency = 16
"""
    for i in range(sources):
        text += (
            f'\n[[sources]]\nname = "f{i}"\nurl = "{base}/f/{i}"\nkind = "feed"\n'
            f'interval = "{interval:g}s"\n'
        )
    cfg = folder / "monitor.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def wait_polls(feeds: Feeds, target: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while feeds.polls < target:
        if proc.poll() is not None:
            sys.exit(f"the daemon exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            sys.exit(f"only {feeds.polls} polls after {timeout:.0f}s")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=int, default=200)
    ap.add_argument("--polls", type=int, default=10_000, help="measured polls after warm-up")
    ap.add_argument("--warmup", type=int, default=1_000, help="polls after the first cycle")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    ap.add_argument(
        "--publish-every", type=float, default=1.0, help="seconds per new article (0: none)"
    )
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    speed = machine.reference_ms()
    feeds = Feeds(args.sources)
    server = serve(feeds)
    feeds.base = f"http://127.0.0.1:{server.server_address[1]}"
    for i in range(args.sources):
        feeds._render(i)
    rng = random.Random(args.seed)
    stop = threading.Event()

    def publisher() -> None:
        while args.publish_every > 0 and not stop.wait(args.publish_every):
            feeds.publish(rng)

    pg_name = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.db == "postgresql":
            pg_name = f"oic_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{pg_name}"')
            db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
        else:
            db_url = f"sqlite:///{folder / 'monitor.db'}"
        cfg = write_config(folder, db_url, feeds.base, args.sources, args.interval)
        log_path = folder / "daemon.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
            stdout=log,
            stderr=log,
        )
        threading.Thread(target=publisher, daemon=True).start()
        try:
            budget = 60 + 10 * (args.polls + args.warmup) * args.interval / args.sources
            wait_polls(feeds, args.sources + args.warmup, proc, budget)
            start_polls, start_published = feeds.polls, feeds.published
            start_rss, start_cpu = proc_stats(proc.pid)
            log_from = log_path.stat().st_size
            load_start = os.getloadavg()[0]
            started = time.monotonic()
            samples = [start_rss]
            for k in range(1, args.polls // 1000 + 1):
                wait_polls(feeds, start_polls + min(k * 1000, args.polls), proc, budget)
                samples.append(proc_stats(proc.pid)[0])
            wait_polls(feeds, start_polls + args.polls, proc, budget)
            end_rss, end_cpu = proc_stats(proc.pid)
            elapsed = time.monotonic() - started
            polls = feeds.polls - start_polls
            published = feeds.published - start_published
            load_end = os.getloadavg()[0]
        finally:
            stop.set()
            localweb.stop_daemon(proc)
            server.shutdown()
            if pg_name:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    drop = f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'
                    conn.execute(drop)
        measured_log = log_path.read_bytes()[log_from:]
        changed = measured_log.count(b" listed, ")
        skipped = measured_log.count(b"maximum number of running instances reached")
        missed = measured_log.count(b"was missed by")

    print(f"machine             {machine.describe(speed)}")
    print(f"database            {args.db}")
    print(f"sources             {args.sources}, polled every {args.interval:g}s")
    print(f"measured polls      {polls} in {elapsed:.0f}s ({polls / elapsed:.1f}/s)")
    print(f"articles published  {published} while measured; {changed} polls found a changed feed")
    print(f"skipped ticks       {skipped} (instance still running), {missed} (missed run time)")
    print(f"RSS start / end     {start_rss:.1f} MB / {end_rss:.1f} MB")
    print(f"RSS growth          {end_rss - start_rss:+.1f} MB (max {max(samples):.1f} MB)")
    print(f"RSS every 1000      {' '.join(f'{s:.0f}' for s in samples)} MB")
    cpu = end_cpu - start_cpu
    print(f"CPU                 {cpu:.1f}s, {1000 * cpu / polls:.2f}s per 1000 polls")
    print(f"CPU share           {100 * cpu / elapsed:.0f}% of one core")
    print(f"load average        {load_start:.1f} at the start, {load_end:.1f} at the end")


if __name__ == "__main__":
    main()
