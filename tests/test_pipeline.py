"""End to end: `oic-monitor poll` against a local news site with the quirks of real ones."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from monitor.fingerprint import content_hash, normalize_text
from tests.daemon_support import cli
from tests.pages import article_page, seed_articles
from tests.webserver import LocalWeb, Request, Response

DATES = ["2026-11-20T09:15:00+05:00", "2026-11-21T10:00:00+05:00", "2026-11-22T11:30:00+05:00",
         "2026-11-23T08:45:00+06:00", "2026-11-24T16:00:00+01:00"]  # fmt: skip


def cp1251_page(html: str, *, meta: bool) -> bytes:
    if not meta:  # the charset is then only in the Content-Type header
        html = re.sub(r"<meta charset=[^>]*>", "", html)
    return html.encode("cp1251", errors="xmlcharrefreplace")


def etag_route(body: str, content_type: str, tag: str = '"v1"'):  # type: ignore[no-untyped-def]
    def handler(req: Request) -> Response:
        if req.headers.get("if-none-match") == tag:
            return Response(status=304, headers={"ETag": tag}, content_type=content_type)
        return Response(body=body, headers={"ETag": tag}, content_type=content_type)

    return handler


def build_site(web: LocalWeb) -> None:
    seeds = seed_articles()
    pages = {
        i: article_page(s.title, s.paragraphs, lang=s.language, published_iso=DATES[i],
                        date_text=s.date_text, template=i % 3, views=100 + i).html
        for i, s in enumerate(seeds)
    }  # fmt: skip
    web.add("/news/0.html", pages[0])
    web.routes["/news/1.html"] = Response(
        body=cp1251_page(pages[1], meta=False), content_type="text/html; charset=windows-1251"
    )
    html2 = pages[2].replace('charset="utf-8"', 'charset="windows-1251"')
    web.routes["/news/2.html"] = Response(
        body=cp1251_page(html2, meta=True), content_type="text/html"
    )
    web.routes["/news/3.html"] = [Response(status=503, body="busy"), Response(body=pages[3])]
    web.routes["/go/4"] = Response(status=302, headers={"Location": "/r/4"})
    web.routes["/r/4"] = Response(status=301, headers={"Location": "/news/4.html"})
    web.add("/news/4.html", pages[4])
    web.routes["/loop/a"] = Response(status=302, headers={"Location": "/loop/b"})
    web.routes["/loop/b"] = Response(status=302, headers={"Location": "/loop/a"})
    web.routes["/files/report.pdf"] = Response(body=b"%PDF-1.4 ...", content_type="application/pdf")
    web.add("/private/secret.html", pages[0])
    web.add("/news/huge.html", "<html><body>" + "<p>слово</p>" * 200_000 + "</body></html>")
    web.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")

    base = web.base
    paths = ["/news/0.html", "/news/1.html", "/news/3.html", "/news/missing.html",
             "/files/report.pdf", "/loop/a"]  # fmt: skip
    rss = "".join(
        f"<item><title>t{n}</title><link>{base}{path}</link></item>" for n, path in enumerate(paths)
    )
    feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>{rss}</channel></rss>'
    )
    web.routes["/rss.xml"] = etag_route(feed, "application/rss+xml")
    urls = ["/news/2.html", "/go/4", "/private/secret.html", "/news/huge.html"]
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{base}{u}</loc></url>" for u in urls)
        + "</urlset>"
    )
    web.routes["/sitemap.xml"] = etag_route(sitemap, "application/xml")
    # The listing links seed 0 again, under a tracking-parameter URL: still one item.
    web.add(
        "/news/",
        '<html><body><nav><a href="/">Home</a><a href="/news/">News</a></nav><main><ul>'
        f'<li><a href="/news/0.html?utm_source=tg&utm_medium=social">{seeds[0].title}</a></li>'
        f'<li><a href="/news/2.html#top">{seeds[2].title}</a></li></ul></main></body></html>',
    )


def write_config(tmp_path: Path, base: str, dead_port: int) -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        f"""
[storage]
url = "sqlite:///data/monitor.db"
archive_dir = "data/archive"

[fetch]
per_host_delay = "10ms"
backoff = "10ms"
retries = 2
read_timeout = "5s"
max_bytes = 500000

[[sources]]
name = "site-feed"
url = "{base}/rss.xml"
kind = "feed"

[[sources]]
name = "site-sitemap"
url = "{base}/sitemap.xml"
kind = "sitemap"

