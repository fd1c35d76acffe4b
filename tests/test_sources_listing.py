from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.sources.listing import next_page, parse_listing

DATA = Path(__file__).parent / "data" / "sources"
RU_BASE = "https://www.mfa.example.kz/ru/news"
KK_BASE = "https://mfa.example.kz/kz/zhanalyqtar/"
UZ_BASE = "https://mfa.example.uz/uz/press/news"

RU_ARTICLES = [
    "https://www.mfa.example.kz/ru/news/politics/ministr-provel-vstrechu-s-gensekom-ois-48213",
    "https://www.mfa.example.kz/ru/news/48212",
    "https://www.mfa.example.kz/ru/news/statements/zayavlenie-po-itogam-sessii-smid-ois-v-yaunde",
    "https://mfa.example.kz/ru/news/visits/vizit-v-baku-48210",
    "https://www.mfa.example.kz/ru/news/kontaktnaya-gruppa-ois-po-afganistanu-48209",
    "https://www.mfa.example.kz/ru/news/view.php?id=48208",
    "https://www.mfa.example.kz/ru/news/economy/islamskij-bank-razvitiya-finansiruet-proekty-48207/",
    "https://www.mfa.example.kz/ru/news/48206",
    "https://www.mfa.example.kz/ru/news/molodezhnyj-forum-stran-ois-startoval-v-astane-48205",
    "https://www.mfa.example.kz/ru/news/statements/48204",
]


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_news_listing_yields_exactly_the_article_cards_in_page_order() -> None:
    entries = parse_listing(read("listing_news_ru.html"), RU_BASE)

    assert [e.url for e in entries] == RU_ARTICLES


def test_titles_come_from_the_longest_anchor_text() -> None:
    entries = parse_listing(read("listing_news_ru.html"), RU_BASE)

    # the card's image link and "Подробнее" point at the same article as the headline
    assert entries[0].title == "Министр провёл встречу с Генеральным секретарём ОИС"
    assert entries[1].title == "Брифинг официального представителя"


def test_dates_are_read_from_the_card() -> None:
    entries = parse_listing(read("listing_news_ru.html"), RU_BASE)

    published = [e.published for e in entries]
    assert published == [
        datetime(2026, 1, 13, 7, 31, tzinfo=UTC),  # <time datetime> with +06:00
        datetime(2026, 1, 12, 10, 0, tzinfo=UTC),  # "12.01.2026, 10:00"
        datetime(2022, 3, 24, 0, 8, tzinfo=UTC),  # "24 марта 2022 г. 0:08", views not read
        datetime(2025, 3, 9, tzinfo=UTC),
        datetime(2025, 3, 8, 13, 33, tzinfo=UTC),  # "13:33 / 2025-03-08"
        datetime(2025, 3, 5, tzinfo=UTC),  # the year in the headline is not the date
        datetime(2025, 3, 4, 18, 16, tzinfo=UTC),
        datetime(2025, 3, 3, tzinfo=UTC),
        None,  # card without a date
        datetime(2025, 3, 1, tzinfo=UTC),
    ]


def test_link_pattern_keeps_only_matching_same_site_links() -> None:
    entries = parse_listing(
        read("listing_news_ru.html"), RU_BASE, link_pattern=r"/ru/news/(?:[a-z-]+/)?\d+$"
    )

    assert [e.url for e in entries] == [
        "https://www.mfa.example.kz/ru/news/48212",
        "https://www.mfa.example.kz/ru/news/48206",
        "https://www.mfa.example.kz/ru/news/statements/48204",
    ]
    assert entries[1].title == "Консультации по гуманитарным вопросам"
    assert entries[1].published == datetime(2025, 3, 3, tzinfo=UTC)


