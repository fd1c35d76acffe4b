"""Several daemons sharing the sources: how soon a daemon that joins gets its part, how even
the parts are, and how soon a killed daemon's sources are polled by the others.

    python bench/bench_daemons.py [--sources 60] [--interval 3] [--daemons 3] [--rounds 3]
                                  [--settle 6]

Starts `--daemons` - 1 real `oic-monitor run` processes on a fresh database on the local
PostgreSQL, all polling `--sources` feeds of one local server every `--interval` seconds.
Each daemon sends its own User-Agent, so the server's request log says who polled what.
Then, `--rounds` times: one more daemon is started; it counts as joined when its log says
it runs. After `--settle` intervals it is killed with SIGKILL, and the survivors are watched
for `--settle` intervals more.

Figures, in intervals:
- split: from the join until every source is polled only by its owner in the final split
  (the daemon that polls it in the last two intervals of the watch);
- shares: each daemon's part of the sources in that final split;
- taken over: from the kill until every source of the killed daemon was polled by another;
- longest gap: the longest time any source went unpolled around the kill.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from functools import partial
from math import inf
from pathlib import Path

import localweb
import psycopg

from monitor.store.repo import Store

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


class Log:
    """Every feed request: (time.monotonic(), feed number, daemon)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.polls: list[tuple[float, int, str]] = []

    def get(self, path: str, headers: Mapping[str, str]) -> localweb.Answer:
        parts = path.strip("/").split("/")
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", "text/plain", {}
        if parts[0] != "f" or len(parts) != 2:
            return localweb.NOT_FOUND
        i = int(parts[1])
        with self.lock:
            self.polls.append((time.monotonic(), i, headers.get("User-Agent", "").split("/")[0]))
        etag = f'"feed-{i}"'
        if headers.get("If-None-Match") == etag:
            return 304, b"", "application/rss+xml", {"ETag": etag}
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{i}</title></channel></rss>'
        )
        return 200, body.encode(), "application/rss+xml", {"ETag": etag}

    def between(self, start: float, end: float) -> list[tuple[float, int, str]]:
        with self.lock:
            return [p for p in self.polls if start <= p[0] <= end]


def write_config(folder: Path, name: str, db_url: str, base: str, args: argparse.Namespace) -> Path:
    text = f"""
[storage]
url = "{db_url}"
archive_dir = "archive"

[fetch]
per_host_delay = "1ms"
per_host_concurrency = 16
user_agent = "{name}/1"
"""
    for i in range(args.sources):
        text += (
            f'\n[[sources]]\nname = "f{i}"\nurl = "{base}/f/{i}"\nkind = "feed"\n'
            f'interval = "{args.interval:g}s"\n'
        )
    cfg = folder / f"{name}.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


class Daemons:
    def __init__(self, folder: Path, db_url: str, base: str, args: argparse.Namespace) -> None:
        self.folder, self.db_url, self.base, self.args = folder, db_url, base, args
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        cfg = write_config(self.folder, name, self.db_url, self.base, self.args)
        log = (self.folder / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
            stdout=log,
            stderr=log,
            start_new_session=True,  # SIGKILL to the group ends its workers too
        )

    def running(self, name: str) -> bool:
        """The daemon's log says it runs (after its first heartbeat)."""
        if self.procs[name].poll() is not None:
            sys.exit(f"{name} exited:\n{(self.folder / f'{name}.log').read_text()[-3000:]}")
        return b"running: " in (self.folder / f"{name}.log").read_bytes()

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs.pop(name).wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            localweb.stop_daemon(proc)


