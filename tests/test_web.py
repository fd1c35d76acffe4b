"""The dashboard over HTTP (in-process): filters, paging, item page, feedback, token, feeds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from monitor.scheduler import Daemon
from monitor.store.models import Item
from monitor.store.queries import feedback_for
from monitor.web.app import WebConfigError, create_app, daemon_app, is_loopback
from monitor.web.app import require_token_for as require_token
from tests.test_web_seed import PAGE_SIZE, Seeded, add_feedback, seed

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    data = seed(tmp_path)
    add_feedback(data)
    yield data
    data.store.close()


@pytest.fixture
def client(seeded: Seeded) -> TestClient:
    return TestClient(create_app(seeded.store, seeded.settings))


def row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="item-row" data-id="(\d+)"', html)]


def newest_first(items: list[Item]) -> list[int]:
    ordered = sorted(items, key=lambda i: (i.published or i.fetched_at, i.id or 0), reverse=True)
    return [i.id or 0 for i in ordered]


# --- the list -------------------------------------------------------------------------


def test_list_is_newest_first_and_paged(client: TestClient, seeded: Seeded) -> None:
    expected = newest_first(seeded.items)
    seen: list[int] = []
    page = 1
    while True:
        r = client.get("/", params={"page": page})
        assert r.status_code == 200
        ids = row_ids(r.text)
        assert len(ids) <= PAGE_SIZE
        seen += ids
        if 'rel="next"' not in r.text:
            break
        page += 1
    assert seen == expected
    assert page == -(-len(expected) // PAGE_SIZE)
    assert f"{len(expected)} found" in client.get("/").text


@pytest.mark.parametrize(
    ("params", "attrs"),
    [
        ({"language": "kk"}, {"language": "kk"}),
        ({"tier": "mention"}, {"tier": "mention"}),
        ({"source": "oic-ar", "tier": "relevant"}, {"source": "oic-ar", "tier": "relevant"}),
    ],
)
def test_filters_narrow_the_list(
    client: TestClient, seeded: Seeded, params: dict[str, str], attrs: dict[str, str]
) -> None:
    expected = newest_first(seeded.by(**attrs))
    r = client.get("/", params={**params, "page": 1})
    assert row_ids(r.text) == expected[:PAGE_SIZE]
    assert f"{len(expected)} found" in r.text


def test_date_range_is_inclusive_of_both_days(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/", params={"since": "2024-05-02", "until": "2024-05-04"})
    days = {"2024-05-02", "2024-05-03", "2024-05-04"}
    expected = [i for i in seeded.items if i.published and i.published.date().isoformat() in days]
    assert sorted(row_ids(r.text)) == sorted(i.id or 0 for i in expected)
    assert len(expected) == 3


def test_free_text_matches_cyrillic_in_any_case(client: TestClient, seeded: Seeded) -> None:
    lower = client.get("/", params={"q": "оис", "language": "ru"})
    upper = client.get("/", params={"q": "ОИС", "language": "ru"})
    assert row_ids(lower.text) == row_ids(upper.text)
    hits = [i.id for i in seeded.by(language="ru") if "ОИС" in i.text or "оис" in i.text]
    assert hits and set(row_ids(upper.text)) == set(hits)
    arabic = client.get("/", params={"q": "حسين إبراهيم طه"})
    assert row_ids(arabic.text) and all(
        "حسين إبراهيم طه" in seeded.store.item(i).text  # type: ignore[union-attr]
        for i in row_ids(arabic.text)
    )


def test_bad_filters_are_named_not_fatal(client: TestClient) -> None:
    r = client.get("/", params={"since": "yesterday", "tier": "urgent", "page": "x"})
    assert r.status_code == 200
    assert "since: expected a date" in r.text
    assert "tier: expected one of" in r.text


# --- one item -------------------------------------------------------------------------


def test_item_page_highlights_evidence_and_shows_story_alerts_archive(
    client: TestClient, seeded: Seeded
) -> None:
    first = seeded.items[0]
    r = client.get(f"/items/{first.id}")
    assert r.status_code == 200
    text_block = r.text.split('id="item-text"', 1)[1].split("</div>", 1)[0]
    assert 'dir="rtl"' in r.text.split('id="item-text"', 1)[0][-80:] + text_block[:40]
    for term in {str(e["term"]) for e in first.evidence or []}:
        assert f"<mark>{term}</mark>" in text_block
    assert f"{first.id:03d}_{first.content_hash}.txt" in r.text
    assert seeded.story_copy is not None
    assert f'href="/items/{seeded.story_copy.id}"' in r.text
    # The copy's archive file was never written, and its page does not pretend otherwise.
    copy_page = client.get(f"/items/{seeded.story_copy.id}").text
    assert '<code id="archive-name">not written</code>' in copy_page
    assert "analysts" in r.text and "status-sent" in r.text
    kk = seeded.by(language="kk", tier="relevant")[0]
    assert 'id="item-text" dir="ltr" lang="kk"' in client.get(f"/items/{kk.id}").text


def test_missing_item_is_404(client: TestClient) -> None:
    assert client.get("/items/9999").status_code == 404


# --- feedback -------------------------------------------------------------------------


def test_feedback_is_stored_replaced_and_cleared(client: TestClient, seeded: Seeded) -> None:
    item = seeded.by(language="ru", tier="mention")[0]
    assert item.id is not None
    before = seeded.store.item(item.id)
    r = client.post(
        f"/items/{item.id}/feedback",
        data={"label": "relevant"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/items/{item.id}?saved=1"
    assert feedback_for(seeded.store, [item.id]) == {item.id: "relevant"}
    client.post(f"/items/{item.id}/feedback", data={"label": "not_relevant"}, headers=ORIGIN)
    assert feedback_for(seeded.store, [item.id]) == {item.id: "not_relevant"}
    page = client.get(f"/items/{item.id}").text
    assert 'id="current-label">not relevant<' in page
    client.post(f"/items/{item.id}/feedback", data={"label": "clear"}, headers=ORIGIN)
    assert feedback_for(seeded.store, [item.id]) == {}
    # The item itself never changes.
    after = seeded.store.item(item.id)
    assert after is not None and before is not None
    assert (after.tier, after.relevance, after.text) == (before.tier, before.relevance, before.text)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"referer": "https://evil.example/page"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
    ],
)
def test_cross_site_feedback_is_refused(
    client: TestClient, seeded: Seeded, headers: dict[str, str]
) -> None:
    item_id = seeded.items[3].id or 0
    r = client.post(f"/items/{item_id}/feedback", data={"label": "relevant"}, headers=headers)
    assert r.status_code == 403
    assert feedback_for(seeded.store, [item_id]) == {}


def test_feedback_rejects_bad_label_and_unknown_item(client: TestClient) -> None:
    assert client.post("/items/1/feedback", data={"label": "maybe"}).status_code == 400
    assert client.post("/items/9999/feedback", data={"label": "relevant"}).status_code == 404


def test_report_page_counts_the_feedback(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/report")
    # add_feedback: per language one relevant item agreed, one `none` item marked relevant.
    assert 'id="overall-precision">100%<' in r.text
    assert 'id="overall-recall">50%<' in r.text
    assert 'id="overall-n">6<' in r.text
    target = seeded.by(language="kk", tier="relevant")[1]
    client.post(f"/items/{target.id}/feedback", data={"label": "not_relevant"}, headers=ORIGIN)
    r = client.get("/report")
    assert 'id="overall-precision">75%<' in r.text
    assert re.search(r'data-key="kk">.*?precision">50%<', r.text, re.S)


def test_eval_export_downloads_jsonl(client: TestClient) -> None:
    r = client.get("/report/eval.jsonl", params={"split": "tune"})
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert len(rows) == 6
    assert all(
        set(row) >= {"id", "lang", "title", "text", "label", "split", "note"} for row in rows
    )
    assert {row["split"] for row in rows} == {"tune"}
    assert client.get("/report/eval.jsonl", params={"split": "x"}).status_code == 400


# --- sources --------------------------------------------------------------------------


def test_sources_page_shows_state_chart_and_next_poll(client: TestClient) -> None:
    r = client.get("/sources")
    assert r.status_code == 200
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"<tr>\s*<td[^>]*><a[^>]*>([^<]+)</a>.*?</tr>", r.text, re.S)
    }
    assert set(rows) == {"kazinform-ru", "akorda-kk", "oic-ar", "mfa-tm"}
    assert ">ok<" in rows["kazinform-ru"]
    assert "failing ×1" in rows["oic-ar"] and "HTTP 503" in rows["oic-ar"]
    assert "never polled" in rows["akorda-kk"]
    assert "disabled" in rows["mfa-tm"]
    assert rows["oic-ar"].count("<rect") == 30


# --- token ----------------------------------------------------------------------------


def test_token_needed_only_when_bound_beyond_loopback() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(host)
        require_token(host, None)
    for host in ("0.0.0.0", "192.0.2.10", "::", "monitor.example"):
        with pytest.raises(WebConfigError):
            require_token(host, None)
        require_token(host, "s3cret")


def test_token_by_header_cookie_or_query(seeded: Seeded) -> None:
    client = TestClient(create_app(seeded.store, seeded.settings, token="s3cret"))
    assert client.get("/").status_code == 401
    assert client.get("/", params={"token": "wrong"}).status_code == 401
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = client.get("/sources", params={"token": "s3cret", "q": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sources?q=x"
    assert "s3cret" not in r.headers["set-cookie"]
    assert client.get("/report").status_code == 200  # the cookie now does
    bare = TestClient(create_app(seeded.store, seeded.settings, token="s3cret"))
    feed = bare.get("/feed.atom", params={"token": "s3cret"}, follow_redirects=False)
    assert feed.status_code == 200 and not feedparser.parse(feed.content).bozo


def test_serve_refuses_to_expose_without_a_token(tmp_path: Path) -> None:
    from tests.test_cli import cli, config

    cfg = config(tmp_path)
    result = cli("--config", str(cfg), "serve", "--host", "0.0.0.0", "--port", "8999")
    assert result.returncode == 2
    assert "needs an access token" in result.stderr


def test_run_http_beyond_loopback_without_token_serves_health_only(seeded: Seeded) -> None:
    app = daemon_app(Daemon(seeded.settings, http="0.0.0.0:8080"))
    paths = {getattr(r, "path", "") for r in app.routes}
    assert paths == {"/healthz", "/metrics"}


# --- feeds ----------------------------------------------------------------------------


def test_atom_feed_is_valid_and_one_entry_per_relevant_story(
    client: TestClient, seeded: Seeded
) -> None:
    r = client.get("/feed.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    relevant = seeded.by(tier="relevant")
    stories = {i.story_id for i in relevant}
    assert len(feed.entries) == len(stories) == len(relevant) - 1
    entry = feed.entries[0]
    assert entry.id.startswith("tag:oic-monitor,2024:item/")
    assert entry.link.startswith("https://") and entry.title and entry.summary
    assert entry.updated_parsed and entry.author
    ids = [e.id for e in feed.entries]
    assert len(ids) == len(set(ids))
    copies = [e for e in feed.entries if "[2 outlets]" in e.summary]
    assert len(copies) == 1


def test_atom_feed_takes_the_list_filters(client: TestClient, seeded: Seeded) -> None:
    feed = feedparser.parse(client.get("/feed.atom", params={"language": "ar"}).content)
    assert not feed.bozo
    hashes = {e.id.rsplit("/", 1)[1] for e in feed.entries}
    assert hashes <= {i.content_hash for i in seeded.by(language="ar", tier="relevant")}
    assert feed.entries and all(e.title_detail.language == "ar" for e in feed.entries)
    assert "language=ar" in feed.feed.links[0].href
    mention = feedparser.parse(client.get("/feed.atom", params={"tier": "mention"}).content)
    assert len(mention.entries) == len(seeded.by(tier="mention"))
    empty = feedparser.parse(client.get("/feed.atom", params={"q": "no such words"}).content)
    assert not empty.bozo and empty.entries == []


def test_json_feed_shape(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/feed.json", params={"source": "kazinform-ru"})
    data = r.json()
    assert r.headers["content-type"].startswith("application/feed+json")
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["feed_url"].endswith("/feed.json?source=kazinform-ru")
    expected = seeded.by(source="kazinform-ru", tier="relevant")
    assert len(data["items"]) == len(expected)
    for entry in data["items"]:
        assert {"id", "url", "title", "summary", "content_text", "date_published"} <= set(entry)
        assert entry["authors"] == [{"name": "kazinform-ru"}]
        assert entry["language"] == "ru"
        assert entry["_oic"]["tier"] == "relevant" and entry["_oic"]["evidence"]
