"""One-shot backfill: the history of sources from their sitemaps, listing pages or feeds.

discover (sitemaps | paginated listing | feed) -> skip by listed or URL date -> skip known
URLs -> fetch (async, per-host limits) -> extract, hash, MinHash, classify (process pool)
-> check the page's own date -> Pipeline.store_document (story, store; alerts only with
``alerts``).

Resumable: every article with a final outcome is in ``seen_url`` (so it is never fetched
again), and each finished sitemap file, and each article fetched but found outside the
dates, is a ``crawl_page`` row of the run's scope ``backfill:<since>..<until>``. The same
command after Ctrl-C or SIGKILL skips all of that and goes on.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import os
import sys
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol
from urllib.parse import urlsplit

from lxml import etree
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
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from monitor import robots
from monitor.analysis import PageResult, analyse_page, process_pool, ready
from monitor.config import Source
from monitor.extract import PageTooComplex, extract
from monitor.fetch import FetchError
from monitor.pipeline import Pipeline, PollReport, ToStore, document_from_page
from monitor.sources import Entry, SourceError
from monitor.sources.feed import parse_feed
from monitor.sources.listing import next_page, parse_listing
from monitor.sources.sitemap import date_from_url, parse_sitemap
from monitor.store.db import DB_UNAVAILABLE, db_reason
from monitor.store.models import CrawlPage, utcnow
from monitor.store.repo import Store
from monitor.urls import canonical_url

log = logging.getLogger("monitor.backfill")

SITEMAP_DEPTH = 5  # index -> index -> ... -> urlset
MAX_LISTING_PAGES = 5000
QUEUE_SIZE = 1000  # discovered entries waiting for a fetch, per source
PAGES_PER_WORKER = 8  # fetched pages in memory (fetching or extracting) per CPU worker
MIN_PAGES_IN_FLIGHT = 16
STORE_BATCH = 50  # articles written per transaction at most
STORE_DELAY = 0.2  # seconds an article waits at most for others to share its transaction


# --- dates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    """Inclusive publication-day bounds; None is open-ended."""

    since: date | None = None
    until: date | None = None

    @property
    def scope(self) -> str:
        """The checkpoint scope: a rerun of the same range resumes, another starts fresh."""
        return f"backfill:{self.since or ''}..{self.until or ''}"

    def overlaps(self, first: date, last: date) -> bool:
        """Whether any day of [first, last] is within the range."""
        return (self.since is None or last >= self.since) and (
            self.until is None or first <= self.until
        )

    def contains(self, day: date) -> bool:
        return self.overlaps(day, day)


def entry_days(entry: Entry) -> tuple[date, date] | None:
    """The earliest and latest day the entry can have been published, when it says.

    A date in the URL is the publication date; "/2024/03/" (read as the 1st) may be any day
    of that month. Otherwise the listed date: the feed's or Google News publication date,
    or a sitemap <lastmod>.
    """
    day = date_from_url(entry.url)
    if day is not None:
        if day.day == 1:
            last = calendar.monthrange(day.year, day.month)[1]
            return day, day.replace(day=last)
        return day, day
    if entry.published is not None:
        return entry.published.date(), entry.published.date()
    return None


# --- reports -----------------------------------------------------------------------------


@dataclass
class BackfillReport:
    """What the backfill did for one source (or, summed, for all)."""

    source: str
    discovered: int = 0  # distinct article URLs listed
    skipped_date: int = 0  # listed or URL date outside the range: not fetched
    known: int = 0  # stored, seen or finished before: not fetched
    fetched: int = 0
    out_of_range: int = 0  # fetched, but the page's own date is outside the range
    pages: int = 0  # sitemap files and listing pages read
    pages_resumed: int = 0  # sitemap files finished by an earlier run, not read again
    error: str | None = None  # the source itself could not be read
    errors: Counter[str] = field(default_factory=Counter)
    oldest_listed: date | None = None  # the earliest day any listed entry may be from
    routes: str = ""  # the discovery routes that listed entries: "sitemap,listing,feed"
    items: PollReport = field(init=False)  # stored, duplicates, no_text, relevant, alerts

    def __post_init__(self) -> None:
        self.items = PollReport(self.source)

    @property
    def stored(self) -> int:
        return self.items.stored

    @property
    def duplicates(self) -> int:
        return self.items.duplicates

    @property
    def relevant(self) -> int:
        return self.items.relevant

    @property
    def all_errors(self) -> Counter[str]:
        return self.errors + self.items.errors

    @staticmethod
    def total(reports: Sequence[BackfillReport]) -> BackfillReport:
        out = BackfillReport("total")
        for r in reports:
            for name in ("discovered", "skipped_date", "known", "fetched", "out_of_range"):
                setattr(out, name, getattr(out, name) + getattr(r, name))
            out.pages += r.pages
            out.pages_resumed += r.pages_resumed
            out.errors.update(r.all_errors)
            if r.error:
                out.errors["source"] += 1
            for name in ("stored", "duplicates", "no_text", "relevant", "queued_alerts"):
                setattr(out.items, name, getattr(out.items, name) + getattr(r.items, name))
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


# --- checkpoints -------------------------------------------------------------------------


class Checkpoints:
    """The crawl_page rows of one scope: finished sitemap files and out-of-range articles."""

    def __init__(self, store: Store, scope: str) -> None:
        self.store = store
        self.scope = scope

    def done(self, source: str) -> dict[str, datetime]:
        """URL -> when it was finished, for one source."""
        q = select(CrawlPage.url, CrawlPage.done_at).where(
            CrawlPage.source == source, CrawlPage.scope == self.scope
        )
        with self.store.session() as s:
            return dict(s.exec(q).all())

    def mark(self, source: str, url: str, entries: int = 0) -> None:
        with self.store.session() as s:
            row = s.exec(
                select(CrawlPage).where(
                    CrawlPage.source == source, CrawlPage.scope == self.scope, CrawlPage.url == url
                )
            ).first()
            if row is None:
                row = CrawlPage(source=source, scope=self.scope, url=url)
            row.entries, row.done_at = entries, utcnow()
            s.add(row)
            try:
                s.commit()
            except IntegrityError:  # a concurrent run marked it first: done either way
                s.rollback()


# --- discovery ---------------------------------------------------------------------------


@dataclass
class _Page:
    """A discovery page whose entries are in flight; checkpointed once all are final."""

    url: str
    route: str  # sitemap | listing | feed
    checkpoint: bool
    entries: int = 0
    pending: int = 0
    sealed: bool = False
    failed: bool = False


@dataclass(frozen=True)
class _Job:
    entry: Entry
    page: _Page


class _StoreBatch:
    """Articles ready to be stored, written a batch per transaction (a commit costs more
    than an article's rows): when STORE_BATCH wait, or STORE_DELAY after the first came.
    A batch that fails is counted and logged; its URLs stay unseen for the next run."""

    def __init__(self, pipeline: Pipeline, *, allow_alerts: bool, late: str | None) -> None:
        self.pipeline = pipeline
        self.allow_alerts = allow_alerts
        self.late = late
        self.waiting: list[tuple[ToStore, Callable[[bool], None]]] = []
        self.timer: asyncio.TimerHandle | None = None

    def add(self, one: ToStore, finish: Callable[[bool], None]) -> None:
        self.waiting.append((one, finish))
        if len(self.waiting) >= STORE_BATCH:
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(STORE_DELAY, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.waiting = self.waiting, []
        if not batch:
            return
        try:
            self.pipeline.store_documents(
                [one for one, _ in batch],
                allow_alerts=self.allow_alerts,
                backfilled=True,
                late=self.late,
            )
            final = True
        except DB_UNAVAILABLE as e:  # the next run fetches them again
            log.error(
                "could not store %d articles, the database is unavailable: %s",
                len(batch),
                db_reason(e),
            )
            final = False
        except Exception:  # a bug must not stop the whole run; the URLs stay unseen
            log.exception("could not store %d articles", len(batch))
            final = False
        if not final:
            for one, _ in batch:
                one.report.errors["store"] += 1
        for one, finish in batch:
            try:
                finish(final)
            except Exception:  # e.g. the checkpoint write; the other articles still finish
                log.exception(
                    "%s: %s: could not record its outcome", one.doc.source.name, one.doc.url
                )


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
        self.late = late
        self.store = pipeline.store
        self.fetcher = pipeline.fetcher
        self.window = window
        self.alerts = alerts
        self.dry_run = dry_run
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        fetch = pipeline.settings.fetch
        # Enough fetches per source to keep its host's slots and the workers busy.
        self.concurrency = concurrency or fetch.per_host_concurrency + 2 * max(1, self.workers)
        self.progress: Progress = progress or _NoProgress()
        self.checkpoints = Checkpoints(self.store, window.scope)
        self._claimed: set[str] = set()  # article URLs taken by a source of this run
        self._walked: set[str] = set()  # sitemap files read by a source of this run
        self._own_roots: set[str] = set()
        self._planned: list[Planned] = []
        self._pool: Executor | None = None
        self._batch = _StoreBatch(pipeline, allow_alerts=alerts, late=late)
        self._in_flight = asyncio.Semaphore(
            max(MIN_PAGES_IN_FLIGHT, PAGES_PER_WORKER * max(1, self.workers))
        )

    async def run(self, sources: Sequence[Source]) -> BackfillResult:
        """Backfill each source (concurrently); never raises for a source or article."""
        self._own_roots = {s.url for s in sources if s.kind == "sitemap"}
        if self.workers > 0 and not self.dry_run:
            self._pool = process_pool(
                self.workers,
                lexicon=self.pipeline.settings.lexicon,
                classify=self.pipeline.classifier is not None,
            )
            for _ in range(self.workers):  # start the workers while discovery runs
                self._pool.submit(ready)
        try:
            reports = await asyncio.gather(*(self._source(s) for s in sources))
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
        return BackfillResult(list(reports), self._planned)

    async def _source(self, source: Source) -> BackfillReport:
        report = BackfillReport(source.name)
        done = self.checkpoints.done(source.name)
        queue: asyncio.Queue[_Job | None] = asyncio.Queue(QUEUE_SIZE)
        consumers = [
            asyncio.create_task(self._consume(queue, source, report, done))
            for _ in range(0 if self.dry_run else self.concurrency)
        ]
        try:
            async for page, entries in self._discover(source, report, done):
                await self._enqueue(page, entries, source, report, done, queue)
        except (FetchError, SourceError) as e:
            report.error = str(e)
            log.error("%s: %s", source.name, e)
        finally:
            for _ in consumers:
                await queue.put(None)
            await asyncio.gather(*consumers)
            self._batch.flush()
        robots.log_skipped(source.name, report.errors)
        log.info(
            "%s: %d listed, %d out of range, %d known, %d fetched, %d stored, %d errors",
            source.name,
            report.discovered,
            report.skipped_date + report.out_of_range,
            report.known,
            report.fetched,
            report.stored,
            sum(report.all_errors.values()),
        )
        return report

    def _discover(
        self, source: Source, report: BackfillReport, done: dict[str, datetime]
    ) -> AsyncIterator[tuple[_Page, list[Entry]]]:
        if source.kind == "sitemap":
            return self._sitemaps(source, report, done)
        return self._then_site_sitemaps(source, report, done)

    async def _then_site_sitemaps(
        self, source: Source, report: BackfillReport, done: dict[str, datetime]
    ) -> AsyncIterator[tuple[_Page, list[Entry]]]:
        """A feed or listing first, then the site's sitemaps, which reach further back."""
        first = self._listing(source, report) if source.kind == "html" else self._feed(source)
        async for found in first:
            yield found
        async for found in self._sitemaps(source, report, done):
            yield found

    async def _feed(self, source: Source) -> AsyncIterator[tuple[_Page, list[Entry]]]:
        res = await self.fetcher.get(source.url, accept="feed")
        feed = parse_feed(res.content, res.url, content_type=res.content_type)
        yield _Page(res.url, "feed", checkpoint=False), feed.entries

    async def _sitemap_roots(self, source: Source) -> list[str]:
        """The source's own sitemap, then those named in robots.txt and /sitemap.xml."""
        parts = urlsplit(source.url)
        extra = await self.fetcher.robots_sitemaps(source.url)
        extra.append(f"{parts.scheme}://{parts.netloc}/sitemap.xml")
        # Another chosen source's own sitemap is left to it, so items keep their source.
        own = [source.url] if source.kind == "sitemap" else []
        return own + [u for u in dict.fromkeys(extra) if u not in self._own_roots]

    async def _sitemaps(
        self, source: Source, report: BackfillReport, done: dict[str, datetime]
    ) -> AsyncIterator[tuple[_Page, list[Entry]]]:
        queue: list[tuple[str, int, datetime | None]] = [
            (u, 0, None) for u in await self._sitemap_roots(source)
        ]
        while queue:
            url, depth, lastmod = queue.pop(0)
            if url in self._walked:
                continue
            self._walked.add(url)
            finished = done.get(url)
            if finished is not None and lastmod is not None and lastmod <= finished:
                report.pages_resumed += 1  # read in full by an earlier run, unchanged since
                continue
            try:
                res = await self.fetcher.get(url)
                sitemap = parse_sitemap(res.content, res.url)
            except (FetchError, SourceError) as e:
                if url == source.url:
                    raise
                if depth > 0 or (isinstance(e, FetchError) and not e.reason.startswith("http_4")):
                    report.errors[f"sitemap_{e.reason}"] += 1
                    log.warning("%s: sitemap %s: %s", source.name, url, e)
                continue  # an absent /sitemap.xml or robots.txt entry is no error
            report.pages += 1
            if sitemap.sitemaps and depth < SITEMAP_DEPTH:
                child_dates = sitemap_index_lastmods(res.content)
                for child in sitemap.sitemaps:
                    child_lastmod = child_dates.get(child)
                    # A file last changed before the range holds nothing published in it.
                    if (
                        child_lastmod is not None
                        and self.window.since is not None
                        and child_lastmod.date() < self.window.since
                    ):
                        continue
                    queue.append((child, depth + 1, child_lastmod))
            if sitemap.entries:
                yield _Page(url, "sitemap", checkpoint=True), sitemap.entries

    async def _listing(
        self, source: Source, report: BackfillReport
    ) -> AsyncIterator[tuple[_Page, list[Entry]]]:
        # Listing pages are read again on a rerun: their content shifts as articles appear.
        url: str | None = source.url
        listed: set[str] = set()
        page_no = 1
        while url is not None and page_no <= MAX_LISTING_PAGES:
            try:
                res = await self.fetcher.get(url, accept="html")
            except FetchError as e:
                if page_no == 1:
                    raise
                if e.reason not in ("http_404", "http_410"):
                    report.errors[f"listing_{e.reason}"] += 1
                    log.warning("%s: listing page %s: %s", source.name, url, e)
                return
            report.pages += 1
            html = res.text
            entries = [
                e
                for e in parse_listing(html, res.url, link_pattern=source.link_pattern)
                if e.url not in listed
            ]
            if not entries:
                return  # past the last page, or a site that repeats it
            listed.update(e.url for e in entries)
            yield _Page(res.url, "listing", checkpoint=False), entries
            spans = [d for d in map(entry_days, entries) if d is not None]
            since = self.window.since
            if spans and since is not None and max(last for _, last in spans) < since:
                return  # newest first: every later page is older still
            url = next_page(html, res.url, page_pattern=source.page_pattern, page_no=page_no)
            page_no += 1

    # --- filtering and queueing ----------------------------------------------------------

    async def _enqueue(
        self,
        page: _Page,
        entries: list[Entry],
        source: Source,
        report: BackfillReport,
        done: dict[str, datetime],
        queue: asyncio.Queue[_Job | None],
    ) -> None:
        unique = list({e.url: e for e in entries}.values())
        page.entries = len(unique)
        report.discovered += len(unique)
        if unique and page.route not in report.routes.split(","):
            report.routes = ",".join(filter(None, [report.routes, page.route]))
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
            if e.url in fresh and e.url not in done and e.url not in self._claimed
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
        if page.sealed and page.pending == 0 and page.checkpoint and not page.failed:
            self.checkpoints.mark(source.name, page.url, page.entries)

    async def _consume(
        self,
        queue: asyncio.Queue[_Job | None],
        source: Source,
        report: BackfillReport,
        done: dict[str, datetime],
    ) -> None:
        while (job := await queue.get()) is not None:
            try:
                async with self._in_flight:
                    final = await self._article(job, source, report)
            except Exception:  # a bug must not stop the whole run; the URL stays unseen
                log.exception("%s: %s failed", source.name, job.entry.url)
                report.errors["internal"] += 1
                final = False
            if final is not None:  # None: in the store batch, which finishes it
                self._finish(source, job, final)

    def _finish(self, source: Source, job: _Job, final: bool) -> None:
        job.page.failed |= not final
        job.page.pending -= 1
        self._settle(source, job.page)
        self.progress.advanced(source.name)

    # --- one article ---------------------------------------------------------------------

    async def _article(self, job: _Job, source: Source, report: BackfillReport) -> bool | None:
        """Fetch and extract one article; True when its outcome is final, None when it
        waits in the store batch (which calls ``_finish`` once it is committed)."""
        entry = job.entry
        try:
            page = await self.fetcher.get(entry.url, accept="html")
        except FetchError as e:  # not final: worth trying again on the next run
            return self.pipeline.skip_unusable(entry, source, report.errors, e.reason, e)
        report.fetched += 1
        try:
            result = await self._analyse(page.content, page.encoding, page.url, entry, source)
        except PageTooComplex as e:
            why = f"skipped: {e}"
            return self.pipeline.skip_unusable(entry, source, report.errors, "too_complex", why)
        ext = result.extracted
        if ext is None or not ext.text.strip():
            report.items.no_text += 1
            urls = [entry.url, canonical_url(page.url)]
            self.store.mark_urls(urls, source=source.name, outcome="no_text", item_id=None)
            return True
        doc = document_from_page(ext, entry, source, page.url)
        if doc.published is not None and not self.window.contains(doc.published.date()):
            # Not stored, and not "seen": a later poll or a wider backfill may want it.
            report.out_of_range += 1
            self.checkpoints.mark(source.name, entry.url)
            return True
        self._batch.add(
            ToStore(doc, report.items, result.analysis),
            lambda final: self._finish(source, job, final),
        )
        return None

    async def _analyse(
        self, content: bytes, encoding: str | None, url: str, entry: Entry, source: Source
    ) -> PageResult:
        if self._pool is None:  # in-process: extraction only, the pipeline does the rest
            text = content.decode(encoding or "utf-8", errors="replace")
            ext = extract(text, url, feed_date=entry.published, language_hint=source.language)
            return PageResult(ext, None)
        args = (content, encoding, url, entry.published, source.language, entry.title)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, analyse_page, *args)


def sitemap_index_lastmods(content: bytes) -> dict[str, datetime]:
    """Child sitemap URL -> its <lastmod>, for a sitemap index parse_sitemap accepted."""
    if content[:2] == b"\x1f\x8b":  # size already bounded by parse_sitemap
        content = zlib.decompress(content, 16 + zlib.MAX_WBITS)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError:
        return {}
    found: dict[str, datetime] = {}
    for node in root:
        if not isinstance(node.tag, str) or etree.QName(node).localname != "sitemap":
            continue
        loc = lastmod = None
        for child in node:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname
            if name == "loc":
                loc = (child.text or "").strip()
            elif name == "lastmod":
                lastmod = _lastmod(child.text)
        if loc and lastmod:
            found[loc] = lastmod
    return found


def _lastmod(value: str | None) -> datetime | None:
    """A W3C datetime with at least a day ("2024-03-05", with time and zone) as aware UTC.

    "2024-03" alone is not used: read as the 1st it would end a month too early.
    """
    value = (value or "").strip().replace("Z", "+00:00").replace("z", "+00:00")
    if len(value) < len("2024-03-05"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
