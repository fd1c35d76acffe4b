"""The dashboard's story queries on SQLite and PostgreSQL: grouping, read state and stars per
analyst, neighbours in a list, saved searches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from monitor.fingerprint import content_hash
from monitor.store import marks
from monitor.store.models import Item
from monitor.store.queries import ItemQuery, facets, list_stories, neighbours
from monitor.store.repo import Store

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def add(store: Store, n: int, source: str, story: int | None = None, **kw: object) -> Item:
    text = f"Article {n} about the OIC, from {source}."
    fields: dict[str, object] = {
        "url": f"https://{source}.example/{n}", "source": source, "title": f"Story {n}",
        "text": text, "content_hash": content_hash(text), "language": "en",
        "tier": "relevant", "relevance": 0.5, "published": T0 + timedelta(hours=n),
        "story_id": story,
    }  # fmt: skip
    item = Item(**{**fields, **kw})
    stored, _ = store.add_item(item, [item.url])
    return stored


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


def ids(store: Store, **q: object) -> list[int]:
    return [row.story_id for row in list_stories(store, ItemQuery(**q)).stories]  # type: ignore[arg-type]


def test_stories_read_starred_and_neighbours(store: Store) -> None:
    a = add(store, 1, "mfa-kz")
    b = add(store, 2, "mfa-kz")
    copy = add(store, 3, "kazinform", story=a.id, relevance=0.9)
    c = add(store, 4, "akorda", tier="mention")
    assert ids(store) == [c.id, a.id, b.id]  # a's copy (hour 3) makes it newer than b
    [row] = [r for r in list_stories(store, ItemQuery()).stories if r.story_id == a.id]
    assert row.item.id == copy.id and row.sources == ["mfa-kz", "kazinform"] and row.copies == 2

    marks.set_read(store, "aigerim", a.id or 0)
    marks.set_starred(store, "dmitri", b.id or 0)
    assert ids(store, show="unread", analyst="aigerim") == [c.id, b.id]
    assert ids(store, show="unread", analyst="dmitri") == [c.id, a.id, b.id]
    assert ids(store, show="read", analyst="aigerim") == [a.id]
    assert ids(store, show="starred", analyst="dmitri") == [b.id]
    assert ids(store, show="starred", analyst="aigerim") == []
    marks.set_read(store, "aigerim", a.id or 0, False)
    assert ids(store, show="unread", analyst="aigerim") == [c.id, a.id, b.id]

    q = ItemQuery(tiers=("relevant",))
    newer, older = neighbours(store, q, b)
    assert newer is not None and newer.story_id == a.id and older is None
    # Read meanwhile, the current story is still placed where the list had it.
    marks.set_read(store, "aigerim", c.id or 0)
    unread = ItemQuery(show="unread", analyst="aigerim")
    newer, older = neighbours(store, unread, c)
    assert newer is None and older is not None and older.id == copy.id
    newer, older = neighbours(store, unread, a)
    assert newer is None and older is not None and older.id == b.id


def test_saved_searches_replace_by_name_and_belong_to_their_analyst(store: Store) -> None:
    first = marks.save_search(store, "aigerim", "Kazakh", "language=kk")
    again = marks.save_search(store, "aigerim", "Kazakh", "language=kk&q=ОИС")
    assert again.id == first.id and again.query == "language=kk&q=ОИС"
    marks.save_search(store, "dmitri", "Kazakh", "language=kk")
    assert [s.query for s in marks.saved_searches(store, "aigerim")] == ["language=kk&q=ОИС"]
    assert marks.saved_search(store, "aigerim", first.id or 0) == again
    assert marks.saved_search(store, "dmitri", first.id or 0) is None  # not his
    assert not marks.delete_search(store, "dmitri", first.id or 0)
    assert marks.delete_search(store, "aigerim", first.id or 0)
    assert marks.saved_search(store, "aigerim", first.id or 0) is None


def test_pages_follow_each_story_latest_date_across_many_copies(store: Store) -> None:
    # One story copied 150 times at the newest dates, then stories of one to three items
    # whose dates interleave, some sharing a date.
    big = add(store, 0, "wire", published=T0 + timedelta(days=30))
    for n in range(1, 150):
        add(store, 1000 + n, "wire", story=big.id, published=T0 + timedelta(days=30, minutes=n))
    expected: dict[int, datetime] = {big.id or 0: T0 + timedelta(days=30, minutes=149)}
    for n in range(1, 40):
        first = add(store, n, "mfa-kz", published=T0 + timedelta(hours=n % 13))
        latest = first.published
        for k in range(n % 3):
            when = T0 + timedelta(hours=(n * 7 + k) % 29)
            add(store, 100 * n + k, "kazinform", story=first.id, published=when)
            latest = max(latest or when, when)
        expected[first.id or 0] = latest or T0
    order = sorted(expected, key=lambda sid: (expected[sid], sid), reverse=True)

    seen: list[int] = []
    for page in range(1, 12):
        got = list_stories(store, ItemQuery(page=page, per_page=4))
        assert got.total == len(expected) and got.pages == 10
        seen += [row.story_id for row in got.stories]
        assert all(row.latest == expected[row.story_id] for row in got.stories)
    assert seen == order


def _plans(store: Store, run: Callable[[], object]) -> dict[str, list[str]]:
    """Each SELECT that `run` sends to the database, with the plan the database makes for
    it (on PostgreSQL with sequential scans made a last resort, as on a large table)."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    plans = {}
    with store.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in sent:
            explain = ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement
            rows = conn.exec_driver_sql(explain, parameters).all()
            plans[statement] = [str(row[-1] if sqlite else row[0]).strip() for row in rows]
    return plans


def _reads_every_item(plan: list[str]) -> bool:
    return any(line.startswith("SCAN item") or line.startswith("Seq Scan on item") for line in plan)


def test_story_lists_and_menus_read_items_through_indexes(store: Store) -> None:
    for n in range(30):
        add(store, n, f"source-{n % 4}", language=("en", "ru", "kk")[n % 3])
    day = ItemQuery(since=T0.date(), until=T0.date(), per_page=5)

    # A day's stories: every query finds that day's items by the date index.
    for statement, plan in _plans(store, lambda: list_stories(store, day)).items():
        assert not _reads_every_item(plan), (statement, plan)
    # The newest stories: items are read newest first from the index, never sorted.
    plans = _plans(store, lambda: list_stories(store, ItemQuery(per_page=5)))
    ordered = [plan for statement, plan in plans.items() if "ORDER BY coalesce" in statement]
    assert ordered
    for plan in ordered:
        assert any("ix_item_when_story" in line for line in plan), plan
        assert not any("ORDER BY" in line or line.startswith("Sort") for line in plan), plan
    # The language and source menus look values up in indexes.
    plans = _plans(store, lambda: facets(store))
    assert plans
    for statement, plan in plans.items():
        assert not _reads_every_item(plan), (statement, plan)
    assert facets(store) == (["en", "kk", "ru"], ["source-0", "source-1", "source-2", "source-3"])
