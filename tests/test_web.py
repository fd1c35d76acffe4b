"""The dashboard over HTTP (in-process): filters, paging, item page, feedback, token, feeds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from starlette.testclient import TestClient

from monitor.config import SHARED_ANALYST
from monitor.fingerprint import content_hash
from monitor.scheduler import Daemon
from monitor.store.marks import feedback_for
from monitor.store.models import Item, utcnow
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


def story_ids(html: str) -> list[int]:
    return [
        int(x) for x in re.findall(r'<li class="story[^"]*" data-id="\d+" data-story="(\d+)"', html)
    ]


def stories_newest_first(items: list[Item]) -> list[int]:
    latest: dict[int, tuple[datetime, int]] = {}
    for i in items:
        sid = i.story_id or i.id or 0
        key = (i.published or i.fetched_at, sid)
        latest[sid] = max(latest.get(sid, key), key)
    return [sid for sid, _ in sorted(latest.items(), key=lambda kv: kv[1], reverse=True)]


ALL = {"tier": "any", "show": "all"}


# --- the list -------------------------------------------------------------------------


def test_list_is_stories_newest_first_and_paged(client: TestClient, seeded: Seeded) -> None:
    expected = stories_newest_first(seeded.items)
    assert len(expected) == len(seeded.items) - 1  # one story has two outlets
    seen: list[int] = []
    page = 1
    while True:
        r = client.get("/", params={**ALL, "page": page})
        assert r.status_code == 200
        ids = story_ids(r.text)
        assert len(ids) <= PAGE_SIZE
        seen += ids
        if 'rel="next"' not in r.text:
            break
        page += 1
    assert seen == expected
    assert page == -(-len(expected) // PAGE_SIZE)
    assert f'id="total">{len(expected)}<' in client.get("/", params=ALL).text


def test_a_story_row_shows_its_outlets_snippet_language_tier_and_date(
    client: TestClient, seeded: Seeded
) -> None:
    first, copy = seeded.items[0], seeded.story_copy
    assert copy is not None and copy.story_id == first.story_id
    html = client.get("/", params={**ALL, "until": "2024-05-01"}).text
    row = re.search(
        rf'<li class="story[^"]*"[^>]*data-story="{first.story_id}".*?</li>', html, re.S
    )
    assert row, "the story is listed once"
    assert story_ids(html).count(first.story_id or 0) == 1
    text = re.sub(r"<[^>]+>", "", row.group(0))
    assert f"2 outlets: {first.source}, {copy.source}" in " ".join(text.split())
    assert "<mark>" in row.group(0).split('class="snippet"', 1)[1]
    assert first.published and first.published.strftime("%Y-%m-%d") in text
    assert f">{first.language}<" in row.group(0) and ">relevant<" in row.group(0)


def test_an_undated_item_is_shown_as_undated_and_sorted_by_when_stored(
    client: TestClient, seeded: Seeded
) -> None:
    body = "Undated note on the OIC summit. The Organisation of Islamic Cooperation met."
    undated = Item(
        url="https://kazinform-ru.example/undated", source="kazinform-ru", title="Undated OIC",
        text=body, content_hash=content_hash(body), language="en", tier="relevant",
        relevance=0.9, fetched_at=utcnow(),
    )  # fmt: skip
    stored, _ = seeded.store.add_item(undated, [undated.url])
    html = client.get("/", params=ALL).text
    assert story_ids(html)[0] == stored.story_id  # stored just now: the newest
    row = html.split(f'data-story="{stored.story_id}"', 1)[1].split("</li>", 1)[0]
    assert 'class="date undated"' in row and ">undated<" in row
    assert '<dd id="published">undated</dd>' in client.get(f"/items/{stored.id}").text


def test_the_default_view_is_the_unread_relevant_stories(
    client: TestClient, seeded: Seeded
) -> None:
    relevant = stories_newest_first(seeded.by(tier="relevant"))
    first_page = story_ids(client.get("/").text)
    assert first_page == relevant[:PAGE_SIZE]
    opened = seeded.store.item(first_page[0])
    assert opened is not None
    client.get(f"/items/{opened.id}")  # reading it marks its story read
    after = story_ids(client.get("/").text)
    assert first_page[0] not in after and after == relevant[1 : PAGE_SIZE + 1]
    assert first_page[0] in story_ids(client.get("/", params={"show": "all"}).text)
    assert story_ids(client.get("/", params={"show": "read"}).text) == [first_page[0]]


@pytest.mark.parametrize(
    ("params", "attrs"),
    [
        ({"language": "kk"}, [{"language": "kk"}]),
        ({"language": ["ru", "kk"]}, [{"language": "ru"}, {"language": "kk"}]),
        ({"tier": "mention"}, [{"tier": "mention"}]),
        ({"tier": ["mention", "none"]}, [{"tier": "mention"}, {"tier": "none"}]),
        (
            {"source": ["oic-ar", "akorda-kk"], "tier": "relevant"},
            [{"source": "oic-ar", "tier": "relevant"}, {"source": "akorda-kk", "tier": "relevant"}],
        ),
    ],
)
def test_filters_narrow_the_list_and_take_several_values(
    client: TestClient, seeded: Seeded, params: dict[str, Any], attrs: list[dict[str, str]]
) -> None:
    items = [i for a in attrs for i in seeded.by(**a)]
    expected = stories_newest_first(items)
    r = client.get("/", params={"tier": "any", "show": "all", **params})
    assert story_ids(r.text) == expected[:PAGE_SIZE]
    assert f'id="total">{len(expected)}<' in r.text
    for key, values in params.items():  # the form shows what is ticked
        for value in [values] if isinstance(values, str) else values:
            assert re.search(rf'name="{key}" value="{re.escape(value)}"[^>]*checked', r.text)


def test_date_range_is_inclusive_of_both_days(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/", params={**ALL, "since": "2024-05-02", "until": "2024-05-04"})
    days = {"2024-05-02", "2024-05-03", "2024-05-04"}
    expected = [i for i in seeded.items if i.published and i.published.date().isoformat() in days]
    assert sorted(story_ids(r.text)) == sorted(i.story_id or 0 for i in expected)
    assert len(expected) == 3


def test_search_folds_case_and_takes_or(client: TestClient, seeded: Seeded) -> None:
    lower = client.get("/", params={**ALL, "q": "оис", "language": "ru"})
    upper = client.get("/", params={**ALL, "q": "ОИС", "language": "ru"})
    assert story_ids(lower.text) == story_ids(upper.text)
    hits = {i.story_id for i in seeded.by(language="ru") if "ОИС" in i.text}
    assert hits and set(story_ids(upper.text)) == hits
    arabic = client.get("/", params={**ALL, "q": '"حسين إبراهيم طه"'})
    assert story_ids(arabic.text) and all(
        "حسين إبراهيم طه" in i.text for i in seeded.items if i.story_id in story_ids(arabic.text)
    )
    either = client.get("/", params={**ALL, "q": 'ОИС OR "حسين إبراهيم طه"'}).text
    total = len(set(story_ids(upper.text)) | set(story_ids(arabic.text)))
    assert total > PAGE_SIZE and f'id="total">{total}<' in either


def test_bad_filters_are_named_not_fatal(client: TestClient) -> None:
    r = client.get("/", params={"since": "yesterday", "tier": "urgent", "page": "x", "show": "?"})
    assert r.status_code == 200
    assert "since: expected a date" in r.text
    assert "tier: expected one of" in r.text
    assert "show: expected one of" in r.text


# --- one item -------------------------------------------------------------------------


def test_item_page_text_first_then_evidence_by_concept_story_alerts_archive(
    client: TestClient, seeded: Seeded
) -> None:
    first = seeded.items[0]
    r = client.get(f"/items/{first.id}")
    assert r.status_code == 200
    text_block = r.text.split('id="item-text"', 1)[1].split("</div>", 1)[0]
    for term in {str(e["term"]) for e in first.evidence or []}:
        assert f"<mark>{term}</mark>" in text_block
    # The text comes before the evidence, which is folded away under a summary.
    assert r.text.index('id="item-text"') < r.text.index('id="evidence"')
    evidence = r.text.split('id="evidence"', 1)[1].split("</details>", 1)[0]
    concepts = {str(e["concept"]) for e in first.evidence or []}
    assert evidence.count("<tr><td>") == len(concepts)
    assert f"{len(first.evidence or [])} match" in evidence
    assert f"{first.id:03d}_{first.content_hash}.txt" in r.text
    assert seeded.story_copy is not None
    assert f'href="/items/{seeded.story_copy.id}"' in r.text
    # The copy's archive file was never written, and its page does not pretend otherwise.
    copy_page = client.get(f"/items/{seeded.story_copy.id}").text
    assert '<code id="archive-name">not written</code>' in copy_page
    assert "analysts" in r.text and "status-sent" in r.text
    kk = seeded.by(language="kk", tier="relevant")[0]
    assert 'id="item-text" dir="ltr" lang="kk"' in client.get(f"/items/{kk.id}").text


def test_newer_and_older_links_follow_the_list_and_keep_its_filters(
    client: TestClient, seeded: Seeded
) -> None:
    params = {"language": ["ru", "kk"], "tier": "any", "show": "all"}
    listed = story_ids(client.get("/", params=params).text)
    qs = "?tier=any&amp;language=ru&amp;language=kk&amp;show=all"
    middle = seeded.store.item(listed[1])
    assert middle is not None
    page = client.get(f"/items/{middle.id}", params=params).text
    newer = re.search(r'href="/items/(\d+)([^"]*)" rel="prev"', page)
    older = re.search(r'href="/items/(\d+)([^"]*)" rel="next"', page)
    assert newer and older
    assert newer.group(2) == older.group(2) == qs
    assert {int(newer.group(1)), int(older.group(1))} <= {
        i.id for i in seeded.items if i.story_id in (listed[0], listed[2])
    }
    assert f'href="/{qs}" id="back"' in page


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
    assert feedback_for(seeded.store, [item.id], SHARED_ANALYST) == {item.id: "relevant"}
    client.post(f"/items/{item.id}/feedback", data={"label": "not_relevant"}, headers=ORIGIN)
    assert feedback_for(seeded.store, [item.id], SHARED_ANALYST) == {item.id: "not_relevant"}
    page = client.get(f"/items/{item.id}").text
    assert 'id="current-label">not relevant<' in page
    client.post(f"/items/{item.id}/feedback", data={"label": "clear"}, headers=ORIGIN)
    assert feedback_for(seeded.store, [item.id], SHARED_ANALYST) == {}
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
    assert feedback_for(seeded.store, [item_id], SHARED_ANALYST) == {}


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
    users = '[web]\nusers = [{name = "aigerim", token_env = "OIC_TEST_UNSET_TOKEN"}]\n'
    result = cli("--config", str(config(tmp_path, users)), "serve", "--port", "8999")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "[web] users: analyst 'aigerim' has no token: environment variable "
        "OIC_TEST_UNSET_TOKEN is not set"
    )


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
        assert entry["language"] == seeded.store.item(entry["_oic"]["item_id"]).language  # type: ignore[union-attr]
        assert entry["_oic"]["tier"] == "relevant" and entry["_oic"]["evidence"]
