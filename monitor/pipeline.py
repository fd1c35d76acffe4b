"""One source -> new stored items: a poll, and in the same poll its catch-up.

reader.latest() -> entries newest first -> skip known URLs -> the article path (articles.py)
-> when every entry was new: reader.history() back to the newest stored item, its articles
through the same path -> a gap for what no route reached -> the source's state, its window
and the validators of the lists it read in full, written once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from monitor import robots
from monitor.articles import Articles, Outcome, StoreOptions, Tally
from monitor.classify import Classifier
from monitor.config import Settings, Source
from monitor.coverage import feed_window, give_up_gap
from monitor.fetch import Fetcher, FetchError
from monitor.sources import (
    DateRange,
    Entry,
    ListPage,
    Reader,
    SourceError,
    Validators,
    entry_days,
    reader_for,
)
from monitor.sources.lists import Lists
from monitor.store.models import SourceState, utcnow
from monitor.store.polls import PollLease
from monitor.store.repo import Store

log = logging.getLogger("monitor.pipeline")


@dataclass
class PollReport(Tally):
    """What one poll of one source did."""

    source: str
    discovered: int = 0  # entries the source lists now
    new: int = 0  # articles taken through the article path
    caught_up: int = 0  # of those, found beyond the window by reading further back
    gap: bool = False  # a stretch no route reached was recorded
    not_modified: bool = False
    lists_read: int = 0  # lists answered in full
    lists_not_modified: int = 0  # lists answered 304
    failures_before: int = 0  # failed polls in a row before this one
    error: str | None = None  # the source itself failed
    state: SourceState | None = None  # the source's state as the poll left it

    @property
    def ok(self) -> bool:
        return self.error is None


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher | None,
        classifier: Classifier | None,
        *,
        concurrency: int = 8,
    ) -> None:
        """``fetcher``: None for a command that only stores documents it was given."""
        self.store = store
        self._fetcher = fetcher
        self.classifier = classifier
        self.concurrency = concurrency
        self.articles = Articles(settings, store, fetcher, classifier)
        self.settings = settings
        # URLs being fetched by any poll of this process: two sources listing the same
        # article at the same moment fetch it once.
        self.inflight: set[str] = set()

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            raise RuntimeError("this pipeline was built without an HTTP client")
        return self._fetcher

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:  # a reload reaches the article path too
        self._settings = settings
        self.articles.settings = settings
        # Worked out once per config, not per poll: a daemon may have thousands of sources.
        self._sitemaps = frozenset(
            s.url for s in settings.sources if s.kind == "sitemap" and s.enabled
        )

    def lists_for(self, source: Source, known: dict[str, Validators] | None) -> Lists:
        """How a poll reads the source's lists: other sources' own sitemaps are theirs."""
        return Lists(self.fetcher, source, known=known, others=self._sitemaps - {source.url})

    async def poll(self, source: Source, lease: PollLease | None = None) -> PollReport:
        """Poll one source once, catching up when it published more than its window shows.
        Never raises for a source or article failure. Under a daemon's ``lease``, the
        state cached at its last poll is used when the lease was held since, and the write
        that ends the poll renews the lease."""
        report = PollReport(source.name)
        cached = lease is not None and lease.held
        state, known = self.store.poll_state(source.name, cached=cached)
        report.failures_before = state.consecutive_failures
        lists = self.lists_for(source, known)
        reader = reader_for(source, lists)
        try:
            pages = await reader.latest()
        except (FetchError, SourceError) as e:
            report.error = str(e)
            log.error("%s: %s", source.name, e)
            report.state = self.store.record_poll(source.name, error=report.error, lease=lease)
            return report
        if all(p.not_modified for p in pages) and state.catch_up_from is None:
            report.not_modified = True
            report.lists_not_modified = lists.not_modified
            report.state = self.store.record_poll(source.name, error=None, lease=lease)
            return report
        options = StoreOptions(first_poll=state.polls == 0)
        run = _Run(self, source, options)
        entries = _newest_first(list({e.url: e for p in pages for e in p.entries}.values()))
        report.discovered = len(entries)
        fresh = set(self.store.unseen_urls([e.url for e in entries]))
        for page in pages:
            run.require(page, page.entries)
        run.take(entries, fresh)
        bound = state.catch_up_from or self._catch_up_bound(state, pages, entries, fresh)
        if bound is not None:
            if state.catch_up_from is None:
                # Noted first: if the process dies while catching up, the next poll of the
                # source (by any daemon) catches up again from the same point.
                self.store.begin_catch_up(source.name, bound)
            reached = await self._catch_up(reader, pages, run, report, bound)
        for outcome in await run.settle():
            report.add(outcome)
        if bound is not None:
            self._record_gap(source, run, report, bound, reached=reached, clean=not lists.errors)
        report.new = len(run.started)
        report.errors.update(lists.errors)
        report.lists_read, report.lists_not_modified = lists.read, lists.not_modified
        robots.log_skipped(source.name, report.errors)
        window = feed_window(entries)
        hours = window.total_seconds() / 3600 if window else None
        report.state = self.store.record_poll(
            source.name,
            error=None,
            window_hours=hours if entries else "keep",
            lists=run.settled_lists(),
            caught_up=bound is not None,
            lease=lease,
        )
        log.info(
            "%s: %d listed, %d new (%d from further back), %d stored, %d duplicates, "
            "%d errors",
            source.name, report.discovered, report.new, report.caught_up, report.stored,
            report.duplicates, sum(report.errors.values()),
        )  # fmt: skip
        return report

    # --- catching up ----------------------------------------------------------------

    def _catch_up_bound(
        self, state: SourceState, pages: list[ListPage], entries: list[Entry], fresh: set[str]
    ) -> datetime | None:
        """When every list read was new in full and even the oldest entry is newer than
        what is stored, the source published more than one window since the last look:
        the newest stored item (or the last successful poll) is how far back to read."""
        if not entries or any(p.not_modified for p in pages):
            return None
        if any(e.url not in fresh for e in entries):
            return None
        bound = self.store.newest_published(state.name) or state.last_success_at
        dated = [e.published for e in entries if e.published]
        if bound is None or (dated and min(dated) <= bound):
            return None
        return bound

    async def _catch_up(
        self,
        reader: Reader,
        latest: list[ListPage],
        run: _Run,
        report: PollReport,
        bound: datetime,
    ) -> bool:
        """Read the source's history back to `bound`, taking every new article on the way;
        whether some route reached it (an older or already known entry)."""
        window = DateRange(since=bound.date())
        reached = False
        async for page in reader.history(window, after=latest):
            if page.not_modified:  # read in full before: nothing on it is new
                if page.ordered:
                    return True
                continue
            entries = [e for e in page.entries if e.url not in run.listed]
            wanted = [e for e in entries if not _before(e, window)]
            fresh = set(self.store.unseen_urls([e.url for e in wanted]))
            reached = reached or len(fresh) < len(entries)
            run.require(page, wanted)
            report.caught_up += run.take(wanted, fresh)
            if run.cut or (reached and page.ordered):
                break
        return reached

    def _record_gap(
        self,
        source: Source,
        run: _Run,
        report: PollReport,
        bound: datetime,
        *,
        reached: bool,
        clean: bool,
    ) -> None:
        """A gap for what the catch-up did not reach: given up at once when every route
        was read without error, left to the daemon's catch-up when one failed or
        ``max_items_per_poll`` cut the poll short."""
        if reached and not run.cut:
            return
        dated = [e.published for e in run.taken if e.published]
        end = min(dated) if dated else utcnow()
        if end <= bound:
            return
        gap = self.store.open_gap(source.name, bound, end)
        report.gap = True
        log.warning(
            "%s: nothing was seen between %s and %s (gap %s)",
            source.name, f"{bound:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}", gap.id,
        )  # fmt: skip
        if clean and not run.cut:
            give_up_gap(self.store, self.settings, gap)


class _Run:
    """The articles of one poll: started newest first within the source's
    ``max_items_per_poll``, and which lists may have their validators remembered."""

    def __init__(self, pipeline: Pipeline, source: Source, options: StoreOptions) -> None:
        self.pipeline = pipeline
        self.source = source
        self.options = options
        self.budget = source.max_items_per_poll
        self.cut = False  # the budget left new articles for later
        self.listed: set[str] = set()
        self.taken: list[Entry] = []
        self.started: dict[str, asyncio.Task[Outcome]] = {}
        # URLs known before or taken now. An article that failed is not retried while its
        # list stays unchanged; one left for later (the budget, another poll fetching it)
        # keeps the list from being remembered, so the next poll reads it again.
        self.handled: set[str] = set()
        self.required: list[tuple[ListPage, list[str]]] = []
        self.sem = asyncio.Semaphore(pipeline.concurrency)

    def require(self, page: ListPage, entries: list[Entry]) -> None:
        """The page's validators are remembered only if all these were handled."""
        self.required.append((page, [e.url for e in entries]))

    def take(self, entries: list[Entry], fresh: set[str]) -> int:
        """Start the article path for the fresh entries; how many were started."""
        self.listed.update(e.url for e in entries)
        self.handled.update(e.url for e in entries if e.url not in fresh)
        inflight = self.pipeline.inflight
        todo = [e for e in entries if e.url in fresh and e.url not in self.started]
        todo = [e for e in todo if e.url not in inflight]
        if len(todo) > self.budget:
            todo, self.cut = todo[: self.budget], True
        self.budget -= len(todo)
        self.handled.update(e.url for e in todo)
        for entry in todo:
            inflight.add(entry.url)
            self.started[entry.url] = asyncio.create_task(self._one(entry))
        self.taken += todo
        return len(todo)

    async def _one(self, entry: Entry) -> Outcome:
        try:
            async with self.sem:
                return await self.pipeline.articles.process(entry, self.source, self.options)
        finally:
            self.pipeline.inflight.discard(entry.url)

    async def settle(self) -> list[Outcome]:
        """Every article's outcome. All settle before the poll ends or fails: a database
        error in one must not leave the others running on after the poll gave up."""
        done = await asyncio.gather(*self.started.values(), return_exceptions=True)
        if failed := next((o for o in done if isinstance(o, BaseException)), None):
            raise failed
        return [o for o in done if isinstance(o, Outcome)]

    def settled_lists(self) -> dict[str, Validators]:
        """Validators of the lists read in full whose every wanted entry was handled: an
        unchanged list then answers 304 and nothing on it is missed."""
        return {
            page.url: page.validators
            for page, urls in self.required
            if page.validators is not None and all(u in self.handled for u in urls)
        }


def _before(entry: Entry, window: DateRange) -> bool:
    days = entry_days(entry)
    return days is not None and not window.overlaps(*days)


def _newest_first(entries: list[Entry]) -> list[Entry]:
    # Dated entries newest first; undated ones after all of them (as if from 1970), in
    # their listed order, since the sort is stable. With no dates the listed order stands.
    if not any(e.published for e in entries):
        return entries
    return sorted(
        entries, key=lambda e: e.published.timestamp() if e.published else 0.0, reverse=True
    )
