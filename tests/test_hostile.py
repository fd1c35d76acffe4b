"""Hostile and broken input: each is refused or survived with a clear logged reason, and a
good source polled afterwards is still stored. Most run the real pipeline in-process; one
runs the daemon through all of them; one takes the database away from a running daemon."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from monitor.config import Settings
from monitor.pipeline import PollReport
from monitor.runtime import Runtime
from monitor.store.repo import Store
from tests.conftest import PG_ADMIN
from tests.daemon_support import (
    Hook,
    Site,
    SourceSpec,
    kill,
    log_text,
    oic_article,
    plain_article,
    start,
    stop,
    wait_for,
    write_config,
)
from tests.test_alerts_email import free_port
from tests.webserver import LocalWeb, Response

MB = 1024 * 1024
FEED = "application/rss+xml"


def rss(*links: str) -> str:
    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in links)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{items}</channel></rss>'
    )


def gzip_zeros(total: int) -> bytes:
    """A gzip stream of `total` zero bytes, built a megabyte at a time (about 1000:1)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MB
    out = [z.compress(block) for _ in range(total // MB)]
    return b"".join(out) + z.flush()


def drip(byte: bytes, count: int) -> Iterator[bytes]:
    for _ in range(count):
        yield byte


def silence(prefix: bytes, seconds: float) -> Iterator[bytes]:
    """Send a little, then nothing for a long time, without closing the connection."""
    yield prefix
    time.sleep(seconds)
    yield b""


def billion_laughs(root: str) -> str:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{entities}]>'


def big_feed(base: str, entries: int) -> Iterator[bytes]:
    yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
    chunk: list[str] = []
    for i in range(entries):
        chunk.append(f"<item><link>{base}/big/{i}.html</link></item>")
        if len(chunk) == 1000:
            yield "".join(chunk).encode()
            chunk = []
    yield ("".join(chunk) + "</channel></rss>").encode()


class Bench:
    """A local site with one good source and whatever hostile routes a test adds."""

    def __init__(self, web: LocalWeb, tmp: Path, db_url: str) -> None:
        self.web = web
        self.tmp = tmp
        self.db_url = db_url
        self.good = Site(web, "/good")
        title, paragraphs = oic_article(7)
        self.good.publish(1, title, paragraphs, "en")

    def settings(self, sources: list[dict[str, Any]], **fetch: Any) -> Settings:
        good = {"name": "good", "url": self.good.feed_url, "interval": "1m"}
        return Settings.model_validate(
            {
                "storage": {"url": self.db_url, "archive_dir": str(self.tmp / "archive")},
                "fetch": {"per_host_delay": 0.001, "backoff": 0.01, "retries": 0, **fetch},
                "sources": [*sources, good],
            }
        )

    def feed_of(self, name: str, *paths: str) -> dict[str, Any]:
        """A source whose feed lists the given article paths."""
        self.web.add(f"/{name}/rss.xml", rss(*(self.web.url(p) for p in paths)), content_type=FEED)
        return {"name": name, "url": self.web.url(f"/{name}/rss.xml"), "interval": "1m"}

    def poll(self, sources: list[dict[str, Any]], **fetch: Any) -> dict[str, PollReport]:
        """Poll each source once, the good one last; assert the good article was stored."""
        settings = self.settings(sources, **fetch)

        async def go() -> dict[str, PollReport]:
            async with Runtime(settings) as rt:
                reports = {s.name: await rt.pipeline.poll(s) for s in settings.sources}
                return reports

        reports = asyncio.run(go())
        assert reports["good"].stored == 1 or reports["good"].new == 0, reports["good"]
        store = Store.open(self.db_url)
        assert [i.url for i in store.items()] == [self.web.url("/good/news/1.html")]
        store.close()
        return reports


@pytest.fixture
def bench(web: LocalWeb, tmp_path: Path) -> Bench:
    return Bench(web, tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}")


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="monitor")


