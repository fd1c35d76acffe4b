"""Database tables. Every schema change comes with an Alembic migration in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    LargeBinary,
    SmallInteger,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlmodel import Field, SQLModel, col

from monitor.config import SHARED_ANALYST


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(index: bool = False, nullable: bool = True) -> Column:
    return Column(UTCDateTime(), index=index, nullable=nullable)


class SourceState(SQLModel, table=True):
    """What the monitor remembers about one configured source between polls."""

    __tablename__ = "source_state"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=200)
    polls: int = 0
    last_poll_at: datetime | None = Field(default=None, sa_column=_ts())
    last_success_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: datetime | None = Field(default=None, sa_column=_ts())
    consecutive_failures: int = 0
    next_poll_at: datetime | None = Field(default=None, sa_column=_ts())
    # Hours of publishing the last poll could see (newest minus oldest dated entry).
    window_hours: float | None = None
    # Set while a poll reads the source's history back to this point; a poll that died
    # before it was done leaves it set, and the next poll catches up from here again.
    catch_up_from: datetime | None = Field(default=None, sa_column=_ts())


class ListState(SQLModel, table=True):
    """A list of one source (feed page, listing page, sitemap) as last read in full: its
    validators, so the next poll asks conditionally; for a sitemap, the <lastmod> its
    index gave it; for a sitemap index, its children, reused when it answers 304."""

    __tablename__ = "list_state"

    source: str = Field(primary_key=True, max_length=200)
    url: str = Field(primary_key=True, max_length=2000)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    lastmod: datetime | None = Field(default=None, sa_column=_ts())
    children: list[list[str | None]] | None = Field(default=None, sa_column=Column(JSON))
    read_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Item(SQLModel, table=True):
    """One stored article: its text, where it came from and what the classifier said."""

    __tablename__ = "item"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, index=True, max_length=2000)
    source: str = Field(index=True, max_length=200)
    title: str | None = Field(default=None, sa_column=Column(Text))
    author: str | None = Field(default=None, max_length=500)
    published: datetime | None = Field(default=None, sa_column=_ts(index=True))
    # "month" when only the month is known (published is then its first day); else null.
    published_precision: str | None = Field(default=None, max_length=8)
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True, nullable=False))
    language: str | None = Field(default=None, max_length=8, index=True)
    content_hash: str = Field(unique=True, index=True, max_length=16)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # Classifier output; null until a classifier has looked at the item.
    relevance: float | None = None
    tier: str | None = Field(default=None, max_length=16, index=True)
    evidence: list[dict[str, object]] | None = Field(default=None, sa_column=Column(JSON))
    classifier_version: str | None = Field(default=None, max_length=32)
    story_id: int | None = Field(default=None, index=True)
    duplicate_of: int | None = Field(default=None)
    backfilled: bool = False
    signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    # NNN_<content_hash>.txt in the archive folder, set once that file has been written.
    archive_file: str | None = Field(default=None, max_length=100)


# Lists walk items newest first by this key (see store/queries.py): the date an item counts
# by (published, or stored when undated) and its story.
Index(
    "ix_item_when_story",
    func.coalesce(col(Item.published), col(Item.fetched_at)),
    func.coalesce(col(Item.story_id), col(Item.id)),
)


class StoryBand(SQLModel, table=True):
    """LSH band keys of an item's MinHash: equal keys make two items story candidates."""

    __tablename__ = "story_band"

    key: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    item_id: int = Field(primary_key=True)
    band: int = Field(sa_column=Column(SmallInteger, nullable=False))


class SourceLine(SQLModel, table=True):
    """A short line of one source's stored texts, by the hash of its folded form: on how
    many items it stood, and whether it is one item's title. What many pages of a source
    repeat, and other items' titles, are the site's furniture, not an article's text."""

    __tablename__ = "source_line"

    source: str = Field(primary_key=True, max_length=200)
    key: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    pages: int = 0
    title: bool = False
    last_seen: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True, nullable=False))


