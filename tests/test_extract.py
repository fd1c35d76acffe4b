import json
import re
import tomllib
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

from monitor.extract import Extracted, clean_title, extract, strip_boilerplate
from monitor.language import LANGUAGES
from tests.pages import TEMPLATES, SeedArticle, article_page, listing_page, seed_articles

SEEDS = seed_articles()
SEEDS_DIR = Path(__file__).parent / "data" / "seeds"
URL = "https://news.example.kz/ru/news/politics/oic-meeting"

# What each seed's visible date (tests/data/seeds_bodies.json) means; None: it shows none.
SEED_DATES = {
    "002_cc9c7c56a9ae7b75.txt": datetime(2022, 3, 24, 0, 8, tzinfo=UTC),
    "003_c01541c5704abb0e.txt": datetime(2026, 1, 13, 13, 31, tzinfo=UTC),
}


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def sentences(paragraphs: tuple[str, ...]) -> list[str]:
    return [s for p in paragraphs for s in re.split(r"(?<=[.!?»])\s+", normalise(p)) if s]


def run(
    seed: SeedArticle,
    template: int,
    *,
    date_text: str | None = None,
    published_iso: str | None = None,
) -> tuple[Extracted, tuple[str, ...]]:
    page = article_page(
        seed.title,
        seed.paragraphs,
        lang=seed.language,
        template=template,
        date_text=date_text,
        published_iso=published_iso,
    )
    result = extract(page.html, URL)
    assert result is not None
    return result, page.boilerplate


def seed_id(seed: SeedArticle) -> str:
    return seed.file[:3]


@pytest.mark.parametrize("template", range(len(TEMPLATES)), ids=TEMPLATES)
@pytest.mark.parametrize("seed", SEEDS, ids=seed_id)
def test_seed_article_is_extracted_whole_and_clean(seed: SeedArticle, template: int) -> None:
    result, boilerplate = run(seed, template, date_text=seed.date_text)
    text = normalise(result.text)
    missing = [s for s in sentences(seed.paragraphs) if s not in text]
    assert missing == []
    leaked = [b for b in boilerplate if normalise(b) in text]
    assert leaked == []
    assert result.title == seed.title
    assert result.language == seed.language


@pytest.mark.parametrize("template", range(len(TEMPLATES)), ids=TEMPLATES)
@pytest.mark.parametrize("seed", SEEDS, ids=seed_id)
def test_date_comes_from_the_visible_date_or_is_unknown(seed: SeedArticle, template: int) -> None:
    # The sidebars carry other stories' dates: they must never become this article's.
    result, _ = run(seed, template, date_text=seed.date_text)
    assert result.published == SEED_DATES.get(seed.file)


@pytest.mark.parametrize("template", range(len(TEMPLATES)), ids=TEMPLATES)
@pytest.mark.parametrize("seed", SEEDS, ids=seed_id)
def test_date_from_page_metadata_wins(seed: SeedArticle, template: int) -> None:
    # Template 0: article:published_time; 1: JSON-LD datePublished; 2: <time datetime>.
    result, _ = run(
        seed, template, date_text=seed.date_text, published_iso="2026-01-13T13:31:00+05:00"
    )
    assert result.published == datetime(2026, 1, 13, 8, 31, tzinfo=UTC)


def test_feed_date_is_used_when_the_page_has_none() -> None:
    seed = SEEDS[1]
    page = article_page(seed.title, seed.paragraphs, lang="ru")
    feed_date = datetime(2017, 7, 12, 18, 0, tzinfo=timezone(timedelta(hours=6)))
    result = extract(page.html, URL, feed_date=feed_date)
    assert result is not None
    assert result.published == datetime(2017, 7, 12, 12, 0, tzinfo=UTC)
    assert result.published.tzinfo == UTC


def test_page_metadata_wins_over_the_feed_date() -> None:
    seed = SEEDS[1]
    page = article_page(seed.title, seed.paragraphs, lang="ru", published_iso="2017-07-12")
    result = extract(page.html, URL, feed_date=datetime(2020, 1, 1, tzinfo=UTC))
    assert result is not None and result.published == datetime(2017, 7, 12, tzinfo=UTC)


