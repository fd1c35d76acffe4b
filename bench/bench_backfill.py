"""Backfill throughput against bare trafilatura extraction, on the same pages and cores.

    .venv/bin/python bench/bench_backfill.py [--pages 5000] [--workers 2] [--repeat 1]

Generates a news site of N article pages of 40-80 KB in twelve languages (tests/pages.py
templates around evaluation texts, padded with the inline scripts, styles and menus real
pages carry) into bench/out/backfill_site/, serves it from memory on 127.0.0.1 (a threaded
server in its own process, no artificial latency) with robots.txt -> sitemap index -> ten
monthly sitemaps, then times:

  bare      trafilatura.extract(html) over every page, multiprocessing.Pool(workers)
  precise   the same with favor_precision=True, no comments or tables: what the pipeline asks
  extract   monitor.extract.extract over every page, same pool (the pipeline's own stage)
  backfill  Backfill.run in a fresh process: discovery, fetch, extraction in the process
            pool, classification, story grouping and storing into a new SQLite database

and prints articles per second and the ratios of issue 17's targets: backfill / precise
(target <= 2.0) and extract / precise (target <= 1.15); the main process's CPU per article
(target <= 3 ms, over the span timed; opening the new database is printed apart); and the
peak memory of the backfill process tree (target <= 330 MB): the sum of the RSS of the
process and its workers, sampled from /proc every 50 ms by this script's own process, and,
every 250 ms, the sum of their PSS (pages shared between the processes, such as the
memory-mapped language model, counted once).
The site config sets per_host_delay to 1 ms and per_host_concurrency to 16: it is a local
server, not somebody's ministry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import machine  # noqa: E402 - bench/, found as the script's folder

SITE_DIR = ROOT / "bench" / "out" / "backfill_site"
EVAL_FILE = ROOT / "tests" / "data" / "eval" / "oic_eval.jsonl"
FIRST_DAY = date(2024, 1, 1)
MONTHS = 10
MIN_KB, MAX_KB = 40, 80


# --- the site ----------------------------------------------------------------------------


def _padding(rng: random.Random, size: int) -> str:
    """Page weight that is not article: a mega-menu, inline styles and a JSON state blob."""
    menu = "".join(
        f'<li><a href="/section/{rng.randrange(10**6)}/">Раздел {i} bölüm {i}</a></li>'
        for i in range(120)
    )
    css = "".join(
        f".c{i}{{margin:{i % 7}px;padding:{i % 5}px;color:#{rng.randrange(16**6):06x}}}"
        for i in range(200)
    )
    head = f'<style>{css}</style><nav class="mega-menu"><ul>{menu}</ul></nav>'
    blob_len = max(0, size - len(head.encode()))
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    blob = "".join(rng.choice(chars) for _ in range(blob_len // 2))
    return head + f'<script>window.__STATE__={{"k":"{blob}","v":"{blob[::-1]}"}};</script>'


def generate(n: int, out: Path) -> None:
    from tests.pages import article_page

    texts: dict[str, list[dict[str, str]]] = {}
    for line in EVAL_FILE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts.setdefault(row["lang"], []).append(row)
    langs = sorted(texts)
    rng = random.Random(20241)
    (out / "news").mkdir(parents=True, exist_ok=True)
    index = []
    span = (FIRST_DAY.replace(year=2024, month=MONTHS) - FIRST_DAY).days + 27
    for i in range(n):
        lang = langs[i % len(langs)]
        rows = texts[lang]
        paras = [r["text"] for r in rng.sample(rows, k=min(len(rows), rng.randint(8, 14)))]
        day = FIRST_DAY + timedelta(days=i * span // n)
        iso = datetime(day.year, day.month, day.day, 9, tzinfo=UTC).isoformat()
        title = f"{rng.choice(rows)['title']} — {i}"
        html = article_page(title, paras, lang=lang, published_iso=iso, template=i % 3).html
        target = rng.randint(MIN_KB, MAX_KB) * 1024
        pad = _padding(rng, target - len(html.encode()))
        html = html.replace("</head>", pad + "</head>", 1)
        path = f"news/{day:%Y/%m/%d}/a-{i}.html"
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(html, encoding="utf-8")
        index.append((path, day.isoformat()))
    (out / "index.json").write_text(json.dumps(index), encoding="utf-8")


def ensure_site(n: int) -> list[tuple[str, str]]:
    index_file = SITE_DIR / "index.json"
    if index_file.exists():
        index = json.loads(index_file.read_text(encoding="utf-8"))
        if len(index) >= n:  # a larger site serves smaller runs: its first n pages
            return [tuple(x) for x in index[:n]]  # type: ignore[misc]
    print(f"generating {n} pages into {SITE_DIR} ...", flush=True)
    generate(n, SITE_DIR)
    return ensure_site(n)


def serve(port_out: multiprocessing.connection.Connection, n: int) -> None:
    """Serve the generated site from memory until killed (runs in its own process)."""
    index = ensure_site(n)
    files = {"/" + p: (SITE_DIR / p).read_bytes() for p, _ in index}
    holder: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # see localweb.py

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body, ctype = files.get(self.path), "text/html; charset=utf-8"
            if body is None:
                body, ctype = extra.get(self.path, (None, ""))
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    holder["base"] = base
    by_month: dict[str, list[tuple[str, str]]] = {}
    for p, d in index:
        by_month.setdefault(d[:7], []).append((p, d))
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    extra: dict[str, tuple[bytes, str]] = {
        "/robots.txt": (
            f"User-agent: *\nSitemap: {base}/sitemap_index.xml\n".encode(),
            "text/plain",
        )
    }
    children = []
    for month, rows in sorted(by_month.items()):
        urls = "".join(f"<url><loc>{base}/{p}</loc><lastmod>{d}</lastmod></url>" for p, d in rows)
        extra[f"/sitemaps/{month}.xml"] = (
            f'<?xml version="1.0"?><urlset {ns}>{urls}</urlset>'.encode(),
            "application/xml",
        )
        children.append(
            f"<sitemap><loc>{base}/sitemaps/{month}.xml</loc><lastmod>{rows[-1][1]}</lastmod></sitemap>"
        )
    extra["/sitemap_index.xml"] = (
        f'<?xml version="1.0"?><sitemapindex {ns}>{"".join(children)}</sitemapindex>'.encode(),
        "application/xml",
    )
    port_out.send(base)
    server.serve_forever()


# --- measurements ------------------------------------------------------------------------


def _bare(html: str) -> int:
    import trafilatura

    return len(trafilatura.extract(html) or "")


def _bare_precise(html: str) -> int:
    """trafilatura as the pipeline configures it (precision, no comments or tables)."""
    import trafilatura

    text = trafilatura.extract(
        html, favor_precision=True, include_comments=False, include_tables=False
    )
    return len(text or "")


def _ours(html: str) -> int:
    from monitor.extract import extract

    ext = extract(html, "https://bench.invalid/a")
    return len(ext.text) if ext else 0


def time_pool(fn: object, pages: list[str], workers: int) -> float:
    ctx = multiprocessing.get_context("fork")
    start = time.perf_counter()
    with ctx.Pool(workers) as pool:
        pool.map(fn, pages, chunksize=8)  # type: ignore[arg-type]
    return time.perf_counter() - start


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.extend(int(k) for k in f.read().split())
    except OSError:
        pass
    return kids


def tree_rss(pid: int) -> int:
    """RSS in bytes of `pid` and all its descendants (Linux /proc). Walks only this tree:
    scanning all of /proc 20 times a second would cost the measured run CPU."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * page
        except OSError:
            continue
        todo.extend(_children(p))
    return total


