"""Command-line start-up and `classify --jsonl` throughput, as a user's shell sees them.

Start-up: the wall and CPU time (user + system, children included) of `oic-monitor --help`
and of `classify -` on one short text, each run --runs times in a fresh process; medians.
`classify -` runs in an empty folder (no config: the built-in lexicon) and in the project
folder (its config/monitor.toml is read). Throughput: `classify --jsonl FILE` on --n
generated articles of 3-6 KB in twelve languages (bench_classify.py's), in one
single-threaded process, start-up included; the median of --repeat runs. On a shared
machine the CPU-time rate is the one to compare: the wall-time rate also counts the time
other work held the core.

    .venv/bin/python bench/bench_cli.py [--runs 15] [--n 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_classify import EVAL_SET, build_articles  # noqa: E402

from monitor.classify.evaluate import load_eval_set  # noqa: E402

TEXT = "Организация исламского сотрудничества провела заседание СМИД ОИС в Джидде.\n"


def command() -> list[str]:
    """The installed console script beside this Python, else `python -m monitor`."""
    script = Path(sys.executable).with_name("oic-monitor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


def timed(args: list[str], *, cwd: Path, stdin: bytes = b"") -> tuple[float, float]:
    """(wall, cpu) seconds of one run; the run must succeed."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(args, input=stdin, cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"{args} failed: {done.stderr.decode(errors='replace')}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def startup(label: str, args: list[str], runs: int, *, cwd: Path, stdin: bytes = b"") -> None:
    timed(args, cwd=cwd, stdin=stdin)  # warm the page cache
    walls, cpus = zip(*(timed(args, cwd=cwd, stdin=stdin) for _ in range(runs)), strict=True)
    print(
        f"{label:<44} wall median {statistics.median(walls):.3f} s "
        f"(min {min(walls):.3f}, max {max(walls):.3f}); cpu median {statistics.median(cpus):.3f} s"
    )


def throughput(n: int, repeat: int, folder: Path) -> None:
    cases = load_eval_set(EVAL_SET)
    path = folder / "articles.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i, (title, text) in enumerate(build_articles(cases, n)):
            lang = cases[i % len(cases)].lang
            record = {"id": i, "title": title, "text": text, "language": lang}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    args = [*command(), "classify", "--jsonl", str(path)]
    timed(args, cwd=folder)
    runs = [timed(args, cwd=folder) for _ in range(repeat)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    size = path.stat().st_size / n / 1024
    print(
        f"classify --jsonl, {n} articles ({size:.1f} KB avg): wall {wall:.2f} s = "
        f"{n / wall:,.0f} texts/s; cpu {cpu:.2f} s = {n / cpu:,.0f} texts/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp)
        startup("oic-monitor --help", [*command(), "--help"], opts.runs, cwd=empty)
        stdin = TEXT.encode()
        startup(
            "classify - (no config)", [*command(), "classify", "-"], opts.runs,
            cwd=empty, stdin=stdin,
        )  # fmt: skip
        startup(
            "classify - (config/monitor.toml)", [*command(), "classify", "-"], opts.runs,
            cwd=ROOT, stdin=stdin,
        )  # fmt: skip
        throughput(opts.n, opts.repeat, empty)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