def test_naive_feed_date_is_taken_as_utc() -> None:
    seed = SEEDS[1]
    page = article_page(seed.title, seed.paragraphs, lang="ru")
    result = extract(page.html, URL, feed_date=datetime(2017, 7, 12, 9, 30))
    assert result is not None and result.published == datetime(2017, 7, 12, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "https://kabar.kg/news/2017/07/12/oic-session/",
        "https://mfa.kg/ru/news/2017-07-12-oic-session",
    ],
)
def test_date_in_the_url_is_the_next_fallback(url: str) -> None:
    seed = SEEDS[1]
    page = article_page(seed.title, seed.paragraphs, lang="ru", template=2)
    result = extract(page.html, url)
    assert result is not None and result.published == datetime(2017, 7, 12, tzinfo=UTC)


def test_unknown_date_stays_none_never_now() -> None:
    seed = SEEDS[0]
    page = article_page(seed.title, seed.paragraphs, lang="ru", template=1)
    result = extract(page.html, URL)
    assert result is not None and result.published is None


@pytest.mark.parametrize(
    ("lang", "date_text", "expected"),
    [
        ("ru", "10:43, 18 мая 2018", datetime(2018, 5, 18, 10, 43, tzinfo=UTC)),
        ("kk", "18:12, 28 Қараша 2011", datetime(2011, 11, 28, 18, 12, tzinfo=UTC)),
        ("fr", "4 mars 2024", datetime(2024, 3, 4, tzinfo=UTC)),
        ("uz", "2024-yil 5-mart", datetime(2024, 3, 5, tzinfo=UTC)),
        ("tr", "5 Mart 2024", datetime(2024, 3, 5, tzinfo=UTC)),
        ("ar", "4 مارس 2024", datetime(2024, 3, 4, tzinfo=UTC)),
        ("en", "Date: 18/01/2022", datetime(2022, 1, 18, tzinfo=UTC)),
    ],
)
def test_visible_local_language_date_beside_the_title(
    lang: str, date_text: str, expected: datetime
) -> None:
    seed = SEEDS[4]
    for template in range(len(TEMPLATES)):
        page = article_page(
            seed.title, seed.paragraphs, lang=lang, date_text=date_text, template=template
        )
        result = extract(page.html, URL)
        assert result is not None and result.published == expected, template


def test_canonical_url_is_made_absolute() -> None:
    seed = SEEDS[0]
    page = article_page(seed.title, seed.paragraphs, lang="ru", canonical="/ru/news/oic-1")
    result = extract(page.html, URL)
    assert result is not None
    assert result.canonical_url == "https://news.example.kz/ru/news/oic-1"


def test_no_canonical_url_gives_none() -> None:
    seed = SEEDS[0]
    page = article_page(seed.title, seed.paragraphs, lang="ru", template=1)
    result = extract(page.html, URL)
    assert result is not None and result.canonical_url is None


def test_language_hint_does_not_override_the_text() -> None:
    seed = SEEDS[3]
    page = article_page(seed.title, seed.paragraphs, lang="kk")
    result = extract(page.html, URL, language_hint="ru")
    assert result is not None and result.language == "kk"


def test_charset_declared_other_than_utf8_still_extracts() -> None:
    seed = SEEDS[0]
    page = article_page(seed.title, seed.paragraphs, lang="ru", charset="windows-1251")
    result = extract(page.html, URL)
    assert result is not None and seed.title == result.title


@pytest.mark.parametrize("lang", LANGUAGES)
def test_listing_page_is_not_an_article(lang: str) -> None:
    # A section index holds only headlines and links: no article text, so None.
    assert extract(listing_page(lang), "https://news.example.kz/ru/news/") is None


@pytest.mark.parametrize("html", ["", "   ", "<html><body></body></html>", "not html at all"])
def test_empty_or_textless_page_is_none(html: str) -> None:
    assert extract(html, URL) is None


# --- boilerplate stripping ---------------------------------------------------------------


def seed_raw(seed: SeedArticle) -> str:
    return (SEEDS_DIR / seed.file).read_text(encoding="utf-8")