def proc_cpu(pid: int) -> float:
    """utime + stime of one process in seconds (Linux /proc), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_pss(pid: int) -> int:
    """PSS in bytes of `pid` and all its descendants: shared pages divided among them."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
        todo.extend(_children(p))
    return total


def time_store_calls() -> dict[str, list[float]]:
    """Wrap the main process's store calls to add up their thread CPU time (for --timings)."""
    from monitor import articles
    from monitor.store.repo import Writer

    spent: dict[str, list[float]] = {}

    def timed(owner: object, name: str) -> None:
        original = getattr(owner, name)
        totals = spent.setdefault(name, [0.0, 0])

        def wrapper(*a: object, **k: object) -> object:
            t0 = time.thread_time()
            try:
                return original(*a, **k)
            finally:
                totals[0] += time.thread_time() - t0
                totals[1] += 1

        setattr(owner, name, wrapper)

    for name in (
        "matching_item",
        "story_candidates",
        "insert_item",
        "mark_urls",
        "known_lines",
        "learn_lines",
    ):
        timed(Writer, name)
    timed(articles, "write_text_file")
    timed(articles.Articles, "store_documents")
    return spent


def run_backfill(base: str, workers: int, timings: bool = False) -> dict[str, float]:
    """The backfill phase, in this (fresh) process: time and peak memory of its tree."""
    from monitor.backfill import Backfill, DateRange
    from monitor.config import Settings
    from monitor.runtime import Runtime

    spent = time_store_calls() if timings else {}
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.model_validate(
            {
                "storage": {"url": f"sqlite:///{tmp}/bench.db", "archive_dir": f"{tmp}/archive"},
                "fetch": {"per_host_delay": "1ms", "per_host_concurrency": 16, "retries": 0},
                "sources": [
                    {"name": "bench", "url": f"{base}/sitemap_index.xml", "kind": "sitemap"}
                ],
                "config_path": f"{tmp}/monitor.toml",
            }
        )
        window: list[float] = []  # process CPU as the backfill starts and ends

        def mark() -> None:
            window.append(time.process_time())

        async def go() -> tuple[float, int, int]:
            async with Runtime(settings) as rt:
                start = time.perf_counter()
                mark()
                job = Backfill(rt.pipeline, DateRange(), workers=workers)
                result = await job.run(settings.sources)
                took = time.perf_counter() - start
                mark()
                return took, result.total.stored, result.total.fetched

        took, stored, fetched = asyncio.run(go())
    usage = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) * 1024
    # Over the same span as the time: opening the database (a new one is migrated), the
    # imports that brings and the clean-up after are counted apart, once per run.
    main_cpu = window[1] - window[0]
    setup_cpu = time.process_time() - cpu0 - main_cpu
    out = {"seconds": took, "stored": stored, "fetched": fetched, "rusage": usage,
           "main_cpu": main_cpu, "setup_cpu": setup_cpu}  # fmt: skip
    for name, (seconds, calls) in spent.items():
        out[f"ms_per_call:{name}"] = seconds / max(calls, 1) * 1000
        out[f"ms_per_article:{name}"] = seconds / max(stored, 1) * 1000
    return out


