"""One-shot backfill: the history of sources, read through the same readers as a poll and
stored through the same article path.

reader.history(dates) (a feed's pages, a listing's pages, sitemaps) -> skip by listed or
URL date -> skip known URLs -> the article path (fetch with per-host limits; extract, hash,
MinHash and classify in a process pool; check the page's own date; store a batch per
transaction; alerts only with ``alerts``).

Resumable: every article with a final outcome is in ``seen_url`` (so it is never fetched
again), and each finished sitemap file, and each article fetched but found outside the
dates, is a ``crawl_page`` row of the run's scope ``backfill:<since>..<until>``. The same
command after Ctrl-C or SIGKILL skips all of that and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBars
from rich.text import Text

from monitor import robots
from monitor.analysis import process_pool, ready
from monitor.articles import STORE_BATCH, StoreOptions, Tally
from monitor.config import Source
from monitor.display import counted
from monitor.fetch import FetchError
from monitor.pipeline import Pipeline
from monitor.pool_calls import PoolCalls
from monitor.sources import DateRange, Entry, ListPage, SourceError, entry_days, reader_for
from monitor.sources.lists import Lists

__all__ = ["Backfill", "BackfillReport", "BackfillResult", "DateRange", "Planned"]

log = logging.getLogger("monitor.backfill")

QUEUE_SIZE = 1000  # discovered entries waiting for a fetch, per source
PAGES_PER_WORKER = 8  # fetched pages in memory (fetching or extracting) per CPU worker
MIN_PAGES_IN_FLIGHT = 16


# --- reports -----------------------------------------------------------------------------


@dataclass
class BackfillReport(Tally):
    """What the backfill did for one source (or, summed, for all)."""

    source: str
    discovered: int = 0  # distinct article URLs listed
    skipped_date: int = 0  # listed or URL date outside the range: not fetched
    known: int = 0  # stored, seen or finished before: not fetched
    pages: int = 0  # sitemap files, feed and listing pages read
    pages_resumed: int = 0  # sitemap files finished by an earlier run, not read again
    error: str | None = None  # the source itself could not be read
    oldest_listed: date | None = None  # the earliest day any listed entry may be from
    routes: str = ""  # the routes that listed entries: "feed,sitemap"

    @staticmethod
    def total(reports: Sequence[BackfillReport]) -> BackfillReport:
        out = BackfillReport("total")
        for r in reports:
            out.add_tally(r)
            for name in ("discovered", "skipped_date", "known", "pages", "pages_resumed"):
                setattr(out, name, getattr(out, name) + getattr(r, name))
            if r.error:
                out.errors["source"] += 1
        return out


@dataclass(frozen=True)
class Planned:
    """An article a dry run would fetch."""

    source: str
    url: str
    days: tuple[date, date] | None


@dataclass
class BackfillResult:
    reports: list[BackfillReport]
    planned: list[Planned]  # dry run only

    @property
    def total(self) -> BackfillReport:
        return BackfillReport.total(self.reports)


class Progress(Protocol):
    """Told as work is found and done; the totals grow while discovery goes on."""

    def listed(self, source: str, n: int) -> None: ...

    def advanced(self, source: str, n: int = 1) -> None: ...


class _NoProgress:
    def listed(self, source: str, n: int) -> None:
        pass

    def advanced(self, source: str, n: int = 1) -> None:
        pass


# --- one run -----------------------------------------------------------------------------


@dataclass
class _Page:
    """A list whose entries are in flight; a sitemap is checkpointed once all are final."""

    list: ListPage
    entries: int = 0
    pending: int = 0
    sealed: bool = False
    failed: bool = False


@dataclass(frozen=True)
class _Job:
    entry: Entry
    page: _Page


class Backfill:
    """Backfill a set of sources over one date range, sharing one fetcher and one pool."""

    def __init__(
        self,
        pipeline: Pipeline,
        window: DateRange,
        *,
        alerts: bool = False,
        dry_run: bool = False,
        workers: int | None = None,
        concurrency: int | None = None,
        progress: Progress | None = None,
        late: str | None = None,
    ) -> None:
        """``late``: why these items arrive late, carried by their alerts (gap catch-up)."""
        self.pipeline = pipeline
        self.store = pipeline.store
        self.window = window
        self.options = StoreOptions(alerts=alerts, backfilled=True, late=late, window=window)
        self.dry_run = dry_run
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        fetch = pipeline.settings.fetch
        # Enough articles per source to keep its host's slots and the workers busy, and a
        # batch's worth more waiting to be stored meanwhile (``_in_flight`` bounds the pages).
        self.concurrency = concurrency or (
            fetch.per_host_concurrency + 2 * max(1, self.workers) + STORE_BATCH
        )
        self.progress: Progress = progress or _NoProgress()
        self._claimed: set[str] = set()  # article URLs taken by a source of this run
        self._walked: set[str] = set()  # sitemap files read by a source of this run
        self._own_roots: set[str] = set()
        self._planned: list[Planned] = []
        self._done: dict[str, datetime] = {}  # checkpoints of earlier runs: URL -> when
        self._pool: Executor | None = None
        self._calls: PoolCalls | None = None
        pages = max(MIN_PAGES_IN_FLIGHT, PAGES_PER_WORKER * max(1, self.workers))
        self._in_flight = asyncio.Semaphore(pages)  # pages held, over all sources
        # Articles on their way, over all sources: besides those pages, a batch being
        # written and the next one filling, so the workers never wait for the writes.
        self._articles = asyncio.Semaphore(pages + 2 * STORE_BATCH)

    async def run(self, sources: Sequence[Source]) -> BackfillResult:
        """Backfill each source (concurrently); never raises for a source or article."""
        self._own_roots = {s.url for s in sources if s.kind == "sitemap"}
        # Sources of one site walk its sitemaps once between them, whichever comes first:
        # what any of them finished in an earlier run of these dates is finished for all.
        self._done = self.store.crawl_pages_done(self.window.scope)
        if self.workers > 0 and not self.dry_run:
            self._pool = process_pool(
                self.workers,
                lexicon=self.pipeline.settings.lexicon,
                classify=self.pipeline.classifier is not None,
            )
            for _ in range(self.workers):  # start the workers while discovery runs
                self._pool.submit(ready)
            # Two tasks a worker: one running, one waiting in its pipe, so none idles.
            self._calls = PoolCalls(self._pool, slots=2 * self.workers)
        try:
            reports = await asyncio.gather(*(self._source(s) for s in sources))
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
        return BackfillResult(list(reports), self._planned)

    async def _source(self, source: Source) -> BackfillReport:
        report = BackfillReport(source.name)
        lists = Lists(
            self.pipeline.fetcher,
            source,
            done=self._done,
            others=self._own_roots - {source.url},
            walked=self._walked,
        )
        queue: asyncio.Queue[_Job | None] = asyncio.Queue(QUEUE_SIZE)
        consumers = [
            asyncio.create_task(self._consume(queue, source, report))
            for _ in range(0 if self.dry_run else self.concurrency)
        ]
        try:
            async for page in reader_for(source, lists).history(self.window):
                await self._enqueue(page, source, report, queue)
        except (FetchError, SourceError) as e:
            report.error = str(e)
            log.error("%s: %s", source.name, e)
        finally:
            for _ in consumers:
                await queue.put(None)
            await asyncio.gather(*consumers)
        report.pages, report.pages_resumed = lists.read, lists.resumed
        report.errors.update(lists.errors)
        robots.log_skipped(source.name, report.errors)
        errors = sum(report.errors.values())
        log.log(
            logging.ERROR if report.error else logging.INFO,
            "%s: %d listed, %d out of range, %d known, %d fetched, %d stored, %s",
            source.name,
            report.discovered,
            report.skipped_date + report.out_of_range,
            report.known,
            report.fetched,
            report.stored,
            # Articles' errors are counted; the source's own failure is the reason it stopped.
            f"reading its lists FAILED ({report.error}), {counted(errors, 'other error')}"
            if report.error
            else counted(errors, "error"),
        )
        return report

    # --- filtering and queueing ----------------------------------------------------------

    async def _enqueue(
        self,
        listed: ListPage,
        source: Source,
        report: BackfillReport,
        queue: asyncio.Queue[_Job | None],
    ) -> None:
        unique = list({e.url: e for e in listed.entries}.values())
        page = _Page(listed, entries=len(unique))
        report.discovered += len(unique)
        if unique and listed.route not in report.routes.split(","):
            report.routes = ",".join(filter(None, [report.routes, listed.route]))
        in_range: list[Entry] = []
        for e in unique:
            days = entry_days(e)
            if days is not None and (
                report.oldest_listed is None or days[0] < report.oldest_listed
            ):
                report.oldest_listed = days[0]
            if days is not None and not self.window.overlaps(*days):
                report.skipped_date += 1
            else:
                in_range.append(e)
        fresh = set(self.store.unseen_urls([e.url for e in in_range]))
        todo = [
            e
            for e in in_range
            if e.url in fresh and e.url not in self._done and e.url not in self._claimed
        ]
        report.known += len(in_range) - len(todo)
        self._claimed.update(e.url for e in todo)
        if self.dry_run:
            self._planned.extend(Planned(source.name, e.url, entry_days(e)) for e in todo)
            return
        self.progress.listed(source.name, len(todo))
        page.pending = len(todo)
        for e in todo:
            await queue.put(_Job(e, page))
        page.sealed = True
        self._settle(source, page)

    def _settle(self, source: Source, page: _Page) -> None:
        # Listing and feed pages shift as articles appear: only sitemaps are checkpointed.
        checkpoint = page.list.route == "sitemap" and not page.list.not_modified
        if page.sealed and page.pending == 0 and checkpoint and not page.failed:
            self.store.mark_crawl_page(source.name, self.window.scope, page.list.url, page.entries)

    async def _consume(
        self, queue: asyncio.Queue[_Job | None], source: Source, report: BackfillReport
    ) -> None:
        while (job := await queue.get()) is not None:
            final = False
            try:
                async with self._articles:
                    outcome = await self.pipeline.articles.process(
                        job.entry, source, self.options, pool=self._calls, pages=self._in_flight
                    )
                report.add(outcome)
                if outcome.status == "out_of_range":
                    self.store.mark_crawl_page(source.name, self.window.scope, job.entry.url)
                final = outcome.final
            except Exception:  # a bug must not stop the whole run; the URL stays unseen
                log.exception("%s: %s failed", source.name, job.entry.url)
                report.errors["internal"] += 1
            job.page.failed |= not final
            job.page.pending -= 1
            try:
                self._settle(source, job.page)
            except Exception:  # e.g. the checkpoint write; the other articles still finish
                log.exception("%s: %s: could not record its outcome", source.name, job.entry.url)
            self.progress.advanced(source.name)


# --- progress display --------------------------------------------------------------------


class LogProgress:
    """Progress as a log line every ``every`` seconds, for logs rather than a terminal."""

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.started = clock()
        self.last = self.started
        self.total = 0
        self.done = 0

    def listed(self, source: str, n: int) -> None:
        self.total += n

    def advanced(self, source: str, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate else 0.0
            log.info(
                "backfill: %d of %d articles so far, %.1f/s, about %.0f s to go",
                self.done,
                self.total,
                rate,
                eta,
            )


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")


class RichProgress:
    """A bar per source and one for the total, with rate and ETA, on a terminal."""

    def __init__(self, sources: Sequence[str], console: Console | None = None) -> None:
        self.bars = RichBars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.total = self.bars.add_task("total", total=0)
        self.tasks: dict[str, TaskID] = {
            name: self.bars.add_task(f"  {name}", total=0) for name in sources
        }

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def listed(self, source: str, n: int) -> None:
        for task in (self.tasks[source], self.total):
            self.bars.update(task, total=(self.bars.tasks[task].total or 0) + n)

    def advanced(self, source: str, n: int = 1) -> None:
        self.bars.advance(self.tasks[source], n)
        self.bars.advance(self.total, n)


def is_terminal() -> bool:
    return sys.stderr.isatty()