@pytest.mark.parametrize("seed", [s for s in SEEDS if s.file[:3] != "002"], ids=seed_id)
def test_seed_files_own_boilerplate_is_stripped(seed: SeedArticle) -> None:
    # The seeds are earlier extractions that kept furniture; stripping must leave the body.
    stripped = strip_boilerplate(seed_raw(seed), seed.title)
    kept = [normalise(line) for line in stripped.splitlines()]
    assert kept == [normalise(p) for p in seed.paragraphs] or (
        # seed 004 starts with a "date 2023-03" label glued to its first paragraph
        seed.file[:3] == "004" and kept[1:] == [normalise(p) for p in seed.paragraphs[1:]]
    )


def test_other_stories_dated_lines_are_stripped() -> None:
    raw = seed_raw(SEEDS[2])
    stripped = strip_boilerplate(raw, SEEDS[2].title)
    assert stripped.count("\n") == 0  # only the (single-line) article remains
    assert "Аида Балаева" not in stripped


@pytest.mark.parametrize(
    "line",
    [
        "Читайте также: Токаев провёл встречу с премьером",
        "ЧИТАЙТЕ ТАКЖЕ",
        "Подписывайтесь на наш Telegram-канал",
        "Сообщи свою новость:     Telegram    Whatsapp",
        "НАВЕРХ  НАЗАД",
        "15440 просмотров",
        "Просмотров: 2 345",
        "636",
        "13.01.2026, 13:31 636",
        "29.07.2016 18:16НОВОСТИ В МИРЕ",
        "12 сентября 2025 г. 8:57 Аида Балаева выступила в поддержку культуры",
        "Сурет: gov.kz",
        "Фото: пресс-служба МИД РК",
        "© 2012–2025 Kazinform. Все права защищены.",
        "Все права защищены",
        "Copyright 2025 Kazinform",
        "МӘТІННЕН ҚАТЕ ТАПТЫҢЫЗ БА?",
        "Оны тінтуірмен таңдап, Ctrl + Enter пернелерін басыңыз.",
        "A+ A",
        "A- A+",
        "Поделиться: Facebook Telegram WhatsApp X",
        "Shuningdek o‘qing: Prezident qaror imzoladi",
        "İlgili Haberler",
        "Bütün hüquqlar qorunur.",
        "Ähli hukuklar goragly.",
        "Ҳамаи ҳуқуқҳо ҳифз шудаанд",
        "اقرأ أيضاً: الرئيس يستقبل وفدا",
        "بیشتر بخوانید: دیدار وزیران",
        "À lire aussi : le sommet de Dakar",
        "Photo : AZERTAC",
        "Read also: OIC summit opens in Baku",
        "Tous droits réservés",
    ],
)
def test_furniture_lines_are_stripped(line: str) -> None:
    body = "Министр иностранных дел провёл встречу с генеральным секретарём ОИС в Джидде."
    assert strip_boilerplate(f"{body}\n{line}\n{body}") == f"{body}\n{body}"


@pytest.mark.parametrize(
    "line",
    [
        "13 января 2026 года в Астане состоялась встреча министров иностранных дел стран ОИС.",
        "Фотовыставка об истории ОИС открылась в Национальном музее Астаны.",
        "Share prices of Islamic banks rose after the OIC summit in Jeddah on Monday.",
        "Telegram-канал МИД сообщил, что делегация прибыла в Джидду для участия в сессии.",
        "Все права и обязанности председателя ОИС переходят к Джибути, сообщает МИД.",
        "Читатели помнят, что в 2011 году Казахстан председательствовал в СМИД ОИС.",
        "(c) the member states shall coordinate their positions on Afghanistan.",
        "2025 жылғы 23 қыркүйекте БҰҰ Бас Ассамблеясының 80-ші сессиясы аясында Қазақстан "
        "ИЫҰ-ның Ауғанстан жөніндегі Байланыс тобының отырысына қатысты.",
    ],
)
def test_article_sentences_are_never_stripped(line: str) -> None:
    assert strip_boilerplate(line) == line


def test_title_repeated_as_first_line_is_stripped() -> None:
    title = "Главы МИД Казахстана и Джибути обсудили передачу председательства в ОИС"
    body = "Казахстан передаст Джибути председательство в Организации исламского сотрудничества."
    assert strip_boilerplate(f"{title}\n{title}\n{body}", title) == body


