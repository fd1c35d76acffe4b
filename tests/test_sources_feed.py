from __future__ import annotations

import resource
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.sources import SourceError
from monitor.sources.feed import parse_feed

DATA = Path(__file__).parent / "data" / "sources"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def billion_laughs(root: str) -> bytes:
    levels = ['<!ENTITY lol0 "lol">']
    levels += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + "\n".join(levels) + "\n]>\n" + root
    ).encode()


def test_rss2_resolves_relative_links_and_converts_offsets_to_utc() -> None:
    feed = parse_feed(read("rss2_kz.xml"), "https://news.example.kz/rus/rss/")

    assert feed.title == "Қазақстан жаңалықтары — Новости Казахстана"
    assert feed.problem is None
    first = feed.entries[0]
    # relative link resolved, tracking parameters dropped
    assert first.url == (
        "https://news.example.kz/rus/news/politics/ministr-vstretilsya-s-gensekom-ois-48213"
    )
    assert first.title == "Министр иностранных дел встретился с генеральным секретарём ОИС"
    assert first.published == datetime(2026, 1, 13, 7, 31, tzinfo=UTC)
    assert first.published.tzinfo is UTC


def test_rss2_entry_urls_are_canonical() -> None:
    feed = parse_feed(read("rss2_kz.xml"), "https://news.example.kz/rus/rss/")

    # upper-case host, default port and fragment removed
    assert feed.entries[1].url == "https://news.example.kz/kaz/news/iyu-sessiyasy-48214"
    # a path-relative link resolves against the feed's own URL
    assert feed.entries[2].url == "https://news.example.kz/rus/rss/rus/news/bez-daty-48215"


def test_rss2_html_description_becomes_plain_text() -> None:
    feed = parse_feed(read("rss2_kz.xml"), "https://news.example.kz/rus/rss/")

    assert feed.entries[0].summary == (
        "В Джидде состоялась встреча главы МИД с генеральным секретарём Организации "
        "исламского сотрудничества. Стороны обсудили повестку сессии СМИД."
    )
    # escaped HTML, with an escaped ampersand inside it
    assert (
        feed.entries[1].summary == "Сессияда Қазақстан делегациясы бастамаларын ұсынды & талқылады."
    )


def test_missing_date_is_none_not_now() -> None:
    feed = parse_feed(read("rss2_kz.xml"), "https://news.example.kz/rus/rss/")

    undated = [e for e in feed.entries if e.title == "Новость без даты публикации"]
    assert len(undated) == 1
    assert undated[0].published is None


def test_guid_url_is_used_and_entries_without_http_link_are_skipped() -> None:
    feed = parse_feed(read("rss2_kz.xml"), "https://news.example.kz/rus/rss/")

    urls = [e.url for e in feed.entries]
    assert "https://news.example.kz/rus/news/tolko-guid-48216" in urls
    assert len(feed.entries) == 4
    assert all(u.startswith("https://") for u in urls)


def test_rss1_rdf_with_dc_date() -> None:
    feed = parse_feed(read("rdf_uz.rdf"), "https://agency.example.uz/uz/rss")

    assert feed.title == "Axborot agentligi"
    assert [e.published for e in feed.entries] == [
        datetime(2025, 3, 9, 8, 33, tzinfo=UTC),
        datetime(2025, 3, 8, tzinfo=UTC),
    ]
    assert feed.entries[0].url == (
        "https://agency.example.uz/uz/news/2025/03/09/iht-vazirlar-kengashi"
    )
    assert feed.entries[1].summary is None


def test_rss091_with_netscape_doctype_and_html_entities() -> None:
    feed = parse_feed(read("rss091_fr.xml"), "http://presse.example.mr/rss")

    assert feed.problem is None
    assert feed.title == "Agence de presse - Actualités"
    assert [e.title for e in feed.entries] == [
        "L'OCI salue l'initiative du Kirghizistan",
        "Réunion du groupe de contact à Bichkek",
    ]
    assert feed.entries[0].summary is not None
    assert "coopération islamique" in feed.entries[0].summary
    assert all(e.published is None for e in feed.entries)


def test_atom_resolves_hrefs_against_xml_base() -> None:
    feed = parse_feed(read("atom_ar.xml"), "https://www.oic-example.org/feed")

    assert [e.url for e in feed.entries] == [
        "https://www.oic-example.org/ar/news/2024/03/05/meeting-kazakhstan",
        "https://www.oic-example.org/fr/actualites/secretaire-general-azerbaidjan-902",
        "https://www.oic-example.org/ar/news/only-id-903",
    ]
    first, second, third = feed.entries
    assert first.title == "الأمين العام يستقبل وزير خارجية كازاخستان"
    assert first.published == datetime(2024, 3, 5, 5, 15, tzinfo=UTC)  # published, not updated
    assert first.summary == "بحث الجانبان التعاون بين الدول الأعضاء."
    assert second.published == datetime(2024, 3, 4, 17, 45, tzinfo=UTC)
    assert second.summary == "Texte intégral de la dépêche."
    assert third.published is None


def test_malformed_feed_still_yields_entries_and_names_the_problem() -> None:
    feed = parse_feed(read("malformed.xml"), "https://agency.example.kg/rss")

    assert feed.problem is not None
    assert "well-formed" in feed.problem
    assert [e.url for e in feed.entries] == [
        "https://agency.example.kg/rus/news/delegaciya-itogi-vizita/",
        "https://agency.example.kg/rus/news/vtoraya-novost/",
    ]
    assert feed.entries[0].title == "Делегация Кыргызстана & ОИС: итоги визита"
    assert feed.entries[0].published == datetime(2019, 3, 2, 4, 43, tzinfo=UTC)


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(SourceError) as err:
        parse_feed(
            read("home_page.html"),
            "https://mfa.example.kz/rss",
            content_type="text/html; charset=utf-8",
        )
    assert err.value.reason == "not_a_feed"
    assert "HTML page" in str(err.value)
    assert "text/html" in str(err.value)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        b"<html><body>Feed moved</body></html>",
        b'<?xml version="1.0"?><urlset><url><loc>https://a.kz/1</loc></url></urlset>',
    ],
)
def test_bodies_without_feed_structure_are_not_feeds(body: bytes) -> None:
    with pytest.raises(SourceError) as err:
        parse_feed(body, "https://a.kz/rss")
    assert err.value.reason == "not_a_feed"


