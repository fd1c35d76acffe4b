"""The analysis of one article, as a worker makes it: content hash, MinHash, classification.

    .venv/bin/python bench/bench_analyse.py [--pages 100] [--passes 7]

Extracts the first ``--pages`` pages of the backfill bench's site (bench_backfill.py makes
it), then analyses their texts ``--passes`` times after a first pass that compiles the
term patterns met, and prints the CPU time of an analysis (best pass). Nothing is written.

On a virtual machine whose speed changes from minute to minute, count instructions
instead: they do not depend on the neighbours. The analyses' share is the difference of
two runs, with and without passes:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/bench_analyse.py --passes 0      # and --passes 2
"""

from __future__ import annotations

import argparse
import time

import bench_backfill
import machine

from monitor.analysis import analyse
from monitor.classify.engine import load_classifier
from monitor.extract import extract


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--passes", type=int, default=7)
    args = ap.parse_args()
    index = bench_backfill.ensure_site(max(args.pages, 2000))[: args.pages]
    texts = []
    for path, _ in index:
        html = (bench_backfill.SITE_DIR / path).read_text(encoding="utf-8")
        found = extract(html, f"http://bench.invalid/{path}")
        if found is not None and found.text:
            texts.append((found.title, found.text, found.language))
    print(f"machine: {machine.describe(machine.reference_ms())}")  # in both runs of the recipe
    classifier = load_classifier()
    for text in texts:
        classifier.classify(*text)  # compiles the term patterns these texts meet
    best = float("inf")
    for _ in range(args.passes):
        start = time.process_time()
        for text in texts:
            analyse(*text, classifier)
        best = min(best, time.process_time() - start)
    if args.passes:
        print(f"{len(texts)} texts; an analysis: {best / len(texts) * 1e6:.0f} µs of CPU "
              f"(best of {args.passes} passes)")  # fmt: skip


if __name__ == "__main__":
    main()
