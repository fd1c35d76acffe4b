from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.config import FetchSettings
from monitor.fetch import Fetcher, FetchError, FetchResult, parse_retry_after
from tests.webserver import LocalWeb, Request, Response

RUSSIAN = (
    "Министры иностранных дел стран Организации исламского сотрудничества собрались в Астане. "
    "Участники обсудили вопросы безопасности, экономического сотрудничества и гуманитарной "
    "помощи. По итогам встречи была принята совместная декларация, которую подписали все "
    "делегации."
)
PAGE = f"<html><head><title>Новости</title></head><body><p>{RUSSIAN}</p></body></html>"


@pytest.fixture(scope="module")
def _server() -> Iterator[LocalWeb]:
    server = LocalWeb().start()
    report = server.server.handle_error

    def handle_error(request: Any, address: Any) -> None:
        # Aborting a body on purpose resets the connection; that is not a server fault.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, address)

    server.server.handle_error = handle_error  # type: ignore[method-assign]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def web(_server: LocalWeb) -> LocalWeb:
    """The conftest `web` server, started once per module (stopping one takes ~0.5 s) and
    emptied of routes and logged requests before each test."""
    _server.routes.clear()
    with _server._lock:
        _server.log.clear()
    return _server


def make_settings(**overrides: Any) -> FetchSettings:
    """Settings with tiny delays so the suite stays fast."""
    values: dict[str, Any] = {
        "connect_timeout": 1,
        "read_timeout": 1,
        "backoff": 0.01,
        "per_host_delay": 0.01,
        "retries": 2,
        "max_retry_after": 5,
    }
    return FetchSettings(**{**values, **overrides})


def fetch(url: str, settings: FetchSettings | None = None, **kw: Any) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings or make_settings()) as fetcher:
            return await fetcher.get(url, **kw)

    return asyncio.run(go())


def fetch_error(url: str, settings: FetchSettings | None = None, **kw: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, settings, **kw)
    return info.value


# --- basics ------------------------------------------------------------------------------


def test_returns_body_type_and_validators(web: LocalWeb) -> None:
    url = web.add(
        "/p", "<html>ok</html>", headers={"ETag": '"v1"', "Last-Modified": "Mon, 05 Jan 2026"}
    )
    result = fetch(url)
    assert (result.url, result.status, result.content) == (url, 200, b"<html>ok</html>")
    assert result.content_type == "text/html"
    assert result.encoding == "utf-8"
    assert (result.etag, result.last_modified) == ('"v1"', "Mon, 05 Jan 2026")
    assert not result.not_modified


def test_sends_user_agent_with_version_and_contact(web: LocalWeb) -> None:
    url = web.add("/p", "ok")

    async def go() -> None:
        async with Fetcher(make_settings(contact="https://example.org/bot"), version="9.9") as f:
            await f.get(url)

    asyncio.run(go())
    expected = "oic-monitor/9.9 (+https://example.org/bot)"
    assert web.hits("/p")[0].headers["user-agent"] == expected
    assert web.hits("/robots.txt")[0].headers["user-agent"] == expected


def test_accept_header_follows_accept_argument(web: LocalWeb) -> None:
    url = web.add("/p", "ok")
    fetch(url, accept="html")
    assert web.hits("/p")[0].headers["accept"].startswith("text/html")


def test_refuses_non_http_urls_without_a_request(web: LocalWeb) -> None:
    assert fetch_error("ftp://127.0.0.1/file").reason == "bad_scheme"
    assert fetch_error("http:///nohost").reason == "bad_url"
    assert fetch_error("http://127.0.0.1:99999/").reason == "bad_url"
    assert web.log == []


def test_error_message_names_url_and_problem(web: LocalWeb) -> None:
    error = fetch_error(web.url("/missing"))
    assert error.url == web.url("/missing")
    assert str(error).startswith(web.url("/missing"))
    assert "404" in str(error)


# --- retries -----------------------------------------------------------------------------


def test_503_then_200_succeeds_on_retry(web: LocalWeb) -> None:
    web.routes["/p"] = [Response(503, "busy"), Response(200, "ok")]
    assert fetch(web.url("/p")).content == b"ok"
    assert len(web.hits("/p")) == 2


def test_429_with_retry_after_zero_is_retried(web: LocalWeb) -> None:
    web.routes["/p"] = [Response(429, headers={"Retry-After": "0"}), Response(200, "ok")]
    assert fetch(web.url("/p")).status == 200
    assert len(web.hits("/p")) == 2