def backfill_process(base: str, workers: int, timings: bool) -> dict[str, float]:
    """``run_backfill`` in a fresh process, its tree's memory and its workers' CPU sampled
    from here: a sampling thread inside would take the interpreter lock from the process
    it measures (0.6 s of CPU a run, reading /proc), and slow what it times."""
    cmd = [sys.executable, __file__, "--backfill-only", base, "--workers", str(workers)]
    proc = subprocess.Popen(cmd + (["--timings"] if timings else []), stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    peak = peak_pss = 0
    worker_cpu: dict[int, float] = {}  # the last CPU time seen of each worker
    n = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        if n % 5 == 0:
            peak_pss = max(peak_pss, tree_pss(proc.pid))
            for kid in _children(proc.pid):
                worker_cpu[kid] = max(worker_cpu.get(kid, 0.0), proc_cpu(kid))
        n += 1
        time.sleep(0.05)
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"the backfill process failed ({proc.returncode})")
    res: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    res.update(peak_tree=peak, peak_pss=peak_pss, workers_cpu=sum(worker_cpu.values()))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--backfill-only", metavar="BASE", help=argparse.SUPPRESS)
    ap.add_argument(
        "--timings", action="store_true", help="also print the main process's time per store call"
    )
    args = ap.parse_args()
    if args.backfill_only:
        print(json.dumps(run_backfill(args.backfill_only, args.workers, args.timings)))
        return

    index = ensure_site(args.pages)
    pages = [(SITE_DIR / p).read_text(encoding="utf-8") for p, _ in index]
    kb = sum(len(p.encode()) for p in pages) / len(pages) / 1024
    print(f"{len(pages)} pages, {kb:.0f} KB on average, {args.workers} workers, "
          f"{os.cpu_count()} CPUs")  # fmt: skip

    speed = [machine.reference_ms()]
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(child, args.pages), daemon=True)
    server.start()
    base = parent.recv()
    try:
        rows: dict[str, list[float]] = {"bare": [], "precise": [], "extract": [], "backfill": []}
        peaks: list[dict[str, float]] = []
        for _ in range(args.repeat):
            rows["bare"].append(time_pool(_bare, pages, args.workers))
            rows["precise"].append(time_pool(_bare_precise, pages, args.workers))
            rows["extract"].append(time_pool(_ours, pages, args.workers))
            server_cpu = proc_cpu(server.pid or 0)
            res = backfill_process(base, args.workers, args.timings)
            res["server_cpu"] = proc_cpu(server.pid or 0) - server_cpu
            if res["stored"] != len(pages):
                print(f"warning: stored {res['stored']} of {len(pages)}", file=sys.stderr)
            rows["backfill"].append(res["seconds"])
            peaks.append(res)
    finally:
        server.kill()
    speed.append(machine.reference_ms())
    print(f"machine: {machine.describe(speed[0])} before the runs, {speed[1]:.0f} ms after")
    best = {k: min(v) for k, v in rows.items()}
    n = len(pages)
    for name, label in (("bare", "bare trafilatura.extract, Pool"),
                        ("precise", "trafilatura.extract(favor_precision), Pool"),
                        ("extract", "monitor.extract.extract, Pool"),
                        ("backfill", "backfill (fetch+extract+classify+store)")):  # fmt: skip
        print(f"{label:42s} {best[name]:7.1f} s  {n / best[name]:6.1f} articles/s")
    print(f"ratio backfill / trafilatura with precision: {best['backfill'] / best['precise']:.2f} "
          "(target <= 2.0)")  # fmt: skip
    print(f"ratio monitor extract / trafilatura with precision: "
          f"{best['extract'] / best['precise']:.2f} (target <= 1.15)")  # fmt: skip
    print(f"ratio backfill / bare extract: {best['backfill'] / best['bare']:.2f}")
    print(f"ratio backfill / monitor extract: {best['backfill'] / best['extract']:.2f}")
    peak = max(p["peak_tree"] for p in peaks) / 2**20
    pss = max(p["peak_pss"] for p in peaks) / 2**20
    rusage = max(p["rusage"] for p in peaks) / 2**20
    print(f"peak memory of the backfill process tree: {peak:.0f} MB (sampled sum of RSS; "
          f"target <= 330 MB); sum of PSS: {pss:.0f} MB; getrusage self + largest child: "
          f"{rusage:.0f} MB")  # fmt: skip
    last = peaks[-1]
    print(f"backfill main process CPU (all its threads): {last['main_cpu'] / n * 1000:.1f} ms "
          f"per article (target <= 3 ms), over the span timed; opening and migrating the new "
          f"database, with its imports, and closing it took {last['setup_cpu']:.2f} s more, "
          f"once")  # fmt: skip
    cpu = {k: last[f"{k}_cpu"] for k in ("main", "workers", "server")}
    print(f"CPU during the backfill: main {cpu['main']:.1f} s, workers {cpu['workers']:.1f} s "
          f"(sampled every 250 ms), local server {cpu['server']:.1f} s; sum "
          f"{sum(cpu.values()):.1f} s of the {os.cpu_count()} x {last['seconds']:.1f} s the run "
          f"had")  # fmt: skip
    for key, value in last.items():
        if key.startswith("ms_per_call:"):
            name = key.split(":", 1)[1]
            per_article = last[f"ms_per_article:{name}"]
            print(f"  {name:22s} {value:7.2f} ms a call, {per_article:6.2f} ms per article")


if __name__ == "__main__":
    main()
