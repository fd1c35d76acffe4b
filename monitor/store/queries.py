"""What the dashboard, the feeds, the item listings and the reports read.

Named queries over a `Store`'s sessions, kept apart from `repo.py` so the repository stays
about the pipeline. A story is the items that share a `story_id` (copies of one article
from several outlets). Lists are of stories, newest first by the latest of their matching
items' dates (published, or stored when undated); each shows its strongest matching item.
The analysts' own marks, read state, stars and saved searches are in `monitor.store.marks`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.orm import Mapped
from sqlmodel import col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from monitor.store import search
from monitor.store.models import Alert, Feedback, Gap, Item, SourceState, StoryState, utcnow
from monitor.store.repo import Store

TIERS = ("relevant", "mention", "none")
# The tier filter also accepts this, for items no classifier has looked at yet.
UNCLASSIFIED = "unclassified"
SHOW = ("unread", "all", "starred", "read")


@dataclass(frozen=True)
class ItemQuery:
    """The list filters; the same ones narrow the feeds, the downloads and `items`.

    Several values of one filter are alternatives (any of these languages); the filters
    together must all hold. `show` narrows by `analyst`'s read state and stars.
    """

    tiers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None  # inclusive
    text: str | None = None
    show: str = "all"
    analyst: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class StoryRow:
    """One story as a list shows it."""

    story_id: int
    item: Item  # its strongest matching item
    sources: list[str]  # every outlet that carried it, first first
    copies: int
    latest: datetime
    read: bool = False
    starred: bool = False


@dataclass(frozen=True)
class StoryPage:
    stories: list[StoryRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class ItemDetail:
    item: Item
    copies: list[Item]  # the story's other items
    alerts: list[Alert]
    feedback: str | None  # this analyst's mark
    read: bool = False
    starred: bool = False
    marks: list[Feedback] = field(default_factory=list)  # every analyst's


@dataclass(frozen=True)
class SourceActivity:
    name: str
    state: SourceState | None
    items: int
    per_day: list[tuple[date, int]]  # oldest first, one entry per day of the window


def _when() -> ColumnElement[datetime]:
    # Undated items count by when they were stored.
    return func.coalesce(col(Item.published), col(Item.fetched_at))


def _story() -> ColumnElement[int]:
    return func.coalesce(col(Item.story_id), col(Item.id))


def _in_stories(ids: Sequence[int]) -> ColumnElement[bool]:
    """The items of these stories, found by the story_id index and the primary key."""
    alone = and_(col(Item.story_id).is_(None), col(Item.id).in_(ids))
    return or_(col(Item.story_id).in_(ids), alone)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _conditions(store: Store, q: ItemQuery) -> list[ColumnElement[bool]]:
    """The item-level filters of `q` (everything but read state and stars)."""
    out: list[ColumnElement[bool]] = []
    tiers = [t for t in q.tiers if t != UNCLASSIFIED]
    tier_terms = [col(Item.tier).in_(tiers)] if tiers else []
    if UNCLASSIFIED in q.tiers:
        tier_terms.append(col(Item.tier).is_(None))
    if tier_terms:
        out.append(or_(*tier_terms))
    if q.languages:
        out.append(col(Item.language).in_(q.languages))
    if q.sources:
        out.append(col(Item.source).in_(q.sources))
    if q.since:
        out.append(_when() >= _day_start(q.since))
    if q.until:
        out.append(_when() < _day_start(q.until + timedelta(days=1)))
    if q.text and (parsed := search.parse_query(q.text)):
        out.extend(search.matches(col(Item.id), parsed, store.engine.dialect.name))
    return out


def _state_condition(q: ItemQuery) -> ColumnElement[bool] | None:
    """The read-state or star filter on the outer-joined StoryState row."""
    if q.show == "unread":
        return col(StoryState.read_at).is_(None)
    if q.show == "read":
        return col(StoryState.read_at).is_not(None)
    if q.show == "starred":
        return col(StoryState.starred_at).is_not(None)
    return None


def _state_join(q: ItemQuery) -> tuple[type[StoryState], ColumnElement[bool]]:
    """The outer join of an item to its story's StoryState row of `q`'s analyst."""
    mine = col(StoryState.analyst) == (q.analyst or "")
    return StoryState, and_(col(StoryState.story_id) == _story(), mine)


def _grouped(store: Store, q: ItemQuery) -> Select[int, datetime]:
    """(story, latest matching date) of every story with an item matching `q`."""
    story, latest = _story().label("story"), func.max(_when()).label("latest")
    stmt = select(story, latest).where(*_conditions(store, q))
    state = _state_condition(q)
    if state is not None:
        stmt = stmt.select_from(Item).outerjoin(*_state_join(q)).where(state)
    return stmt.group_by(_story())


def _items(store: Store, q: ItemQuery) -> SelectOfScalar[Item]:
    """The items matching `q`, in stories that pass its read-state or star filter."""
    stmt = select(Item).where(*_conditions(store, q))
    state = _state_condition(q)
    if state is not None:
        stmt = stmt.outerjoin(*_state_join(q)).where(state)
    return stmt


def list_stories(store: Store, q: ItemQuery) -> StoryPage:
    """One page of stories matching `q`, newest first."""
    page = max(q.page, 1)
    skip = (page - 1) * q.per_page
    with store.session() as s:
        total = int(s.exec(_count(store, q)).one())
    keys = _walk(store, q, skip + q.per_page)[skip:]
    return StoryPage(_rows(store, q, keys), total, page, q.per_page)


def _count(store: Store, q: ItemQuery) -> SelectOfScalar[int]:
    """How many stories have an item matching `q`."""
    count = select(func.count(func.distinct(_story()))).where(*_conditions(store, q))
    state = _state_condition(q)
    if state is not None:
        count = count.select_from(Item).outerjoin(*_state_join(q)).where(state)
    return count


def _newest_first(store: Store, q: ItemQuery) -> Select[int, datetime]:
    """(story, date) of the items matching `q`, newest first, then by story: the order of
    the index ix_item_when_story, so the database reads it instead of sorting every item."""
    story, when = _story().label("story"), _when().label("when")
    stmt = select(story, when).where(*_conditions(store, q))
    state = _state_condition(q)
    if state is not None:
        stmt = stmt.select_from(Item).outerjoin(*_state_join(q)).where(state)
    return stmt.order_by(_when().desc(), _story().desc())


def _walk(store: Store, q: ItemQuery, stories: int) -> list[tuple[int, datetime]]:
    """The first `stories` stories in list order, each with its latest matching date.

    Items are read newest first, a batch at a time from where the last batch ended; a
    story's first item read carries its latest date, so a story already seen is passed over.
    """
    seen: dict[int, datetime] = {}
    batch = max(2 * stories, 100)
    after: tuple[int, datetime] | None = None
    with store.session() as s:
        while len(seen) < stories:
            stmt = _newest_first(store, q)
            if after is not None:
                sid, when = after
                # Items after the last one read; any more of its story (same date and story)
                # add nothing.
                stmt = stmt.where(or_(_when() < when, and_(_when() == when, _story() < sid)))
            rows = [(int(sid), when) for sid, when in s.exec(stmt.limit(batch))]
            for sid, when in rows:
                seen.setdefault(sid, when)
            if len(rows) < batch:
                break
            after = rows[-1]
    return list(seen.items())[:stories]


def _rows(store: Store, q: ItemQuery, keys: list[tuple[int, datetime]]) -> list[StoryRow]:
    """The rows of these stories: strongest matching item, outlets, read state, stars."""
    if not keys:
        return []
    ids = [sid for sid, _ in keys]
    with store.session() as s:
        copies = list(s.exec(select(Item).where(_in_stories(ids)).order_by(col(Item.id))))
        matching = set(s.exec(select(Item.id).where(_in_stories(ids), *_conditions(store, q))))
        states = {
            st.story_id: st
            for st in s.exec(
                select(StoryState).where(
                    col(StoryState.analyst) == (q.analyst or ""),
                    col(StoryState.story_id).in_(ids),
                )
            )
        }
    by_story: dict[int, list[Item]] = defaultdict(list)
    for item in copies:
        by_story[item.story_id or item.id or 0].append(item)
    rows = []
    for sid, latest in keys:
        items = by_story.get(sid) or []
        candidates = [i for i in items if i.id in matching] or items
        if not candidates:
            continue  # deleted meanwhile
        best = max(candidates, key=lambda i: (i.relevance or 0.0, -(i.id or 0)))
        st = states.get(sid)
        rows.append(
            StoryRow(
                story_id=sid,
                item=best,
                sources=list(dict.fromkeys(i.source for i in items)),
                copies=len(items),
                latest=latest,
                read=st is not None and st.read_at is not None,
                starred=st is not None and st.starred_at is not None,
            )
        )
    return rows


def neighbours(store: Store, q: ItemQuery, item: Item) -> tuple[Item | None, Item | None]:
    """The strongest items of the stories just before and just after `item`'s in the list
    `q` gives (newer, older); `item`'s own story need not match `q` any more."""
    sid = item.story_id or item.id or 0
    grouped = _grouped(store, replace(q, show="all")).subquery()
    with store.session() as s:
        own = s.exec(select(grouped.c.latest).where(grouped.c.story == sid)).first()
    latest = own or item.published or item.fetched_at
    rows = _grouped(store, q).subquery()
    newer = and_(
        rows.c.story != sid,
        or_(rows.c.latest > latest, and_(rows.c.latest == latest, rows.c.story > sid)),
    )
    older = and_(
        rows.c.story != sid,
        or_(rows.c.latest < latest, and_(rows.c.latest == latest, rows.c.story < sid)),
    )
    found: list[Item | None] = []
    for cond, order in (
        (newer, (rows.c.latest.asc(), rows.c.story.asc())),
        (older, (rows.c.latest.desc(), rows.c.story.desc())),
    ):
        with store.session() as s:
            hit = s.exec(select(rows.c.story, rows.c.latest).where(cond).order_by(*order)).first()
        if hit is None:
            found.append(None)
            continue
        row = _rows(store, replace(q, show="all"), [(int(hit[0]), hit[1])])
        found.append(row[0].item if row else None)
    return found[0], found[1]