def test_404_is_not_retried(web: LocalWeb) -> None:
    web.routes["/p"] = Response(404, "gone")
    error = fetch_error(web.url("/p"))
    assert (error.reason, error.transient) == ("http_404", False)
    assert len(web.hits("/p")) == 1


def test_410_is_not_retried(web: LocalWeb) -> None:
    web.routes["/rus/rss"] = Response(410, "gone")
    assert fetch_error(web.url("/rus/rss")).reason == "http_410"
    assert len(web.hits("/rus/rss")) == 1


def test_gives_up_after_retries_and_logs_it(
    web: LocalWeb, caplog: pytest.LogCaptureFixture
) -> None:
    web.routes["/p"] = Response(500, "broken")
    with caplog.at_level(logging.INFO, logger="monitor.fetch"):
        error = fetch_error(web.url("/p"), make_settings(retries=2))
    assert (error.reason, error.transient) == ("http_500", True)  # may mend later
    assert len(web.hits("/p")) == 3
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert all(web.url("/p") in r.getMessage() for r in retries)
    assert any("giving up" in r.getMessage() for r in caplog.records)


def test_retry_after_over_the_limit_gives_up_without_waiting(web: LocalWeb) -> None:
    web.routes["/p"] = Response(503, headers={"Retry-After": "3600"})
    error = fetch_error(web.url("/p"), make_settings(max_retry_after=5))
    assert (error.reason, error.transient) == ("http_503", True)
    assert "3600" in str(error)
    assert len(web.hits("/p")) == 1


def test_retry_after_values() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    future = parse_retry_after(
        time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 600))
    )
    assert future is not None and 500 < future <= 600
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_connection_refused_is_a_network_error(web: LocalWeb) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/p", make_settings(retries=1))
    assert (error.reason, error.transient) == ("network", True)


# --- redirects ---------------------------------------------------------------------------


def redirect(to: str, status: int = 302) -> Response:
    return Response(status, headers={"Location": to})


def test_redirect_chain_followed_to_final_url(web: LocalWeb) -> None:
    web.routes["/a"] = redirect(web.url("/b"), 301)
    web.routes["/b"] = redirect("c?x=1#frag")  # relative, with a fragment
    web.routes["/c"] = Response(200, "final")
    result = fetch(web.url("/a"))
    assert result.url == web.url("/c?x=1")
    assert result.content == b"final"


def test_a_failure_after_a_redirect_keeps_its_kind(web: LocalWeb) -> None:
    web.routes["/old"] = redirect("/new")
    web.routes["/new"] = Response(503, "busy")
    error = fetch_error(web.url("/old"), make_settings(retries=0))
    assert (error.reason, error.transient) == ("http_503", True)
    assert "after redirect to" in str(error)


def test_redirect_loop_abandoned(web: LocalWeb) -> None:
    web.routes["/x"] = redirect("/y")
    web.routes["/y"] = redirect("/x")
    assert fetch_error(web.url("/x")).reason == "redirect_loop"
    assert len(web.hits("/x")) == 1


def test_too_many_redirects(web: LocalWeb) -> None:
    for i in range(5):
        web.routes[f"/r{i}"] = redirect(f"/r{i + 1}")
    error = fetch_error(web.url("/r0"), make_settings(max_redirects=3))
    assert error.reason == "too_many_redirects"
    assert len(web.hits("/r3")) == 1
    assert web.hits("/r4") == []


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/file.txt", "javascript:alert(1)"])
def test_redirect_to_other_scheme_refused(web: LocalWeb, target: str) -> None:
    web.routes["/p"] = redirect(target)
    error = fetch_error(web.url("/p"))
    assert (error.reason, error.transient) == ("bad_scheme", False)
    assert target in str(error)


def test_unusable_redirect_location_not_retried(web: LocalWeb) -> None:
    web.routes["/p"] = redirect("http://[bad")
    assert fetch_error(web.url("/p")).reason == "bad_url"
    assert len(web.hits("/p")) == 1


def test_redirect_that_sets_a_cookie_keeps_it(web: LocalWeb) -> None:
    def handler(req: Request) -> Response:
        if "seen=1" in req.headers.get("cookie", ""):
            return Response(200, "article")
        return Response(302, headers={"Location": "/consent", "Set-Cookie": "seen=1; Path=/"})

    web.routes["/article"] = handler
    web.routes["/consent"] = redirect("/article")
    assert fetch(web.url("/article")).content == b"article"