[[sources]]
name = "site-listing"
url = "{base}/news/"
kind = "html"

[[sources]]
name = "dead"
url = "http://127.0.0.1:{dead_port}/rss.xml"
kind = "feed"
""",
        encoding="utf-8",
    )
    return cfg


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?»])\s+", normalize_text(text))
    return [p for p in parts if len(p) > 20]


@pytest.fixture
def polled(
    web: LocalWeb, tmp_path: Path
) -> tuple[Path, LocalWeb, subprocess.CompletedProcess[str]]:
    build_site(web)
    dead = LocalWeb()
    dead_port = dead.port
    dead.server.server_close()  # a port nobody listens on
    cfg = write_config(tmp_path, web.base, dead_port)
    return cfg, web, cli(cfg, "poll")


def test_poll_stores_each_article_once_with_clean_text(polled) -> None:  # type: ignore[no-untyped-def]
    cfg, web, result = polled
    assert result.returncode == 0, result.stderr
    assert "dead" in result.stdout and "FAILED" in result.stdout
    rows = [json.loads(line) for line in cli(cfg, "items", "--format", "jsonl").stdout.splitlines()]
    seeds = seed_articles()
    assert len(rows) == len(seeds), [r["url"] for r in rows]
    by_title = {r["title"]: r for r in rows}
    for i, seed in enumerate(seeds):
        row = by_title[seed.title]
        text = normalize_text(row["text"])
        for para in seed.paragraphs:
            for sentence in sentences(para):
                assert sentence in text, (seed.file, sentence)
        assert row["language"] == seed.language
        assert row["published"] is not None
        assert date.fromisoformat(row["published"][:10]) == date.fromisoformat(DATES[i][:10])
        assert row["content_hash"] == content_hash(row["text"])
        for key in ("id", "url", "source", "relevance", "relevant", "evidence", "story_id",
                    "duplicate_of", "alerted"):  # fmt: skip
            assert key in row
    # The tracking-parameter link to seed 0 was recognised as the known URL.
    assert len(web.hits("/news/0.html")) == 1
    # Robots-disallowed pages are never fetched.
    assert web.hits("/private/secret.html") == []


def test_boilerplate_is_left_out(polled) -> None:  # type: ignore[no-untyped-def]
    cfg, _, _ = polled
    rows = [json.loads(line) for line in cli(cfg, "items", "--format", "jsonl").stdout.splitlines()]
    for row in rows:
        page = article_page(row["title"], [], lang=row["language"])
        for junk in page.boilerplate:
            assert junk not in row["text"], (row["title"], junk)


def test_second_poll_is_conditional_and_stores_nothing(polled) -> None:  # type: ignore[no-untyped-def]
    cfg, web, _ = polled
    before = len(web.log)
    result = cli(cfg, "poll", "--source", "site-feed", "--source", "site-sitemap")
    assert result.returncode == 0, result.stderr
    assert "not modified" in result.stdout
    new_requests = [r for r in web.log[before:] if r.path != "/robots.txt"]
    assert {r.path for r in new_requests} == {"/rss.xml", "/sitemap.xml"}
    assert all(r.headers.get("if-none-match") == '"v1"' for r in new_requests)
    rows = cli(cfg, "items", "--format", "jsonl").stdout.splitlines()
    assert len(rows) == len(seed_articles())


def test_export_txt_names_match_content_hash(polled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, _, _ = polled
    out = tmp_path / "export"
    assert cli(cfg, "export", "--format", "txt", "--out", str(out)).returncode == 0
    files = sorted(out.glob("*.txt"))
    assert len(files) == len(seed_articles())
    for f in files:
        assert re.fullmatch(r"\d{3,}_[0-9a-f]{16}\.txt", f.name)
        assert f.name.split("_")[1][:16] == content_hash(f.read_text(encoding="utf-8"))


def test_sources_list_shows_items_last_error_and_next_poll(polled) -> None:  # type: ignore[no-untyped-def]
    cfg, _, _ = polled
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[1:-1]]
        for line in cli(cfg, "sources", "list").stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    }
    feed, dead = rows["site-feed"], rows["dead"]
    assert feed[4] == "3"  # items stored from the feed
    assert feed[5] != "-" and feed[6] == "-"  # last success, no error
    assert dead[5] == "-" and "network" in dead[6]
    assert feed[7] != "-" and dead[7] != "-"  # next poll, estimated from the interval
