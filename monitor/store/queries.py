"""What the dashboard, the item listings and the reports read, plus analyst feedback.

Named queries over a `Store`'s sessions, kept apart from `repo.py` so the repository stays
about the pipeline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from monitor.store import search
from monitor.store.models import Alert, Feedback, Item, SourceState, utcnow
from monitor.store.repo import Store

TIERS = ("relevant", "mention", "none")
LABELS = ("relevant", "not_relevant")
# The tier filter also accepts this, for items no classifier has looked at yet.
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class ItemQuery:
    """The list filters; the same ones narrow the feeds."""

    tier: str | None = None
    language: str | None = None
    source: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    text: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class ItemPage:
    items: list[Item]
    total: int
    page: int
    per_page: int
    feedback: dict[int, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class ItemDetail:
    item: Item
    copies: list[Item]  # the story's other items
    alerts: list[Alert]
    feedback: str | None


@dataclass(frozen=True)
class SourceActivity:
    name: str
    state: SourceState | None
    items: int
    per_day: list[tuple[date, int]]  # oldest first, one entry per day of the window


def _when() -> ColumnElement[datetime]:
    return func.coalesce(col(Item.published), col(Item.fetched_at))


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _filtered(
    store: Store, q: ItemQuery, stmt: SelectOfScalar[Item] | None = None
) -> SelectOfScalar[Item]:
    stmt = select(Item) if stmt is None else stmt
    if q.tier == UNCLASSIFIED:
        stmt = stmt.where(col(Item.tier).is_(None))
    elif q.tier:
        stmt = stmt.where(col(Item.tier) == q.tier)
    if q.language:
        stmt = stmt.where(col(Item.language) == q.language)
    if q.source:
        stmt = stmt.where(col(Item.source) == q.source)
    if q.since:
        stmt = stmt.where(_when() >= _day_start(q.since))
    if q.until:
        stmt = stmt.where(_when() < _day_start(q.until + timedelta(days=1)))
    if q.text and (parsed := search.parse_query(q.text)):
        stmt = stmt.where(*search.matches(col(Item.id), parsed, store.engine.dialect.name))
    return stmt


def list_items(store: Store, q: ItemQuery) -> ItemPage:
    """One page of items matching `q`, newest first, with any feedback on them."""
    count = _filtered(store, q, select(Item)).with_only_columns(func.count(col(Item.id)))
    rows = (
        _filtered(store, q)
        .order_by(_when().desc(), col(Item.id).desc())
        .offset((max(q.page, 1) - 1) * q.per_page)
        .limit(q.per_page)
    )
    with store.session() as s:
        total = int(s.exec(count).one())  # type: ignore[call-overload]
        items = list(s.exec(rows))
    ids = [i.id for i in items if i.id is not None]
    return ItemPage(items, total, max(q.page, 1), q.per_page, feedback_for(store, ids))


def iter_items(store: Store, q: ItemQuery, batch: int = 500) -> Iterator[Item]:
    """Every item matching `q` (paging aside), oldest id first, read `batch` at a time."""
    last = 0
    while True:
        stmt = _filtered(store, q).where(col(Item.id) > last).order_by(col(Item.id)).limit(batch)
        with store.session() as s:
            rows = list(s.exec(stmt))
        if not rows:
            return
        yield from rows
        last = rows[-1].id or last


def facets(store: Store) -> tuple[list[str], list[str]]:
    """The languages and sources that items have, for the filter menus."""
    with store.session() as s:
        langs = s.exec(select(Item.language).distinct().where(col(Item.language).is_not(None)))
        sources = s.exec(select(Item.source).distinct())
        return sorted(x for x in langs if x), sorted(sources)


def item_detail(store: Store, item_id: int) -> ItemDetail | None:
    with store.session() as s:
        item = s.get(Item, item_id)
        if item is None:
            return None
        story = item.story_id or item_id
        copies = list(
            s.exec(
                select(Item)
                .where(col(Item.story_id) == story, col(Item.id) != item_id)
                .order_by(col(Item.id))
            )
        )
        # Alerts go out once per story, so the story's alerts are this item's alerts.
        alerts = list(
            s.exec(
                select(Alert)
                .where(or_(col(Alert.item_id) == item_id, col(Alert.story_key) == str(story)))
                .order_by(col(Alert.created_at))
            )
        )
        fb = s.exec(select(Feedback.label).where(Feedback.item_id == item_id)).first()
    return ItemDetail(item, copies, alerts, fb)


def feedback_for(store: Store, item_ids: Sequence[int]) -> dict[int, str]:
    if not item_ids:
        return {}
    with store.session() as s:
        rows = s.exec(
            select(Feedback.item_id, Feedback.label).where(col(Feedback.item_id).in_(item_ids))
        )
        return dict(rows.all())


def set_feedback(store: Store, item_id: int, label: str | None) -> bool:
    """Record (or with None, withdraw) the analyst's label; False if there is no such item."""
    if label is not None and label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    with store.session() as s:
        if s.get(Item, item_id) is None:
            return False
        fb = s.exec(select(Feedback).where(Feedback.item_id == item_id)).first()
        if label is None:
            if fb is not None:
                s.delete(fb)
        elif fb is None:
            s.add(Feedback(item_id=item_id, label=label))
        else:
            fb.label, fb.created_at = label, utcnow()
            s.add(fb)
        s.commit()
    return True


