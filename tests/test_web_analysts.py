"""Several analysts on one dashboard: their own tokens, marks, read state, stars and saved
searches; the health banner and the coverage page. In-process, over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from monitor.config import ConfigError, settings_from_dict
from monitor.coverage import coverage
from monitor.store import marks
from monitor.store.models import utcnow
from monitor.web.app import WebConfigError, create_app
from tests.test_web_seed import SOURCES, Seeded, seed, settings_for

ORIGIN = {"origin": "http://testserver"}
TOKENS = {"OIC_TEST_TOKEN_AIGERIM": "token-aigerim-1", "OIC_TEST_TOKEN_DMITRI": "token-dmitri-2"}


def story_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-story="(\d+)"', html.split('id="stories"', 1)[-1])]


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    data = seed(tmp_path)
    users = [
        {"name": "aigerim", "token_env": "OIC_TEST_TOKEN_AIGERIM"},
        {"name": "dmitri", "token_env": "OIC_TEST_TOKEN_DMITRI"},
    ]
    data.settings = settings_for(tmp_path, data.settings.storage.url, users=users)
    yield data
    data.store.close()


def as_analyst(seeded: Seeded, token: str, shared: str | None = None) -> TestClient:
    client = TestClient(create_app(seeded.store, seeded.settings, token=shared))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_each_analyst_has_their_own_read_state_stars_and_marks(seeded: Seeded) -> None:
    aigerim = as_analyst(seeded, "token-aigerim-1")
    dmitri = as_analyst(seeded, "token-dmitri-2")
    unread = story_ids(aigerim.get("/").text)
    assert unread == story_ids(dmitri.get("/").text)
    assert 'id="analyst">aigerim<' in aigerim.get("/").text

    opened = seeded.store.item(unread[0])
    assert opened is not None
    aigerim.get(f"/items/{opened.id}")
    assert unread[0] not in story_ids(aigerim.get("/").text)
    assert unread[0] in story_ids(dmitri.get("/").text)  # still unread for him

    r = dmitri.post(
        f"/stories/{unread[1]}/star", data={"value": "1", "back": "/?show=starred"}, headers=ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/?show=starred"
    assert story_ids(dmitri.get("/", params={"show": "starred"}).text) == [unread[1]]
    assert story_ids(aigerim.get("/", params={"show": "starred"}).text) == []

    target = seeded.by(tier="none")[0].id
    aigerim.post(f"/items/{target}/feedback", data={"label": "relevant"}, headers=ORIGIN)
    dmitri.post(f"/items/{target}/feedback", data={"label": "not_relevant"}, headers=ORIGIN)
    by = {(m.analyst, m.label) for m in marks.marks(seeded.store) if m.item.id == target}
    assert by == {("aigerim", "relevant"), ("dmitri", "not_relevant")}
    page = aigerim.get(f"/items/{target}").text
    assert 'id="current-label">relevant<' in page and "dmitri: not relevant" in page
    report = aigerim.get("/report").text
    assert 'data-kind="analyst" data-key="aigerim"' in report
    assert 'data-kind="analyst" data-key="dmitri"' in report


def test_read_and_star_answer_scripts_in_json_and_refuse_other_sites(seeded: Seeded) -> None:
    client = as_analyst(seeded, "token-dmitri-2")
    story = story_ids(client.get("/").text)[0]
    json_headers = {**ORIGIN, "accept": "application/json"}
    r = client.post(f"/stories/{story}/read", data={"value": "1"}, headers=json_headers)
    assert r.json() == {"story": story, "read": True}
    r = client.post(f"/stories/{story}/read", data={"value": "0"}, headers=json_headers)
    assert r.json() == {"story": story, "read": False}
    assert story in story_ids(client.get("/").text)
    evil = client.post(
        f"/stories/{story}/read", data={"value": "1"}, headers={"origin": "https://evil.example"}
    )
    assert evil.status_code == 403
    assert story in story_ids(client.get("/").text)
    # A return address elsewhere is not followed.
    r = client.post(
        f"/stories/{story}/star", data={"value": "1", "back": "//evil.example/x"}, headers=ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/"
    assert client.post(f"/stories/{story}/delete", headers=ORIGIN).status_code == 404


def test_marking_unread_on_the_item_page_keeps_it_unread(seeded: Seeded) -> None:
    client = as_analyst(seeded, "token-aigerim-1")
    story = story_ids(client.get("/").text)[0]
    page = client.get(f"/items/{story}").text
    form = re.search(r'action="/stories/\d+/read">.*?name="back" value="([^"]+)"', page, re.S)
    assert form and "stay=unread" in form.group(1)
    back = form.group(1).replace("&amp;", "&")
    r = client.post(
        f"/stories/{story}/read", data={"value": "0", "back": back}, headers=ORIGIN
    )  # follows the redirect back to the item page
    assert r.status_code == 200 and 'id="toggle-read"' in r.text and ">Mark read<" in r.text
    assert story in story_ids(client.get("/").text)


def test_the_shared_token_is_the_shared_analyst(seeded: Seeded) -> None:
    shared = as_analyst(seeded, "s3cret", shared="s3cret")
    story = story_ids(shared.get("/").text)[0]
    shared.get(f"/items/{story}")
    assert story not in story_ids(shared.get("/").text)
    assert story in story_ids(as_analyst(seeded, "token-aigerim-1", shared="s3cret").get("/").text)
    bare = TestClient(create_app(seeded.store, seeded.settings))
    assert bare.get("/").status_code == 401  # named analysts: a token is always needed


def test_a_token_in_the_url_changes_the_analyst_of_a_browser(seeded: Seeded) -> None:
    client = TestClient(create_app(seeded.store, seeded.settings))
    client.get("/", params={"token": "token-aigerim-1"})
    assert 'id="analyst">aigerim<' in client.get("/").text
    client.get("/", params={"token": "token-dmitri-2"})
    assert 'id="analyst">dmitri<' in client.get("/").text


def test_a_user_without_a_token_in_the_environment_is_a_clear_error(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OIC_TEST_TOKEN_DMITRI")
    with pytest.raises(WebConfigError, match="'dmitri'.*OIC_TEST_TOKEN_DMITRI is not set"):
        create_app(seeded.store, seeded.settings)
    monkeypatch.setenv("OIC_TEST_TOKEN_DMITRI", "token-aigerim-1")
    with pytest.raises(WebConfigError, match="same token as 'aigerim'"):
        create_app(seeded.store, seeded.settings)


def test_saved_searches_are_per_analyst_with_their_own_feeds(seeded: Seeded) -> None:
    aigerim = as_analyst(seeded, "token-aigerim-1")
    r = aigerim.post(
        "/searches",
        data={"name": "Kazakh and Russian OIC", "query": "language=kk&language=ru&q=ОИС+OR+ИЫҰ"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/?language=kk")
    [saved] = marks.saved_searches(seeded.store, "aigerim")
    assert marks.saved_searches(seeded.store, "dmitri") == []
    page = aigerim.get("/").text
    assert "Kazakh and Russian OIC" in page and f"/searches/{saved.id}/feed.atom" in page
    assert "Kazakh and Russian OIC" not in as_analyst(seeded, "token-dmitri-2").get("/").text

    atom = aigerim.get(f"/searches/{saved.id}/feed.atom")
    feed = feedparser.parse(atom.content)
    assert not feed.bozo and feed.feed.title == "OIC monitor: Kazakh and Russian OIC"
    expected = {
        i.content_hash
        for i in seeded.items
        if i.language in ("kk", "ru") and i.tier == "relevant" and i.id == i.story_id
    }
    assert {e.id.rsplit("/", 1)[1] for e in feed.entries} == expected
    data = aigerim.get(f"/searches/{saved.id}/feed.json").json()
    assert len(data["items"]) == len(expected)
    assert {it["language"] for it in data["items"]} == {"kk", "ru"}
    # Feed readers give the token in the URL on every request, without a cookie.
    reader = TestClient(create_app(seeded.store, seeded.settings))
    again = reader.get(
        f"/searches/{saved.id}/feed.atom", params={"token": "token-aigerim-1"},
        follow_redirects=False,
    )  # fmt: skip
    assert again.status_code == 200 and not feedparser.parse(again.content).bozo
    # A saved search and its feeds are its analyst's: to anyone else there is no such search.
    # The single shared token is the analyst `shared`, one more analyst.
    with_shared = TestClient(create_app(seeded.store, seeded.settings, token="shared-token-3"))
    for client, token in ((reader, "token-dmitri-2"), (with_shared, "shared-token-3")):
        for kind in ("atom", "json"):
            theirs = client.get(
                f"/searches/{saved.id}/feed.{kind}", params={"token": token},
                follow_redirects=False,
            )  # fmt: skip
            assert theirs.status_code == 404, (token, kind)
            assert "Kazakh" not in theirs.text
    shared = marks.save_search(seeded.store, "shared", "Everything", "tier=relevant")
    assert (
        with_shared.get(
            f"/searches/{shared.id}/feed.atom", params={"token": "shared-token-3"}
        ).status_code
        == 200
    )
    assert (
        reader.get(
            f"/searches/{shared.id}/feed.atom", params={"token": "token-aigerim-1"}
        ).status_code
        == 404
    )

    other = as_analyst(seeded, "token-dmitri-2")
    other.post(f"/searches/{saved.id}/delete", headers=ORIGIN)
    assert marks.saved_searches(seeded.store, "aigerim") != []  # not his to delete
    aigerim.post(f"/searches/{saved.id}/delete", headers=ORIGIN)
    assert marks.saved_searches(seeded.store, "aigerim") == []
    assert aigerim.get(f"/searches/{saved.id}/feed.atom").status_code == 404


# --- health ---------------------------------------------------------------------------


PAGES = ["/", "/sources", "/coverage", "/report", "/items/1", "/?show=starred"]


def test_every_page_shows_the_banner_while_a_source_fails(seeded: Seeded) -> None:
    client = as_analyst(seeded, "token-aigerim-1")
    for path in PAGES:
        page = client.get(path).text
        banner = page.split('id="health-banner"', 1)[1].split("</div>", 1)[0]
        assert "1 source failing" in banner and ">oic-ar<" in banner, path
    seeded.store.record_poll("oic-ar", error=None)
    for path in PAGES:
        assert 'id="health-banner"' not in client.get(path).text, path


def test_an_open_gap_shows_in_the_banner_and_on_the_coverage_page(seeded: Seeded) -> None:
    seeded.store.record_poll("oic-ar", error=None)
    now = utcnow()
    gap = seeded.store.open_gap("akorda-kk", now - timedelta(days=2), now - timedelta(days=1))
    client = as_analyst(seeded, "token-aigerim-1")
    for path in PAGES:
        banner = client.get(path).text.split('id="health-banner"', 1)[1].split("</div>", 1)[0]
        assert "1 coverage gap open" in banner, path
    page = client.get("/coverage").text
    assert "akorda-kk</strong>: nothing seen between" in page
    rows = coverage(seeded.store, seeded.settings)
    for row in rows:
        tr = page.split(f'data-source="{row.name}"', 1)[1].split("</tr>", 1)[0]
        assert f'data-label="Items" class="num">{row.items}<' in tr
        assert f'class="num gaps-open">{row.gaps_open}<' in tr
        assert tr.count("<rect") == 30
    seeded.store.close_gap(gap.id or 0, status="filled", items_found=3, route="sitemap")
    assert 'id="health-banner"' not in client.get("/").text


def test_a_disabled_or_unknown_source_raises_no_banner(seeded: Seeded) -> None:
    seeded.store.record_poll("oic-ar", error=None)
    seeded.store.source_state("mfa-tm")  # configured but disabled
    seeded.store.record_poll("mfa-tm", error="HTTP 500")
    seeded.store.source_state("gone")  # no longer configured
    seeded.store.record_poll("gone", error="HTTP 500")
    client = as_analyst(seeded, "token-aigerim-1")
    assert 'id="health-banner"' not in client.get("/").text
    assert set(SOURCES.values()) <= {s.name for s in seeded.settings.sources}


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ([{"name": "shared", "token_env": "X"}], "names the shared token's analyst"),
        ([{"name": "a b", "token_env": "X"}], "web.users[0] (a b).name"),
        ([{"name": "aigerim", "token_env": "X"}, {"name": "aigerim", "token_env": "Y"}],
         "two users are both named 'aigerim'"),
        ([{"name": "aigerim"}], "web.users[0] (aigerim).token_env: Field required"),
        ([{"name": "aigerim", "token": "plain"}], "web.users[0] (aigerim).token: unknown key"),
    ],
)  # fmt: skip
def test_bad_users_are_config_errors_naming_the_key(
    tmp_path: Path, users: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings_from_dict({"web": {"users": users}}, tmp_path / "monitor.toml")
