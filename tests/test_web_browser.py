"""The dashboard driven in headless Chromium: filter, open an item, mark it, read the report.

Screenshots (phone and desktop widths) are saved under test-artifacts/ for a person to look
at. Needs Debian's chromium and chromium-driver (.ci/run installs them) and selenium.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.web.app import create_app
from tests.test_web_seed import Seeded, add_feedback, seed
from tests.web_support import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = (390, 844)
DESKTOP = (1280, 900)

webdriver = pytest.importorskip("selenium.webdriver")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    folder = Path(tempfile.mkdtemp(prefix="oic-web-e2e-"))
    data = seed(folder)
    add_feedback(data)
    try:
        yield data
    finally:
        data.store.close()
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


def _overall_precision(driver: Any, base_url: str) -> str:
    driver.get(f"{base_url}/report")
    return str(driver.find_element(By.ID, "overall-precision").text)


def test_filter_open_mark_and_see_the_report_change(
    browser: Any, base_url: str, seeded: Seeded
) -> None:
    _viewport(browser, DESKTOP, mobile=False)
    before = _overall_precision(browser, base_url)
    assert before == "100%"  # every item called relevant so far was agreed with
    _shot(browser, "report-before-desktop")

    # Filter the list to Arabic, relevant tier.
    browser.get(base_url + "/")
    Select(browser.find_element(By.ID, "f-language")).select_by_value("ar")
    Select(browser.find_element(By.ID, "f-tier")).select_by_value("relevant")
    browser.find_element(By.ID, "f-apply").click()
    _wait(browser).until(ec.url_contains("language=ar"))
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.item-row")
    expected = seeded.by(language="ar", tier="relevant")
    assert len(rows) == len(expected)
    for row in rows:
        assert row.find_element(By.CSS_SELECTOR, "td.lang").text == "ar"
        assert row.find_element(By.CSS_SELECTOR, ".tier").text == "relevant"
    _shot(browser, "items-filtered-desktop")

    # Open an item not marked yet: its evidence terms are highlighted, its text right-to-left.
    target = next(i for i in expected if i.id not in _marked(seeded))
    browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{target.id}"] td.title a').click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "item-text")))
    text = browser.find_element(By.ID, "item-text")
    assert text.get_attribute("dir") == "rtl"
    marks = text.find_elements(By.TAG_NAME, "mark")
    assert marks and all(m.text for m in marks)
    assert browser.find_element(By.ID, "archive-name").text.endswith(f"_{target.content_hash}.txt")
    _shot(browser, "item-ar-desktop")

    # The analyst disagrees with the classifier: precision drops.
    browser.find_element(By.ID, "mark-not-relevant").click()
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "current-label"), "not relevant"))
    assert browser.find_element(By.CSS_SELECTOR, ".saved").is_displayed()
    after = _overall_precision(browser, base_url)
    assert after != before
    assert after == "75%"  # 3 agreements out of 4 called relevant
    _shot(browser, "report-after-desktop")
    assert _csp_errors(browser) == []


def test_phone_layout_screenshots(browser: Any, base_url: str, seeded: Seeded) -> None:
    _viewport(browser, PHONE, mobile=True)
    try:
        browser.get(base_url + "/?language=ru")
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.item-row")
        assert rows
        # The list turns into cards: nothing wider than the screen.
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE[0]
        _shot(browser, "items-ru-phone")
        for lang in ("ar", "kk"):
            item = seeded.by(language=lang, tier="relevant")[0]
            browser.get(f"{base_url}/items/{item.id}")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= PHONE[0], lang
            _shot(browser, f"item-{lang}-phone")
        browser.get(base_url + "/sources")
        _shot(browser, "sources-phone")
        browser.get(base_url + "/report")
        _shot(browser, "report-phone")
        assert _csp_errors(browser) == []
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_policy_blocks_inline_code_and_the_pages_need_none(
    browser: Any, base_url: str, seeded: Seeded
) -> None:
    _csp_errors(browser)  # start from an empty console
    item = seeded.by(language="kk", tier="relevant")[0]
    for path in ("/", f"/items/{item.id}", "/sources", "/report", "/?tier=mention&page=2"):
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


def _marked(seeded: Seeded) -> set[int]:
    from monitor.store.queries import labelled_items

    return {item.id for item, _ in labelled_items(seeded.store) if item.id is not None}
