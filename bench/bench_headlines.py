"""Other articles' headlines in stored texts: leak and paragraph recall on generated sites.

    .venv/bin/python bench/bench_headlines.py [--per-site 6] [--seed 1]
    .venv/bin/python bench/bench_headlines.py --sealed

Generates news sites (tests/news_site.py: eight page templates x twelve languages, each
page with "latest", "related" and "most read" blocks whose headings are absent or worded
unlike any list in the code, some between paragraphs) and measures three paths:

  extract   monitor.extract.extract on every page: the structural removal alone, as on
            the first page of a source nothing is known about (and, for comparison, the
            same without the link-block pass)
  poll      each site's pages in publication order, each stored on its own through
            Articles.store_documents into a new SQLite database (the line memory starts
            empty): every "latest" block lists the articles published just before
  backfill  every page as a later crawl sees it (every "latest" block lists the site's
            newest articles), stored newest first in batches of 50 as backfill does

and, apart, a template whose lists have no links at all (nothing in the page tells them
from text): what the line memory alone removes there, in poll and backfill.

For each: leak (share of pages whose stored text carries a line with another article's
headline; the article's own paragraphs, even one quoting a headline, do not count) and
paragraph recall (share of the articles' paragraphs found whole). Then the cost of the
link-block pass: extraction time per page with and without it, on one core.

--sealed runs the same on the sealed sets of bench/sealed_pages.py (four other templates
each, other headings, other seeds: blocks in sections of their own, blocks inside the
article's container, and a late set written after a fix), never used for tuning; report
their figures apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import monitor.extract as extract_module  # noqa: E402
from monitor.articles import Document, StoreOptions, ToStore  # noqa: E402
from monitor.config import Settings, Source, StorageSettings  # noqa: E402
from monitor.extract import Extracted, extract  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.store.repo import Store  # noqa: E402
from tests.news_site import (  # noqa: E402
    LANGUAGES,
    LINKLESS,
    TEMPLATES,
    Page,
    Render,
    Site,
    pages,
)


class Tally:
    def __init__(self) -> None:
        self.pages = 0
        self.leaking = 0
        self.found = 0
        self.paragraphs = 0
        self.examples: list[str] = []

    def add(self, page: Page, text: str) -> None:
        self.pages += 1
        leaked = page.leaked(text)
        if leaked:
            self.leaking += 1
            if len(self.examples) < 5:
                self.examples.append(f"{page.template}/{page.language}: {leaked[0][:90]}")
        self.found += page.paragraphs_found(text)
        self.paragraphs += len(page.article.paragraphs)

    @property
    def leak(self) -> float:
        return self.leaking / max(1, self.pages)

    @property
    def recall(self) -> float:
        return self.found / max(1, self.paragraphs)


def _extracted(page: Page) -> Extracted | None:
    return extract(page.html, page.url)


def run_extract(all_pages: Sequence[Page]) -> tuple[Tally, dict[str, Tally], dict[str, Tally]]:
    total, by_template, by_language = Tally(), defaultdict(Tally), defaultdict(Tally)
    for page in all_pages:
        ext = _extracted(page)
        text = ext.text if ext else ""
        for tally in (total, by_template[page.template], by_language[page.language]):
            tally.add(page, text)
    return total, by_template, by_language


def _document(page: Page, source: Source) -> Document | None:
    ext = _extracted(page)
    if ext is None:
        return None
    return Document(
        page.url, source, ext.text, ext.title, ext.published, ext.language, urls=(page.url,)
    )


def run_store(
    templates: dict[str, Render], seed: int, headings: str, *, backfill: bool, per_site: int
) -> Tally:
    """Store each site's pages through the pipeline into a fresh database; tally the
    stored texts."""
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            storage=StorageSettings(url=f"sqlite:///{tmp}/bench.db", archive_dir=Path(tmp) / "a")
        )
        store = Store.open(settings.storage.url)
        pipeline = Pipeline(settings, store, None, None)  # type: ignore[arg-type]
        for name in templates:
            for lang in LANGUAGES:
                site = Site(lang, name, seed, templates=templates, headings=headings)
                source = Source(name=f"{name}-{lang}", url=site.base + "/", kind="sitemap")
                order = range(len(site.articles))
                chosen = [site.page(i, newest=backfill) for i in order]
                if backfill:
                    chosen.reverse()
                todo = [(p, _document(p, source)) for p in chosen]
                docs = [d for _, d in todo if d is not None]
                options = StoreOptions(alerts=False, backfilled=backfill)
                # A backfill writes a batch per transaction, a poll one article at a time.
                batches = [docs] if backfill else [[d] for d in docs]
                ids = [
                    o.item_id
                    for batch in batches
                    for o in pipeline.articles.store_documents([ToStore(d, options) for d in batch])
                    if o.item_id is not None
                ]
                stored = {i.url: i.text for i in map(store.item, ids) if i is not None}
                step = max(1, len(chosen) // per_site)
                for page, _ in todo[::step]:
                    tally.add(page, stored.get(page.url, ""))
        store.close()
    return tally


@contextmanager
def _without_link_blocks() -> Iterator[None]:
    original: Callable[..., int] = extract_module.drop_link_blocks
    extract_module.drop_link_blocks = lambda *a, **k: 0  # type: ignore[assignment]
    try:
        yield
    finally:
        extract_module.drop_link_blocks = original  # type: ignore[assignment]


def timing(all_pages: Sequence[tuple[str, str]], repeat: int) -> tuple[float, float]:
    """Median CPU ms per page of extract with and without the link-block pass, one core,
    the two runs alternating; pages as (html, url)."""

    def run() -> float:
        start = time.process_time()
        for html, url in all_pages:
            extract(html, url)
        return (time.process_time() - start) * 1000 / len(all_pages)

    run()  # warm-up: lazy imports and caches
    with_pass, without = [], []
    for _ in range(repeat):
        with _without_link_blocks():
            without.append(run())
        with_pass.append(run())
    return statistics.median(with_pass), statistics.median(without)


def _row(name: str, t: Tally) -> str:
    return f"| {name} | {t.pages} | {t.leak:.1%} | {t.recall:.3f} |"


def measure(
    label: str, templates: dict[str, Render], seed: int, headings: str, per_site: int
) -> list[Page]:
    """Print leak and recall on one set of sites; the pages, for timing."""
    generated = pages(seed, per_site=per_site, templates=templates, headings=headings)
    print(
        f"## {label}: {len(templates)} templates x {len(LANGUAGES)} languages, "
        f"{len(generated)} pages, seed {seed}\n"
    )
    total, by_template, by_language = run_extract(generated)
    with _without_link_blocks():
        before, _, _ = run_extract(generated)
    poll = run_store(templates, seed, headings, backfill=False, per_site=per_site)
    backfill = run_store(templates, seed, headings, backfill=True, per_site=per_site)
    print("| path | pages | leak | paragraph recall |\n|---|---:|---:|---:|")
    for name, tally in (
        ("extract, without the link-block pass", before),
        ("extract", total),
        ("poll", poll),
        ("backfill", backfill),
    ):
        print(_row(name, tally))
    print("\n| template | pages | leak | paragraph recall |\n|---|---:|---:|---:|")
    for name, tally in sorted(by_template.items()):
        print(_row(name, tally))
    print("\n| language | pages | leak | paragraph recall |\n|---|---:|---:|---:|")
    for name, tally in sorted(by_language.items()):
        print(_row(name, tally))
    examples = total.examples + poll.examples + backfill.examples
    if examples:
        print("\nleaking lines, for example:")
        for line in examples[:10]:
            print("  ", line)
    print()
    return generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-site", type=int, default=6, help="pages measured per site")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sealed", action="store_true", help="the sealed sets only")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs")
    parser.add_argument(
        "--heavy",
        type=Path,
        metavar="DIR",
        help="also time the pass on the .html pages of DIR (e.g. bench/out/backfill_site, "
        "written by bench_backfill.py: 40-80 KB pages with large menus), 400 at most",
    )
    args = parser.parse_args()

    if args.sealed:
        from bench.sealed_pages import (
            FINAL,
            FINAL_SEED,
            HEADINGS,
            IN_BODY,
            IN_BODY_SEED,
            LATE,
            LATE_SEED,
            SEED,
        )
        from bench.sealed_pages import TEMPLATES as SEALED

        measure("sealed, blocks in sections of their own", SEALED, SEED, HEADINGS, args.per_site)
        measure("sealed, blocks inside the article", IN_BODY, IN_BODY_SEED, HEADINGS, args.per_site)
        measure("late sealed set", LATE, LATE_SEED, HEADINGS, args.per_site)
        generated = measure("final sealed set", FINAL, FINAL_SEED, HEADINGS, args.per_site)
    else:
        generated = measure("development set", TEMPLATES, args.seed, "headings", args.per_site)
        print("## lists without links (line memory only)\n")
        print("| path | pages | leak | paragraph recall |\n|---|---:|---:|---:|")
        linkless, _, _ = run_extract(pages(args.seed, per_site=args.per_site, templates=LINKLESS))
        print(_row("extract", linkless))
        for backfilled in (False, True):
            tally = run_store(
                LINKLESS, args.seed, "headings", backfill=backfilled, per_site=args.per_site
            )
            print(_row("backfill" if backfilled else "poll", tally))
    sets = [("generated pages", [(p.html, p.url) for p in generated])]
    if args.heavy:
        files = sorted(args.heavy.rglob("*.html"))[:400]
        heavy = [(f.read_text(encoding="utf-8"), f"http://127.0.0.1/{f.name}") for f in files]
        sets.append((f"{len(heavy)} pages of {args.heavy}", heavy))
    for name, chosen in sets:
        with_pass, without = timing(chosen, args.repeat)
        print(
            f"\nextract per page ({name}), one core, CPU time, median of {args.repeat}: "
            f"{with_pass:.2f} ms with the link-block pass, {without:.2f} ms without: "
            f"{with_pass - without:+.2f} ms (x{with_pass / without:.3f})"
        )


if __name__ == "__main__":
    main()
