"""One article, the same way for a poll, a catch-up and a backfill.

fetch the page (async, polite) -> extract it (in a worker process or a thread) -> its
Document -> its text without its source's known furniture lines -> analyse that text:
content hash, MinHash, classify (in a worker process or a thread) -> store it with its story
and queued alerts, a batch of articles per transaction -> its Outcome.

What happened to each article is returned as an Outcome; reports are sums of outcomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from monitor import source_lines
from monitor.alerts.routing import channel_wants
from monitor.analysis import Analysis, Page, analyse, analyse_in_worker, extract_page
from monitor.batch_index import BatchIndex, best_story
from monitor.classify import Classification, Classifier, Evidence
from monitor.config import Settings, Source
from monitor.extracted import Extracted, PageTooComplex
from monitor.fetch import Fetcher, FetchError
from monitor.fingerprint import pack
from monitor.pool_calls import PoolCalls
from monitor.sources import DateRange, Entry
from monitor.store.archive import (
    SWEEP_AFTER,
    discard_staged,
    place_staged,
    sweep_staging,
    write_text_file,
)
from monitor.store.db import DB_UNAVAILABLE, db_reason
from monitor.store.models import Alert, Item, utcnow
from monitor.store.repo import Store, WriteConflict, Writer
from monitor.urls import canonical_url

log = logging.getLogger("monitor.articles")
A = TypeVar("A")
R = TypeVar("R")

Status = Literal["stored", "duplicate", "no_text", "skipped", "error", "out_of_range"]

# Article fetch failures that will not get better by asking again: the URL is remembered.
PERMANENT_REASONS = {
    "http_404", "http_410", "not_html", "robots", "bad_scheme", "too_large", "too_complex",
}  # fmt: skip
STORE_BATCH = 50  # articles written per transaction at most
STORE_DELAY = 0.2  # seconds an article waits at most for others to share its transaction


@dataclass(frozen=True)
class Outcome:
    """What became of one listed article."""

    url: str  # as listed
    status: Status
    # Why it was skipped or failed ("http_404", "too_complex"), or what went wrong with it
    # though it was stored ("archive": its text file was not written).
    reason: str | None = None
    item_id: int | None = None  # the item stored
    relevant: bool = False
    alerts: int = 0  # alerts queued with it
    fetched: bool = False  # its page was fetched

    @property
    def final(self) -> bool:
        """Trying the article again would change nothing."""
        return self.status != "error"


@dataclass(kw_only=True)
class Tally:
    """Outcomes summed."""

    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    no_text: int = 0
    out_of_range: int = 0  # fetched, but the page's own date is outside the dates wanted
    relevant: int = 0
    queued_alerts: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # skipped or failed, by reason
    stored_ids: list[int] = field(default_factory=list)

    def add(self, o: Outcome) -> None:
        self.fetched += o.fetched
        if o.status == "stored":
            self.stored += 1
            self.stored_ids.append(o.item_id or 0)
            self.relevant += o.relevant
            self.queued_alerts += o.alerts
            if o.reason:
                self.errors[o.reason] += 1
        elif o.status == "duplicate":
            self.duplicates += 1
        elif o.status == "no_text":
            self.no_text += 1
        elif o.status == "out_of_range":
            self.out_of_range += 1
        else:
            self.errors[o.reason or o.status] += 1

    def add_tally(self, other: Tally) -> None:
        for name in ("fetched", "stored", "duplicates", "no_text", "out_of_range", "relevant",
                     "queued_alerts"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.update(other.errors)
        self.stored_ids.extend(other.stored_ids)


@dataclass(frozen=True)
class StoreOptions:
    """How the articles of one run are stored."""

    alerts: bool = True  # may queue alerts (for articles inside alert_window)
    first_poll: bool = False  # an undated article met on a source's first poll does not alert
    backfilled: bool = False
    late: str | None = None  # why they arrive late, carried by their alerts
    window: DateRange | None = None  # only pages whose own date is inside are stored


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


@dataclass
class ToStore:
    """A document waiting to be stored, with the analysis made off the event loop."""

    doc: Document
    options: StoreOptions
    # A text and its analysis: the document's text without its source's furniture lines
    # as known when it came in, which is what storing it most likely finds.
    analysed: tuple[str, Analysis] | None = None
    listed_as: str = ""  # the URL it was listed under (default: the document's)
    fetched: bool = True

    @property
    def staged(self) -> str | None:
        """Its analysed text as written ahead into the archive, if it was."""
        return self.analysed[1].staged if self.analysed else None


def document_from_page(ext: Extracted, entry: Entry, source: Source, page_url: str) -> Document:
    """The Document of a page fetched from ``page_url`` (after redirects) and extracted:
    every URL that led to it, and the entry's title and date as fallbacks."""
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


