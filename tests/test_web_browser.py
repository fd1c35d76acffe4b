"""The dashboard driven in headless Chromium by two analysts, at desktop and phone widths:
filters, stories, the keyboard (j/k/o/m/s), read state per analyst, undated and month-only
dates, the health banner, no page wider than a phone, and the Content-Security-Policy in
force.

Screenshots are saved under test-artifacts/ for a person to look at. Needs Debian's chromium
and chromium-driver (.ci/run installs them) and selenium.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import settings_from_dict
from monitor.store import marks
from monitor.store.models import Item, StoryState
from monitor.store.repo import Store
from monitor.web.app import create_app
from tests.conftest import SEEDS_DIR
from tests.daemon_support import cli
from tests.test_web_seed import Seeded, add_feedback, seed, settings_for
from tests.web_support import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = (390, 844)
DESKTOP = (1280, 900)
TOKENS = {"aigerim": "browser-token-aigerim", "dmitri": "browser-token-dmitri"}

webdriver = pytest.importorskip("selenium.webdriver")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    folder = Path(tempfile.mkdtemp(prefix="oic-web-e2e-"))
    env = {f"OIC_E2E_TOKEN_{name.upper()}": token for name, token in TOKENS.items()}
    os.environ.update(env)
    data = seed(folder)
    users = [{"name": name, "token_env": f"OIC_E2E_TOKEN_{name.upper()}"} for name in TOKENS]
    data.settings = settings_for(folder, data.settings.storage.url, users=users)
    add_feedback(data)
    try:
        yield data
    finally:
        data.store.close()
        for name in env:
            os.environ.pop(name, None)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def base_url(seeded: Seeded) -> Iterator[str]:
    with running(create_app(seeded.store, seeded.settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to download a driver
    profile = tempfile.mkdtemp(prefix="oic-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The console is read for Content-Security-Policy violations.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _viewport(driver: Any, size: tuple[int, int], mobile: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile},
    )


@pytest.fixture(params=["desktop", "phone"])
def width(request: pytest.FixtureRequest, browser: Any) -> Iterator[str]:
    size, mobile = (PHONE, True) if request.param == "phone" else (DESKTOP, False)
    _viewport(browser, size, mobile)
    try:
        yield str(request.param)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _shot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5000
    return path


def _wait(driver: Any) -> WebDriverWait[Any]:
    return WebDriverWait(driver, 15)


def _csp_errors(driver: Any) -> list[str]:
    """Content-Security-Policy violations the console reported since the last call."""
    return [
        str(e["message"])
        for e in driver.get_log("browser")
        if "Content Security Policy" in str(e.get("message"))
    ]


def _sign_in(driver: Any, base_url: str, analyst: str, path: str = "/") -> None:
    driver.get(f"{base_url}{path}{'&' if '?' in path else '?'}token={TOKENS[analyst]}")
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "analyst"), analyst))


def _story_ids(driver: Any) -> list[int]:
    return [
        int(li.get_attribute("data-story"))
        for li in driver.find_elements(By.CSS_SELECTOR, "li.story")
    ]


def _state(seeded: Seeded, analyst: str, story: int) -> StoryState | None:
    with seeded.store.session() as s:
        return s.get(StoryState, (analyst, story))


def _scroll_width(driver: Any) -> int:
    return int(driver.execute_script("return document.documentElement.scrollWidth"))


def _press(driver: Any, key: str) -> None:
    driver.find_element(By.TAG_NAME, "body").send_keys(key)


def test_filter_open_mark_and_see_the_report_change(
    browser: Any, base_url: str, seeded: Seeded
) -> None:
    _viewport(browser, DESKTOP, mobile=False)
    _sign_in(browser, base_url, "aigerim", "/report")
    before = browser.find_element(By.ID, "overall-precision").text
    assert before == "100%"  # every item called relevant so far was agreed with

    # Relevant Arabic stories: the filters open behind their button.
    browser.get(base_url + "/?show=all")
    assert not browser.find_element(By.ID, "f-language-ar").is_displayed()
    browser.find_element(By.CSS_SELECTOR, "#filters > summary").click()
    browser.find_element(By.ID, "f-language-ar").click()
    browser.find_element(By.ID, "f-filter").click()
    _wait(browser).until(ec.url_contains("language=ar"))
    expected = {i.story_id for i in seeded.by(language="ar", tier="relevant")}
    assert set(_story_ids(browser)) == expected
    for row in browser.find_elements(By.CSS_SELECTOR, "li.story"):
        assert row.find_element(By.CSS_SELECTOR, ".lang").text == "ar"
        assert row.find_element(By.CSS_SELECTOR, ".tier").text == "relevant"
    _shot(browser, "stories-filtered-desktop")

    # Open a story not marked yet: text first and right-to-left, evidence folded away.
    target = next(i for i in seeded.by(language="ar", tier="relevant") if i.id == i.story_id
                  and i.id not in _marked(seeded))  # fmt: skip
    browser.find_element(By.CSS_SELECTOR, f'li[data-story="{target.id}"] a.open').click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "item-text")))
    assert "language=ar" in browser.current_url
    text = browser.find_element(By.ID, "item-text")
    assert text.get_attribute("dir") == "rtl"
    marks_ = text.find_elements(By.TAG_NAME, "mark")
    assert marks_ and all(m.text for m in marks_)
    evidence = browser.find_element(By.ID, "evidence")
    assert evidence.get_attribute("open") is None
    assert text.location["y"] < evidence.location["y"]
    _shot(browser, "item-ar-desktop")

    # The analyst disagrees with the classifier: precision drops.
    browser.find_element(By.ID, "mark-not-relevant").click()
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "current-label"), "not relevant"))
    assert browser.find_element(By.CSS_SELECTOR, ".saved").is_displayed()
    browser.get(base_url + "/report")
    assert browser.find_element(By.ID, "overall-precision").text == "75%"
    analyst_row = browser.find_element(
        By.CSS_SELECTOR, 'tr[data-kind="analyst"][data-key="aigerim"]'
    )
    assert analyst_row.find_element(By.CSS_SELECTOR, ".precision").text == "0%"
    _shot(browser, "report-after-desktop")
    assert _csp_errors(browser) == []


def test_read_state_is_kept_per_analyst(
    browser: Any, base_url: str, seeded: Seeded, width: str
) -> None:
    _sign_in(browser, base_url, "aigerim")
    unread = _story_ids(browser)
    story = unread[0]
    browser.find_element(By.CSS_SELECTOR, f'li[data-story="{story}"] a.open').click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "item-text")))
    assert browser.find_element(By.ID, "toggle-read").text == "Mark unread"
    browser.find_element(By.ID, "back").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "total")))
    assert story not in _story_ids(browser)
    _shot(browser, f"read-aigerim-{width}")

    _sign_in(browser, base_url, "dmitri")
    assert story in _story_ids(browser)
    _shot(browser, f"read-dmitri-{width}")
    _sign_in(browser, base_url, "aigerim")
    assert story not in _story_ids(browser)
    # Put it back for the other tests.
    marks.set_read(seeded.store, "aigerim", story, False)


def test_keyboard_moves_opens_marks_and_stars(
    browser: Any, base_url: str, seeded: Seeded, width: str
) -> None:
    _sign_in(browser, base_url, "dmitri", "/?show=all")
    rows = _story_ids(browser)
    _press(browser, "j")
    _press(browser, "j")
    _press(browser, "j")
    _press(browser, "k")
    current = browser.find_elements(By.CSS_SELECTOR, "li.story.current")
    assert [int(c.get_attribute("data-story")) for c in current] == [rows[1]]
    assert browser.switch_to.active_element.get_attribute("class") == "open"

    _press(browser, "s")
    _wait(browser).until(
        lambda d: (
            "starred" in d.find_element(By.CSS_SELECTOR, "li.story.current").get_attribute("class")
        )
    )
    star = browser.find_element(By.CSS_SELECTOR, "li.story.current .star-toggle")
    assert star.text == "★ Starred" and star.get_attribute("aria-pressed") == "true"
    _press(browser, "m")
    _wait(browser).until(
        lambda d: (
            " read" in d.find_element(By.CSS_SELECTOR, "li.story.current").get_attribute("class")
        )
    )
    state = _state(seeded, "dmitri", rows[1])
    assert state is not None and state.read_at and state.starred_at
    assert browser.current_url.endswith("/?show=all")  # no reload: the place is kept
    _shot(browser, f"keys-list-{width}")

    _press(browser, "o")
    _wait(browser).until(ec.presence_of_element_located((By.ID, "item-text")))
    item = seeded.store.item(int(browser.current_url.split("/items/")[1].split("?")[0]))
    assert item is not None and (item.story_id or item.id) == rows[1]
    _press(browser, "j")  # the next story down the list
    _wait(browser).until(lambda d: _story_of(seeded, d.current_url) == rows[2])
    assert "show=all" in browser.current_url
    _press(browser, "k")
    _wait(browser).until(lambda d: _story_of(seeded, d.current_url) == rows[1])
    toggle = browser.find_element(By.ID, "toggle-read")
    assert toggle.text == "Mark unread"
    _press(browser, "m")
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "toggle-read"), "Mark read"))
    _press(browser, "s")
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "toggle-star"), "☆ Star"))
    state = _state(seeded, "dmitri", rows[1])
    assert state is not None and state.read_at is None and state.starred_at is None
    _shot(browser, f"keys-item-{width}")
    assert _csp_errors(browser) == []
    for story in rows[:3]:
        marks.set_read(seeded.store, "dmitri", story, False)


def test_a_story_row_shows_its_outlets(
    browser: Any, base_url: str, seeded: Seeded, width: str
) -> None:
    first, copy = seeded.items[0], seeded.story_copy
    assert copy is not None
    _sign_in(browser, base_url, "aigerim", "/?show=all&tier=any&until=2024-05-01")
    row = browser.find_element(By.CSS_SELECTOR, f'li[data-story="{first.story_id}"]')
    outlets = row.find_element(By.CSS_SELECTOR, ".outlets")
    assert outlets.is_displayed()
    assert outlets.text == f"2 outlets: {first.source}, {copy.source}"
    assert row.find_element(By.CSS_SELECTOR, ".snippet mark").is_displayed()
    _shot(browser, f"story-outlets-{width}")


def test_undated_stories_and_a_month_alone_read_as_such(
    browser: Any, width: str, tmp_path: Path
) -> None:
    """Imported texts: two give no date, one only a month."""
    cfg = tmp_path / "monitor.toml"
    cfg.write_text('[storage]\nurl = "sqlite:///monitor.db"\n', encoding="utf-8")
    assert cli(cfg, "import", str(SEEDS_DIR)).returncode == 0
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = Store.open(url)
    try:
        with running(create_app(store, settings_from_dict({"storage": {"url": url}}, cfg))) as base:
            browser.get(base + "/?show=all&tier=any")
            rows = browser.find_elements(By.CSS_SELECTOR, "li.story")
            dates = {r.find_element(By.CSS_SELECTOR, ".date").text for r in rows}
            assert dates == {"undated", "2022-03-24", "2026-01-13", "March 2023"}
            undated = [r for r in rows if r.find_elements(By.CSS_SELECTOR, ".date.undated")]
            assert len(undated) == 2
            assert _scroll_width(browser) <= browser.execute_script("return innerWidth")
            _shot(browser, f"imported-stories-{width}")
            undated[0].find_element(By.CSS_SELECTOR, "a.open").click()
            _wait(browser).until(ec.presence_of_element_located((By.ID, "item-text")))
            assert browser.find_element(By.CSS_SELECTOR, ".item-meta .undated").text == "undated"
            published = browser.find_element(By.ID, "published")
            assert published.get_attribute("textContent") == "undated"
            assert browser.find_element(By.TAG_NAME, "h1").text.strip()
            assert _scroll_width(browser) <= browser.execute_script("return innerWidth")
            _shot(browser, f"undated-item-{width}")
    finally:
        store.close()


def test_no_page_is_wider_than_a_phone(browser: Any, base_url: str, seeded: Seeded) -> None:
    _viewport(browser, PHONE, mobile=True)
    try:
        _sign_in(browser, base_url, "aigerim")
        ar = seeded.by(language="ar", tier="relevant")[0]
        kk = seeded.by(language="kk", tier="relevant")[0]
        pages = {
            "stories": "/",
            "stories-all": "/?show=all&tier=any",
            "item-ar": f"/items/{ar.id}",
            "item-kk": f"/items/{kk.id}?language=kk",
            "sources": "/sources",
            "coverage": "/coverage",
            "report": "/report",
            "starred-empty": "/?show=starred",
        }
        for name, path in pages.items():
            browser.get(base_url + path)
            for details in browser.find_elements(By.CSS_SELECTOR, "details > summary"):
                details.click()  # filters and evidence open must fit too
            assert _scroll_width(browser) <= PHONE[0], name
            _shot(browser, f"{name}-phone")
        browser.get(base_url + "/")
        filters = browser.find_element(By.ID, "filters")
        assert filters.get_attribute("open") is None  # behind a button on the first screen
        first = browser.find_element(By.CSS_SELECTOR, "li.story")
        assert first.location["y"] < PHONE[1] / 2 and first.size["height"] < PHONE[1] / 4
        assert _csp_errors(browser) == []
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        for story in {i.story_id for i in seeded.items}:
            marks.set_read(seeded.store, "aigerim", story or 0, False)


def test_the_health_banner_shows_while_a_source_fails(
    browser: Any, base_url: str, seeded: Seeded, width: str
) -> None:
    _sign_in(browser, base_url, "aigerim", "/sources")
    for path in ("/", "/sources", "/coverage", "/report", f"/items/{seeded.items[1].id}"):
        browser.get(base_url + path)
        banner = browser.find_element(By.ID, "health-banner")
        assert banner.is_displayed() and "1 source failing: oic-ar" in banner.text, path
    _shot(browser, f"banner-{width}")
    seeded.store.record_poll("oic-ar", error=None)
    try:
        browser.get(base_url + "/")
        assert browser.find_elements(By.ID, "health-banner") == []
    finally:
        seeded.store.record_poll("oic-ar", error="HTTP 503 from https://oic-ar.example/rss")


def test_the_policy_blocks_inline_code_and_the_pages_need_none(
    browser: Any, base_url: str, seeded: Seeded
) -> None:
    _sign_in(browser, base_url, "dmitri")
    _csp_errors(browser)  # start from an empty console
    item = seeded.by(language="kk", tier="relevant")[0]
    for path in ("/", f"/items/{item.id}", "/sources", "/coverage", "/report",
                 "/?tier=mention&page=2&show=all"):  # fmt: skip
        browser.get(base_url + path)
        assert browser.find_element(By.TAG_NAME, "main").is_displayed()
        # The stylesheet, a file, applies: the header bar is laid out by it.
        header = browser.find_element(By.CSS_SELECTOR, "header.top")
        assert header.value_of_css_property("display") == "flex", path
    assert _csp_errors(browser) == []
    # What the policy is there for: inline style and script added to a page do not run.
    browser.execute_script(
        "const s = document.createElement('style');"
        "s.textContent = 'body { background: rgb(1, 2, 3) }';"
        "document.head.appendChild(s);"
        "const j = document.createElement('script');"
        "j.textContent = 'document.body.dataset.ran = \"yes\"';"
        "document.body.appendChild(j);"
    )
    body = browser.find_element(By.TAG_NAME, "body")
    assert body.value_of_css_property("background-color") != "rgba(1, 2, 3, 1)"
    assert body.get_attribute("data-ran") is None
    reported = _csp_errors(browser)
    assert any("inline style" in m for m in reported), reported
    assert any("inline script" in m for m in reported), reported


def test_without_javascript_the_forms_still_work(
    browser: Any, base_url: str, seeded: Seeded
) -> None:
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        _sign_in(browser, base_url, "dmitri")
        story = _story_ids(browser)[0]
        row = browser.find_element(By.CSS_SELECTOR, f'li[data-story="{story}"]')
        row.find_element(By.CSS_SELECTOR, ".star-toggle").click()
        _wait(browser).until(ec.staleness_of(row))  # the form posted and the list came back
        state = _state(seeded, "dmitri", story)
        assert state is not None and state.starred_at is not None
        # The list comes back through a redirect: a row found while the page in between is
        # still there goes with it, so it is read again until the list has settled.
        selector = f'li[data-story="{story}"]'
        starred = WebDriverWait(browser, 15, ignored_exceptions=[WebDriverException]).until(
            lambda b: "starred" in b.find_element(By.CSS_SELECTOR, selector).get_attribute("class")
        )
        assert starred
        row = browser.find_element(By.CSS_SELECTOR, selector)
        row.find_element(By.CSS_SELECTOR, ".read-toggle").click()
        _wait(browser).until(ec.staleness_of(row))
        assert story not in _story_ids(browser)
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
        marks.set_read(seeded.store, "dmitri", story, False)
        marks.set_starred(seeded.store, "dmitri", story, False)


def _story_of(seeded: Seeded, url: str) -> int | None:
    if "/items/" not in url:
        return None
    item: Item | None = seeded.store.item(int(url.split("/items/")[1].split("?")[0]))
    return (item.story_id or item.id) if item else None


def _marked(seeded: Seeded) -> set[int]:
    return {item.id for item, _ in marks.labelled_items(seeded.store) if item.id is not None}
