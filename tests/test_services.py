"""The use cases the command line and the dashboard share: item queries and their formats,
source status with the next poll, reclassify."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from monitor.classify import load_classifier
from monitor.config import Settings, settings_from_dict
from monitor.services import items as item_service
from monitor.services.reclassify import reclassify
from monitor.services.status import next_poll, source_status
from monitor.store.models import Item, SourceState, utcnow
from monitor.store.queries import ItemQuery
from monitor.store.repo import Store
from tests.test_report import item

DAY = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def settings(tmp_path: Path) -> Settings:
    raw = {
        "sources": [
            {"name": "a", "url": "https://a.example/rss", "interval": "15m"},
            {"name": "b", "url": "https://b.example/rss", "interval": "1h"},
            {"name": "off", "url": "https://off.example/rss", "enabled": False},
        ]
    }
    return settings_from_dict(raw, tmp_path / "monitor.toml")


def add(store: Store, n: int, source: str, tier: str | None) -> Item:
    it = item(n, "ru", source, tier)
    it.id, it.published = None, DAY + timedelta(days=n)
    stored, _ = store.add_item(it, [it.url])
    return stored


def test_one_query_pages_newest_first_and_lists_oldest_first(db_url: str) -> None:
    with Store.open(db_url) as store:
        for n in range(7):
            add(store, n, "a" if n % 2 else "b", "relevant" if n < 4 else "none")
        q = ItemQuery(tiers=("relevant",), since=date(2024, 3, 2), per_page=2)
        listed = [i.id for i in item_service.matching(store, q)]
        assert len(listed) == 3 and listed == sorted(listed)
        first = item_service.page(store, q)
        second = item_service.page(store, replace(q, page=2))
        assert first.total == 3 and first.pages == 2
        # Each item is a story of its own here: one row each.
        assert [r.item.id for r in first.stories + second.stories] == listed[::-1]
        assert [i.id for i in item_service.matching(store, q, limit=2)] == listed[:2]


def test_records_render_as_jsonl_json_and_csv(db_url: str) -> None:
    with Store.open(db_url) as store:
        for n in range(3):
            add(store, n, "a", "relevant")
        rows = list(item_service.records(store, item_service.matching(store, ItemQuery())))
    jsonl, js, table = io.StringIO(), io.StringIO(), io.StringIO()
    assert item_service.render(rows, "jsonl", jsonl) == 3
    assert item_service.render(rows, "json", js) == 3
    assert item_service.render(rows, "csv", table) == 3
    assert [json.loads(x) for x in jsonl.getvalue().splitlines()] == json.loads(js.getvalue())
    assert table.getvalue().startswith("\ufeff")  # a byte-order mark, for spreadsheets
    parsed = list(csv.DictReader(io.StringIO(table.getvalue().removeprefix("\ufeff"))))
    assert [r["id"] for r in parsed] == [str(r["id"]) for r in rows]
    assert "text" not in parsed[0] and parsed[0]["relevant"] == "True"
    assert rows[0]["archive_file"] is None  # stored without its archive file


def test_next_poll_prefers_the_scheduler_then_the_daemons_record_then_an_estimate(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path)
    a, off = s.source("a"), s.source("off")
    last = utcnow() - timedelta(minutes=5)
    recorded = last + timedelta(minutes=20)
    scheduled = last + timedelta(minutes=7)
    state = SourceState(name="a", polls=1, last_poll_at=last)
    assert next_poll(a, None) is None
    assert next_poll(a, state) == last + timedelta(minutes=15)
    state.next_poll_at = recorded
    assert next_poll(a, state) == recorded
    assert next_poll(a, state, scheduled) == scheduled
    assert next_poll(off, state, scheduled) is None  # a disabled source is not polled
    assert next_poll(None, state) is None  # nor one no longer configured


def test_source_status_lists_configured_sources_then_leftovers(tmp_path: Path, db_url: str) -> None:
    s = settings(tmp_path)
    with Store.open(db_url) as store:
        add(store, 1, "a", "relevant")
        add(store, 2, "gone", None)
        store.source_state("b")
        store.record_poll("b", error="HTTP 503")
        rows = {r.name: r for r in source_status(store, s, days=3)}
    assert list(rows) == ["a", "b", "off", "gone"]
    assert rows["a"].items == 1 and rows["a"].status == "never polled"
    assert rows["b"].status == "failing ×1" and not rows["b"].overdue
    assert rows["off"].status == "disabled" and rows["off"].next_poll is None
    assert rows["gone"].source is None and rows["gone"].items == 1
    assert len(rows["a"].per_day) == 3


def test_reclassify_rescores_and_counts_moves(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/m.db") as store:
        old = add(store, 1, "a", None)
        store.update_classification(
            old.id or 0, relevance=0.1, tier="mention", evidence=[], version="old"
        )
        done = reclassify(store, load_classifier(), since=DAY + timedelta(days=1))
        assert done.scored == 1 and done.moved == {("mention", "none"): 1} and done.changed == 1
        again = store.item(old.id or 0)
        assert (
            again is not None and again.tier == "none" and again.classifier_version == done.version
        )
        assert reclassify(store, load_classifier(), since=DAY + timedelta(days=5)).scored == 0


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        item_service.render([], "xml", io.StringIO())