def labelled_items(store: Store) -> list[tuple[Item, str]]:
    """Every item an analyst has marked, with the label, oldest mark first."""
    with store.session() as s:
        rows = s.exec(
            select(Item, Feedback.label)
            .join(Feedback, col(Feedback.item_id) == col(Item.id))
            .order_by(col(Feedback.created_at), col(Feedback.id))
        )
        return [(item, label) for item, label in rows]


def relevant_stories(store: Store, q: ItemQuery, limit: int = 50) -> list[tuple[Item, int]]:
    """The newest stories with a matching item in the tier asked for (relevant by default).

    One entry per story: its newest matching item and how many copies the story has.
    """
    tier = q.tier or "relevant"
    stmt = _filtered(store, replace(q, tier=tier)).order_by(_when().desc(), col(Item.id).desc())
    chosen: dict[int, Item] = {}
    with store.session() as s:
        # Read in batches until `limit` distinct stories are found.
        offset, batch = 0, max(limit * 2, 50)
        while len(chosen) < limit:
            rows = list(s.exec(stmt.offset(offset).limit(batch)))
            for item in rows:
                key = item.story_id or item.id or 0
                if key not in chosen and len(chosen) < limit:
                    chosen[key] = item
            if len(rows) < batch:
                break
            offset += batch
        if not chosen:
            return []
        sizes = s.exec(
            select(Item.story_id, func.count())
            .where(col(Item.story_id).in_(list(chosen)))
            .group_by(col(Item.story_id))
        )
        counts = {sid: int(n) for sid, n in sizes if sid is not None}
    return [(item, counts.get(key, 1)) for key, item in chosen.items()]


def source_activity(store: Store, names: Sequence[str], days: int = 30) -> list[SourceActivity]:
    """Poll state, item count and items stored per day over the last `days` for each name."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    per_day: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    with store.session() as s:
        states = {st.name: st for st in s.exec(select(SourceState))}
        totals = dict(s.exec(select(Item.source, func.count()).group_by(col(Item.source))).all())
        # Bucketed here rather than in SQL: date functions differ between backends.
        if days > 0:
            recent = s.exec(
                select(Item.source, Item.fetched_at).where(
                    col(Item.fetched_at) >= _day_start(first)
                )
            )
            for source, fetched in recent:
                per_day[source][fetched.date()] += 1
    window = [first + timedelta(days=i) for i in range(days)]
    all_names = list(dict.fromkeys([*names, *sorted(states), *sorted(totals)]))
    return [
        SourceActivity(
            name,
            states.get(name),
            int(totals.get(name, 0)),
            [(d, per_day[name].get(d, 0)) for d in window],
        )
        for name in all_names
    ]
