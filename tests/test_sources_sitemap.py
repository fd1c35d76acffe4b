from __future__ import annotations

import asyncio
import gzip
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import FetchSettings, Source
from monitor.fetch import Fetcher
from monitor.sources import DateRange, SitemapRef, SourceError
from monitor.sources.lists import Lists
from monitor.sources.sitemap import parse_sitemap, walk_sitemaps
from tests.webserver import LocalWeb, Response

DATA = Path(__file__).parent / "data" / "sources"
BASE = "https://agency.example.kz/sitemap.xml"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_urlset_entries_with_w3c_lastmod_forms() -> None:
    sitemap = parse_sitemap(read("sitemap_urlset.xml"), BASE)

    assert sitemap.sitemaps == []
    got = {e.url: e.published for e in sitemap.entries}
    assert got == {
        "https://agency.example.kz/rus/news/sessiya-smid-ois-otkrylas-v-astane-51001": datetime(
            2025, 3, 9, 7, 33, tzinfo=UTC
        ),
        "https://agency.example.kz/kaz/news/iyu-kenesi-51002": datetime(2025, 3, 8, tzinfo=UTC),
        # no zone: taken as UTC
        "https://agency.example.kz/rus/news/bez-vremeni-zony-51003": datetime(
            2025, 3, 7, 8, 15, tzinfo=UTC
        ),
        "https://agency.example.kz/rus/news/utc-51004": datetime(
            2025, 3, 6, 23, 10, 5, 250000, tzinfo=UTC
        ),
        "https://agency.example.kz/rus/news/bez-daty-51005": None,
        "https://agency.example.kz/rus/news/plohaya-data-51006": None,
    }


def test_urlset_keeps_document_order_without_repeats_or_non_http() -> None:
    sitemap = parse_sitemap(read("sitemap_urlset.xml"), BASE)

    urls = [e.url for e in sitemap.entries]
    assert len(urls) == len(set(urls)) == 6
    assert urls[0].endswith("-51001") and urls[-1].endswith("-51006")


def test_sitemap_index_lists_child_sitemaps() -> None:
    sitemap = parse_sitemap(read("sitemap_index.xml"), BASE)

    assert sitemap.entries == []
    assert sitemap.sitemaps == [
        SitemapRef(
            "https://agency.example.kz/sitemap-news-rus.xml",
            datetime(2025, 3, 9, 7, 33, tzinfo=UTC),
        ),
        SitemapRef("https://agency.example.kz/sitemap-news-kaz.xml.gz"),
        SitemapRef("https://agency.example.kz/sitemaps/2024.xml"),
    ]


@pytest.mark.parametrize(
    ("lastmod", "expected"),
    [
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05T10:00:00+05:00", datetime(2024, 3, 5, 5, tzinfo=UTC)),
        ("2024-03", None),  # read as the 1st, the file would seem a month older than it is
        ("2024", None),
        ("soon", None),
    ],
)
def test_a_child_sitemap_keeps_its_lastmod_when_it_has_a_day(
    lastmod: str, expected: datetime | None
) -> None:
    body = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap>'
        f"<loc>/a.xml</loc><lastmod>{lastmod}</lastmod></sitemap></sitemapindex>"
    ).encode()
    assert parse_sitemap(body, BASE).sitemaps == [
        SitemapRef("https://agency.example.kz/a.xml", expected)
    ]


def test_google_news_date_and_title_take_precedence_over_lastmod() -> None:
    sitemap = parse_sitemap(read("sitemap_news.xml"), "https://www.agency.example.az/news.xml")

    first, second = sitemap.entries
    assert first.title == "L'OCI réunit ses ministres à Bakou"
    assert first.published == datetime(2026, 1, 18, 5, 30, tzinfo=UTC)  # not lastmod
    assert second.title == "منظمة التعاون الإسلامي تعقد اجتماعا في باكو"
    assert second.published == datetime(2026, 1, 17, tzinfo=UTC)


