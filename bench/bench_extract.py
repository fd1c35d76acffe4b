"""The extraction stage against precise trafilatura, page by page in one process.

    .venv/bin/python bench/bench_extract.py [--pages 300] [--rounds 2] [--set news|sealed]

Reads the pages bench_backfill.py generated (run it once first; 40-80 KB pages whose weight
is a 120-entry menu in a <nav>, inline styles and a script blob) or, with --set, the pages
of tests/news_site.py's eight templates (news) or of the final sealed set of
bench/sealed_pages.py (sealed), smaller pages with a short menu. For each page in turn, it
times trafilatura.extract as the pipeline configures it (precision, no comments or tables)
and then monitor.extract.extract, by the CPU time of this thread. Alternating page by page
keeps a machine's drift (other work, frequency changes) out of the ratio, which is issue
17's target 2 (at most 1.15). The rows under it split the stage's own work beyond
trafilatura, timed the same way on a second pass.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SITE_DIR = ROOT / "bench" / "out" / "backfill_site"
# The stage's steps that are not trafilatura's body extraction, by name in monitor.extract.
PARTS = (
    "load_html",
    "_size",
    "metadata_date",
    "canonical_url",
    "_page_metadata",
    "drop_link_blocks",
    "_bare_extraction",
    "strip_boilerplate",
    "detect",
)


def _pages(which: str) -> list[str]:
    if which == "news":
        from tests.news_site import pages

        return [p.html for p in pages(1)]
    if which == "sealed":
        from bench.sealed_pages import FINAL, FINAL_SEED, HEADINGS
        from tests.news_site import pages

        return [p.html for p in pages(FINAL_SEED, templates=FINAL, headings=HEADINGS)]
    return [f.read_text(encoding="utf-8") for f in sorted(SITE_DIR.glob("**/*.html"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--set", choices=("backfill", "news", "sealed"), default="backfill")
    args = ap.parse_args()

    import trafilatura

    import monitor.extract as stage

    pages = _pages(args.set)[: args.pages]
    if not pages:
        sys.exit(f"no pages in {SITE_DIR}: run bench/bench_backfill.py first")
    url = "https://bench.invalid/a"

    def precise(html: str) -> Any:
        return trafilatura.extract(
            html, favor_precision=True, include_comments=False, include_tables=False
        )

    clock = time.thread_time
    for html in pages[:20]:  # warm caches and lazy imports on both sides
        precise(html)
        stage.extract(html, url)
    spent_precise = spent_stage = 0.0
    for _ in range(args.rounds):
        for html in pages:
            t = clock()
            precise(html)
            spent_precise += clock() - t
            t = clock()
            stage.extract(html, url)
            spent_stage += clock() - t
    n = len(pages) * args.rounds
    print(f"{len(pages)} pages x {args.rounds} rounds, CPU time of this thread per page")
    print(f"trafilatura.extract(favor_precision)  {spent_precise / n * 1000:6.2f} ms")
    print(f"monitor.extract.extract               {spent_stage / n * 1000:6.2f} ms")
    print(f"ratio: {spent_stage / spent_precise:.3f} (target <= 1.15)")

    parts: dict[str, float] = dict.fromkeys(PARTS, 0.0)

    def timed(name: str) -> None:
        inner = getattr(stage, name)

        @functools.wraps(inner)
        def wrapper(*a: Any, **k: Any) -> Any:
            t = clock()
            try:
                return inner(*a, **k)
            finally:
                parts[name] += clock() - t

        setattr(stage, name, wrapper)

    for name in PARTS:
        timed(name)
    for html in pages:
        stage.extract(html, url)
    print("the stage's steps, one pass:")
    for name, seconds in parts.items():
        print(f"  {name:20s} {seconds / len(pages) * 1000:6.3f} ms")


if __name__ == "__main__":
    main()
