"""Gaps: a feed that shows only its 5 newest items, a monitor that was away, the catch-up in
the same poll, and the daemon's catch-up of what a poll could not reach."""

from __future__ import annotations

import asyncio
import pickle
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import event
from sqlmodel import select

from monitor.catchup import fill_gaps, retry_later
from monitor.config import Settings, settings_from_dict
from monitor.coverage import coverage
from monitor.fingerprint import content_hash
from monitor.runtime import Runtime
from monitor.sources.lists import ListFailed
from monitor.store.models import Alert, Item, utcnow
from monitor.store.queries import source_activity
from monitor.store.repo import Store
from tests.conftest import PG_ADMIN
from tests.daemon_support import oic_article, plain_article
from tests.pages import article_page
from tests.webserver import LocalWeb, Response

FEED_SIZE = 5
T = TypeVar("T")


class Agency:
    """A site whose feed lists only its newest five articles; a sitemap lists them all."""

    def __init__(self, web: LocalWeb, prefix: str, *, sitemap: bool) -> None:
        self.web, self.prefix, self.sitemap = web, prefix, sitemap
        self.articles: list[tuple[str, str, datetime, bool]] = []  # path, title, date, oic
        web.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")

    def publish(self, n: int, when: datetime, *, oic: bool) -> None:
        title, paragraphs = oic_article(n) if oic else plain_article(n)
        path = f"{self.prefix}/news/{when:%Y/%m/%d}/{n}.html"
        page = article_page(title, paragraphs, lang="en", published_iso=when.isoformat())
        self.web.add(path, page.html)
        self.articles.append((path, title, when, oic))
        self.render()

    def render(self) -> None:
        newest = sorted(self.articles, key=lambda a: a[2], reverse=True)
        items = "".join(
            f"<item><title>{t}</title><link>{self.web.base}{p}</link>"
            f"<pubDate>{format_datetime(d)}</pubDate></item>"
            for p, t, d, _ in newest[:FEED_SIZE]
        )
        self.web.add(
            f"{self.prefix}/rss.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>A</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )
        if self.sitemap:
            urls = "".join(
                f"<url><loc>{self.web.base}{p}</loc><lastmod>{d.isoformat()}</lastmod></url>"
                for p, _, d, _ in self.articles
            )
            self.web.add(
                "/sitemap.xml",
                '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{urls}</urlset>",
                content_type="application/xml",
            )


def settings(tmp_path: Path, feed_url: str) -> Settings:
    raw = {
        "storage": {"url": f"sqlite:///{tmp_path / 'm.db'}", "archive_dir": "archive"},
        "fetch": {"per_host_delay": "1ms", "backoff": "10ms"},
        "sources": [{"name": "agency", "url": feed_url, "kind": "feed"}],
        "alerts": [
            {"name": "desk", "kind": "webhook", "url": "http://127.0.0.1:9/hook"},
            {"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/ops",
             "stories": False, "operator": True},
        ],
    }  # fmt: skip
    return settings_from_dict(raw, tmp_path / "monitor.toml")


async def away_and_back(site: Agency, cfg: Settings) -> None:
    """First poll; the monitor is away while 30 articles appear; poll again; catch up."""
    now = utcnow()
    for n in range(FEED_SIZE):
        site.publish(n, now - timedelta(days=10, hours=n), oic=n % 2 == 0)
    async with Runtime(cfg) as rt:
        await rt.pipeline.poll(cfg.sources[0])
    # While away: 20 articles five days ago, 10 in the last day; a third are about the OIC.
    for n in range(100, 130):
        age = timedelta(days=5, hours=n - 100) if n < 120 else timedelta(hours=n - 119)
        site.publish(n, now - age, oic=n % 3 == 0)
    async with Runtime(cfg) as rt:
        await rt.pipeline.poll(cfg.sources[0])
        await fill_gaps(rt.pipeline, cfg)


def stored(cfg: Settings) -> tuple[list[Item], list[Alert], list[Any]]:
    async def read() -> tuple[list[Item], list[Alert], list[Any]]:
        async with Runtime(cfg) as rt:
            with rt.store.session() as s:
                items, alerts = list(s.exec(select(Item))), list(s.exec(select(Alert)))
            return items, alerts, list(coverage(rt.store, cfg))

    return asyncio.run(read())


def check_every_article_once_and_recent_relevant_alerted(
    site: Agency, cfg: Settings, items: list[Item], alerts: list[Alert]
) -> dict[int, str]:
    """Every article stored once; one story alert for each recent relevant one, none for
    older ones. Returns item id -> path."""
    by_path = {i.url.removeprefix(site.web.base): i for i in items}
    assert len(items) == len(by_path) == len(site.articles)
    assert set(by_path) == {p for p, *_ in site.articles}
    paths = {i.id or 0: p for p, i in by_path.items()}
    recent = utcnow() - cfg.alert_window
    story = [a for a in alerts if a.kind == "story"]
    expected = {p for p, _, d, oic in site.articles if oic and d >= recent}
    assert sorted(paths[a.item_id or 0] for a in story) == sorted(expected)
    return paths


def test_a_poll_that_finds_its_window_all_new_reads_the_sitemap_back_to_what_it_has(
    web: LocalWeb, tmp_path: Path
) -> None:
    site = Agency(web, "", sitemap=True)
    cfg = settings(tmp_path, web.url("/rss.xml"))
    asyncio.run(away_and_back(site, cfg))

    items, alerts, (row,) = stored(cfg)
    check_every_article_once_and_recent_relevant_alerted(site, cfg, items, alerts)
    # Found in the poll itself: nothing was missed, so nothing is late and no gap opened.
    assert not [a for a in alerts if (a.payload or {}).get("late")]
    assert not [a for a in alerts if a.kind == "operator"]
    assert (row.gaps_found, row.gaps_open) == (0, 0)
    # The sitemap was read once, by the second poll's catch-up.
    assert len(web.hits("/sitemap.xml")) == 1


def poll_and_catch_up(cfg: Settings) -> None:
    async def cycle() -> None:
        async with Runtime(cfg) as rt:
            await rt.pipeline.poll(cfg.sources[0])
            await fill_gaps(rt.pipeline, cfg)

    asyncio.run(cycle())


def gap_while_the_sitemap_answers_503(site: Agency, cfg: Settings) -> None:
    """A first poll; 20 articles appear; the second poll's catch-up meets a 503 from
    /sitemap.xml, which answers again afterwards."""
    now = utcnow()
    for n in range(FEED_SIZE):
        site.publish(n, now - timedelta(days=3, hours=n), oic=True)
    poll_and_catch_up(cfg)
    for n in range(100, 120):
        site.publish(n, now - timedelta(hours=n - 99), oic=n % 2 == 0)
    web = site.web
    sitemap = web.routes["/sitemap.xml"]
    web.routes["/sitemap.xml"] = Response(status=503, body="down for maintenance")
    poll_and_catch_up(cfg)
    items, _, (row,) = stored(cfg)
    assert len(items) == 2 * FEED_SIZE
    assert (row.gaps_found, row.gaps_open) == (1, 1)  # a 503 may mend: kept, no alert yet
    web.routes["/sitemap.xml"] = sitemap


def test_a_route_that_fails_leaves_a_gap_the_daemons_catch_up_fills_later(
    web: LocalWeb, tmp_path: Path
) -> None:
    site = Agency(web, "", sitemap=True)
    cfg = settings(tmp_path, web.url("/rss.xml"))
    gap_while_the_sitemap_answers_503(site, cfg)

    poll_and_catch_up(cfg)
    items, alerts, (row,) = stored(cfg)
    paths = check_every_article_once_and_recent_relevant_alerted(site, cfg, items, alerts)
    feed_now = {p for p, *_ in sorted(site.articles, key=lambda a: a[2])[-FEED_SIZE:]}
    story = [a for a in alerts if a.kind == "story"]
    assert story
    for a in story:
        late = (a.payload or {}).get("late")
        assert bool(late) == (paths[a.item_id or 0] not in feed_now)  # found later: late
    assert (row.gaps_found, row.gaps_filled, row.gaps_open) == (1, 1, 0)
    assert not [a for a in alerts if a.kind == "operator"]


def test_a_sitemap_that_can_never_be_read_does_not_hold_a_gap_open(
    web: LocalWeb, tmp_path: Path
) -> None:
    site = Agency(web, "", sitemap=True)
    web.add("/about.html", "<!DOCTYPE html><html><body><p>About us</p></body></html>")
    # Beside /sitemap.xml, robots.txt names an HTML page and lines that are no http(s) URL.
    robots = [
        "User-agent: *", "Allow: /", "Sitemap: /about.html",
        "Sitemap: ftp://files.example/sitemap.xml", "Sitemap: http://[::1",
    ]  # fmt: skip
    web.add("/robots.txt", "\n".join(robots) + "\n", content_type="text/plain")
    cfg = settings(tmp_path, web.url("/rss.xml"))
    gap_while_the_sitemap_answers_503(site, cfg)

    poll_and_catch_up(cfg)  # /about.html fails again, for good
    items, alerts, (row,) = stored(cfg)
    check_every_article_once_and_recent_relevant_alerted(site, cfg, items, alerts)
    assert (row.gaps_found, row.gaps_filled, row.gaps_open) == (1, 1, 0)
    assert web.hits("/about.html")  # read, failed, and not waited for


def test_a_failed_list_keeps_what_it_says_as_fields_through_a_pickle() -> None:
    key = ListFailed("sitemap", "http_503", transient=True)
    copy = pickle.loads(pickle.dumps(Counter({key: 2})))
    (again,) = copy
    assert (again, again.route, again.reason, again.transient) == (
        "sitemap_http_503", "sitemap", "http_503", True,
    )  # fmt: skip
    assert retry_later(copy) == [key]
    assert retry_later(Counter({"sitemap_http_503": 1})) == []  # a plain string says nothing


def test_a_gap_no_route_reaches_is_unrecoverable_with_one_operator_alert(
    web: LocalWeb, tmp_path: Path
) -> None:
    site = Agency(web, "/b", sitemap=False)
    cfg = settings(tmp_path, web.url("/b/rss.xml"))
    asyncio.run(away_and_back(site, cfg))

    async def read() -> tuple[int, list[Alert], list[object]]:
        async with Runtime(cfg) as rt:
            await fill_gaps(rt.pipeline, cfg)  # a second round changes nothing
            with rt.store.session() as s:
                n = len(list(s.exec(select(Item))))
                alerts = list(s.exec(select(Alert).where(Alert.kind == "operator")))
            return n, alerts, list(coverage(rt.store, cfg))

    stored, operator, rows = asyncio.run(read())
    assert stored == 2 * FEED_SIZE  # what the feed showed at each poll; the rest is lost
    assert len(operator) == 1 and operator[0].channel == "ops"
    message = str((operator[0].payload or {}).get("message"))
    assert "agency" in message and "cannot be recovered" in message
    row = rows[0]
    assert (row.gaps_found, row.gaps_unrecoverable) == (1, 1)  # type: ignore[attr-defined]


def _item(n: int, source: str, fetched: datetime, published: datetime | None, **kw: Any) -> Item:
    text = f"Article {n} of {source}."
    return Item(
        url=f"https://{source}.example/{n}", source=source, title=f"Article {n}", text=text,
        content_hash=content_hash(text), fetched_at=fetched, published=published, **kw,
    )  # fmt: skip


def test_coverage_counts_each_utc_day_and_the_largest_delay_on_both_backends(
    db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("postgresql"):
        _in_almaty(db_url)  # a server whose sessions are not in UTC still counts UTC days
    day = datetime(2025, 3, 1, tzinfo=UTC)
    cfg = settings_from_dict(
        {
            "storage": {"url": db_url},
            "sources": [
                {"name": "agency", "url": "http://127.0.0.1:9/rss.xml", "kind": "feed"},
                {"name": "quiet", "url": "http://127.0.0.1:9/q.xml", "kind": "feed"},
            ],
        },
        tmp_path / "monitor.toml",
    )
    store = Store.open(db_url)
    try:
        for item in (
            # published 23:30 UTC (the next day in Almaty), found 40 minutes later
            _item(
                1,
                "agency",
                day + timedelta(hours=24, minutes=10),
                day + timedelta(hours=23, minutes=30),
            ),
            # two hours and half a second late: the largest delay
            _item(
                2,
                "agency",
                day + timedelta(hours=27, microseconds=500_000),
                day + timedelta(hours=25),
            ),
            # read from history long after: no delay, counted on the day it was published
            _item(
                3, "agency", day + timedelta(hours=30), day - timedelta(days=59), backfilled=True
            ),
            # undated: counted on the day it was stored
            _item(4, "agency", day + timedelta(days=2, hours=10), None),
            # dated in the future (a wrong clock at the source): no delay
            _item(5, "agency", day + timedelta(days=2), day + timedelta(days=3)),
            _item(6, "elsewhere", day, day),  # not a configured source
        ):
            store.add_item(item, [item.url])
        rows = {r.name: r for r in coverage(store, cfg)}
        since = {r.name: r for r in coverage(store, cfg, day + timedelta(days=2))}
    finally:
        store.close()

    assert list(rows) == ["agency", "quiet"]
    agency = rows["agency"]
    assert agency.items == 5
    assert dict(agency.per_day) == {
        "2025-01-01": 1, "2025-03-01": 1, "2025-03-02": 1, "2025-03-03": 1, "2025-03-04": 1,
    }  # fmt: skip
    assert agency.max_delay == timedelta(hours=2, microseconds=500_000)
    assert (rows["quiet"].items, dict(rows["quiet"].per_day), rows["quiet"].max_delay) == (
        0, {}, None,
    )  # fmt: skip
    # Since a day: only what was stored from then on.
    assert since["agency"].items == 2
    assert dict(since["agency"].per_day) == {"2025-03-03": 1, "2025-03-04": 1}
    assert since["agency"].max_delay is None


def _rows_sent_back(store: Store, run: Callable[[], T]) -> tuple[T, int]:
    """What `run` returns, and how many rows the database sent back for its queries (the
    driver counts them on PostgreSQL)."""
    sent_back: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent_back.append(cursor.rowcount)

    event.listen(store.engine, "after_cursor_execute", count)
    try:
        return run(), sum(sent_back)
    finally:
        event.remove(store.engine, "after_cursor_execute", count)


def _in_almaty(pg_url: str) -> None:
    """Sessions of this database see times in UTC+5."""
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Almaty'")


def test_coverage_reads_one_row_per_source_and_day_not_every_item(
    pg_url: str, tmp_path: Path
) -> None:
    cfg = settings_from_dict(
        {
            "storage": {"url": pg_url},
            "sources": [{"name": "agency", "url": "http://127.0.0.1:9/rss.xml", "kind": "feed"}],
        },
        tmp_path / "monitor.toml",
    )
    day = datetime(2025, 3, 1, tzinfo=UTC)
    with Store.open(pg_url) as store:
        for n in range(300):
            when = day + timedelta(days=n % 3, minutes=n)
            store.add_item(_item(n, "agency", when + timedelta(minutes=5), when), [f"u{n}"])
        (row,), rows = _rows_sent_back(store, lambda: coverage(store, cfg))
    assert row.items == 300 and sum(row.per_day.values()) == 300
    assert len(row.per_day) == 3
    assert rows <= 10


def test_the_sources_page_counts_items_stored_per_utc_day_in_the_database(pg_url: str) -> None:
    _in_almaty(pg_url)
    midnight = datetime.combine(utcnow().date(), time(), UTC)
    with Store.open(pg_url) as store:
        for n in range(200):
            # Half in the last hour of yesterday (UTC), half in the first of today.
            stored = midnight + timedelta(minutes=n % 2 * 60 - 59 + n // 2 % 50)
            store.add_item(_item(n, "agency", stored, None), [f"u{n}"])
        (agency, _), rows = _rows_sent_back(
            store, lambda: source_activity(store, ["agency", "quiet"], days=3)
        )
    assert agency.items == 200
    today = midnight.date()
    assert agency.per_day == [
        (today - timedelta(days=2), 0), (today - timedelta(days=1), 100), (today, 100),
    ]  # fmt: skip
    assert rows <= 10