def test_link_pattern_is_not_limited_by_the_heuristic() -> None:
    entries = parse_listing(read("listing_news_ru.html"), RU_BASE, link_pattern=r"-4700\d$")

    # the "most read" sidebar is left out by the heuristic, but the pattern asks for it
    assert [e.title for e in entries] == [
        "Президент принял делегацию ОИС во главе с генсеком",
        "Новый порядок выдачи виз для иностранных граждан",
    ]
    assert entries[0].published == datetime(2026, 1, 10, tzinfo=UTC)


def test_table_layout_in_kazakh() -> None:
    entries = parse_listing(read("listing_table_kk.html"), KK_BASE)

    assert [e.url for e in entries] == [
        f"https://mfa.example.kz/kz/zhanalyqtar/view/{n}" for n in range(1523, 1517, -1)
    ]
    assert entries[0].title == "ИЫҰ Сыртқы істер министрлері кеңесінің 38-сессиясы Астанада өтті"
    assert entries[1].published == datetime(2011, 11, 28, 18, 12, tzinfo=UTC)  # Kazakh month
    # the print-version link of the same row does not become the title
    assert entries[-1].title == "Астанада халықаралық конференция басталды"


def test_list_layout_in_uzbek_leaves_out_a_class_named_sidebar() -> None:
    # the page wrapper is called "layout-with-sidebar": a layout name, not a sidebar
    entries = parse_listing(read("listing_ul_uz.html"), UZ_BASE)

    assert [e.url for e in entries] == [
        "https://mfa.example.uz/uz/press/news/2024/iht-bosh-kotibi-bilan-uchrashuv---1305",
        "https://mfa.example.uz/uz/press/news/2024/vazirlar-kengashi-sessiyasi---1304",
        "https://mfa.example.uz/uz/press/news/2024/toshkentda-konferensiya---1303",
    ]
    assert entries[2].published == datetime(2024, 3, 1, tzinfo=UTC)


def test_french_and_arabic_cards_with_base_element() -> None:
    html = """<html><head><base href="https://www.oic-example.org/fr/"></head><body>
    <nav><a href="actualites/">Actualités</a><a href="contact">Contact</a></nav>
    <div class="items">
      <div class="item"><h3><a href="actualites/le-secretaire-general-recoit-le-ministre-1201">
        Le Secrétaire général reçoit le ministre kazakh</a></h3><span>4 mars 2024</span></div>
      <div class="item"><h3><a href="/ar/news/1202">الأمين العام يستقبل وزير خارجية أذربيجان</a>
        </h3><span>Date: 18/01/2022</span></div>
      <div class="item"><a href="actualites/?page=2">Suivant</a></div>
    </div></body></html>"""

    entries = parse_listing(html, "https://www.oic-example.org/topic/")

    assert [(e.url, e.published) for e in entries] == [
        (
            "https://www.oic-example.org/fr/actualites/le-secretaire-general-recoit-le-ministre-1201",
            datetime(2024, 3, 4, tzinfo=UTC),
        ),
        ("https://www.oic-example.org/ar/news/1202", datetime(2022, 1, 18, tzinfo=UTC)),
    ]
    assert entries[0].title == "Le Secrétaire général reçoit le ministre kazakh"


def test_other_sites_and_non_http_links_are_ignored() -> None:
    html = """<main><ul>
      <li><a href="https://other.example.com/news/oic-session-opens-in-baku-1">
        OIC session opens in Baku today</a></li>
      <li><a href="mailto:press@mfa.example.kz">Write to the press service of the ministry</a></li>
      <li><a href="javascript:void(0)">Open the full list of news items</a></li>
      <li><a href="tel:+77172000000">Call the ministry press service now</a></li>
      <li><a href="https://www.mfa.example.kz/en/news/oic-session-opens-in-baku-2">
        OIC session opens in Baku today</a></li>
    </ul></main>"""

    entries = parse_listing(html, "https://mfa.example.kz/en/news")

    assert [e.url for e in entries] == [
        "https://www.mfa.example.kz/en/news/oic-session-opens-in-baku-2"
    ]


