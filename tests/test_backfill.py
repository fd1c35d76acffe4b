"""`oic-monitor backfill` against a local site: sitemap index of monthly sitemaps (one
gzipped), a Google News sitemap and a paginated listing without a feed."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from monitor.alerts.dispatcher import dispatch_due
from monitor.backfill import MIN_PAGES_IN_FLIGHT, Backfill
from monitor.config import Settings, load_settings
from monitor.runtime import Runtime
from monitor.sources import DateRange, Entry, entry_days
from monitor.store.archive import STAGING
from monitor.store.models import Alert, Item
from monitor.store.repo import Store
from tests.alerts_support import Receiver
from tests.daemon_support import cli
from tests.pages import article_page
from tests.webserver import LocalWeb, Request, Response

EVAL_FILE = Path(__file__).resolve().parent / "data" / "eval" / "oic_eval.jsonl"
SINCE, UNTIL = date(2024, 4, 10), date(2024, 11, 20)
LISTING_PAGE = 6


@dataclass
class Site:
    web: LocalWeb
    dates: dict[str, date] = field(default_factory=dict)  # article path -> published day
    served: Counter[str] = field(default_factory=Counter)  # article responses completed

    def expected(self, since: date = SINCE, until: date = UNTIL) -> set[str]:
        return {self.web.url(p) for p, d in self.dates.items() if since <= d <= until}


def _texts() -> dict[str, list[dict[str, str]]]:
    by_lang: dict[str, list[dict[str, str]]] = {}
    for line in EVAL_FILE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_lang.setdefault(row["lang"], []).append(row)
    return by_lang


def article(i: int, day: date, texts: dict[str, list[dict[str, str]]]) -> str:
    """A distinct article page published on `day`, in one of twelve languages."""
    langs = sorted(texts)
    lang = langs[i % len(langs)]
    rows = texts[lang]
    j = i // len(langs)
    paras = [rows[(j + k) % len(rows)]["text"] for k in range(3)]
    iso = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).isoformat()
    title = f"{rows[j % len(rows)]['title']} ({i})"
    return article_page(title, paras, lang=lang, published_iso=iso, template=i % 3).html


def build_site(web: LocalWeb) -> Site:
    site = Site(web)
    texts = _texts()
    n = 0

    def add(path: str, day: date) -> None:
        nonlocal n
        html = article(n, day, texts).encode()
        n += 1
        site.dates[path] = day

        def serve(req: Request, body: bytes = html, path: str = path) -> Response:
            site.served[path] += 1
            return Response(body=body)

        web.routes[path] = serve

    # 1. A sitemap index of monthly sitemaps (June gzipped), dates in the article URLs.
    children = []
    for month in range(1, 13):
        days = [date(2024, month, d) for d in (5, 15, 25)]
        paths = [f"/news/{d:%Y/%m/%d}/report-{month}-{d.day}.html" for d in days]
        for p, d in zip(paths, days, strict=True):
            add(p, d)
        body = (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{web.url(p)}</loc><lastmod>{d}</lastmod></url>"
                      for p, d in zip(paths, days, strict=True))
            + "</urlset>"
        )  # fmt: skip
        if month == 6:
            path = "/sitemaps/2024-06.xml.gz"
            web.add(path, gzip.compress(body.encode()), content_type="application/x-gzip")
        else:
            path = f"/sitemaps/2024-{month:02d}.xml"
            web.add(path, body, content_type="application/xml")
        children.append(
            f"<sitemap><loc>{web.url(path)}</loc><lastmod>{days[-1]}</lastmod></sitemap>"
        )
    web.add(
        "/sitemap_index.xml",
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(children)
        + "</sitemapindex>",
        content_type="application/xml",
    )
    web.add("/robots.txt", f"User-agent: *\nSitemap: {web.url('/sitemap_index.xml')}\n",
            content_type="text/plain")  # fmt: skip

    # 2. A Google News sitemap: no dates in the URLs, publication dates in news tags.
    news = []
    for k, day in enumerate(date(2024, 3, 1) + timedelta(days=30 * k) for k in range(10)):
        add(f"/n/{k}.html", day)
        news.append(
            f"<url><loc>{web.url(f'/n/{k}.html')}</loc><news:news><news:publication>"
            "<news:name>Site</news:name><news:language>ru</news:language></news:publication>"
            f"<news:publication_date>{day}T12:00:00Z</news:publication_date>"
            f"<news:title>Item {k}</news:title></news:news></url>"
        )
    # Listed as changed in range, but published before it: fetched, not stored.
    add("/n/updated.html", date(2024, 2, 1))
    news.append(f"<url><loc>{web.url('/n/updated.html')}</loc><lastmod>2024-06-01</lastmod></url>")
    web.add(
        "/news-sitemap.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        + "".join(news)
        + "</urlset>",
        content_type="application/xml",
    )

    # 3. A paginated listing, newest first, no feed: "Далее", rel=next, "келесі" links.
    items = [(f"/press/item-{k}.html", date(2024, 12, 31) - timedelta(days=12 * k))
             for k in range(48)]  # fmt: skip
    for p, d in items:
        add(p, d)
    pages = [items[i : i + LISTING_PAGE] for i in range(0, len(items), LISTING_PAGE)]
    for no, rows in enumerate(pages, start=1):
        links = "".join(
            f'<li class="news-item"><span class="date">{d:%d.%m.%Y}</span> '
            f'<a href="{p}">Сообщение пресс-службы министерства номер {p[13:-5]} о визите</a></li>'
            for p, d in rows
        )
        nxt = ""
        if no < len(pages):
            href = f"/press/?page={no + 1}"
            nxt = [f'<a href="{href}">Далее</a>', f'<a rel="next" href="{href}">2</a>',
                   f'<a href="{href}">келесі</a>'][no % 3]  # fmt: skip
        path = "/press/" if no == 1 else f"/press/?page={no}"
        web.add(
            path,
            f'<html><head><meta charset="utf-8"><title>Пресс-релизы</title></head><body>'
            f'<nav><a href="/">Главная</a><a href="/press/">Пресса</a></nav>'
            f'<main><ul class="news-list">{links}</ul><div class="pages">{nxt}</div></main>'
            "</body></html>",
        )
    return site


def write_config(tmp_path: Path, base: str, hook: str, *, read_timeout: str = "5s") -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        f"""
[storage]
url = "sqlite:///data/monitor.db"
archive_dir = "data/archive"