def test_related_block_after_heading_is_stripped_up_to_prose() -> None:
    body = "Казахстан передаст Джибути председательство в Организации исламского сотрудничества."
    text = "\n".join(
        [
            body,
            "Популярные новости",
            "Токаев провёл встречу с премьером",
            "В Астане открылся форум",
            body,
        ]
    )
    assert strip_boilerplate(text) == f"{body}\n{body}"


def test_boilerplate_data_covers_every_language() -> None:
    raw = resources.files("monitor").joinpath("data/boilerplate.toml").read_text("utf-8")
    data = tomllib.loads(raw)
    for lang in LANGUAGES:
        assert len(data[lang]["phrases"]) + len(data[lang]["sections"]) >= 10, lang


@pytest.mark.parametrize(
    ("title", "sitename", "headings", "expected"),
    [
        ("ОИС: новая сессия | Kazinform", None, [], "ОИС: новая сессия"),
        ("Новая сессия СМИД ОИС – Kabar", "Kabar", [], "Новая сессия СМИД ОИС"),
        (
            "Новая сессия СМИД ОИС - МИД РК",
            None,
            ["Новая сессия СМИД ОИС"],
            "Новая сессия СМИД ОИС",
        ),
        (None, None, ["Заголовок статьи"], "Заголовок статьи"),
        ("Заголовок без сайта", None, [], "Заголовок без сайта"),
    ],
)
def test_title_loses_the_site_name(
    title: str | None, sitename: str | None, headings: list[str], expected: str
) -> None:
    assert clean_title(title, sitename, headings) == expected


