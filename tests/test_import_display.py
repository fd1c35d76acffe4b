"""Imported files: the date near the top of the text (a month alone kept as that month),
else none; a title made from the text when the file has none; and the same title and date
in every output (items, web pages, Atom, JSON Feed, alerts). Undated items are shown as
undated, never as published when they were stored."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from monitor import evidence
from monitor.alerts.message import chat_story, story_from_item, story_json
from monitor.config import settings_from_dict
from monitor.dates import date_near_top
from monitor.display import title_from_text
from monitor.store.models import Item
from monitor.store.repo import Store
from monitor.web.app import create_app
from tests.conftest import SEEDS_DIR
from tests.daemon_support import cli

ATOM = "{http://www.w3.org/2005/Atom}"
TITLES = {
    "000": (
        "Казахстан в середине 2012 года передаст Джибути председательство в Организации "
        "исламского сотрудничества (ОИС), сообщает пресс-служба МИД Казахстана"
    ),
    "001": "Кыргызстанские дипломаты проводят встречи на полях 44-й сессии СМИД ОИС",
    "002": "Партнерство ради развития",
    "003": "Жиддада Ауғанстан жөніндегі ИЫҰ Байланыс тобының Кабулға сапарына дайындық талқыланды",
    "004": (
        "Le vice-ministre des Affaires étrangères Aibek Artykbaev a tenu une série de "
        "réunions bilatérales avec les chefs des délégations des pays membres de…"
    ),
}
# (published, precision) as `items --format jsonl` gives them
DATES = {
    "000": (None, None),
    "001": (None, None),
    "002": ("2022-03-24", "day"),
    "003": ("2026-01-13", "day"),
    "004": ("2023-03-01", "month"),
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    tmp = tmp_path_factory.mktemp("import")
    cfg = tmp / "monitor.toml"
    cfg.write_text('[storage]\nurl = "sqlite:///monitor.db"\n', encoding="utf-8")
    result = cli(cfg, "import", str(SEEDS_DIR))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(x) for x in cli(cfg, "items", "--format", "jsonl").stdout.splitlines()]
    return cfg, rows


def _by_seed(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["url"]).rsplit("/", 1)[1][:3]: r for r in rows}


def test_import_dates_the_seeds_from_the_top_of_their_text(imported) -> None:  # type: ignore[no-untyped-def]
    rows = _by_seed(imported[1])
    for seed, (day, precision) in DATES.items():
        row = rows[seed]
        published = row["published"]
        assert (published[:10] if isinstance(published, str) else None) == day, seed
        assert row["published_precision"] == precision, seed


def test_import_gives_each_seed_a_title_from_its_text(imported) -> None:  # type: ignore[no-untyped-def]
    rows = _by_seed(imported[1])
    assert {seed: rows[seed]["title"] for seed in TITLES} == TITLES


def test_the_items_table_shows_a_month_as_a_month_and_undated_as_undated(imported) -> None:  # type: ignore[no-untyped-def]
    table = cli(imported[0], "items", "--format", "table").stdout
    lines = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    rows = _by_seed(imported[1])
    assert "2023-03 " in lines[str(rows["004"]["id"])]
    assert "2022-03-24 00:08" in lines[str(rows["002"]["id"])]
    assert "undated" in lines[str(rows["000"]["id"])]


def test_web_pages_feeds_and_alerts_agree_on_titles_and_dates(imported) -> None:  # type: ignore[no-untyped-def]
    cfg, rows = imported
    db = cfg.parent / "monitor.db"
    store = Store.open(f"sqlite:///{db}")
    settings = settings_from_dict({"storage": {"url": f"sqlite:///{db}"}}, cfg)
    client = TestClient(create_app(store, settings))
    seeds = _by_seed(rows)
    listing = client.get("/").text
    atom = ET.fromstring(client.get("/feed.atom").content)
    entries = {
        e.find(f"{ATOM}link[@rel='related']").get("href").rsplit("/", 1)[1]: e  # type: ignore[union-attr]
        for e in atom.iter(f"{ATOM}entry")
    }
    feed = {str(i["_oic"]["item_id"]): i for i in client.get("/feed.json").json()["items"]}
    for seed, title in TITLES.items():
        row = seeds[seed]
        item_id = str(row["id"])
        page = client.get(f"/items/{item_id}").text
        assert title in listing and title in page
        # Feeds list relevant stories: every seed is one.
        entry = entries[item_id]
        assert entry.findtext(f"{ATOM}title") == title
        assert feed[item_id]["title"] == title
        item = store.item(int(item_id))
        assert item is not None
        story = story_from_item(item)
        assert story.title == title
        assert story_json(story, key="k")["title"] == title
        day, precision = DATES[seed]
        summary = entry.findtext(f"{ATOM}summary") or ""
        chat = chat_story(story, markdown=False)[1]
        if day is None:
            # Undated: Atom's required <updated> is the storing time, there is no
            # <published>, and every output says so.
            assert entry.find(f"{ATOM}published") is None
            assert summary.startswith(f"relevance {float(str(row['relevance'])):.2f}")
            assert "Undated; stored" in summary
            assert feed[item_id]["date_published"] is None
            assert feed[item_id]["_oic"]["published"] == "undated"
            assert '<dd id="published">undated</dd>' in page
            assert "undated" in chat
        elif precision == "month":
            assert entry.findtext(f"{ATOM}published", "").startswith("2023-03-01")
            assert "Published March 2023." in summary
            assert feed[item_id]["_oic"] == feed[item_id]["_oic"] | {
                "published": "March 2023",
                "published_precision": "month",
            }
            assert '<dd id="published">March 2023</dd>' in page
            row_html = listing.split(f'data-id="{item_id}"', 1)[1].split("</li>", 1)[0]
            assert '<time class="date">March 2023</time>' in row_html
            assert "March 2023" in chat and "2023-03-01" not in chat
        else:
            assert entry.findtext(f"{ATOM}published", "").startswith(day)
            assert day in page and day in chat
    # The list's date column says "undated" rather than the time the file was imported.
    assert listing.count('class="date undated"') == 2
    store.close()


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        (" date 2023-03 Le vice-ministre a tenu des réunions.", datetime(2023, 3, 1), "month"),
        ("Опубликовано: март 2023 г.\nМинистр провёл встречу.", datetime(2023, 3, 1), "month"),
        ("2023 жылғы наурыз. Министр кездесу өткізді.", datetime(2023, 3, 1), "month"),
        ("Published March 2023\nThe minister met the OIC secretary general.",
         datetime(2023, 3, 1), "month"),
        ("mars 2023 — 24 mars 2023 : le ministre a reçu la délégation.",
         datetime(2023, 3, 24), "day"),
        ("13.01.2026, 13:31 636\nЖиддада кездесу өтті.", datetime(2026, 1, 13, 13, 31), "day"),
        ("Le 5 mars 2024, le ministre a reçu la délégation.", datetime(2024, 3, 5), "day"),
    ],
)  # fmt: skip
def test_the_date_near_the_top_keeps_a_month_alone_as_that_month(
    text: str, value: datetime, precision: str
) -> None:
    found = date_near_top(text)
    assert found is not None
    assert (found.value, found.precision) == (value.replace(tzinfo=UTC), precision)


@pytest.mark.parametrize(
    "text",
    [
        "В середине 2012 года Казахстан передаст председательство в ОИС.",
        "Программа ОИС-2025 обсуждалась на сессии 2024-2025 годов.",
        "12 июля в Абиджане открылась сессия СМИД ОИС.",
    ],
)
def test_no_date_is_made_up_from_a_year_or_a_day_alone(text: str) -> None:
    assert date_near_top(text) is None


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Short headline of an article\n\nThe body follows here.", "Short headline of an article"),
        ("13.01.2026, 13:31 636\n\nЖиддада кездесу өтті деп хабарлайды агенттік\nМәтін.",
         "Жиддада кездесу өтті деп хабарлайды агенттік"),
        ("Партнерство ради развития 24 марта 2022 г. 0:08 247 Иванов Иван корреспондент "
         "На сессии в Исламабаде Казахстан заявил о готовности вносить вклад.",
         "Партнерство ради развития"),
        ("The minister met the secretary general. " + "They discussed cooperation. " * 10,
         "The minister met the secretary general"),
        ("", None),
        ("12:30\n247", None),
    ],
)  # fmt: skip
def test_a_title_is_the_first_short_line_or_the_first_sentence_cut_at_a_word(
    text: str, title: str | None
) -> None:
    assert title_from_text(text) == title


def test_a_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    sentence = (
        "The minister of foreign affairs met the secretary general of the Organisation of "
        "Islamic Cooperation in Jeddah and discussed the preparations for the coming session "
        "of the council, the situation in the region and the cooperation in education."
    )
    title = title_from_text(sentence + " The talks will go on.")
    assert title is not None and title.endswith("…") and len(title) <= 150
    assert sentence.startswith(title[:-1] + " ")  # whole words only


def test_titles_snippets_and_alert_texts_are_cut_alike_at_a_word() -> None:
    text = (
        "Министры иностранных дел стран — членов Организации исламского сотрудничества, "
        "собравшиеся в Астане; обсудили повестку сессии, "
    ) * 12
    flat = " ".join(text.split())
    item = Item(
        id=1, url="https://mfa.example/1", source="mfa-kz", title=None, text=text,
        content_hash="0123456789abcdef",
    )  # fmt: skip
    story = story_from_item(item)
    assert story.snippet == evidence.lead(text, evidence.SNIPPET_CHARS)
    cuts = {"title": (title_from_text(text), 150)}
    for width in (23, 40, 81, 120):
        _, body = chat_story(story, markdown=False, snippet_limit=width)
        cuts[f"alert {width}"] = (body.split("\n\n")[1], width)
        cuts[f"lead {width}"] = (evidence.lead(text, width), width)
    for name, (cut, width) in cuts.items():
        assert cut is not None and cut.endswith("…") and len(cut) <= width, name
        kept = cut[:-1]
        assert flat.startswith(kept) and flat[len(kept)] in " ,;—", name  # whole words
        assert kept[-1] not in " ,;—", name  # nothing left hanging before the "…"
        # No whole word more would have fitted.
        one_more = flat[: flat.index(" ", flat.index(" ", len(kept)) + 1)].rstrip(",;")
        assert len(one_more) + 1 > width, name
    assert cuts["alert 81"][0] == cuts["lead 81"][0]
