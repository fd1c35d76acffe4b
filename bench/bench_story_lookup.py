"""Story-candidate lookup time per new item at 10 k, 100 k and 1 M stored items.

    python bench/bench_story_lookup.py [--db sqlite|postgresql] [--max 1000000]

Fills the real schema (Alembic migrations) with synthetic MinHash signatures and their
LSH band rows, and at each checkpoint times `Store.story_candidates` plus the similarity
check for 500 new items: half near-copies of stored items (30 % of the MinHash values
changed), half unrelated. Prints a table and the growth ratio from the first to the last
checkpoint; the target is under 2x.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import insert

from monitor.fingerprint import NUM_PERM, band_keys, pack, similarity, unpack
from monitor.store.models import Item, StoryBand
from monitor.store.repo import Store

CHECKPOINTS = (10_000, 100_000, 1_000_000)
BATCH = 5_000
QUERIES = 500


def fill(store: Store, start: int, stop: int, rng: np.random.Generator) -> None:
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        for lo in range(start, stop, BATCH):
            hi = min(lo + BATCH, stop)
            sigs = rng.integers(0, 2**32, size=(hi - lo, NUM_PERM), dtype=np.uint32)
            items, bands = [], []
            for n, sig in enumerate(sigs, start=lo + 1):
                items.append(
                    {"id": n, "url": f"https://bench.invalid/{n}", "source": "bench",
                     "text": "-", "content_hash": f"{n:016x}", "signature": pack(sig),
                     "story_id": n, "backfilled": False, "fetched_at": now}
                )  # fmt: skip
                bands.extend(
                    {"key": k, "item_id": n, "band": b} for b, k in enumerate(band_keys(sig))
                )
            conn.execute(insert(Item), items)
            conn.execute(insert(StoryBand), bands)


def time_lookups(store: Store, stored: int, rng: np.random.Generator) -> tuple[float, float]:
    """Median and p95 milliseconds for one candidate lookup with its similarity check."""
    with store.session() as s:
        picks = rng.integers(1, stored + 1, size=QUERIES // 2)
        originals = [unpack(s.get(Item, int(i)).signature) for i in picks]  # type: ignore[union-attr,arg-type]
    queries = []
    for sig in originals:
        near = sig.copy()
        idx = rng.choice(NUM_PERM, size=int(NUM_PERM * 0.3), replace=False)
        near[idx] = rng.integers(0, 2**32, size=len(idx), dtype=np.uint32)
        queries.append(near)
    queries += list(rng.integers(0, 2**32, size=(QUERIES // 2, NUM_PERM), dtype=np.uint32))
    found = 0
    times = []
    for q in queries:
        t0 = time.perf_counter()
        keys = band_keys(q)
        best = max(
            (similarity(q, unpack(c.signature)) for c in store.story_candidates(keys)),
            default=0.0,
        )
        times.append((time.perf_counter() - t0) * 1000)
        found += best >= 0.5
    assert found >= QUERIES // 2 * 0.95, f"near copies found: {found}"
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--max", type=int, default=CHECKPOINTS[-1])
    args = ap.parse_args()
    pg_name = None
    if args.db == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    else:
        pg_name = f"oic_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{pg_name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    store = Store.open(url)
    rng = np.random.default_rng(7)
    results = []
    stored = 0
    try:
        for target in (c for c in CHECKPOINTS if c <= args.max):
            t0 = time.perf_counter()
            fill(store, stored, target, rng)
            stored = target
            if args.db == "postgresql":
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            median, p95 = time_lookups(store, stored, rng)
            results.append((stored, median, p95))
            print(
                f"{stored:>9,} items  lookup median {median:.3f} ms  p95 {p95:.3f} ms"
                f"  (filled in {time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    finally:
        store.close()
        if pg_name:
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    first, last = results[0], results[-1]
    print(f"growth {first[0]:,} -> {last[0]:,}: median x{last[1] / first[1]:.2f}, "
          f"p95 x{last[2] / first[2]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
