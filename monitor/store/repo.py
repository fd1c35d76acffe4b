"""Repository: the only module that reads and writes the database."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine, Insert, bindparam, case, delete, func, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from monitor.sources import Validators
from monitor.store import search
from monitor.store.db import make_engine, migrate
from monitor.store.models import (
    Alert,
    CrawlPage,
    Gap,
    Item,
    SeenUrl,
    SourceLease,
    SourceLine,
    SourceState,
    StoryBand,
    utcnow,
)
from monitor.store.polls import PollLease, PollOutcome, PollStates

T = TypeVar("T")


class WriteConflict(Exception):
    """Another writer stored a row with the same key meanwhile (a unique constraint held):
    the transaction was rolled back, and trying again sees that row."""


@dataclass(frozen=True)
class Candidate:
    item_id: int
    story_id: int
    signature: bytes


@dataclass(frozen=True)
class ItemFilter:
    source: str | None = None
    relevant_only: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


class Store:
    """Named operations over the database; sessions never leave this class."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.polls = PollStates(engine)

    @classmethod
    def open(cls, url: str) -> Store:
        """Create the engine and apply pending migrations."""
        engine = make_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def in_memory(self) -> bool:
        """An SQLite database in memory: another thread would see its own, empty one."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    # --- sources ------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        """The source's state as stored (created if it has none yet)."""
        return self.polls.load(name)[0]

    def source_states(self) -> dict[str, SourceState]:
        with self.session() as s:
            return {st.name: st for st in s.exec(select(SourceState))}

    def record_poll(
        self,
        name: str,
        *,
        error: str | None,
        window_hours: float | None | Literal["keep"] = "keep",
        lists: Mapping[str, Validators] | None = None,
        caught_up: bool = False,
        lease: PollLease | None = None,
    ) -> SourceState:
        """Remember the outcome of one poll in one transaction: success or the error, the
        window it saw, the lists it read in full (by URL), and (``caught_up``) that the
        catch-up begun with ``begin_catch_up`` is done. With ``lease`` the same transaction
        renews the poller's lease and records the source's next poll."""
        return self.polls.record(name, PollOutcome(error, window_hours, lists, caught_up), lease)

    def begin_catch_up(self, name: str, since: datetime) -> None:
        """Note that a poll reads `name`'s history back to `since`, until record_poll says
        it is done: a poll that dies meanwhile leaves it for the next one."""
        self.polls.begin_catch_up(name, since)

    def poll_state(
        self, name: str, *, cached: bool = False
    ) -> tuple[SourceState, dict[str, Validators]]:
        """What a poll starts from, read together: the source's state, and what each of its
        lists answered when last read in full, by URL. ``cached``: as this process last
        wrote them, when it has (see PollStates)."""
        return self.polls.load(name, cached=cached)

    # --- backfill checkpoints ------------------------------------------------------

    def crawl_pages_done(self, scope: str) -> dict[str, datetime]:
        """URL -> when it was last finished, for the checkpoints of one scope, whichever
        source made them."""
        q = select(CrawlPage.url, func.max(CrawlPage.done_at)).where(CrawlPage.scope == scope)
        with self.session() as s:
            return dict(s.exec(q.group_by(col(CrawlPage.url))).all())

    def mark_crawl_page(self, source: str, scope: str, url: str, entries: int = 0) -> None:
        """Checkpoint a finished sitemap file, or an article found outside the dates."""
        row = {"source": source, "scope": scope, "url": url, "entries": entries,
               "done_at": utcnow()}  # fmt: skip
        with self.writing() as w:
            w.conn.execute(_upsert(w.conn, CrawlPage, ["source", "scope", "url"]), [row])

    # --- coverage: feed windows and gaps -----------------------------------------

    def newest_published(self, source: str) -> datetime | None:
        with self.session() as s:
            q = select(func.max(Item.published)).where(Item.source == source)
            return s.exec(q).one()

    def set_next_poll(self, name: str, when: datetime | None) -> None:
        self.polls.set_next_poll(name, when)

    def items_per_source(self) -> dict[str, int]:
        q = select(Item.source, func.count()).group_by(col(Item.source))
        with self.session() as s:
            return {src: int(n) for src, n in s.exec(q)}

    def open_gap(self, source: str, start: datetime, end: datetime) -> Gap:
        """Record a gap, merged into an open one of the same source it overlaps."""
        with self.session() as s:
            q = select(Gap).where(
                Gap.source == source, Gap.status == "open", Gap.start <= end, Gap.end >= start
            )
            gap = s.exec(q).first()
            if gap is None:
                gap = Gap(source=source, start=start, end=end)
            else:
                gap.start, gap.end = min(gap.start, start), max(gap.end, end)
            s.add(gap)
            s.commit()
            return gap

    def close_gap(self, gap_id: int, *, status: str, items_found: int, route: str) -> None:
        with self.session() as s:
            gap = s.get(Gap, gap_id)
            if gap is None:
                return
            gap.status, gap.items_found, gap.route = status, items_found, route
            gap.closed_at = utcnow()
            s.add(gap)
            s.commit()

    def gaps(self, *, status: str | None = None, since: datetime | None = None) -> list[Gap]:
        q = select(Gap).order_by(col(Gap.found_at))
        if status:
            q = q.where(Gap.status == status)
        if since:
            q = q.where(Gap.found_at >= since)
        with self.session() as s:
            return list(s.exec(q))

    # --- leases: one daemon polls a source at a time ----------------------------

    def acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Take or renew the lease on `name` for `ttl`; False while another owner holds it.

        PostgreSQL: the row is read with FOR UPDATE SKIP LOCKED, so a daemon never waits on
        another's claim. SQLite: one conditional UPDATE, atomic since writes are serialised.
        """
        now = utcnow()
        with self.session() as s:
            if self.engine.dialect.name == "postgresql":
                q = (
                    select(SourceLease)
                    .where(SourceLease.name == name)
                    .with_for_update(skip_locked=True)
                )
                lease = s.exec(q).first()
                if lease is not None:
                    if lease.owner != owner and lease.until > now:
                        return False
                    lease.owner, lease.until = owner, now + ttl
                    s.add(lease)
                    s.commit()
                    return True
                # No row, or a row locked by another daemon right now.
                if s.get(SourceLease, name) is not None:
                    return False
            else:
                # Core, not ORM: nothing in the session to synchronise, and this runs per poll.
                taken = s.connection().execute(
                    update(SourceLease)
                    .where(col(SourceLease.name) == name)
                    .where((col(SourceLease.owner) == owner) | (col(SourceLease.until) < now))
                    .values(owner=owner, until=now + ttl)
                )
                s.commit()
                if taken.rowcount:
                    return True
                if s.get(SourceLease, name) is not None:
                    return False
            s.add(SourceLease(name=name, owner=owner, until=now + ttl))
            try:
                s.commit()
            except IntegrityError:  # created by another daemon a moment ago
                s.rollback()
                return False
            return True

    def renew_leases(self, owner: str, ttls: dict[str, timedelta]) -> list[str]:
        """Extend `owner`'s leases by their TTLs in one transaction; the names among them
        that `owner` no longer holds."""
        now = utcnow()
        lost = []
        with self.session() as s:
            conn = s.connection()
            for name, ttl in ttls.items():
                renewed = conn.execute(
                    update(SourceLease)
                    .where(col(SourceLease.name) == name, col(SourceLease.owner) == owner)
                    .values(until=now + ttl)
                )
                if not renewed.rowcount:
                    lost.append(name)
            s.commit()
        return lost

    def release_leases(self, owner: str) -> None:
        """Let other daemons take this owner's sources at once (on a clean stop)."""
        with self.session() as s:
            for lease in s.exec(select(SourceLease).where(SourceLease.owner == owner)):
                lease.until = utcnow()
                s.add(lease)
            s.commit()

    # --- urls and items -----------------------------------------------------

    def unseen_urls(self, urls: Sequence[str]) -> list[str]:
        """The URLs among `urls` that have not led to a final outcome yet, in order."""
        if not urls:
            return []
        seen: set[str] = set()
        with self.session() as s:
            for i in range(0, len(urls), 500):
                chunk = list(urls[i : i + 500])
                seen.update(s.exec(select(SeenUrl.url).where(col(SeenUrl.url).in_(chunk))))
        return [u for u in dict.fromkeys(urls) if u not in seen]

    def item(self, item_id: int) -> Item | None:
        with self.session() as s:
            return s.get(Item, item_id)

    @contextmanager
    def writing(self) -> Iterator[Writer]:
        """One transaction for many writes (committed at the end, rolled back on error):
        each write in it sees the ones before. WriteConflict when a unique key was taken
        by another writer meanwhile."""
        try:
            with self.engine.begin() as conn:
                w = Writer(conn)
                yield w
                w.flush()
        except IntegrityError as e:
            raise WriteConflict(str(e.orig)) from e

    def mark_urls(
        self, urls: Sequence[str], *, source: str, outcome: str, item_id: int | None
    ) -> None:
        with self.writing() as w:
            w.mark_urls(urls, source=source, outcome=outcome, item_id=item_id)

    def story_candidates(self, keys: Sequence[int], limit: int = 50) -> list[Candidate]:
        with self.writing() as w:
            return w.story_candidates(keys, limit)

    def add_item(
        self,
        item: Item,
        urls: Sequence[str],
        alerts: Sequence[Alert] = (),
        bands: Sequence[int] = (),
    ) -> tuple[Item, bool]:
        """Store `item` with its URLs, story bands and queued alerts in one transaction.

        Returns (item, created). When an item with the same content hash or URL
        exists, the existing one is returned and the URLs are recorded against it.
        """
        story_id = item.story_id
        try:
            with self.writing() as w:
                existing = w.add_item(item, urls, alerts, bands)
        except WriteConflict:  # lost a race with another writer of the same article
            item.id, item.story_id = None, story_id  # what the rolled-back insert set
            for alert in alerts:
                alert.id = alert.item_id = None
            with self.writing() as w:
                existing = w.add_item(item, urls, alerts, bands)
        if existing is None:
            return item, True
        stored = self.item(existing)
        assert stored is not None
        return stored, False

    def update_classification(
        self,
        item_id: int,
        *,
        relevance: float | None,
        tier: str | None,
        evidence: list[dict[str, object]] | None,
        version: str | None,
    ) -> None:
        with self.session() as s:
            item = s.get(Item, item_id)
            if item is None:
                return
            item.relevance, item.tier, item.evidence = relevance, tier, evidence
            item.classifier_version = version
            s.add(item)
            s.commit()

    def set_archive_files(self, names: dict[int, str]) -> None:
        """Record the archive file written for each item id (only files that were written)."""
        if not names:
            return
        with self.writing() as w:
            w.conn.execute(
                update(Item).where(col(Item.id) == bindparam("item_id")),
                [{"item_id": i, "archive_file": name} for i, name in names.items()],
            )

    def items(self, flt: ItemFilter = ItemFilter()) -> list[Item]:
        q = select(Item)
        if flt.source:
            q = q.where(Item.source == flt.source)
        if flt.relevant_only:
            q = q.where(Item.tier == "relevant")
        if flt.since:
            q = q.where(func.coalesce(Item.published, Item.fetched_at) >= flt.since)
        if flt.until:
            q = q.where(func.coalesce(Item.published, Item.fetched_at) < flt.until)
        q = q.order_by(col(Item.id))
        if flt.limit:
            q = q.limit(flt.limit)
        with self.session() as s:
            return list(s.exec(q))

    def iter_items(self, batch: int = 500) -> Iterator[Item]:
        """All items in id order, a batch at a time, for exports of any size."""
        last = 0
        while True:
            with self.session() as s:
                rows = list(
                    s.exec(
                        select(Item).where(col(Item.id) > last).order_by(col(Item.id)).limit(batch)
                    )
                )
            if not rows:
                return
            yield from rows
            last = rows[-1].id or last

    def alerted_items(self, item_ids: Sequence[int]) -> set[int]:
        """Ids among `item_ids` whose story has had an alert delivered."""
        if not item_ids:
            return set()
        sent_stories = (
            select(Item.story_id)
            .join(Alert, col(Alert.item_id) == col(Item.id))
            .where(col(Alert.status) == "sent")
        )
        with self.session() as s:
            rows = s.exec(
                select(Item.id)
                .where(col(Item.id).in_(list(item_ids)))
                .where(col(Item.story_id).in_(sent_stories))
            )
            return {i for i in rows if i is not None}

    def newest_item_times(self, sources: Sequence[str]) -> dict[str, datetime]:
        """When each source last had an item stored."""
        q = (
            select(Item.source, func.max(Item.fetched_at))
            .where(col(Item.source).in_(list(sources)))
            .group_by(col(Item.source))
        )
        with self.session() as s:
            return {src: ts for src, ts in s.exec(q) if ts is not None}

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def outbox_stats(self) -> dict[str, tuple[int, datetime | None]]:
        """Queued alerts per channel: (count, oldest created_at)."""
        q = (
            select(Alert.channel, func.count(), func.min(Alert.created_at))
            .where(Alert.status == "queued")
            .group_by(Alert.channel)
        )
        with self.session() as s:
            return {ch: (int(n), oldest) for ch, n, oldest in s.exec(q)}

    def count_items(self) -> int:
        with self.session() as s:
            return int(s.exec(select(func.count()).select_from(Item)).one())


