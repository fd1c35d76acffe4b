"""One source -> new stored items. Used by poll, run and backfill alike.

discover entries -> skip known URLs -> fetch page -> extract -> content hash ->
skip known hash -> classify -> store item, URLs and queued alerts in one transaction
-> archive file.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError

from monitor import robots, source_lines
from monitor.alerts.routing import channel_wants
from monitor.analysis import Analysis
from monitor.classify import Classification, Classifier, Evidence
from monitor.config import Settings, Source
from monitor.coverage import observe_poll
from monitor.extract import Extracted, PageTooComplex, extract
from monitor.fetch import Accept, Fetcher, FetchError
from monitor.fingerprint import band_keys, content_hash, pack, signature, similarity, unpack
from monitor.sources import Entry, SourceError
from monitor.sources.feed import parse_feed
from monitor.sources.listing import parse_listing
from monitor.sources.sitemap import parse_sitemap
from monitor.store.archive import write_text_file
from monitor.store.models import Alert, Item, utcnow
from monitor.store.repo import Store, Writer
from monitor.urls import canonical_url

log = logging.getLogger("monitor.pipeline")

# Article fetch failures that will not get better by asking again.
PERMANENT_REASONS = {
    "http_404", "http_410", "not_html", "robots", "bad_scheme", "too_large", "too_complex",
}  # fmt: skip
# How deep a sitemap index is walked during a poll, and how many children at most.
SITEMAP_DEPTH = 3
SITEMAP_CHILDREN = 50


@dataclass
class PollReport:
    source: str
    discovered: int = 0
    new: int = 0
    stored: int = 0
    duplicates: int = 0
    no_text: int = 0
    relevant: int = 0
    queued_alerts: int = 0
    not_modified: bool = False
    failures_before: int = 0  # failed polls in a row before this one
    error: str | None = None  # the source itself failed
    errors: Counter[str] = field(default_factory=Counter)  # article failures by reason
    stored_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ToStore:
    """A document waiting to be stored, the report that counts it, and its analysis when
    a worker process made it; ``alerts``: how many it queued once stored."""

    doc: Document
    report: PollReport
    analysis: Analysis | None = None
    alerts: int = 0


@dataclass(frozen=True)
class _StoreOptions:
    allow_alerts: bool
    first_poll: bool
    backfilled: bool
    late: str | None


@dataclass(frozen=True)
class Discovery:
    entries: list[Entry] | None  # None: 304 Not Modified
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Document:
    """What the pipeline knows about one article before it is stored."""

    url: str
    source: Source
    text: str
    title: str | None
    published: datetime | None
    language: str | None
    author: str | None = None
    urls: tuple[str, ...] = ()
    published_precision: str | None = None  # "month": only the month is known
    verbatim: bool = False  # an imported file: its text is stored exactly as it is


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher,
        classifier: Classifier | None,
        *,
        concurrency: int = 8,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.classifier = classifier
        self.concurrency = concurrency
        self.archive_dir = Path(settings.storage.archive_dir)
        # URLs being fetched by any poll of this process: two sources listing the same
        # article at the same moment fetch it once.
        self._inflight: set[str] = set()

    # --- discovery ----------------------------------------------------------

    async def discover(
        self, source: Source, report: PollReport, *, conditional: bool = True
    ) -> Discovery:
        """Entries the source lists now (None when it answered 304 Not Modified)."""
        state = self.store.source_state(source.name)
        accept: Accept = {"feed": "feed", "html": "html"}.get(source.kind, "any")  # type: ignore[assignment]
        res = await self.fetcher.get(
            source.url,
            etag=state.etag if conditional else None,
            last_modified=state.last_modified if conditional else None,
            accept=accept,
        )
        entries: list[Entry] | None
        if res.not_modified:
            entries = None
        elif source.kind == "feed":
            feed = parse_feed(res.content, res.url, content_type=res.content_type)
            if feed.problem:
                log.warning("%s: feed is malformed but was read: %s", source.name, feed.problem)
            entries = feed.entries
        elif source.kind == "html":
            entries = parse_listing(res.text, res.url, link_pattern=source.link_pattern)
        else:
            entries = await self._walk_sitemap(res.content, res.url, source, report)
        return Discovery(entries, res.etag, res.last_modified)

    async def _walk_sitemap(
        self, content: bytes, url: str, source: Source, report: PollReport
    ) -> list[Entry]:
        entries: list[Entry] = []
        queue: list[tuple[bytes, str, int]] = [(content, url, 0)]
        fetched = 0
        while queue:
            body, at, depth = queue.pop(0)
            sitemap = parse_sitemap(body, at)
            entries.extend(sitemap.entries)
            if depth >= SITEMAP_DEPTH:
                continue
            for child in sitemap.sitemaps:
                if fetched >= SITEMAP_CHILDREN:
                    break
                fetched += 1
                try:
                    res = await self.fetcher.get(child)
                except FetchError as e:
                    report.errors[e.reason] += 1
                    log.warning("%s: child sitemap %s: %s", source.name, child, e)
                    continue
                queue.append((res.content, res.url, depth + 1))
        return entries

    async def check(self, source: Source) -> tuple[Source, str, int]:
        """Fetch and parse a source without storing anything: (source, verdict, entries)."""
        try:
            found = await self.discover(source, PollReport(source.name), conditional=False)
        except (FetchError, SourceError) as e:
            return source, f"FAILED: {e}", 0
        n = len(found.entries or [])
        return source, "ok" if n else "reachable, but lists no articles", n

    # --- one poll -----------------------------------------------------------

    async def poll(
        self, source: Source, *, allow_alerts: bool = True, backfilled: bool = False
    ) -> PollReport:
        """Poll one source once. Never raises for a source or article failure."""
        report = PollReport(source.name)
        state = self.store.source_state(source.name)
        first_poll = state.polls == 0
        report.failures_before = state.consecutive_failures
        try:
            found = await self.discover(source, report)
        except (FetchError, SourceError) as e:
            report.error = str(e)
            log.error("%s: %s", source.name, e)
            self.store.record_poll(source.name, error=report.error)
            return report
        entries = found.entries
        if entries is None:
            report.not_modified = True
            self.store.record_poll(source.name, error=None, keep_validators=True)
            return report
        report.discovered = len(entries)
        entries = self._newest_first(entries)
        fresh = set(self.store.unseen_urls([e.url for e in entries]))
        if not backfilled:
            observe_poll(self.store, source, state, entries, fresh)
        todo = [e for e in entries if e.url in fresh and e.url not in self._inflight]
        todo = todo[: source.max_items_per_poll]
        self._inflight.update(e.url for e in todo)
        report.new = len(todo)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(entry: Entry) -> None:
            async with sem:
                try:
                    await self._ingest_entry(
                        entry,
                        source,
                        report,
                        allow_alerts=allow_alerts and not backfilled,
                        first_poll=first_poll,
                        backfilled=backfilled,
                    )
                finally:
                    self._inflight.discard(entry.url)

        # Every article settles before the poll ends or fails (a database error in one must
        # not leave the others running on after the poll has given up).
        outcomes = await asyncio.gather(*(one(e) for e in todo), return_exceptions=True)
        if failed := next((o for o in outcomes if isinstance(o, BaseException)), None):
            raise failed
        self.store.record_poll(
            source.name, error=None, etag=found.etag, last_modified=found.last_modified
        )
        robots.log_skipped(source.name, report.errors)
        log.info(
            "%s: %d listed, %d new, %d stored, %d duplicates, %d errors",
            source.name,
            report.discovered,
            report.new,
            report.stored,
            report.duplicates,
            sum(report.errors.values()),
        )
        return report

    @staticmethod
    def _newest_first(entries: list[Entry]) -> list[Entry]:
        # Undated entries keep their listed order, ahead of dated ones only if listed so.
        if not any(e.published for e in entries):
            return entries
        return sorted(
            entries, key=lambda e: e.published.timestamp() if e.published else 0.0, reverse=True
        )

    async def _ingest_entry(
        self,
        entry: Entry,
        source: Source,
        report: PollReport,
        *,
        allow_alerts: bool,
        first_poll: bool,
        backfilled: bool,
    ) -> None:
        try:
            page = await self.fetcher.get(entry.url, accept="html")
        except FetchError as e:
            self.skip_unusable(entry, source, report.errors, e.reason, e)
            return
        try:
            ext = extract(
                page.text, page.url, feed_date=entry.published, language_hint=source.language
            )
        except PageTooComplex as e:
            self.skip_unusable(entry, source, report.errors, "too_complex", f"skipped: {e}")
            return
        if ext is None or not ext.text.strip():
            report.no_text += 1
            urls = [entry.url, canonical_url(page.url)]
            self.store.mark_urls(urls, source=source.name, outcome="no_text", item_id=None)
            return
        self.store_document(
            document_from_page(ext, entry, source, page.url),
            report,
            allow_alerts=allow_alerts,
            first_poll=first_poll,
            backfilled=backfilled,
        )

    def skip_unusable(
        self, entry: Entry, source: Source, errors: Counter[str], reason: str, why: object
    ) -> bool:
        """Count and log an article that could not be used; remember its URL when asking
        again would not help. True when that outcome is final."""
        errors[reason] += 1
        if reason != "robots":  # told once per source, by robots.log_skipped
            log.warning("%s: %s", source.name, why)
        if reason not in PERMANENT_REASONS:
            return False
        self.store.mark_urls([entry.url], source=source.name, outcome="skipped", item_id=None)
        return True

    # --- storing ------------------------------------------------------------

    def store_document(
        self,
        doc: Document,
        report: PollReport,
        *,
        allow_alerts: bool,
        first_poll: bool = False,
        backfilled: bool = False,
        analysis: Analysis | None = None,
        late: str | None = None,
    ) -> Item | None:
        """Hash, classify and store one document; queue its alerts in the same transaction.

        ``analysis``: hash, verdict and MinHash already computed (in a worker process).
        """
        return self.store_documents(
            [ToStore(doc, report, analysis)],
            allow_alerts=allow_alerts,
            first_poll=first_poll,
            backfilled=backfilled,
            late=late,
        )[0]

    def store_documents(
        self,
        batch: Sequence[ToStore],
        *,
        allow_alerts: bool,
        first_poll: bool = False,
        backfilled: bool = False,
        late: str | None = None,
    ) -> list[Item | None]:
        """Store documents in one transaction: each is hashed (a duplicate only marks its
        URLs), grouped into a story, stored with its alerts. The stored Item of each, or
        None for a duplicate; reports are counted once the transaction is committed."""
        options = _StoreOptions(allow_alerts, first_poll, backfilled, late)
        try:
            with self.store.writing() as w:
                stored = [self._store_one(w, one, options) for one in batch]
        except IntegrityError:
            # Another writer stored one of these meanwhile. One transaction each, so that
            # only that one becomes a duplicate (it sees the other writer's row now).
            if len(batch) > 1:
                return [self.store_documents([one], **asdict(options))[0] for one in batch]
            with self.store.writing() as w:
                stored = [self._store_one(w, batch[0], options)]
        written: dict[int, str] = {}
        for one, item in zip(batch, stored, strict=True):
            report = one.report
            if item is None:
                report.duplicates += 1
                continue
            report.stored += 1
            report.stored_ids.append(item.id or 0)
            report.queued_alerts += one.alerts
            if item.tier == "relevant":
                report.relevant += 1
            try:
                item.archive_file = write_text_file(self.archive_dir, item).name
                written[item.id or 0] = item.archive_file
            except OSError as e:  # stored all the same; `export --format txt` rewrites it
                report.errors["archive"] += 1
                log.warning("%s: archive file not written: %s", item.url, e)
        self.store.set_archive_files(written)
        return stored

    def _store_one(self, w: Writer, one: ToStore, options: _StoreOptions) -> Item | None:
        doc, analysis = one.doc, one.analysis
        one.alerts = 0
        memory = (
            None if doc.verbatim else source_lines.recall(w, doc.source.name, doc.title, doc.text)
        )
        if memory and memory.removed:  # the worker's hash and verdict were of the text before
            doc, analysis = replace(doc, text=memory.text), None
        digest = analysis.content_hash if analysis else content_hash(doc.text)
        # The same text, or this URL with an older text: only the URLs are recorded.
        if (known := w.matching_item(digest, doc.url)) is not None:
            w.mark_urls(doc.urls, source=doc.source.name, outcome="duplicate", item_id=known)
            return None
        if analysis is not None:
            verdict, sig, bands = analysis.verdict, analysis.signature, analysis.bands
        else:
            verdict = (
                self.classifier.classify(doc.title, doc.text, doc.language)
                if self.classifier
                else None
            )
            sig = signature(doc.text)
            bands = band_keys(sig)
        story_id = self._story_of(w, sig, bands)
        item = Item(
            url=doc.url,
            source=doc.source.name,
            title=doc.title,
            author=doc.author,
            published=doc.published,
            published_precision=doc.published_precision,
            language=doc.language,
            content_hash=digest,
            text=doc.text,
            backfilled=options.backfilled,
            signature=pack(sig),
            story_id=story_id,
            duplicate_of=story_id,
        )
        if verdict is not None:
            item.relevance = round(verdict.relevance, 4)
            item.tier = verdict.tier
            item.evidence = [evidence_dict(e) for e in verdict.evidence]
            item.classifier_version = getattr(self.classifier, "version", None)
        alerts = []
        if (
            options.allow_alerts
            and verdict is not None
            and self._alert_due(doc.published, options.first_poll)
            # A story alerts once: through its first relevant copy, or never when that
            # copy was backfilled or arrived outside the alert window.
            and not (story_id is not None and w.story_has_relevant(story_id))
        ):
            alerts = self._plan_alerts(verdict, doc, options.late)
        w.insert_item(item, doc.urls, alerts, bands)
        if memory:
            source_lines.learn(w, doc.source.name, memory)
        one.alerts = len(alerts)
        return item

    def _story_of(self, w: Writer, sig: np.ndarray, bands: list[int]) -> int | None:
        """The story of the most similar stored item above the threshold, if any."""
        best, best_story = 0.0, None
        for cand in w.story_candidates(bands):
            sim = similarity(sig, unpack(cand.signature))
            if sim > best:
                best, best_story = sim, cand.story_id
        return best_story if best >= self.settings.stories.similarity else None

    def _alert_due(self, published: datetime | None, first_poll: bool) -> bool:
        """No floods: old articles, and undated ones met on a first poll, do not alert."""
        if published is None:
            return not first_poll
        return utcnow() - published <= self.settings.alert_window

    def _plan_alerts(
        self, verdict: Classification, doc: Document, late: str | None = None
    ) -> list[Alert]:
        return [
            Alert(
                channel=ch.label,
                story_key="",
                kind="story",
                payload={"late": late} if late else None,
            )
            for ch in self.settings.alerts
            if channel_wants(ch, verdict, language=doc.language, source=doc.source.name)
        ]


def evidence_dict(e: Evidence) -> dict[str, object]:
    return asdict(e)


def document_from_page(ext: Extracted, entry: Entry, source: Source, page_url: str) -> Document:
    """The Document of a page fetched from ``page_url`` (after redirects) and extracted,
    here or in a worker process: every URL that led to it, the entry's fallbacks."""
    url = canonical_url(page_url)
    urls = [entry.url, url]
    if ext.canonical_url:
        url = canonical_url(ext.canonical_url, url)
        urls.append(url)
    return Document(
        url=url,
        source=source,
        text=ext.text,
        title=ext.title or entry.title,
        published=ext.published or entry.published,
        language=ext.language or source.language,
        author=ext.author,
        urls=tuple(urls),
    )