def test_redirect_hop_checked_against_robots(web: LocalWeb) -> None:
    web.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    web.routes["/go"] = redirect("/private/doc")
    error = fetch_error(web.url("/go"))
    assert error.reason == "robots"
    assert error.url == web.url("/go")
    assert "/private/doc" in str(error)
    assert web.hits("/private/doc") == []


# --- size caps ---------------------------------------------------------------------------


def test_content_length_over_cap_refused(web: LocalWeb) -> None:
    url = web.add("/big", b"x" * 5000)
    assert fetch_error(url, make_settings(max_bytes=1000)).reason == "too_large"


def test_streamed_body_over_cap_stops_early(web: LocalWeb) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(1000):
            sent.append(i)
            yield b"y" * 1024

    web.routes["/stream"] = Response(body=chunks(), delay=0.005)
    error = fetch_error(web.url("/stream"), make_settings(max_bytes=5000))
    assert error.reason == "too_large"
    assert len(sent) < 500


def test_gzip_bomb_stopped_by_cap(web: LocalWeb) -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)
    assert len(bomb) < 3000
    web.routes["/bomb"] = Response(body=bomb, headers={"Content-Encoding": "gzip"})
    assert fetch_error(web.url("/bomb"), make_settings(max_bytes=100_000)).reason == "too_large"


def test_content_encoding_decoded_but_gzip_file_kept(web: LocalWeb) -> None:
    web.routes["/page"] = Response(
        body=gzip.compress(b"<html>hi</html>"), headers={"Content-Encoding": "gzip"}
    )
    assert fetch(web.url("/page")).content == b"<html>hi</html>"
    archive = gzip.compress(b"<urlset/>")
    web.add("/sitemap.xml.gz", archive, content_type="application/x-gzip")
    result = fetch(web.url("/sitemap.xml.gz"))
    assert result.content == archive
    assert result.encoding is None


# --- robots.txt --------------------------------------------------------------------------

ROBOTS = """\
User-agent: oic-monitor
Disallow: /private/

User-agent: *
Disallow: /

Sitemap: {base}/sitemap.xml
Sitemap: {base}/news-sitemap.xml
"""


def test_robots_obeyed_and_fetched_once(web: LocalWeb) -> None:
    web.add("/robots.txt", ROBOTS.format(base=web.base), content_type="text/plain")
    web.add("/public/1", "one")
    web.add("/public/2", "two")

    async def go() -> tuple[list[bytes], FetchError, list[str]]:
        async with Fetcher(make_settings()) as f:
            pages = await asyncio.gather(f.get(web.url("/public/1")), f.get(web.url("/public/2")))
            with pytest.raises(FetchError) as info:
                await f.get(web.url("/private/x"))
            sitemaps = await f.robots_sitemaps(web.url("/anything"))
            return [p.content for p in pages], info.value, sitemaps

    contents, error, sitemaps = asyncio.run(go())
    assert contents == [b"one", b"two"]
    assert error.reason == "robots"
    assert web.hits("/private/x") == []
    assert sitemaps == [web.url("/sitemap.xml"), web.url("/news-sitemap.xml")]
    assert len(web.hits("/robots.txt")) == 1