[fetch]
per_host_delay = "1ms"
per_host_concurrency = 4
backoff = "10ms"
retries = 1
read_timeout = "{read_timeout}"

[[sources]]
name = "site-sitemap"
url = "{base}/sitemap_index.xml"
kind = "sitemap"

[[sources]]
name = "site-news"
url = "{base}/news-sitemap.xml"
kind = "sitemap"

[[sources]]
name = "site-press"
url = "{base}/press/"
kind = "html"

[[alerts]]
kind = "webhook"
url = "{hook}"
min_tier = "none"
""",
        encoding="utf-8",
    )
    return cfg


def stored_urls(cfg: Path) -> list[str]:
    store = Store.open(load_settings(cfg).storage.url)
    try:
        return [it.url for it in store.items()]
    finally:
        store.close()


def assert_nothing_alerted(cfg: Path, receiver: Receiver) -> None:
    settings = load_settings(cfg)
    store = Store.open(settings.storage.url)
    try:
        with store.session() as s:
            assert s.exec(select(Alert)).all() == []
            assert all(it.backfilled for it in s.exec(select(Item)))
        asyncio.run(dispatch_due(store, settings))
    finally:
        store.close()
    assert receiver.posts == []


def test_backfill_stores_exactly_the_articles_in_range(
    web: LocalWeb, tmp_path: Path, receiver: Receiver
) -> None:
    site = build_site(web)
    cfg = write_config(tmp_path, web.base, receiver.url("/hook"))
    result = cli(cfg, "backfill", "--since", str(SINCE), "--until", str(UNTIL))
    assert result.returncode == 0, result.stderr
    expected = site.expected()
    urls = stored_urls(cfg)
    assert len(urls) == len(set(urls))
    assert set(urls) == expected
    # Out-of-range entries were skipped by their listed or URL date, before any fetch ...
    fetched = {web.url(p) for p in site.served}
    assert fetched - expected == {web.url("/n/updated.html")}
    # ... whole monthly sitemaps by their <lastmod>, listing pages after the date bound.
    assert web.hits("/sitemaps/2024-03.xml") == [] and web.hits("/sitemaps/2024-12.xml")
    assert web.hits("/press/?page=5") and web.hits("/press/?page=6") == []
    assert all(n == 1 for n in site.served.values())
    total = result.stdout.splitlines()[-2]
    assert "total" in total and f" {len(expected)} " in total
    assert_nothing_alerted(cfg, receiver)
    assert_archive_holds_the_stored_texts(cfg)


def assert_archive_holds_the_stored_texts(cfg: Path) -> None:
    """One file per stored item with its text (written ahead in the analysis workers and
    moved there when stored), and nothing left waiting."""
    settings = load_settings(cfg)
    store = Store.open(settings.storage.url)
    try:
        items = store.items()
    finally:
        store.close()
    archive = Path(settings.storage.archive_dir)
    assert sorted(p.name for p in archive.iterdir()) == sorted(
        [it.archive_file or "" for it in items] + [STAGING]
    )
    assert list((archive / STAGING).iterdir()) == []
    for it in items:
        assert (archive / (it.archive_file or "")).read_text(encoding="utf-8") == it.text


def test_killed_backfill_resumes_without_fetching_anything_twice(
    web: LocalWeb, tmp_path: Path, receiver: Receiver
) -> None:
    site = build_site(web)
    # After `limit` articles the server holds every further article request until the
    # process is killed; those are never answered, so "served" counts real fetches only.
    state = {"limit": 15, "drop": False, "held": 0}
    lock, wake = threading.Lock(), threading.Event()
    for path in site.dates:
        inner = web.routes[path]

        def held(req: Request, inner: object = inner) -> Response:
            with lock:
                hold = sum(site.served.values()) >= state["limit"]
                state["held"] += hold
            if hold:
                wake.wait(60)
                with lock:
                    state["held"] -= 1
                if state["drop"]:
                    return Response(status=503)
            return inner(req)  # type: ignore[operator]

        web.routes[path] = held
    cfg = write_config(tmp_path, web.base, receiver.url("/hook"), read_timeout="60s")
    args = ["backfill", "--since", str(SINCE), "--until", str(UNTIL)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(cfg), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = tmp_path / "data" / "monitor.db"
    deadline = time.monotonic() + 60
    try:
        # Kill once every served article has its outcome recorded: a real mid-run state.
        while time.monotonic() < deadline:
            if sum(site.served.values()) >= state["limit"] and _all_recorded(db, site, web):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the backfill did not get half-way")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        state["drop"] = True
        wake.set()
    while state["held"]:  # the held requests of the killed run are dropped, unanswered
        time.sleep(0.01)
    first_run = dict(site.served)
    assert 0 < len(stored_urls(cfg)) < len(site.expected())
    state["limit"], state["drop"] = 10**9, False

    result = cli(cfg, *args)
    assert result.returncode == 0, result.stderr
    assert set(stored_urls(cfg)) == site.expected()
    assert all(n == 1 for n in site.served.values()), site.served
    assert all(site.served[p] == 1 for p in first_run)
    assert_nothing_alerted(cfg, receiver)


def _all_recorded(db: Path, site: Site, web: LocalWeb) -> bool:
    urls = [web.url(p) for p in site.served]
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            seen = {u for (u,) in conn.execute("SELECT url FROM seen_url")}
            seen |= {u for (u,) in conn.execute("SELECT url FROM crawl_page")}
    except sqlite3.Error:
        return False
    return all(u in seen for u in urls)


def test_dry_run_lists_what_would_be_fetched_and_fetches_no_article(
    web: LocalWeb, tmp_path: Path, receiver: Receiver
) -> None:
    site = build_site(web)
    cfg = write_config(tmp_path, web.base, receiver.url("/hook"))
    result = cli(cfg, "backfill", "--since", str(SINCE), "--until", str(UNTIL), "--dry-run")
    assert result.returncode == 0, result.stderr
    listed = {line.split("\t")[2] for line in result.stdout.splitlines() if "\t" in line}
    assert listed == site.expected() | {web.url("/n/updated.html")}
    assert not site.served
    assert stored_urls(cfg) == []


def settings_for(
    db_url: str, tmp_path: Path, base: str, *, press: bool = True, hook: str | None = None
) -> Settings:
    sources: list[dict[str, str]] = [
        {"name": "site-news", "url": f"{base}/news-sitemap.xml", "kind": "sitemap"}
    ]
    if press:
        sources.append(
            {"name": "site-press", "url": f"{base}/press/", "kind": "html",
             "page_pattern": "?page={n}"}
        )  # fmt: skip
    return Settings.model_validate(
        {
            "storage": {"url": db_url, "archive_dir": str(tmp_path / "archive")},
            "fetch": {"per_host_delay": "1ms", "retries": 0},
            "sources": sources,
            "alerts": [{"kind": "webhook", "url": hook}] if hook else [],
            "config_path": str(tmp_path / "monitor.toml"),
        }
    )


async def _backfill(settings: Settings, window: DateRange, **kw: object) -> list[object]:
    async with Runtime(settings) as rt:
        result = await Backfill(rt.pipeline, window, workers=0, **kw).run(settings.sources)  # type: ignore[arg-type]
        return [result.total, rt.store.count_items()]


def test_rerun_stores_nothing_twice_and_fetches_no_article(
    web: LocalWeb, tmp_path: Path, db_url: str
) -> None:
    site = build_site(web)
    settings = settings_for(db_url, tmp_path, web.base)
    window = DateRange(date(2024, 6, 1), None)
    first, count = asyncio.run(_backfill(settings, window))
    # site-news also reads the sitemaps robots.txt names: the index of monthly sitemaps.
    expected = {web.url(p) for p, d in site.dates.items() if d >= date(2024, 6, 1)}
    assert count == len(expected) == first.stored  # type: ignore[attr-defined]
    served = dict(site.served)
    second, count2 = asyncio.run(_backfill(settings, window))
    assert count2 == count and second.stored == 0  # type: ignore[attr-defined]
    assert site.served == served
    # The monthly sitemaps finished by the first run are not even read again.
    assert second.fetched == 0 and second.pages_resumed == 7  # type: ignore[attr-defined]


def test_a_source_resumes_the_sitemaps_another_source_of_the_site_finished(
    web: LocalWeb, tmp_path: Path, db_url: str
) -> None:
    """Sources of one site walk its sitemaps once between them: a later run of the same
    dates skips the files an earlier one finished, whichever source read them."""
    build_site(web)
    settings = settings_for(db_url, tmp_path, web.base)
    window = DateRange(date(2024, 6, 1), None)
    news, press = settings.sources
    asyncio.run(_backfill(settings.model_copy(update={"sources": [news]}), window))
    hits = len(web.log)
    again, _ = asyncio.run(_backfill(settings.model_copy(update={"sources": [press]}), window))
    assert again.pages_resumed == 7  # type: ignore[attr-defined]
    assert not [r for r in web.log[hits:] if "/sitemaps/" in r.path]


def test_alerts_only_with_the_flag(web: LocalWeb, tmp_path: Path) -> None:
    texts = _texts()
    today = datetime.now(UTC).date()
    relevant = next(i for i, r in enumerate(texts["ru"]) if r["label"] == "relevant")
    page = article_page(
        texts["ru"][relevant]["title"],
        [texts["ru"][relevant]["text"]] * 2 + [texts["ru"][relevant + 1]["text"]],
        lang="ru",
        published_iso=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    web.add("/n/0.html", page.html)
    web.add(
        "/news-sitemap.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{web.url('/n/0.html')}</loc><lastmod>{today}</lastmod></url></urlset>",
        content_type="application/xml",
    )
    hook = "http://127.0.0.1:9/hook"
    queued = []
    for flag in (False, True):
        folder = tmp_path / str(flag)
        folder.mkdir()
        settings = settings_for(
            f"sqlite:///{folder / 'm.db'}", folder, web.base, press=False, hook=hook
        )
        total, count = asyncio.run(_backfill(settings, DateRange(), alerts=flag))
        assert count == 1 and total.relevant == 1  # type: ignore[attr-defined]
        queued.append(total.queued_alerts)  # type: ignore[attr-defined]
    assert queued == [0, 1]


def test_entry_days_and_scope() -> None:
    assert entry_days(Entry("https://a.kz/2024/03/05/x")) == (date(2024, 3, 5),) * 2
    assert entry_days(Entry("https://a.kz/2024/03/x")) == (date(2024, 3, 1), date(2024, 3, 31))
    when = datetime(2024, 5, 6, 23, tzinfo=UTC)
    assert entry_days(Entry("https://a.kz/n/1", published=when)) == (date(2024, 5, 6),) * 2
    assert entry_days(Entry("https://a.kz/n/1")) is None
    window = DateRange(date(2024, 3, 10), date(2024, 3, 20))
    assert window.overlaps(date(2024, 3, 1), date(2024, 3, 31))
    assert not window.contains(date(2024, 3, 21))
    assert window.scope == "backfill:2024-03-10..2024-03-20"
    assert DateRange().scope == "backfill:.."


def test_a_source_that_cannot_be_read_is_logged_as_failed(
    web: LocalWeb, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.model_validate(
        {
            "storage": {"url": db_url, "archive_dir": str(tmp_path / "archive")},
            "fetch": {"per_host_delay": "1ms", "retries": 0},
            "sources": [{"name": "gone", "url": f"{web.base}/gone.xml", "kind": "sitemap"}],
            "config_path": str(tmp_path / "monitor.toml"),
        }
    )
    with caplog.at_level("INFO", logger="monitor.backfill"):
        total, _ = asyncio.run(_backfill(settings, DateRange()))
    assert total.errors["source"] == 1  # type: ignore[attr-defined]
    [summary] = [r for r in caplog.records if r.getMessage().startswith("gone: 0 listed")]
    assert summary.levelname == "ERROR"
    assert "reading its lists FAILED" in summary.getMessage()
    assert "HTTP 404" in summary.getMessage()
    assert "0 errors" not in summary.getMessage()


def test_pages_keep_coming_while_a_batch_waits_for_the_database(
    web: LocalWeb, tmp_path: Path
) -> None:
    """A page's slot is free once the page is extracted: with the writing thread held up,
    more articles are fetched and extracted than there are slots for pages, and all are
    stored once it is free."""
    texts = _texts()
    n = MIN_PAGES_IN_FLIGHT + 4
    day = date(2024, 5, 1)
    urls = [web.add(f"/n/{i}.html", article(i, day, texts)) for i in range(n)]
    web.add(
        "/news-sitemap.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{u}</loc><lastmod>{day}</lastmod></url>" for u in urls)
        + "</urlset>",
        content_type="application/xml",
    )
    settings = settings_for(f"sqlite:///{tmp_path / 'm.db'}", tmp_path, web.base, press=False)

    def fetched() -> int:
        return sum(len(web.hits(f"/n/{i}.html")) for i in range(n))

    async def run() -> tuple[int, int, int]:
        async with Runtime(settings) as rt:
            free = threading.Event()
            # The thread that writes batches (and recalls sources' lines) is kept busy.
            busy = asyncio.ensure_future(rt.pipeline.articles._in_store_thread(free.wait, None))
            job = asyncio.ensure_future(
                Backfill(rt.pipeline, DateRange(), workers=0).run(settings.sources)
            )
            try:
                for _ in range(2400):  # at most 2 minutes: a regression shows as fewer than n
                    if fetched() == n or job.done():
                        break
                    await asyncio.sleep(0.05)
                while_busy = fetched()
            finally:
                free.set()
            await busy
            result = await job
            return while_busy, result.total.stored, rt.store.count_items()

    while_busy, stored, count = asyncio.run(run())
    assert while_busy == n  # all of them, not only as many as there are slots
    assert stored == count == n