class SeenUrl(SQLModel, table=True):
    """Every URL that led somewhere final, so no URL is fetched twice."""

    __tablename__ = "seen_url"

    url: str = Field(primary_key=True, max_length=2000)
    item_id: int | None = Field(default=None, index=True)
    source: str = Field(max_length=200)
    outcome: str = Field(max_length=32)  # stored | duplicate | no_text | skipped
    seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Alert(SQLModel, table=True):
    """Outbox: one row per (channel, story), written with the item, delivered later."""

    __tablename__ = "alert"
    __table_args__ = (UniqueConstraint("channel", "story_key", name="uq_alert_channel_story"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=200)
    story_key: str = Field(max_length=64)
    item_id: int | None = Field(default=None, index=True)
    kind: str = Field(default="story", max_length=16)  # story | operator
    status: str = Field(default="queued", max_length=16, index=True)  # queued | sent | failed
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(index=True, nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    payload: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    # Set while a dispatcher is sending it: nothing else may take or reschedule it then.
    claimed_until: datetime | None = Field(default=None, sa_column=_ts())


class ChannelState(SQLModel, table=True):
    """An alert channel whose receiver is failing: shared by every daemon, so that one of
    them probes it every so often and all queued alerts go out once it answers again."""

    __tablename__ = "channel_state"

    channel: str = Field(primary_key=True, max_length=200)
    failing_since: datetime = Field(sa_column=_ts(nullable=False))
    next_probe_at: datetime = Field(sa_column=_ts(nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class CrawlPage(SQLModel, table=True):
    """A discovery page (sitemap file, listing page) a backfill or catch-up has finished.

    `scope` names the run, e.g. "backfill:2024-01-01..2024-12-31", so a rerun of the same
    command skips what is done and a different date range starts fresh.
    """

    __tablename__ = "crawl_page"
    __table_args__ = (UniqueConstraint("source", "scope", "url", name="uq_crawl_page"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200, index=True)
    scope: str = Field(max_length=200)
    url: str = Field(max_length=2000)
    entries: int = 0
    done_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Gap(SQLModel, table=True):
    """A stretch of a source's publishing that a poll could not see (its window overflowed)."""

    __tablename__ = "gap"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200, index=True)
    start: datetime = Field(sa_column=_ts(nullable=False))  # newest entry stored before
    end: datetime = Field(sa_column=_ts(nullable=False))  # oldest entry the poll returned
    found_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    status: str = Field(default="open", max_length=16, index=True)  # open|filled|unrecoverable
    closed_at: datetime | None = Field(default=None, sa_column=_ts())
    items_found: int = 0
    route: str | None = Field(default=None, max_length=200)  # how it was filled, or why not


class Feedback(SQLModel, table=True):
    """An analyst's verdict on one item: the ground truth the classifier is measured on."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("item_id", "analyst", name="uq_feedback_item_analyst"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(index=True)
    analyst: str = Field(default=SHARED_ANALYST, max_length=100)
    label: str = Field(max_length=16)  # relevant | not_relevant
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class StoryState(SQLModel, table=True):
    """One analyst's read mark and star on one story (its items share them)."""

    __tablename__ = "story_state"

    analyst: str = Field(primary_key=True, max_length=100)
    story_id: int = Field(primary_key=True)
    read_at: datetime | None = Field(default=None, sa_column=_ts())
    starred_at: datetime | None = Field(default=None, sa_column=_ts())


class SavedSearch(SQLModel, table=True):
    """A named set of list filters of one analyst, with feeds of its own."""

    __tablename__ = "saved_search"
    __table_args__ = (UniqueConstraint("analyst", "name", name="uq_saved_search_name"),)

    id: int | None = Field(default=None, primary_key=True)
    analyst: str = Field(max_length=100, index=True)
    name: str = Field(max_length=100)
    query: str = Field(sa_column=Column(Text, nullable=False))  # the filters, URL-encoded
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SourceLease(SQLModel, table=True):
    """Which daemon polls a source: held while renewed, free for others once expired."""

    __tablename__ = "source_lease"

    name: str = Field(primary_key=True, max_length=200)
    owner: str = Field(max_length=200)
    until: datetime = Field(sa_column=_ts(nullable=False))


class DaemonBeat(SQLModel, table=True):
    """A running daemon's heartbeat: the others count it among the live daemons until
    `until`, and split the sources among the live ones."""

    __tablename__ = "daemon_beat"

    owner: str = Field(primary_key=True, max_length=200)
    started_at: datetime = Field(sa_column=_ts(nullable=False))
    seen_at: datetime = Field(sa_column=_ts(nullable=False))
    until: datetime = Field(sa_column=_ts(nullable=False))