def test_robots_sitemaps_are_resolved_and_only_http_urls_kept(
    web: LocalWeb, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [
        "/news-sitemap.xml",  # relative: against the robots.txt URL
        "archive/sitemap.xml",
        "//cdn.example/sitemap.xml",  # scheme-relative: takes the robots.txt scheme
        "HTTPS://Other.example/sitemap.xml",
        "ftp://files.example/sitemap.xml",
        "mailto:webmaster@example.org",
        "javascript:alert(1)",
        "see our sitemap page",
        "http://[::1",  # a broken host, which urljoin refuses with ValueError
        "http://",
        "https://example.org:99999/sitemap.xml",
    ]
    web.add(
        "/robots.txt",
        "User-agent: *\nAllow: /\n" + "".join(f"Sitemap: {line}\n" for line in lines),
        content_type="text/plain",
    )

    async def go() -> list[str]:
        async with Fetcher(make_settings()) as f:
            return await f.robots_sitemaps(web.url("/"))

    with caplog.at_level(logging.INFO, logger="monitor.fetch"):
        sitemaps = asyncio.run(go())
    assert sitemaps == [
        web.url("/news-sitemap.xml"),
        web.url("/archive/sitemap.xml"),
        "http://cdn.example/sitemap.xml",
        "HTTPS://Other.example/sitemap.xml",
    ]
    ignored = [r.getMessage() for r in caplog.records if "not an http(s) URL" in r.getMessage()]
    assert len(ignored) == 7
    assert any("'ftp://files.example/sitemap.xml'" in m for m in ignored)
    assert all(m.startswith(web.url("/robots.txt")) for m in ignored)


def test_robots_ignored_when_disabled(web: LocalWeb) -> None:
    web.add("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    url = web.add("/p", "ok")
    assert fetch(url, make_settings(obey_robots=False)).content == b"ok"
    assert web.hits("/robots.txt") == []


def test_missing_robots_allows_all_and_is_cached(web: LocalWeb) -> None:
    web.add("/a", "a")

    async def go() -> list[str]:
        async with Fetcher(make_settings()) as f:
            await f.get(web.url("/a"))
            await f.get(web.url("/a"))
            return await f.robots_sitemaps(web.url("/"))

    assert asyncio.run(go()) == []
    assert len(web.hits("/robots.txt")) == 1


# --- conditional GET ---------------------------------------------------------------------


def test_etag_and_last_modified_give_304(web: LocalWeb) -> None:
    stamp = "Tue, 13 Jan 2026 13:31:00 GMT"

    def handler(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, headers={"ETag": '"v1"'})
        if req.headers.get("if-modified-since") == stamp:
            return Response(304)
        return Response(200, "<rss/>", headers={"ETag": '"v1"', "Last-Modified": stamp})

    web.routes["/rss"] = handler
    first = fetch(web.url("/rss"))
    assert (first.status, first.etag, first.last_modified) == (200, '"v1"', stamp)

    by_etag = fetch(web.url("/rss"), etag=first.etag)
    assert by_etag.not_modified
    assert (by_etag.status, by_etag.content, by_etag.etag) == (304, b"", '"v1"')

    by_date = fetch(web.url("/rss"), last_modified=stamp)
    assert by_date.not_modified
    assert by_date.last_modified == stamp  # kept although the 304 did not repeat it
    assert web.hits("/rss")[2].headers["if-modified-since"] == stamp
    assert "if-none-match" not in web.hits("/rss")[0].headers


def test_polls_answered_304_reuse_one_connection(web: LocalWeb) -> None:
    web.routes["/rss"] = lambda req: (
        Response(304, headers={"ETag": '"v1"'})
        if req.headers.get("if-none-match") == '"v1"'
        else Response(200, "<rss/>", headers={"ETag": '"v1"'})
    )

    async def poll_five_times() -> list[FetchResult]:
        async with Fetcher(make_settings()) as f:
            first = await f.get(web.url("/rss"))
            return [first] + [await f.get(web.url("/rss"), etag=first.etag) for _ in range(4)]

    results = asyncio.run(poll_five_times())
    assert [r.status for r in results] == [200, 304, 304, 304, 304]
    # No new TCP (or TLS) handshake per poll of an unchanged feed.
    assert len({r.client for r in web.hits("/rss")}) == 1


# --- charsets ----------------------------------------------------------------------------


def test_cp1251_charset_only_in_header(web: LocalWeb) -> None:
    url = web.add("/p", PAGE.encode("cp1251"), content_type="text/html; charset=windows-1251")
    result = fetch(url)
    assert result.encoding == "cp1251"
    assert RUSSIAN in result.text


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="windows-1251">',
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    ],
)
def test_cp1251_charset_only_in_meta(web: LocalWeb, meta: str) -> None:
    page = PAGE.replace("<head>", f"<head>{meta}")
    url = web.add("/p", page.encode("cp1251"), content_type="text/html")
    result = fetch(url)
    assert result.encoding == "cp1251"
    assert RUSSIAN in result.text


def test_koi8r_detected_without_declaration(web: LocalWeb) -> None:
    url = web.add("/p", PAGE.encode("koi8-r"), content_type="text/html")
    result = fetch(url)
    assert result.encoding == "koi8-r"
    assert RUSSIAN in result.text


def test_xml_declaration_encoding(web: LocalWeb) -> None:
    feed = f'<?xml version="1.0" encoding="windows-1251"?><rss><title>{RUSSIAN}</title></rss>'
    url = web.add("/rss", feed.encode("cp1251"), content_type="application/rss+xml")
    result = fetch(url, accept="feed")
    assert result.encoding == "cp1251"
    assert RUSSIAN in result.text


def test_bom_wins_and_is_not_in_text(web: LocalWeb) -> None:
    url = web.add("/p", b"\xef\xbb\xbf" + PAGE.encode(), content_type="text/html; charset=cp1251")
    result = fetch(url)
    assert result.text == PAGE