def owners(polls: list[tuple[float, int, str]]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for _, i, agent in polls:
        out.setdefault(i, set()).add(agent)
    return out


def settle_time(polls: list[tuple[float, int, str]], final: dict[int, str], since: float) -> float:
    """When the final split was in force: every source polled by its final owner after the
    last poll anyone else made of it (from one interval before `since`), or unchanged."""
    done = since
    for i, owner in final.items():
        others = [t for t, j, a in polls if j == i and a != owner]
        if others:
            mine = (t for t, j, a in polls if j == i and a == owner and t > max(others))
            done = max(done, min(mine, default=float("inf")))
    return done


def final_split(log: Log, end: float, interval: float, sources: int) -> dict[int, str]:
    last = owners(log.between(end - 2 * interval, end))
    unsettled = [i for i in range(sources) if len(last.get(i, ())) != 1]
    if unsettled:
        print(f"  not settled: sources {unsettled} polled by {[last.get(i) for i in unsettled]}")
    return {i: next(iter(a)) for i, a in last.items() if len(a) == 1}


def shares(final: dict[int, str], sources: int) -> dict[str, float]:
    """Each daemon's part of the sources in the final split."""
    return {a: n / sources for a, n in sorted(Counter(final.values()).items())}


def longest_gap(log: Log, start: float, end: float, sources: int) -> float:
    worst = 0.0
    for i in range(sources):
        times = [start] + [t for t, j, _ in log.between(start, end) if j == i]
        worst = max(worst, max(b - a for a, b in zip(times, times[1:] + [end], strict=True)))
    return worst


def wait(cond: Callable[[], bool], what: str, patience: float = 120.0) -> None:
    deadline = time.monotonic() + patience
    while not cond():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=int, default=60)
    ap.add_argument("--interval", type=float, default=3.0, help="seconds between polls")
    ap.add_argument("--daemons", type=int, default=3, help="daemons running after a join")
    ap.add_argument("--rounds", type=int, default=3, help="joins and kills")
    ap.add_argument("--settle", type=float, default=6.0, help="intervals watched per change")
    args = ap.parse_args()
    iv = args.interval

    log = Log()
    server = localweb.serve(log.get)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pg_name = f"oic_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{pg_name}"')
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    Store.open(db_url).close()  # migrated once: daemons started together would race on it
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        daemons = Daemons(Path(tmp), db_url, base, args)
        try:
            standing = [f"daemon-{k}" for k in range(1, args.daemons)]
            for name in standing:
                daemons.start(name)
            wait(lambda: all(daemons.running(n) for n in standing), "the first daemons")
            time.sleep(args.settle * iv)
            for r in range(args.rounds):
                late = f"late-{r + 1}"
                started = time.monotonic()
                daemons.start(late)
                wait(partial(daemons.running, late), f"{late} to run")
                joined = time.monotonic()
                time.sleep(args.settle * iv)
                end = time.monotonic()
                final = final_split(log, end, iv, args.sources)
                split = settle_time(log.between(joined - iv, end), final, joined) - joined
                parts = shares(final, args.sources)

                # The daemon with the most sources goes (the newest of equals).
                counts = Counter(final.values())
                victim = max(reversed(list(daemons.procs)), key=lambda d: counts[d])
                orphans = {i for i, a in final.items() if a == victim}
                daemons.kill(victim)
                killed = time.monotonic()
                time.sleep(args.settle * iv)
                after = time.monotonic()
                polls = log.between(killed, after)
                taken = max(
                    (
                        min((t for t, j, a in polls if j == i and a != victim), default=inf)
                        for i in orphans
                    ),
                    default=killed,
                )
                gap = longest_gap(log, killed - 2 * iv, after, args.sources)
                rest = shares(final_split(log, after, iv, args.sources), args.sources)
                rows.append((victim, joined - started, split, parts, taken - killed, gap, rest))
                print(f"round {r + 1}: done", flush=True)
        finally:
            daemons.stop_all()
            server.shutdown()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')

    print(f"sources {args.sources}, interval {iv:g}s, {args.daemons} daemons after each join")
    print("| round | start to run | split after join | shares of the sources | killed | taken over "
          "| longest gap | shares after |")  # fmt: skip
    print("|---:|---:|---:|---|---|---:|---:|---|")
    for r, (victim, start, split, parts, taken, gap, rest) in enumerate(rows, 1):
        fmt = ", ".join(f"{a} {100 * s:.0f} %" for a, s in parts.items())
        fmt_rest = ", ".join(f"{a} {100 * s:.0f} %" for a, s in rest.items())
        print(
            f"| {r} | {start:.1f} s | {split / iv:.2f} | {fmt} | {victim} | {taken / iv:.2f} "
            f"| {gap / iv:.2f} | {fmt_rest} |"
        )


if __name__ == "__main__":
    main()