def relevant_stories(store: Store, q: ItemQuery, limit: int = 50) -> list[tuple[Item, int]]:
    """The newest stories with a matching item in the tiers asked for (relevant by default):
    each story's strongest matching item and how many copies the story has."""
    q = replace(q, tiers=q.tiers or ("relevant",), page=1, per_page=limit)
    return [(row.item, row.copies) for row in list_stories(store, q).stories]


def facets(store: Store) -> tuple[list[str], list[str]]:
    """The languages and sources that items have, for the filter menus."""
    with store.session() as s:
        languages = s.exec(_distinct(col(Item.language)))
        sources = s.exec(_distinct(col(Item.source)))
        return [x for x in languages if x], [x for x in sources if x]


def _distinct(column: Mapped[Any]) -> SelectOfScalar[str | None]:
    """The distinct values of an indexed item column, smallest first: one index lookup per
    value (the smallest above the last found), not a pass over every item."""
    values = select(func.min(column).label("x")).cte("v", recursive=True)
    above = select(func.min(column)).where(column > values.c.x).scalar_subquery()
    values = values.union_all(select(above).where(values.c.x.is_not(None)))
    return select(values.c.x).where(values.c.x.is_not(None))


def item_detail(store: Store, item_id: int, analyst: str = "") -> ItemDetail | None:
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
        marks = list(
            s.exec(
                select(Feedback)
                .where(Feedback.item_id == item_id)
                .order_by(col(Feedback.created_at))
            )
        )
        state = s.get(StoryState, (analyst, story))
    mine = next((m.label for m in marks if m.analyst == analyst), None)
    return ItemDetail(
        item,
        copies,
        alerts,
        mine,
        read=state is not None and state.read_at is not None,
        starred=state is not None and state.starred_at is not None,
        marks=marks,
    )


