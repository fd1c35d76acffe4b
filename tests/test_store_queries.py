"""The dashboard's story queries on SQLite and PostgreSQL: grouping, read state and stars per
analyst, neighbours in a list, saved searches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.fingerprint import content_hash
from monitor.store import marks
from monitor.store.models import Item
from monitor.store.queries import ItemQuery, list_stories, neighbours
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
    assert not marks.delete_search(store, "dmitri", first.id or 0)
    assert marks.delete_search(store, "aigerim", first.id or 0)
    assert marks.saved_search(store, first.id or 0) is None