class Articles:
    """The article path. One per process: concurrent polls and backfills share its batches."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher | None,
        classifier: Classifier | None,
    ) -> None:
        """``fetcher``: None when only documents are stored (``store_documents``)."""
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.classifier = classifier
        self.archive_dir = Path(settings.storage.archive_dir)
        self._next_sweep = 0.0  # when to look for texts written ahead and never stored
        self._sweep_staging()
        self._waiting: list[tuple[ToStore, asyncio.Future[Outcome]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._busy = 0  # articles on their way through `process`
        # Batches are written by one thread, in order, so that a slow one never holds up
        # the event loop (and the polls of other sources) meanwhile.
        self._writer: ThreadPoolExecutor | None = None
        self._writes: set[asyncio.Task[None]] = set()
        # Texts waiting for their source's lines to be recalled, and whether a task is
        # taking them to the writing thread: those that queue up meanwhile go together.
        self._to_recall: list[tuple[Document, asyncio.Future[source_lines.Recalled]]] = []
        self._recalling = False

    async def process(
        self,
        entry: Entry,
        source: Source,
        options: StoreOptions,
        *,
        pool: PoolCalls | None = None,
        pages: asyncio.Semaphore | None = None,
    ) -> Outcome:
        """Fetch, analyse and store one listed article (``pool``: analyse in a worker
        process). Never raises for the article's own trouble.

        ``pages`` bounds the pages held in memory: a slot is held from the request until the
        page is extracted, not while its text waits to be analysed and stored, so that the
        next pages are fetched and extracted while a batch is written."""
        self._busy += 1
        try:
            try:
                async with pages or contextlib.nullcontext():
                    page_url, ext = await self._fetch_and_extract(entry, source, pool)
            except FetchError as e:
                return self.unusable(entry.url, source, e.reason, e)
            except PageTooComplex as e:
                return self.unusable(entry.url, source, "too_complex", f"skipped: {e}", True)
            if ext is None or not ext.text.strip():
                urls = [entry.url, canonical_url(page_url)]
                self.store.mark_urls(urls, source=source.name, outcome="no_text", item_id=None)
                return Outcome(entry.url, "no_text", fetched=True)
            doc = document_from_page(ext, entry, source, page_url)
            window = options.window
            if window and doc.published and not window.contains(doc.published.date()):
                # Not stored, and not "seen": a later poll or a wider backfill may want it.
                return Outcome(entry.url, "out_of_range", fetched=True)
            analysed = await self._analyse(doc, pool)
            return await self._store(ToStore(doc, options, analysed, entry.url))
        finally:
            self._busy -= 1

    def unusable(
        self, url: str, source: Source, reason: str, why: object, fetched: bool = False
    ) -> Outcome:
        """An article that could not be used: logged, and its URL remembered when asking
        again would not help."""
        if reason != "robots":  # told once per source, by robots.log_skipped
            log.warning("%s: %s", source.name, why)
        if reason not in PERMANENT_REASONS:
            return Outcome(url, "error", reason, fetched=fetched)
        self.store.mark_urls([url], source=source.name, outcome="skipped", item_id=None)
        return Outcome(url, "skipped", reason, fetched=fetched)

    async def _fetch_and_extract(
        self, entry: Entry, source: Source, pool: PoolCalls | None
    ) -> tuple[str, Extracted | None]:
        """The page's URL after redirects, and what was extracted from it: fetched here
        (requests to many hosts wait on the network side by side), extracted in a worker or,
        without a pool, off the event loop. The page itself is not kept."""
        fetcher = self.fetcher
        if fetcher is None:
            raise RuntimeError("this article path was built without an HTTP client")
        page = await fetcher.get(entry.url, accept="html")
        found = Page(page.content, page.encoding, page.url, entry.published, source.language)
        if pool is not None:
            return page.url, await pool.call(extract_page, found)
        return page.url, await asyncio.to_thread(extract_page, found)

    async def _analyse(self, doc: Document, pool: PoolCalls | None) -> tuple[str, Analysis]:
        """The text without the furniture lines its source is known for now, and its
        analysis, made in a worker or off the event loop: storing recalls the lines again
        in its own transaction and analyses again only if more were learnt meanwhile."""
        memory = await self._recall(doc)
        text = memory.text if memory.removed else doc.text
        # The text is written ahead into the archive there too (store/archive.py).
        stage_in = None if doc.verbatim else self.archive_dir
        if pool is not None:
            found = await pool.call(analyse_in_worker, doc.title, text, doc.language, stage_in)
        else:
            found = await asyncio.to_thread(
                analyse, doc.title, text, doc.language, self.classifier, stage_in
            )
        return text, found

    async def _recall(self, doc: Document) -> source_lines.Recalled:
        """The text without its source's furniture lines, recalled on the writing thread
        with the texts that wait for it meanwhile, in one transaction: a hand-off and a
        transaction for each article cost more than the look-up itself."""
        done: asyncio.Future[source_lines.Recalled] = asyncio.get_running_loop().create_future()
        self._to_recall.append((doc, done))
        if not self._recalling:
            self._recalling = True
            task = asyncio.get_running_loop().create_task(self._recall_waiting())
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        return await done

    async def _recall_waiting(self) -> None:
        batch: list[tuple[Document, asyncio.Future[source_lines.Recalled]]] = []
        try:
            while self._to_recall:
                batch, self._to_recall = self._to_recall, []
                try:
                    found = await self._in_store_thread(self._recall_all, [d for d, _ in batch])
                except Exception as e:  # each caller hears it, as from its own look-up
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(e)
                    continue
                for (_, done), memory in zip(batch, found, strict=True):
                    if not done.done():  # its caller was cancelled
                        done.set_result(memory)
        finally:
            self._recalling = False
            for _, done in batch + self._to_recall:  # this task was cancelled: so are they
                done.cancel()
            self._to_recall = []

    def _recall_all(self, docs: list[Document]) -> list[source_lines.Recalled]:
        with self.store.writing() as w:
            lines = source_lines.prefetch(w, [(d.source.name, d.text) for d in docs])
            return [
                source_lines.recall(w, d.source.name, d.title, d.text, found)
                for d, found in zip(docs, lines, strict=True)
            ]

    # --- storing, a batch per transaction -------------------------------------------------

    async def _store(self, one: ToStore) -> Outcome:
        """Store with the articles ready at about the same time: at once when every
        article in flight is waiting here or STORE_BATCH are, else after STORE_DELAY."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((one, done))
        if len(self._waiting) >= min(STORE_BATCH, self._busy):
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(STORE_DELAY, self._flush)
        return await done

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self._writes.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[tuple[ToStore, asyncio.Future[Outcome]]]) -> None:
        docs = [one for one, _ in batch]
        try:
            outcomes = await self._in_store_thread(self.store_documents, docs)
        except DB_UNAVAILABLE as e:  # not marked seen: fetched again next time
            log.error(
                "could not store %d articles, the database is unavailable: %s",
                len(batch),
                db_reason(e),
            )
            outcomes = [Outcome(one.listed_as, "error", "store") for one in docs]
        except Exception:  # a bug must not stop the others; the URLs stay unseen
            log.exception("could not store %d articles", len(batch))
            outcomes = [Outcome(one.listed_as, "error", "store") for one in docs]
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            if not done.done():
                done.set_result(outcome)

    async def _in_store_thread(self, work: Callable[[A], R], arg: A) -> R:
        """``work(arg)`` on the thread that writes the batches (one database connection)."""
        if self.store.in_memory:  # its one connection belongs to this thread
            return work(arg)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="monitor-store")
        return await asyncio.get_running_loop().run_in_executor(self._writer, work, arg)

    def close(self) -> None:
        """Let the writing thread end once the batches given to it are written."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _sweep_staging(self) -> None:
        """At start and then hourly: texts written ahead for articles that were cancelled
        after their analysis, or whose process was stopped, are removed once an hour old."""
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_AFTER
        if swept := sweep_staging(self.archive_dir):
            log.info("removed %d texts written ahead that were never stored", swept)

    def store_documents(self, batch: Sequence[ToStore]) -> list[Outcome]:
        """Store documents in one transaction: each is hashed (a duplicate only marks its
        URLs), grouped into a story, stored with its alerts; then its archive file."""
        self._sweep_staging()
        try:
            return self._store_documents(batch)
        except BaseException:  # nothing stored: their texts written ahead are not needed
            for one in batch:
                discard_staged(one.staged)
            raise

    def _store_documents(self, batch: Sequence[ToStore]) -> list[Outcome]:
        try:
            with self.store.writing() as w:
                stored = self._store_all(w, batch)
        except WriteConflict:
            # Another writer stored one of these meanwhile. One transaction each, so that
            # only that one becomes a duplicate (it sees the other writer's row now).
            if len(batch) > 1:
                return [self.store_documents([one])[0] for one in batch]
            with self.store.writing() as w:
                stored = self._store_all(w, batch)
        outcomes = []
        written: dict[int, str] = {}
        for one, (item, alerts) in zip(batch, stored, strict=True):
            url = one.listed_as or one.doc.url
            if item is None:
                discard_staged(one.staged)
                outcomes.append(Outcome(url, "duplicate", fetched=one.fetched))
                continue
            problem = None
            try:
                item.archive_file = self._archive(item, one)
                written[item.id or 0] = item.archive_file
            except OSError as e:  # stored all the same; `export --format txt` rewrites it
                problem = "archive"
                log.warning("%s: archive file not written: %s", item.url, e)
            relevant = item.tier == "relevant"
            outcomes.append(Outcome(url, "stored", problem, item.id, relevant, alerts, one.fetched))
        self.store.set_archive_files(written)
        return outcomes

    def _archive(self, item: Item, one: ToStore) -> str:
        """The item's archive file: the text written ahead when it is the one stored (it
        was not shortened again meanwhile), else written now."""
        staged = one.staged
        if staged is not None and one.analysed is not None and one.analysed[0] == item.text:
            try:
                return place_staged(staged, self.archive_dir, item).name
            except OSError as e:  # gone meanwhile (swept, removed by hand): written again
                log.info("%s: the text written ahead could not be moved (%s)", item.url, e)
        discard_staged(staged)
        return write_text_file(self.archive_dir, item).name

    def _store_all(self, w: Writer, batch: Sequence[ToStore]) -> list[tuple[Item | None, int]]:
        index = _index(w, batch)
        recalled = [(one.doc.source.name, one.doc.text) for one in batch if not one.doc.verbatim]
        lines = iter(source_lines.prefetch(w, recalled))
        return [
            self._store_one(w, one, index, None if one.doc.verbatim else next(lines))
            for one in batch
        ]

    def _store_one(
        self, w: Writer, one: ToStore, index: BatchIndex, lines: source_lines.Lines | None
    ) -> tuple[Item | None, int]:
        """The stored item (None for a duplicate) and the alerts queued with it. ``lines``:
        its text's lines as ``source_lines.prefetch`` read them; None for a verbatim text."""
        doc, options = one.doc, one.options
        memory = (
            None
            if lines is None
            else source_lines.recall(w, doc.source.name, doc.title, doc.text, lines)
        )
        if memory and memory.removed:
            doc = replace(doc, text=memory.text)
        if one.analysed is not None and one.analysed[0] == doc.text:
            found = one.analysed[1]
        else:  # not analysed yet, or more lines were learnt since
            found = analyse(doc.title, doc.text, doc.language, self.classifier)
        # The same text, or this URL with an older text: only the URLs are recorded.
        if (known := index.matching_item(found, doc.url)) is not None:
            w.mark_urls(doc.urls, source=doc.source.name, outcome="duplicate", item_id=known)
            return None, 0
        verdict = found.verdict
        similar, story_id = best_story(found.signature, index.story_candidates(found))
        if similar < self.settings.stories.similarity:
            story_id = None  # no stored item is similar enough: a story of its own
        item = Item(
            url=doc.url,
            source=doc.source.name,
            title=doc.title,
            author=doc.author,
            published=doc.published,
            published_precision=doc.published_precision,
            language=doc.language,
            content_hash=found.content_hash,
            text=doc.text,
            backfilled=options.backfilled,
            signature=pack(found.signature),
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
            options.alerts
            and verdict is not None
            and self._alert_due(doc.published, options.first_poll)
            # A story alerts once: through its first relevant copy, or never when that
            # copy was backfilled or arrived outside the alert window.
            and not (story_id is not None and w.story_has_relevant(story_id))
        ):
            alerts = self._plan_alerts(verdict, doc, options.late)
        w.insert_item(item, doc.urls, alerts, found.bands, found.document)
        assert item.id is not None and item.story_id is not None and item.signature is not None
        index.add(item.id, item.story_id, found, doc.url, item.signature)
        if memory:
            source_lines.learn(w, doc.source.name, memory)
        return item, len(alerts)

    def _alert_due(self, published: datetime | None, first_poll: bool) -> bool:
        """No floods: old articles, and undated ones met on a first poll, do not alert."""
        if published is None:
            return not first_poll
        return utcnow() - published <= self.settings.alert_window

    def _plan_alerts(self, verdict: Classification, doc: Document, late: str | None) -> list[Alert]:
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


def _index(w: Writer, batch: Sequence[ToStore]) -> BatchIndex:
    """The look-ups of the batch's articles analysed before storing, read at once."""
    ahead = [(one.analysed[1], one.doc.url) for one in batch if one.analysed is not None]
    return BatchIndex(w, [a for a, _ in ahead], [url for _, url in ahead])


def evidence_dict(e: Evidence) -> dict[str, object]:
    return dict(vars(e))  # its fields are plain values: asdict's deep copy cost 0.1 ms