def iter_items(store: Store, q: ItemQuery, batch: int = 500) -> Iterator[Item]:
    """Every item matching `q` (paging aside), oldest id first, read `batch` at a time."""
    last = 0
    while True:
        stmt = _items(store, q).where(col(Item.id) > last).order_by(col(Item.id)).limit(batch)
        with store.session() as s:
            rows = list(s.exec(stmt))
        if not rows:
            return
        yield from rows
        last = rows[-1].id or last


def source_activity(store: Store, names: Sequence[str], days: int = 30) -> list[SourceActivity]:
    """Poll state, item count and items stored per day over the last `days` for each name."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    per_day: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    with store.session() as s:
        states = {st.name: st for st in s.exec(select(SourceState))}
        totals = dict(s.exec(select(Item.source, func.count()).group_by(col(Item.source))).all())
        if days > 0:
            day = _utc_day(store, col(Item.fetched_at)).label("day")
            recent = (
                select(Item.source, day, func.count())
                .where(col(Item.fetched_at) >= _day_start(first))
                .group_by(col(Item.source), day)
            )
            for source, stored, n in s.exec(recent):
                per_day[source][date.fromisoformat(str(stored))] = int(n)
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


@dataclass
class SourceDays:
    """A source's items by day (YYYY-MM-DD, UTC, published or else stored) and its largest
    poll-to-publish delay."""

    per_day: dict[str, int] = field(default_factory=dict)
    max_delay: timedelta | None = None


def _utc_day(store: Store, when: ColumnElement[datetime] | Mapped[datetime]) -> ColumnElement[str]:
    """`when`'s UTC day as YYYY-MM-DD, computed by the database."""
    if store.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", when), "YYYY-MM-DD")
    return func.date(when)  # SQLite keeps UTC without an offset