def test_empty_or_linkless_pages_give_nothing() -> None:
    assert parse_listing("", RU_BASE) == []
    assert parse_listing("<html><body><p>Пусто</p></body></html>", RU_BASE) == []


def test_xml_declaration_in_html_is_accepted() -> None:
    html = '<?xml version="1.0" encoding="utf-8"?>\n<html><body><main><article><h2>' + (
        '<a href="/ru/news/oic-summit-in-baku-1">Саммит ОИС в Баку завершился</a></h2>'
        "</article></main></body></html>"
    )
    assert [e.url for e in parse_listing(html, RU_BASE)] == [
        "https://www.mfa.example.kz/ru/news/oic-summit-in-baku-1"
    ]


# --- next_page -------------------------------------------------------------


def test_next_page_from_link_rel_next() -> None:
    assert next_page(read("listing_news_ru.html"), RU_BASE) == RU_BASE + "?page=2"


def test_next_page_from_a_rel_next() -> None:
    html = (
        '<div class="pager"><a href="/ru/news?page=1">1</a><a rel="next" href="?page=3">›</a></div>'
    )
    assert next_page(html, RU_BASE + "?page=2") == RU_BASE + "?page=3"


@pytest.mark.parametrize(
    "label",
    ["Далее", "Следующая →", "келесі", "Keyingi sahifa ›", "Suivant", "التالي", "Next page", "»"],
)
def test_next_page_from_a_label(label: str) -> None:
    html = f"""<div><a href="/ru/news?page=1">Назад</a> <a href="/ru/news?page=1">1</a>
      <a href="/ru/news?page=3">{label}</a></div>"""
    assert next_page(html, RU_BASE + "?page=2") == RU_BASE + "?page=3"


def test_next_page_from_aria_label() -> None:
    html = '<a aria-label="Next page" href="/en/news/page/2/"><svg></svg></a>'
    assert next_page(html, "https://mfa.example.kz/en/news/") == (
        "https://mfa.example.kz/en/news/page/2/"
    )


def test_next_page_prefers_single_chevron_over_last_page_marker() -> None:
    html = """<a href="?page=9">»</a> <a href="?page=3">›</a>"""
    assert next_page(html, RU_BASE + "?page=2") == RU_BASE + "?page=3"


def test_read_more_link_is_not_a_next_page() -> None:
    html = """<article>
      <h2><a href="/ru/news/oic-session-1">Сессия ОИС открылась в Баку сегодня</a></h2>
      <a href="/ru/news/oic-session-1">Далее</a></article>"""
    assert next_page(html, RU_BASE) is None


def test_next_page_none_on_last_page() -> None:
    html = '<div class="pages"><a href="?page=1">1</a> <span>2</span></div>'
    assert next_page(html, RU_BASE + "?page=2") is None
    assert next_page("", RU_BASE) is None


def test_next_page_found_in_kazakh_table_listing() -> None:
    assert next_page(read("listing_table_kk.html"), KK_BASE) == (
        "https://mfa.example.kz/kz/zhanalyqtar?start=20"
    )


@pytest.mark.parametrize(
    ("pattern", "base", "page_no", "expected"),
    [
        ("?page={n}", RU_BASE, 1, RU_BASE + "?page=2"),
        ("?page={n}", RU_BASE + "?lang=ru&page=4", 4, RU_BASE + "?lang=ru&page=5"),
        ("/page/{n}/", "https://a.kz/news/", 1, "https://a.kz/news/page/2/"),
        ("/page/{n}/", "https://a.kz/news/page/2/", 2, "https://a.kz/news/page/3/"),
        ("https://a.kz/archive?p={n}", "https://a.kz/news", 7, "https://a.kz/archive?p=8"),
    ],
)
def test_next_page_from_pattern(pattern: str, base: str, page_no: int, expected: str) -> None:
    html = '<link rel="next" href="/somewhere-else">'
    assert next_page(html, base, page_pattern=pattern, page_no=page_no) == expected
