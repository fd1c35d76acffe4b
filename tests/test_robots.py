"""robots.txt by RFC 9309 and Crawl-delay: the rules, their caching, what a missing or failing
file means, and that poll, backfill, `sources add` and `sources check` all obey them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.config import FetchSettings, load_settings
from monitor.fetch import Fetcher, FetchError
from monitor.robots import Rules, freshness
from monitor.store.repo import Store
from tests.daemon_support import cli
from tests.pages import article_page, seed_articles
from tests.test_fetch import make_settings
from tests.webserver import LocalWeb, Request, Response

# The client spaces the starts of its requests; the server logs each one after connection
# set-up and reading, which varies by far less than this between two requests.
SLACK = 0.05

RULES = """\
User-agent: *
Disallow: /

User-agent: oic-monitor
Disallow: /*?print=
Disallow: /*.pdf$
Disallow: /archive/
Allow: /archive/2026/
"""
ALLOWED = ["/news/1.html", "/archive/2026/summit.html", "/docs/report.pdf.html"]
DISALLOWED = ["/news/1.html?print=1", "/docs/report.pdf", "/archive/2019/old.html"]


def settings(**overrides: Any) -> FetchSettings:
    """Tiny delays and no retries, so each request the tests count is sent once."""
    return make_settings(**{"retries": 0, **overrides})


def run(
    make: Callable[[Fetcher], Coroutine[Any, Any, Any]], fetch: FetchSettings | None = None
) -> Any:
    async def go() -> Any:
        async with Fetcher(fetch or settings()) as f:
            return await make(f)

    return asyncio.run(go())


def gaps(requests: list[Request]) -> list[float]:
    times = sorted(r.at for r in requests)
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def text(body: str) -> Response:
    return Response(body=body, content_type="text/plain")


# --- the rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/news/1.html", True),
        ("/news/1.html?print=1", False),  # wildcard
        ("/news/2.html?print=yes&page=2", False),
        ("/news/1.html?page=2&print=yes", True),  # the rule says "?print=", not "&print="
        ("/docs/report.pdf", False),  # "$": ends with .pdf
        ("/docs/report.pdf.html", True),  # "$": does not end there
        ("/docs/report.pdf?download=1", True),
        ("/archive/2019/old.html", False),
        ("/archive/2026/summit.html", True),  # the longer Allow wins over the Disallow
        ("/", True),  # our own group, not "*", which disallows everything
    ],
)
def test_rfc9309_rules(path: str, allowed: bool) -> None:
    assert Rules.parse(RULES).allows("https://mfa.example.kz" + path) is allowed


def test_group_names_match_case_insensitively_and_allow_wins_a_tie() -> None:
    rules = Rules.parse("User-agent: OIC-Monitor\nDisallow: /page\nAllow: /page\n")
    assert rules.allows("https://a.kz/page")


def test_rules_match_cyrillic_paths_raw_or_percent_encoded() -> None:
    rules = Rules.parse("User-agent: *\nDisallow: /новости/архив/\n")
    news = "%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"  # "новости", percent-encoded
    assert not rules.allows(f"https://a.kz/{news}/%D0%B0%D1%80%D1%85%D0%B8%D0%B2/1")
    assert not rules.allows("https://a.kz/новости/архив/2")
    assert rules.allows(f"https://a.kz/{news}/1")


def test_crawl_delay_comes_from_our_group_only() -> None:
    ours = Rules.parse("User-agent: oic-monitor\nCrawl-delay: 2\n\nUser-agent: *\nCrawl-delay: 9\n")
    others = Rules.parse("User-agent: oic-monitor\nDisallow: /x\n\nUser-agent: *\nCrawl-delay: 9\n")
    everyone = Rules.parse("User-agent: *\nCrawl-delay: 1.5\n")
    assert (ours.crawl_delay, others.crawl_delay, everyone.crawl_delay) == (2.0, None, 1.5)


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def test_freshness_from_caching_headers() -> None:
    date = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert freshness({"Cache-Control": "public, max-age=600"}) == 600
    assert freshness({"cache-control": "max-age=600", "Age": "100"}) == 500
    # max-age outranks Expires; Expires is counted from the server's Date.
    in_an_hour = {"Expires": http_date(date + timedelta(hours=1)), "Date": http_date(date)}
    assert freshness(in_an_hour) == 3600
    assert freshness({**in_an_hour, "Cache-Control": "max-age=60"}) == 60
    # Nothing, or nothing usable: the caller's default applies rather than no caching.
    for headers in (
        {},
        {"Cache-Control": "no-cache"},
        {"Cache-Control": "no-store, max-age=600"},
        {"Cache-Control": "max-age=0"},
        {"Expires": "0"},
        {"Expires": http_date(date - timedelta(days=1)), "Date": http_date(date)},
    ):
        assert freshness(headers) is None, headers


# --- missing, failing and cached robots.txt ----------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_robots_4xx_allows_everything_and_is_asked_for_once(web: LocalWeb, status: int) -> None:
    web.routes["/robots.txt"] = Response(status, "no")
    web.add("/a", "a")

    async def go(f: Fetcher) -> None:
        for _ in range(3):
            await f.get(web.url("/a"))

    run(go)
    assert (len(web.hits("/robots.txt")), len(web.hits("/a"))) == (1, 3)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_robots_5xx_or_429_fetches_nothing_until_it_can_be_read(web: LocalWeb, status: int) -> None:
    web.routes["/robots.txt"] = [Response(status, "busy"), text("User-agent: *\nAllow: /\n")]
    web.add("/a", "a")

    async def go(f: Fetcher) -> tuple[FetchError, bytes]:
        with pytest.raises(FetchError) as refused:
            await f.get(web.url("/a"))
        await asyncio.sleep(0.3)  # past robots_error_ttl: robots.txt is asked for again
        return refused.value, (await f.get(web.url("/a"))).content

    error, content = run(go, settings(robots_error_ttl=0.2))
    assert (error.reason, error.transient) == (f"http_{status}", True)
    assert "robots.txt" in str(error)
    assert content == b"a"
    assert len(web.hits("/a")) == 1  # only once robots.txt could be read
    assert len(web.hits("/robots.txt")) == 2


def test_unreachable_robots_keeps_the_copy_read_before(web: LocalWeb) -> None:
    rules = "User-agent: *\nDisallow: /private/\n"
    web.routes["/robots.txt"] = [
        Response(body=rules, content_type="text/plain", headers={"Cache-Control": "max-age=1"}),
        Response(503, "down"),
    ]
    web.add("/public", "ok")
    web.add("/private/x", "secret")

    async def go(f: Fetcher) -> tuple[bytes, str]:
        await f.get(web.url("/public"))
        await asyncio.sleep(1.1)  # the copy is stale; asking again gets a 503
        page = await f.get(web.url("/public"))
        with pytest.raises(FetchError) as refused:
            await f.get(web.url("/private/x"))
        return page.content, refused.value.reason

    assert run(go, settings(robots_error_ttl=60)) == (b"ok", "robots")
    assert len(web.hits("/robots.txt")) == 2
    assert web.hits("/private/x") == []


def test_robots_cached_per_host_then_read_again_after_its_max_age(web: LocalWeb) -> None:
    web.routes["/robots.txt"] = Response(
        body="User-agent: *\nDisallow: /private/\n",
        content_type="text/plain",
        headers={"Cache-Control": "max-age=1"},
    )
    web.add("/a", "a")

    async def go(f: Fetcher) -> int:
        await asyncio.gather(*(f.get(web.url(f"/a?i={i}")) for i in range(8)))
        seen_before_expiry = len(web.hits("/robots.txt"))
        await asyncio.sleep(1.1)
        await f.get(web.url("/a"))
        return seen_before_expiry

    assert run(go, settings(per_host_concurrency=4)) == 1
    assert len(web.hits("/robots.txt")) == 2
    assert len(web.hits("/a")) == 9


@pytest.mark.parametrize(("hops", "private_allowed"), [(5, False), (6, True)])
def test_robots_redirects_followed_five_hops(
    web: LocalWeb, hops: int, private_allowed: bool
) -> None:
    chain = ["/robots.txt"] + [f"/moved/{i}" for i in range(hops)]
    for here, there in zip(chain, chain[1:], strict=False):
        web.routes[here] = Response(301, headers={"Location": there})
    web.add(chain[-1], "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    web.add("/private/x", "x")

    async def go(f: Fetcher) -> bool:
        try:
            await f.get(web.url("/private/x"))
        except FetchError as e:
            assert e.reason == "robots"
            return False
        return True

    # Past five redirects robots.txt counts as unavailable, which allows everything.
    assert run(go, settings(max_redirects=2)) is private_allowed


# --- Crawl-delay -------------------------------------------------------------------------


def test_crawl_delay_over_the_cap_is_cut_and_warned_about_once(
    web: LocalWeb, caplog: pytest.LogCaptureFixture
) -> None:
    web.add("/robots.txt", "User-agent: *\nCrawl-delay: 60\n", content_type="text/plain")
    web.add("/a", "a")

    async def go(f: Fetcher) -> float:
        for i in range(2):
            await f.get(web.url(f"/a?i={i}"))
        return await f.delay_for(web.url("/"))

    with caplog.at_level(logging.WARNING, logger="monitor.robots"):
        delay = run(go, settings(max_crawl_delay=0.4))
    assert delay == 0.4
    assert min(gaps(web.log)) >= 0.4 - SLACK
    assert len([r for r in caplog.records if "Crawl-delay of 60s" in r.getMessage()]) == 1


def test_delay_for_is_per_host_delay_without_crawl_delay_or_robots(web: LocalWeb) -> None:
    web.add("/robots.txt", "User-agent: oic-monitor\nCrawl-delay: 3\n", content_type="text/plain")

    assert run(lambda f: f.delay_for(web.url("/")), settings(obey_robots=False)) == 0.01
    assert web.log == []
    assert run(lambda f: f.delay_for(web.url("/")), settings(per_host_delay=5)) == 5
    assert run(lambda f: f.delay_for(web.url("/"))) == 3


# --- every command obeys -----------------------------------------------------------------

DATES = ["2026-11-20T09:15:00+05:00", "2026-11-21T10:00:00+05:00", "2026-11-22T11:30:00+05:00"]


def rss(web: LocalWeb, paths: list[str]) -> str:
    items = "".join(
        f"<item><title>Item {i}</title><link>{web.url(p).replace('&', '&amp;')}</link>"
        f"<pubDate>Fri, 20 Nov 2026 10:0{i}:00 GMT</pubDate></item>"
        for i, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Agency</title>{items}</channel></rss>"
    )


def urlset(web: LocalWeb, paths: list[str]) -> str:
    urls = "".join(
        f"<url><loc>{web.url(p)}</loc><lastmod>{DATES[0]}</lastmod></url>" for p in paths
    )
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def serve_site(web: LocalWeb, *, crawl_delay: int | None = None, allowed: int = 3) -> list[str]:
    """A site whose robots.txt has wildcard, "$" and Allow-over-Disallow rules; its feed and
    sitemaps list the first `allowed` of ALLOWED and every one of DISALLOWED. Every page
    exists, so a request for a disallowed one would succeed and be counted."""
    delay = f"Crawl-delay: {crawl_delay}\n" if crawl_delay else ""
    web.add("/robots.txt", f"{RULES}{delay}Sitemap: /sitemap.xml\n", content_type="text/plain")
    listed = ALLOWED[:allowed] + DISALLOWED
    seeds = seed_articles()
    for i, path in enumerate(ALLOWED + DISALLOWED):
        s = seeds[i % len(seeds)]
        page = article_page(s.title, s.paragraphs, lang=s.language, published_iso=DATES[i % 3])
        web.routes[path] = Response(body=page.html)
    feed = rss(web, listed)
    web.add("/rss.xml", feed, content_type="application/rss+xml")
    web.add("/archive/2026/feed.xml", feed, content_type="application/rss+xml")
    web.add("/archive/feed.xml", feed, content_type="application/rss+xml")
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="{p}">'
        for p in ("/archive/feed.xml", "/archive/2026/feed.xml")
    )
    web.add("/", f"<html><head><title>Agency</title>{links}</head><body>hi</body></html>")
    index = "".join(
        f"<sitemap><loc>{web.url(p)}</loc></sitemap>"
        for p in ("/sitemaps/2026.xml", "/archive/sitemap-2019.xml")
    )
    web.add(
        "/sitemap.xml",
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{index}</sitemapindex>',
        content_type="application/xml",
    )
    for path in ("/sitemaps/2026.xml", "/archive/sitemap-2019.xml"):
        web.add(path, urlset(web, listed), content_type="application/xml")
    return listed


def config(tmp_path: Path, sources: str = "") -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        '[storage]\nurl = "sqlite:///monitor.db"\narchive_dir = "archive"\n\n'
        '[fetch]\nper_host_delay = "10ms"\nbackoff = "10ms"\nretries = 0\n' + sources,
        encoding="utf-8",
    )
    return cfg


def feed_source(url: str, name: str = "agency") -> str:
    return f'\n[[sources]]\nname = "{name}"\nurl = "{url}"\nkind = "feed"\n'


def stored_urls(cfg: Path) -> set[str]:
    store = Store.open(load_settings(cfg).storage.url)
    try:
        return {it.url for it in store.items()}
    finally:
        store.close()


def refusal_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "robots.txt disallows them" in line]


def test_poll_never_requests_disallowed_urls_and_keeps_crawl_delay(
    web: LocalWeb, tmp_path: Path
) -> None:
    serve_site(web, crawl_delay=2, allowed=2)  # few requests: each costs 2 s
    cfg = config(tmp_path, feed_source(web.url("/rss.xml")))

    result = cli(cfg, "poll")

    assert result.returncode == 0, result.stderr
    assert sorted(r.path for r in web.log) == sorted(["/robots.txt", "/rss.xml", *ALLOWED[:2]])
    assert min(gaps(web.log)) >= 2 - SLACK
    assert stored_urls(cfg) == {web.url(p) for p in ALLOWED[:2]}
    # One line for the source, however many URLs were refused.
    assert [line.split("agency: ", 1)[1] for line in refusal_lines(result.stderr)] == [
        "3 URL(s) not fetched: robots.txt disallows them"
    ]


def test_backfill_never_requests_disallowed_urls_or_sitemaps(web: LocalWeb, tmp_path: Path) -> None:
    serve_site(web)
    cfg = config(tmp_path, feed_source(web.url("/rss.xml")))

    result = cli(cfg, "backfill", "--since", "2026-01-01", "--until", "2026-12-31")

    assert result.returncode == 0, result.stderr
    requested = {r.path for r in web.log}
    assert requested.isdisjoint(DISALLOWED + ["/archive/sitemap-2019.xml"])
    assert {"/sitemap.xml", "/sitemaps/2026.xml", *ALLOWED} <= requested
    assert stored_urls(cfg) == {web.url(p) for p in ALLOWED}
    assert len(refusal_lines(result.stderr)) == 1


def test_sources_add_skips_a_disallowed_feed_for_an_allowed_one(
    web: LocalWeb, tmp_path: Path
) -> None:
    serve_site(web)
    cfg = config(tmp_path)

    result = cli(cfg, "sources", "add", web.url("/"), "--name", "agency")

    assert result.returncode == 0, result.stderr
    assert load_settings(cfg).source("agency").url == web.url("/archive/2026/feed.xml")
    assert {r.path for r in web.log}.isdisjoint(DISALLOWED + ["/archive/feed.xml"])


def test_sources_check_shows_the_delay_in_force(web: LocalWeb, tmp_path: Path) -> None:
    listed = serve_site(web, crawl_delay=2)
    strict = web.routes["/robots.txt"]

    def robots(req: Request) -> Response:
        # The same server under another host name has no robots.txt, hence no Crawl-delay.
        if req.headers.get("host", "").startswith("127.0.0.1"):
            return strict  # type: ignore[return-value]
        return Response(404, "none")

    web.routes["/robots.txt"] = robots
    other = f"http://localhost:{web.port}/rss.xml"
    cfg = config(tmp_path, feed_source(web.url("/rss.xml")) + feed_source(other, "mirror"))

    result = cli(cfg, "sources", "check")

    assert result.returncode == 0, result.stderr
    rows = {
        cells[0]: cells
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 5
    }
    assert rows["agency"][1:4] == ["feed", str(len(listed)), "2s"]
    assert rows["mirror"][1:4] == ["feed", str(len(listed)), "0.01s"]