def test_gzip_bomb_article_is_cut_off_at_the_size_cap(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    bench.web.routes["/bomb/1.html"] = Response(
        body=gzip_zeros(200 * MB), headers={"Content-Encoding": "gzip"}
    )
    reports = bench.poll([bench.feed_of("bomb", "/bomb/1.html")])
    assert reports["bomb"].errors == {"too_large": 1}
    assert "body is over 10485760 bytes" in caplog.text


def test_gzipped_sitemap_bomb_is_refused(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    bench.web.routes["/bomb/sitemap.xml.gz"] = Response(
        body=gzip_zeros(60 * MB), content_type="application/gzip"
    )
    url = bench.web.url("/bomb/sitemap.xml.gz")
    reports = bench.poll([{"name": "bomb", "url": url, "kind": "sitemap"}])
    assert reports["bomb"].error and "refused" in reports["bomb"].error
    assert "inflates to more than 52428800 bytes; refused" in caplog.text


@pytest.mark.parametrize("declared", [False, True], ids=["streamed", "content-length"])
def test_100_mb_body_is_not_read_past_the_cap(
    bench: Bench, caplog: pytest.LogCaptureFixture, declared: bool
) -> None:
    headers = {"Content-Length": str(100 * MB)} if declared else {}
    bench.web.routes["/huge/1.html"] = Response(body=drip(b"a" * MB, 100), headers=headers)
    reports = bench.poll([bench.feed_of("huge", "/huge/1.html")])
    assert reports["huge"].errors == {"too_large": 1}
    expected = f"body of {100 * MB} bytes is over" if declared else "body is over 10485760"
    assert expected in caplog.text


def test_one_byte_per_second_hits_the_deadline(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    bench.web.routes["/slow/1.html"] = Response(body=drip(b"<", 60), delay=1.0)
    reports = bench.poll([bench.feed_of("slow", "/slow/1.html")], connect_timeout=1, read_timeout=2)
    assert reports["slow"].errors == {"timeout": 1}
    assert "no complete response within 3s" in caplog.text


def test_connection_that_never_closes_times_out(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    bench.web.routes["/open/1.html"] = Response(body=silence(b"<html><body>", 30))
    bench.web.routes["/open/rss.xml"] = Response(body=silence(b"<?xml", 30), content_type=FEED)
    url = bench.web.url("/open/rss.xml")
    reports = bench.poll(
        [{"name": "open", "url": url}, bench.feed_of("open-article", "/open/1.html")],
        connect_timeout=1,
        read_timeout=1,
    )
    assert reports["open"].error and "timed out (ReadTimeout)" in reports["open"].error
    assert reports["open-article"].errors == {"timeout": 1}
    assert "open/1.html: timed out (ReadTimeout)" in caplog.text


def test_redirect_loop_is_detected(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    bench.web.routes["/loop/a"] = Response(status=302, headers={"Location": "/loop/b"})
    bench.web.routes["/loop/b"] = Response(status=302, headers={"Location": "/loop/a"})
    reports = bench.poll([bench.feed_of("loop", "/loop/a")])
    assert reports["loop"].errors == {"redirect_loop": 1}
    assert "redirect loop back to" in caplog.text


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)"]
)
def test_redirect_to_a_non_http_scheme_is_refused(
    bench: Bench, caplog: pytest.LogCaptureFixture, location: str
) -> None:
    bench.web.routes["/away/1.html"] = Response(status=302, headers={"Location": location})
    reports = bench.poll([bench.feed_of("away", "/away/1.html")])
    assert reports["away"].errors == {"bad_scheme": 1}
    assert f"redirect to a non-HTTP URL refused: {location}" in caplog.text


def test_feed_with_100000_entries_is_cut(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    bench.web.routes["/big/rss.xml"] = lambda _: Response(
        body=big_feed(bench.web.base, 100_000), content_type=FEED
    )
    source = {"name": "big", "url": bench.web.url("/big/rss.xml"), "max_items_per_poll": 3}
    reports = bench.poll([source])
    assert reports["big"].ok
    assert reports["big"].discovered == 5000
    assert reports["big"].new == 3  # the rest wait for later polls
    assert "feed cut after 5000 entries" in caplog.text


@pytest.mark.parametrize("kind", ["feed", "sitemap"])
def test_xml_entity_expansion_is_refused(
    bench: Bench, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    root = "rss" if kind == "feed" else "urlset"
    body = billion_laughs(root) + (
        '<rss version="2.0"><channel><title>&lol9;</title></channel></rss>'
        if kind == "feed"
        else '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>http://x.invalid/&lol9;</loc></url></urlset>"
    )
    bench.web.add("/laughs.xml", body, content_type="application/xml")
    reports = bench.poll([{"name": "laughs", "url": bench.web.url("/laughs.xml"), "kind": kind}])
    assert reports["laughs"].error and "refused to expand them" in reports["laughs"].error
    assert "declares XML entities in its DOCTYPE; refused to expand them" in caplog.text


def test_invalid_utf8_is_read_with_replacement_characters(
    web: LocalWeb, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bench = Bench(web, tmp_path, db_url)
    title, paragraphs = plain_article(3)
    site = Site(web, "/broken")
    path = site.publish(1, title, paragraphs, "en")
    page = web.routes[path]
    assert isinstance(page, Response) and isinstance(page.body, str)
    # Bytes that are not UTF-8 (and a NUL, which PostgreSQL text cannot hold) in a page
    # that says it is UTF-8, and in its feed.
    raw = page.body.encode().replace(b"Forecasters", b"Fore\xff\xfe\x00casters", 1)
    web.routes[path] = Response(body=raw)
    feed = rss(web.url(path)).replace("<title>t</title>", "<title>bad \xff title</title>")
    web.routes["/broken/rss.xml"] = Response(
        body=feed.encode("latin-1"), content_type="application/rss+xml; charset=utf-8"
    )
    bench.good = site  # this source's article is the one to be stored
    settings = bench.settings([])
    settings = settings.model_copy(
        update={"sources": [s.model_copy(update={"url": site.feed_url}) for s in settings.sources]}
    )

    async def go() -> PollReport:
        async with Runtime(settings) as rt:
            return await rt.pipeline.poll(settings.sources[0])

    report = asyncio.run(go())
    assert report.stored == 1, report
    store = Store.open(db_url)
    [item] = store.items()
    store.close()
    assert "Fore\ufffd\ufffdcasters" in item.text
    assert "\x00" not in item.text
    assert "feed is malformed but was read" in caplog.text


def test_html_nested_100000_levels_deep_is_skipped(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    title, paragraphs = oic_article(8)
    text = "".join(f"<p>{p}</p>" for p in paragraphs)
    deep = (
        f"<html><body><h1>{title}</h1>{'<div>' * 100_000}{text}{'</div>' * 100_000}</body></html>"
    )
    bench.web.add("/deep/1.html", deep)
    reports = bench.poll([bench.feed_of("deep", "/deep/1.html")])
    assert reports["deep"].errors == {"too_complex": 1}
    assert "HTML nested more than 255 levels deep" in caplog.text


# --- the daemon itself ---------------------------------------------------------------------


def hostile_site(web: LocalWeb) -> list[SourceSpec]:
    """Every kind of hostile source at once, each polled every second."""
    web.routes["/bomb/1.html"] = Response(
        body=gzip_zeros(20 * MB), headers={"Content-Encoding": "gzip"}
    )
    web.routes["/huge/1.html"] = Response(body=drip(b"a" * MB, 100))
    web.routes["/slow/1.html"] = Response(body=drip(b"<", 20), delay=1.0)
    web.routes["/open/1.html"] = Response(body=silence(b"<html>", 60))
    web.routes["/loop/a"] = Response(status=302, headers={"Location": "/loop/b"})
    web.routes["/loop/b"] = Response(status=302, headers={"Location": "/loop/a"})
    web.routes["/away/1.html"] = Response(status=302, headers={"Location": "file:///etc/passwd"})
    web.add("/deep/1.html", "<html><body>" + "<div>" * 100_000 + "x</body></html>")
    big = b"".join(big_feed(web.base, 100_000))
    web.routes["/big/rss.xml"] = lambda _: Response(
        body=(big[i : i + 64 * 1024] for i in range(0, len(big), 64 * 1024)), content_type=FEED
    )
    web.add("/laughs.xml", billion_laughs("rss") + "<rss/>", content_type="application/xml")
    articles = {
        "bomb": "/bomb/1.html",
        "huge": "/huge/1.html",
        "slow": "/slow/1.html",
        "open": "/open/1.html",
        "loop": "/loop/a",
        "away": "/away/1.html",
        "deep": "/deep/1.html",
    }
    specs = []
    for name, path in articles.items():
        web.add(f"/{name}/rss.xml", rss(web.url(path)), content_type=FEED)
        specs.append(SourceSpec(name, web.url(f"/{name}/rss.xml"), "2s"))
    specs.append(SourceSpec("big", web.url("/big/rss.xml"), "2s"))
    specs.append(SourceSpec("laughs", web.url("/laughs.xml"), "2s"))
    return specs


# What the log must show for each hostile source (any one of the alternatives).
REASONS = (
    ("bomb/1.html: body is over 10485760 bytes",),
    ("huge/1.html: body is over 10485760 bytes",),
    ("slow/1.html: no complete response within 11s",),
    # Silent after a few bytes: the per-read timeout or the whole-response deadline.
    ("open/1.html: timed out (ReadTimeout)", "open/1.html: no complete response within 11s"),
    ("redirect loop back to",),
    ("redirect to a non-HTTP URL refused: file:///etc/passwd",),
    ("HTML nested more than 255 levels deep",),
    ("big: feed is malformed but was read: feed cut after 5000 entries",),
    ("laughs: the document declares XML entities in its DOCTYPE; refused to expand them",),
)


def all_refused(log: Path) -> bool:
    text = log_text(log)
    return all(any(r in text for r in alternatives) for alternatives in REASONS)


def test_daemon_survives_every_hostile_source_and_stores_a_good_one(
    web: LocalWeb, tmp_path: Path, db_url: str
) -> None:
    specs = hostile_site(web)
    good = Site(web, "/good")
    cfg = write_config(
        tmp_path / "monitor.toml",
        db_url,
        [*specs, SourceSpec("good", good.feed_url)],
        # Generous enough for a 5 MB feed on a busy machine; the drip and the silence
        # outlast it.
        fetch='connect_timeout = "1s"\nread_timeout = "10s"\nretries = 0',
    )
    log = tmp_path / "daemon.log"
    port = free_port()
    proc = start(cfg, log, "--http", f"127.0.0.1:{port}")
    store = Store.open(db_url)
    try:
        wait_for(lambda: all_refused(log), "every hostile source refused")
        # The good source was scheduled among them all along; publish and see it stored.
        title, paragraphs = oic_article(9)
        good.publish(1, title, paragraphs, "en")
        wait_for(lambda: store.count_items() == 1, "the good article stored")
        assert proc.poll() is None, log_text(log)[-3000:]
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert stop(proc) == 0
    finally:
        kill(proc)
        store.close()
    assert "poll crashed" not in log_text(log)
    assert "Traceback" not in log_text(log)


def test_stop_during_a_hung_fetch_is_clean_and_the_article_comes_next_start(
    web: LocalWeb, tmp_path: Path
) -> None:
    site = Site(web)
    title, paragraphs = oic_article(4)
    path = site.publish(1, title, paragraphs, "en")
    page = web.routes[path]
    hung = True
    # Longer than the shutdown grace, shorter than the read timeout: still in flight at stop.
    web.routes[path] = lambda req: Response(body=silence(b"<html>", 20)) if hung else page
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    cfg = write_config(
        tmp_path / "monitor.toml",
        db,
        [SourceSpec("site", site.feed_url, "3s")],
        fetch='read_timeout = "30s"\nretries = 0',
    )
    log = tmp_path / "daemon.log"
    proc = start(cfg, log)
    try:
        wait_for(lambda: bool(web.hits(path)), "the article fetch to start")
        assert stop(proc) == 0, log_text(log)[-3000:]
    finally:
        kill(proc)
    text = log_text(log)
    assert "site: poll cut short by shutdown" in text
    assert "Traceback" not in text, text[-3000:]

    hung = False
    proc = start(cfg, log)
    store = Store.open(db)
    try:
        wait_for(lambda: store.count_items() == 1, "the article stored after restart")
        assert stop(proc) == 0
    finally:
        kill(proc)
        store.close()
    assert "Traceback" not in log_text(log)


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def test_database_briefly_unreachable_loses_nothing(
    web: LocalWeb, tmp_path: Path, pg_url: str
) -> None:
    db = pg_url.rsplit("/", 1)[1]
    site = Site(web, "/s")
    hook = Hook(web)
    cfg = write_config(
        tmp_path / "monitor.toml", pg_url, [SourceSpec("s", site.feed_url)], hook_url=hook.url
    )
    log = tmp_path / "daemon.log"
    site.publish(1, *oic_article(11), "en")
    proc = start(cfg, log)
    store = Store.open(pg_url)
    try:
        wait_for(lambda: store.count_items() == 1 and len(hook.keys) == 1, "the first article")
        store.close()
        _pg_admin(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        _pg_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
        # Published while the database is away: must be stored once it is back.
        site.publish(2, *oic_article(12), "en")
        site.publish(3, *plain_article(12), "en")
        failed = "s: poll failed, the database is unavailable"
        wait_for(lambda: log_text(log).count(failed) >= 3, "polls failing while it is away")
        assert proc.poll() is None
        _pg_admin(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        store = Store.open(pg_url)
        wait_for(lambda: store.count_items() == 3, "the articles published meanwhile")
        wait_for(lambda: len(hook.keys) == 2, "the alert of the new relevant article")
        assert stop(proc) == 0
    finally:
        _pg_admin(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        kill(proc)
        store.close()
    text = log_text(log)
    assert "retried at the next interval" in text
    assert "poll crashed" not in text
    assert sorted(i.url for i in store.items()) == sorted(web.url(p) for p, _ in site.published)
    assert len(set(hook.keys)) == len(hook.keys) == 2