def _delay_order(store: Store) -> ColumnElement[Any]:
    """Orders items by fetched minus published (only to find the largest: the figure itself
    is computed exactly from the row)."""
    fetched, published = col(Item.fetched_at), col(Item.published)
    if store.engine.dialect.name == "postgresql":
        return fetched - published
    return func.julianday(fetched) - func.julianday(published)


def source_days(
    store: Store, names: Sequence[str], since: datetime | None = None
) -> dict[str, SourceDays]:
    """Items per day and the largest delay of each of `names` (stored since `since`), counted
    in the database: one row per source and day. Backfilled items have no delay."""
    mine: list[ColumnElement[bool]] = [col(Item.source).in_(list(names))]
    if since:
        mine.append(col(Item.fetched_at) >= since)
    day = _utc_day(store, _when()).label("day")
    counts = select(Item.source, day, func.count()).where(*mine).group_by(col(Item.source), day)
    ranked = (
        select(
            Item.source,
            Item.fetched_at,
            Item.published,
            func.row_number()
            .over(partition_by=col(Item.source), order_by=_delay_order(store).desc())
            .label("rank"),
        )
        .where(
            *mine,
            col(Item.published).is_not(None),
            col(Item.backfilled).is_(False),
            col(Item.fetched_at) >= col(Item.published),
        )
        .subquery()
    )
    largest = select(ranked.c.source, ranked.c.fetched_at, ranked.c.published).where(
        ranked.c.rank == 1
    )
    out = {name: SourceDays() for name in names}
    with store.session() as s:
        for source, when, n in s.exec(counts):
            out[source].per_day[str(when)] = int(n)
        for source, fetched, published in s.exec(largest):
            out[source].max_delay = fetched - published
    return out


def health(store: Store, names: Sequence[str]) -> tuple[list[SourceState], int]:
    """The sources among `names` whose last poll failed, and how many coverage gaps are open."""
    with store.session() as s:
        failing = list(
            s.exec(
                select(SourceState)
                .where(col(SourceState.name).in_(list(names)), SourceState.consecutive_failures > 0)
                .order_by(col(SourceState.name))
            )
        )
        open_gaps = select(func.count()).where(
            Gap.status == "open", col(Gap.source).in_(list(names))
        )
        gaps = int(s.exec(open_gaps).one())
    return failing, gaps