def test_feed_served_as_text_html_is_still_read() -> None:
    feed = parse_feed(
        read("rdf_uz.rdf"), "https://agency.example.uz/uz/rss", content_type="text/html"
    )
    assert len(feed.entries) == 2
    assert feed.problem is None


def test_leading_blank_lines_and_charset_from_content_type() -> None:
    body = (
        "\n\n<?xml version='1.0'?><rss version='2.0'><channel><title>Кабар</title>"
        "<item><title>Сессия ОИС</title><link>https://kabar.example.kg/news/1</link></item>"
        "</channel></rss>"
    ).encode("windows-1251")
    feed = parse_feed(
        body, "https://kabar.example.kg/rss", content_type="text/xml; charset=windows-1251"
    )
    assert feed.title == "Кабар"
    assert feed.entries[0].title == "Сессия ОИС"


def test_billion_laughs_is_refused_quickly() -> None:
    doc = billion_laughs('<rss version="2.0"><channel><title>&lol9;</title></channel></rss>')
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SourceError) as err:
        parse_feed(doc, "https://a.kz/rss")
    assert err.value.reason == "xml_entities"
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 50 * 1024  # KiB: nothing was expanded


def test_huge_feed_is_cut_to_max_entries() -> None:
    items = "".join(
        f"<item><title>Новость {i} о сессии ОИС</title>"
        f"<link>https://news.example.kz/rus/news/{i}</link>"
        f"<pubDate>Tue, 13 Jan 2026 13:31:00 +0600</pubDate></item>\n"
        for i in range(100_000)
    )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Лента</title>'
        f"<description><![CDATA[<b>все</b> новости]]></description>{items}</channel></rss>"
    ).encode()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    feed = parse_feed(doc, "https://news.example.kz/rss", max_entries=200)

    assert len(feed.entries) == 200
    assert feed.entries[-1].url == "https://news.example.kz/rus/news/199"
    assert feed.title == "Лента"
    assert feed.problem is not None and "cut after 200 entries" in feed.problem
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 100 * 1024  # KiB; parsing it all costs hundreds of MB


def test_atom_feed_is_cut_too() -> None:
    entries = "".join(
        f'<entry><title>Entry {i}</title><link href="/news/{i}"/><id>urn:{i}</id></entry>'
        for i in range(50)
    )
    doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>'.encode()

    feed = parse_feed(doc, "https://a.kz/atom", max_entries=10)

    assert [e.url for e in feed.entries] == [f"https://a.kz/news/{i}" for i in range(10)]


def test_feed_within_bounds_is_not_marked() -> None:
    feed = parse_feed(read("rss2_kz.xml"), "https://news.example.kz/rus/rss/", max_entries=6)
    assert feed.problem is None


def _paged(head: str, root: str = "rss") -> bytes:
    item = "<item><title>t</title><link>https://a.kz/news/1</link></item>"
    if root == "feed":
        return (
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{head}'
            '<entry><title>t</title><link href="https://a.kz/news/1"/><id>1</id></entry></feed>'
        ).encode()
    return (
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>A</title>'
        f"{head}{item}</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "url", "expected"),
    [
        # RFC 5005 paged feed, in RSS through the Atom namespace and in Atom
        (_paged('<atom:link rel="next" href="/rss?page=2"/>'), "https://a.kz/rss",
         "https://a.kz/rss?page=2"),
        (_paged('<link rel="next" href="https://a.kz/atom/2"/>', "feed"), "https://a.kz/atom",
         "https://a.kz/atom/2"),
        # RFC 5005 archived feed: the previous archive document is the older page
        (_paged('<link rel="prev-archive" href="/archive/2024-03.xml"/>', "feed"),
         "https://a.kz/atom", "https://a.kz/archive/2024-03.xml"),
        # WordPress pages its feeds with ?paged=N, and says it is WordPress
        (_paged("<generator>https://wordpress.org/?v=6.4.2</generator>"), "https://a.kz/feed/",
         "https://a.kz/feed/?paged=2"),
        (_paged("<generator>https://wordpress.org/?v=6.4.2</generator>"),
         "https://a.kz/feed/?paged=2", "https://a.kz/feed/?paged=3"),
        (_paged('<generator uri="https://wordpress.org/">WordPress</generator>', "feed"),
         "https://a.kz/feed/atom/", "https://a.kz/feed/atom/?paged=2"),
        # Any other feed shows its window only
        (_paged("<generator>Bitrix</generator>"), "https://a.kz/rss", None),
        (_paged('<atom:link rel="self" href="https://a.kz/rss"/>'), "https://a.kz/rss", None),
    ],
)  # fmt: skip
def test_the_next_page_of_a_paged_feed(body: bytes, url: str, expected: str | None) -> None:
    assert parse_feed(body, url).next == expected


def test_an_empty_page_of_a_wordpress_feed_has_no_next_page() -> None:
    body = (
        b'<rss version="2.0"><channel><title>A</title>'
        b"<generator>https://wordpress.org/?v=6.4.2</generator></channel></rss>"
    )
    assert parse_feed(body, "https://a.kz/feed/?paged=9").next is None