def test_gzip_sitemap_is_detected_by_magic_bytes() -> None:
    body = gzip.compress(read("sitemap_urlset.xml"))

    sitemap = parse_sitemap(body, "https://agency.example.kz/sitemap.xml.gz")

    assert len(sitemap.entries) == 6


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"<" + b" " * (60 * 1024 * 1024))
    assert len(bomb) < 100_000

    with pytest.raises(SourceError) as err:
        parse_sitemap(bomb, BASE)
    assert err.value.reason == "too_large"


def test_broken_gzip_is_reported() -> None:
    with pytest.raises(SourceError) as err:
        parse_sitemap(b"\x1f\x8b\x08\x00garbage", BASE)
    assert err.value.reason == "bad_xml"


def test_plain_text_sitemap() -> None:
    sitemap = parse_sitemap(read("sitemap_plain.txt"), "https://agency.example.kg/sitemap.txt")

    assert [e.url for e in sitemap.entries] == [
        "https://agency.example.kg/rus/news/pervaya-novost-101",
        "https://agency.example.kg/kyr/news/ekinchi-jangylyk-102",
        "https://agency.example.kg/rus/news/tretya-novost-103",
    ]
    assert all(e.published is None for e in sitemap.entries)


def test_bad_xml_names_the_problem() -> None:
    body = b'<?xml version="1.0"?><urlset><url><loc>https://a.kz/1</loc></url>'

    with pytest.raises(SourceError) as err:
        parse_sitemap(body, BASE)
    assert err.value.reason == "bad_xml"
    assert "line 1" in str(err.value)


def test_html_page_is_not_a_sitemap() -> None:
    body = b"<html><head><title>404</title></head><body><p>Not here</p></body></html>"

    with pytest.raises(SourceError) as err:
        parse_sitemap(body, BASE)
    assert err.value.reason == "not_a_sitemap"


def test_entity_expansion_is_refused() -> None:
    levels = ['<!ENTITY a0 "ha">'] + [
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    ]
    body = (
        '<?xml version="1.0"?>\n<!DOCTYPE urlset [\n'
        + "\n".join(levels)
        + "\n]>\n<urlset><url><loc>https://a.kz/&a9;</loc></url></urlset>"
    ).encode()

    with pytest.raises(SourceError) as err:
        parse_sitemap(body, BASE)
    assert err.value.reason == "xml_entities"


def test_a_sitemap_that_fails_is_logged_with_its_url_once(
    web: LocalWeb, caplog: pytest.LogCaptureFixture
) -> None:
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    children = "".join(f"<sitemap><loc>{web.url(p)}</loc></sitemap>" for p in ("/a.xml", "/b.xml"))
    web.add("/index.xml", f"<sitemapindex {ns}>{children}</sitemapindex>")
    web.routes["/a.xml"] = Response(status=503, body="busy")
    web.add("/b.xml", "<html><body>not a sitemap</body></html>", content_type="text/html")
    source = Source(name="agency", url=web.url("/index.xml"), kind="sitemap")
    settings = FetchSettings.model_validate({"retries": 0, "per_host_delay": "1ms"})

    async def walk() -> Lists:
        async with Fetcher(settings) as fetcher:
            lists = Lists(fetcher, source)
            [_ async for _ in walk_sitemaps(lists, [str(source.url)], DateRange())]
            return lists

    with caplog.at_level(logging.WARNING, logger="monitor.sources"):
        lists = asyncio.run(walk())
    assert sorted(lists.errors) == ["sitemap_http_503", "sitemap_not_a_sitemap"]
    lines = sorted(r.getMessage() for r in caplog.records)
    assert lines[0] == f"agency: sitemap {web.url('/a.xml')}: HTTP 503 Service Unavailable"
    assert lines[1].startswith(f"agency: sitemap {web.url('/b.xml')}: root element <html>")
    assert all(line.count(web.base) == 1 for line in lines)