LANGUAGE_SAMPLES = json.loads(
    (Path(__file__).parent / "data" / "language_samples.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("template", range(len(TEMPLATES)), ids=TEMPLATES)
@pytest.mark.parametrize("key", sorted(LANGUAGE_SAMPLES))
def test_every_language_page_is_extracted_clean(key: str, template: int) -> None:
    sample = LANGUAGE_SAMPLES[key]
    lang = key.split("-")[0]
    paragraphs = re.split(r"(?<=[.!?])\s+", sample["text"])
    page = article_page(sample["title"], paragraphs, lang=lang, template=template)
    result = extract(page.html, URL)
    assert result is not None
    assert [p for p in paragraphs if p not in result.text] == []
    assert [b for b in page.boilerplate if b in result.text] == []
    assert (result.title, result.language) == (sample["title"], lang)


@pytest.mark.parametrize("template", range(len(TEMPLATES)), ids=TEMPLATES)
@pytest.mark.parametrize("written_as", ["\u200c", "&zwnj;", "&#8204;", "&#x200C;"])
def test_persian_non_joiners_survive_extraction(template: int, written_as: str) -> None:
    zwnj = "\u200c"
    title = f"دیدار دبیرکل سازمان همکاری اسلامی با رئیس{zwnj}جمهور تاجیکستان"
    paragraphs = (
        f"حسین ابراهیم طه، دبیرکل سازمان همکاری اسلامی، در دوشنبه با رئیس{zwnj}جمهور "
        f"تاجیکستان دیدار و گفت{zwnj}وگو کرد.",
        f"دو طرف درباره گسترش همکاری{zwnj}های تاجیکستان با این سازمان در حوزه{zwnj}های "
        "آموزش، علم و فناوری رایزنی کردند.",
        f"رئیس{zwnj}جمهور تاجیکستان از نقش این سازمان در تقویت همبستگی کشورهای اسلامی قدردانی کرد.",
    )
    page = article_page(title, paragraphs, lang="fa", template=template)
    # As an entity in the markup only: inside JSON-LD an entity is not decoded.
    head, body = page.html.split("<body", 1)
    html = head + "<body" + body.replace(zwnj, written_as)
    result = extract(html, URL)
    assert result is not None
    assert result.title == title
    assert [s for s in sentences(paragraphs) if s not in normalise(result.text)] == []
    assert title not in result.text  # the repeated headline is still recognised as such
    assert "\ua78f" not in result.text + (result.title or "")


# Furniture some sites put between paragraphs, in forms the per-language lists do not name:
# (markup, a phrase of it that must not reach the text).
IN_ARTICLE_FURNITURE = (
    ('<p><a href="/tg">Follow our agency news on the Telegram channel today</a></p>',
     "Follow our agency news"),
    ('<div class="social-share"><a href="/fb">Facebook</a> <a href="/tg">Telegram</a> '
     "<span>Share this story with your friends and colleagues</span></div>",
     "Share this story"),
    ('<div class="related-posts"><h4>On the same topic</h4><ul><li><a href="/x1">'
     "Weather in the region is expected to be cold this week</a></li></ul></div>",
     "Weather in the region"),
    ('<div id="banner-ad">Advertisement: the best loans in the city at a low rate</div>',
     "the best loans"),
)  # fmt: skip


@pytest.mark.parametrize("template", range(len(TEMPLATES)), ids=TEMPLATES)
@pytest.mark.parametrize("key", sorted(LANGUAGE_SAMPLES))
def test_furniture_between_paragraphs_is_left_out(key: str, template: int) -> None:
    # The reason for trafilatura's precision mode: without it the promo link paragraph
    # stayed in the text of nearly every one of these pages.
    sample = LANGUAGE_SAMPLES[key]
    paragraphs = re.split(r"(?<=[.!?])\s+", sample["text"])
    page = article_page(sample["title"], paragraphs, lang=key.split("-")[0], template=template)
    anchor = page.html.find(paragraphs[min(1, len(paragraphs) - 1)])
    cut = page.html.find("</p>", anchor) + len("</p>")
    blocks = "".join(markup for markup, _ in IN_ARTICLE_FURNITURE)
    result = extract(page.html[:cut] + blocks + page.html[cut:], URL)
    assert result is not None
    assert [p for p in paragraphs if p not in result.text] == []
    assert [phrase for _, phrase in IN_ARTICLE_FURNITURE if phrase in result.text] == []


def test_title_and_author_from_json_ld_are_decoded() -> None:
    body = "The ministers met in Jeddah and agreed on a joint plan for the region. " * 5
    html = (
        "<html><head><title>Agency</title>"
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        '"@type": "NewsArticle", "headline": "OIC &amp; CICA ministers meet in Astana", '
        '"author": {"@type": "Person", "name": "Aigerim   Nurlanova"}}</script>'
        f"</head><body><article><p>{body}</p></article></body></html>"
    )
    result = extract(html, URL)
    assert result is not None
    assert (result.title, result.author) == (
        "OIC & CICA ministers meet in Astana",
        "Aigerim Nurlanova",
    )


@pytest.mark.parametrize("tag", ["nav", "aside"])
def test_an_article_without_paragraph_tags_is_not_lost_to_a_longer_block_of_teasers(
    tag: str,
) -> None:
    """A story written as lines between <br> has no <p>, so trafilatura also asks its
    fallback, readability, which picks the page's longest run of paragraphs: here the
    teasers of other stories in a navigation or side block. Those blocks are never article
    text (trafilatura drops them itself), so the fallback must not see them either."""
    lines = [
        "Министр иностранных дел принял участие в заседании Совета министров ОИС в Стамбуле.",
        "Стороны обсудили сотрудничество в области образования и здравоохранения.",
        "Делегация провела двусторонние встречи с коллегами из Саудовской Аравии и Турции.",
        "Следующее заседание пройдет в Баку в будущем году.",
    ]
    teasers = "".join(
        f"<p>Другая новость {i}: министры обсудили торговлю, транспорт и энергетику на "
        "встрече в столице и договорились продолжить переговоры в следующем году.</p>"
        for i in range(12)
    )
    html = (
        "<html><head><title>ОИС: заседание СМИД</title></head><body>"
        '<header><a href="/">МИД</a></header>'
        f'<main><h1>ОИС: заседание СМИД</h1><div class="story">{"<br>".join(lines)}</div></main>'
        f'<{tag} class="latest">{teasers}</{tag}></body></html>'
    )
    result = extract(html, "https://mfa.example/news/1")
    assert result is not None
    assert result.text.splitlines() == lines