class Writer:
    """The article writes of one transaction (``Store.writing``), in SQLAlchemy Core: they
    run for every stored article, and the ORM's unit of work cost more than everything
    else the main process does for one."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # Rows held back until a read may need them or the transaction ends, then written
        # with one statement each: a batch of articles costs a handful of statements
        # instead of a handful per article.
        self._urls: list[dict[str, Any]] = []
        self._bands: list[dict[str, int]] = []
        self._own_story: list[dict[str, int]] = []
        self._search: list[tuple[int, str]] = []
        # Lines learnt and not yet written, (source, key) -> [items, title], counted
        # together: ``known_lines`` adds them to what it reads.
        self._lines: dict[tuple[str, int], list[Any]] = {}
        # What the transaction read of source lines: source -> key -> (items, title), or
        # None when the source has no such line. Only this writer changes them meanwhile.
        self._line_rows: dict[str, dict[int, tuple[int, bool] | None]] = {}

    def flush(self) -> None:
        """Write the rows held back, in the order they came (a URL keeps its first)."""
        self._flush_lines()
        if self._urls:
            self.conn.execute(self._insert_ignoring_conflicts(SeenUrl), self._urls)
        if self._own_story:
            self.conn.execute(_SET_OWN_STORY, self._own_story)
        if self._bands:
            self.conn.execute(insert(StoryBand), self._bands)
        search.index_items(self.conn, self._search)
        self._urls, self._bands, self._own_story, self._search = [], [], [], []

    def mark_urls(
        self, urls: Sequence[str], *, source: str, outcome: str, item_id: int | None
    ) -> None:
        """Remember URLs with their outcome; a URL already remembered keeps its first."""
        now = utcnow()
        self._urls += [
            {"url": u, "source": source, "outcome": outcome, "item_id": item_id, "seen_at": now}
            for u in dict.fromkeys(urls)
        ]

    def known_lines(self, source: str, keys: Sequence[int]) -> dict[int, tuple[int, bool]]:
        """Of the line keys asked, those ``source`` has seen: key -> (items, is a title)."""
        if not keys:
            return {}
        asked = set(keys)
        read = self._line_rows.setdefault(source, {})
        if missing := [key for key in asked if key not in read]:
            rows = self.conn.execute(_KNOWN_LINES, {"source": source, "keys": missing})
            read.update(dict.fromkeys(missing))
            read.update({key: (pages, title) for key, pages, title in rows.all()})
        known: dict[int, tuple[int, bool]] = {}
        for key in asked:  # as read, with what was learnt since and not yet written
            found, held = read[key], self._lines.get((source, key))
            if held is not None:
                pages, title = found or (0, False)
                found = (pages + held[0], title or held[1])
            if found is not None:
                known[key] = found
        return known

    def learn_lines(
        self,
        source: str,
        keys: Sequence[int],
        title: int | None,
        forget_before: datetime | None = None,
    ) -> None:
        """Count one more item of ``source`` carrying each of ``keys``; mark ``title`` as
        an item's title. With ``forget_before``, also forget lines (of any source) seen on
        one item only, last before then: the index on last_seen keeps that a short scan.

        Held back and written with the transaction's other rows: one statement for a
        batch of items instead of one for each."""
        for key in dict.fromkeys(keys):
            self._lines.setdefault((source, key), [0, False])[0] += 1
        if title is not None:
            self._lines.setdefault((source, title), [0, False])[1] = True
        if forget_before is None:
            return
        self._flush_lines()  # a line counted again now is not one to forget
        self.conn.execute(
            delete(SourceLine).where(
                col(SourceLine.last_seen) < forget_before,
                col(SourceLine.pages) <= 1,
                col(SourceLine.title).is_(False),
            )
        )
        self._line_rows = {}  # some of what was read may be gone

    def _flush_lines(self) -> None:
        if not self._lines:
            return
        now = utcnow()
        rows = [
            {"source": source, "key": key, "pages": pages, "title": title, "last_seen": now}
            for (source, key), (pages, title) in self._lines.items()
        ]
        self.conn.execute(_learn_lines(self.conn.dialect.name), rows)
        for (source, key), (pages, title) in self._lines.items():  # as now written
            read = self._line_rows.get(source)
            if read is not None and key in read:
                before = read[key] or (0, False)
                read[key] = (before[0] + pages, before[1] or title)
        self._lines = {}

    def _insert_ignoring_conflicts(self, model: type[SQLModel]) -> Insert:
        """INSERT that skips rows whose key is already there (SQLite and PostgreSQL)."""
        table = model.__table__  # type: ignore[attr-defined]
        if self.conn.dialect.name == "postgresql":
            return postgresql_insert(table).on_conflict_do_nothing()
        return sqlite_insert(table).on_conflict_do_nothing()

    def story_candidates(self, keys: Sequence[int], limit: int = 50) -> list[Candidate]:
        """Stored items sharing at least one LSH band key, at most `limit` of those that
        share the most."""
        self.flush()
        if not keys:
            return []
        hits = func.count().label("hits")
        q = (
            select(StoryBand.item_id, hits)
            .where(col(StoryBand.key).in_(list(keys)))
            .group_by(col(StoryBand.item_id))
            .order_by(hits.desc())
            .limit(limit)
        )
        ids = [item_id for item_id, _ in self.conn.execute(q)]
        if not ids:
            return []
        rows = self.conn.execute(
            select(Item.id, Item.story_id, Item.signature).where(col(Item.id).in_(ids))
        )
        return [Candidate(i, sid or i, sig) for i, sid, sig in rows if i is not None and sig]

    def items_matching(
        self, hashes: Sequence[str], urls: Sequence[str]
    ) -> list[tuple[int, str, str]]:
        """(id, content hash, URL) of the items stored with any of these hashes or URLs:
        what ``matching_item`` would look at, for a whole batch at once."""
        self.flush()
        out: list[tuple[int, str, str]] = []
        for part_hashes, part_urls in zip(_chunks(hashes), _chunks(urls), strict=True):
            q = select(Item.id, Item.content_hash, Item.url).where(
                col(Item.content_hash).in_(part_hashes) | col(Item.url).in_(part_urls)
            )
            out.extend((i, h, u) for i, h, u in self.conn.execute(q).all() if i is not None)
        return out

    def band_hits(self, keys: Sequence[int]) -> list[tuple[int, int]]:
        """(band key, item id) of the stored items with any of these LSH band keys."""
        self.flush()
        out: list[tuple[int, int]] = []
        for part in _chunks(list(dict.fromkeys(keys))):
            q = select(StoryBand.key, StoryBand.item_id).where(col(StoryBand.key).in_(part))
            out.extend(self.conn.execute(q).all())
        return out

    def candidates(self, ids: Sequence[int]) -> list[Candidate]:
        """The stored items of these ids, as story candidates (those with a signature)."""
        self.flush()
        out: list[Candidate] = []
        for part in _chunks(list(dict.fromkeys(ids))):
            rows = self.conn.execute(
                select(Item.id, Item.story_id, Item.signature).where(col(Item.id).in_(part))
            )
            out.extend(
                Candidate(i, sid or i, sig) for i, sid, sig in rows.all() if i is not None and sig
            )
        return out

    def story_has_relevant(self, story_id: int) -> bool:
        self.flush()
        q = select(Item.id).where(Item.story_id == story_id, Item.tier == "relevant").limit(1)
        return self.conn.execute(q).first() is not None

    def add_item(
        self,
        item: Item,
        urls: Sequence[str],
        alerts: Sequence[Alert] = (),
        bands: Sequence[int] = (),
    ) -> int | None:
        """Insert `item` with its URLs, story bands and alerts; sets ``item.id``.

        Returns None, or the id of the item already stored with the same content hash or
        URL (then `urls` are recorded against that one and nothing else is written).
        """
        existing = self.matching_item(item.content_hash, item.url)
        if existing is not None:
            self.mark_urls(urls, source=item.source, outcome="duplicate", item_id=existing)
            return existing
        self.insert_item(item, urls, alerts, bands)
        return None

    def matching_item(self, content_hash: str, url: str) -> int | None:
        """The id of the item stored with this content hash or URL, if any."""
        self.flush()
        q = (
            select(Item.id)
            .where((Item.content_hash == content_hash) | (Item.url == url))
            .order_by(case((col(Item.content_hash) == content_hash, 0), else_=1))
        )  # the same text first: a URL's older text is the weaker match
        return self.conn.execute(q.limit(1)).scalar()

    def insert_item(
        self,
        item: Item,
        urls: Sequence[str],
        alerts: Sequence[Alert] = (),
        bands: Sequence[int] = (),
        document: str | None = None,
    ) -> None:
        """Insert a new item (``matching_item`` said there is none) with its URLs, story
        bands and alerts; sets ``item.id``. ``document``: the item's ``search_text``, when
        it was made elsewhere."""
        item.id = _insert_row(self.conn, item)
        if document is None:
            document = search.search_text(item.title, item.text)
        self._search.append((item.id, document))
        if item.story_id is None:
            item.story_id = item.id  # the first item of a new story names it
            self._own_story.append({"item_id": item.id})
        self._bands += [
            {"key": key, "item_id": item.id, "band": b}
            for b, key in enumerate(dict.fromkeys(bands))
        ]
        self.mark_urls(urls, source=item.source, outcome="stored", item_id=item.id)
        for alert in alerts:
            alert.item_id = item.id
            alert.story_key = str(item.story_id)
            # One alert per story and channel, ever; the unique constraint backs this up.
            found = self.conn.execute(
                _ALERT_OF_STORY, {"channel": alert.channel, "key": alert.story_key}
            )
            if found.first() is None:
                alert.id = _insert_row(self.conn, alert)


def _chunks(values: Sequence[T], size: int = 500) -> list[list[T]]:
    """``values`` in parts small enough for one IN (...) each; one empty part when empty."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)] or [[]]