def test_latin1_label_decodes_as_windows_1252(web: LocalWeb) -> None:
    url = web.add(
        "/p", "“Baku” – 2026".encode("cp1252"), content_type="text/html; charset=iso-8859-1"
    )
    assert fetch(url).text == "“Baku” – 2026"


# --- content types -----------------------------------------------------------------------


def test_pdf_is_not_html(web: LocalWeb) -> None:
    url = web.add("/doc.pdf", b"%PDF-1.7\n" + b"0" * 1000, content_type="application/pdf")
    error = fetch_error(url, accept="html")
    assert error.reason == "not_html"
    assert "application/pdf" in str(error)


def test_pdf_behind_lying_header_is_not_html(web: LocalWeb) -> None:
    url = web.add("/doc", b"%PDF-1.7\n" + b"0" * 1000, content_type="text/html")
    error = fetch_error(url, accept="html")
    assert error.reason == "not_html"
    assert "application/pdf" in str(error)


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "application/zip", "application/octet-stream"]
)
def test_binary_types_are_not_html(web: LocalWeb, content_type: str) -> None:
    url = web.add("/file", b"\x00\x01\x02", content_type=content_type)
    assert fetch_error(url, accept="html").reason == "not_html"


def test_any_accepts_binary(web: LocalWeb) -> None:
    url = web.add("/doc.pdf", b"%PDF-1.7\n", content_type="application/pdf")
    result = fetch(url)
    assert (result.content_type, result.encoding) == ("application/pdf", None)


def test_feed_accepts_html_for_the_caller_to_judge(web: LocalWeb) -> None:
    url = web.add("/rss", "<html>moved</html>", content_type="text/html; charset=utf-8")
    assert fetch(url, accept="feed").content_type == "text/html"


# --- timeouts, politeness, private addresses -----------------------------------------------


def test_slow_drip_abandoned_after_overall_deadline(web: LocalWeb) -> None:
    web.routes["/slow"] = Response(body=[b"x"] * 60, delay=0.3)
    settings = make_settings(connect_timeout=0.5, read_timeout=0.5, retries=0)
    assert fetch_error(web.url("/slow"), settings).reason == "timeout"


def test_per_host_concurrency_never_exceeds_limit(web: LocalWeb) -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def handler(req: Request) -> Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.1)
        with lock:
            in_flight -= 1
        return Response(200, "ok")

    web.routes["/busy"] = handler

    async def go() -> None:
        async with Fetcher(make_settings(per_host_concurrency=2)) as f:
            await asyncio.gather(*(f.get(web.url(f"/busy?i={i}")) for i in range(6)))

    asyncio.run(go())
    assert len(web.hits("/busy")) == 6
    assert peak == 2


def test_spacing_counts_from_the_end_of_a_slow_response(web: LocalWeb) -> None:
    # A host that took 0.5 s to answer still gets the full delay before the next request.
    answered: list[float] = []

    def slow(req: Request) -> Response:
        time.sleep(0.5)
        answered.append(time.monotonic())
        return Response(200, "ok")

    web.routes["/slow"] = slow
    settings = make_settings(per_host_delay=0.3, per_host_concurrency=1, obey_robots=False)

    async def go() -> None:
        async with Fetcher(settings) as f:
            for i in range(3):
                await f.get(web.url(f"/slow?i={i}"))

    asyncio.run(go())
    arrivals = sorted(r.at for r in web.log)
    assert len(arrivals) == 3
    assert all(nxt - done >= 0.3 for done, nxt in zip(answered, arrivals[1:], strict=False))


def test_delay_is_per_host_not_global(web: LocalWeb) -> None:
    # A long per-host delay must not hold back a request to another host name.
    web.add("/p", "ok")
    settings = make_settings(per_host_delay=60, obey_robots=False)

    async def go() -> list[FetchResult]:
        async with Fetcher(settings) as f:
            urls = [web.url("/p"), f"http://localhost:{web.port}/p"]
            async with asyncio.timeout(10):
                return await asyncio.gather(*(f.get(u) for u in urls))

    assert [r.status for r in asyncio.run(go())] == [200, 200]


def test_private_addresses_blocked_when_enabled(web: LocalWeb) -> None:
    url = web.add("/p", "ok")
    error = fetch_error(url, make_settings(block_private_addresses=True, obey_robots=False))
    assert error.reason == "private_address"
    assert web.log == []