# Built once: these run for every stored article, and building a statement costs more
# than SQLite takes to run it.
_KNOWN_LINES = select(SourceLine.key, SourceLine.pages, SourceLine.title).where(
    col(SourceLine.source) == bindparam("source"),
    col(SourceLine.key).in_(bindparam("keys", expanding=True)),
)
_SET_OWN_STORY = (
    update(Item).where(col(Item.id) == bindparam("item_id")).values(story_id=bindparam("item_id"))
)
_ALERT_OF_STORY = (
    select(Alert.id)
    .where(col(Alert.channel) == bindparam("channel"), col(Alert.story_key) == bindparam("key"))
    .limit(1)
)


@lru_cache(maxsize=2)
def _learn_lines(dialect: str) -> Insert:
    """The upsert adding items to lines already known (built once: it runs per article)."""
    table = SourceLine.__table__  # type: ignore[attr-defined]
    upsert = postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return upsert.on_conflict_do_update(
        index_elements=["source", "key"],
        set_={
            "pages": table.c.pages + upsert.excluded.pages,
            "title": table.c.title | upsert.excluded.title,
            "last_seen": upsert.excluded.last_seen,
        },
    )


def _insert_row(conn: Connection, obj: SQLModel) -> int:
    """INSERT a table model's column values (Core, no ORM session); its new id."""
    table = obj.__table__  # type: ignore[attr-defined]
    values = {c.name: getattr(obj, c.name) for c in table.columns if c.name != "id"}
    # Values as parameters, not in the statement: the compiled INSERT is cached.
    key = conn.execute(insert(table), values).inserted_primary_key
    assert key is not None
    return int(key[0])


def _upsert(conn: Connection, model: type[SQLModel], keys: list[str]) -> Insert:
    """INSERT that updates the row already there with the same `keys`."""
    table = model.__table__  # type: ignore[attr-defined]
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(table)
    changed = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys + ["id"]}
    return stmt.on_conflict_do_update(index_elements=keys, set_=changed)
