"""Blocks listing other articles of the site are removed whatever their wording; the
article's own paragraphs stay, even short ones and ones quoting another headline."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest
from lxml import etree
from trafilatura.utils import load_html

from monitor.classify.lexicon import load_lexicon
from monitor.extract import boilerplate_rules, extract
from monitor.link_blocks import drop_link_blocks
from tests.news_site import LANGUAGES, TEMPLATES, Site, fold, texts

URL = "https://news.example.kz/ru/politics/2025/03/12/vstrecha-v-dzhidde"
SEED = 7


def _page(body: str, title: str = "Министр провёл встречу в Джидде") -> str:
    return (
        f"<html><head><title>{title}</title></head><body><main><article><h1>{title}</h1>"
        f"{body}</article></main></body></html>"
    )


def _kept(html: str, url: str = URL, **kwargs: object) -> str:
    tree = load_html(html)
    drop_link_blocks(tree, url, **kwargs)  # type: ignore[arg-type]
    return " ".join(etree.tostring(tree, method="text", encoding=str).split())


PARAGRAPH = (
    "<p>Министр иностранных дел провёл в Джидде переговоры с генеральным секретарём "
    "Организации исламского сотрудничества.</p>"
)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_no_other_headline_reaches_the_text_on_any_template_or_language(template: str) -> None:
    found = total = 0
    for lang in LANGUAGES:
        site = Site(lang, template, SEED)
        page = site.page(len(site.articles) // 2)
        result = extract(page.html, page.url)
        text = result.text if result else ""
        assert page.leaked(text) == [], (lang, page.url)
        found += page.paragraphs_found(text)
        total += len(page.article.paragraphs)
    assert found / total >= 0.98


def test_block_headings_of_the_generated_sites_are_in_no_list_of_the_code() -> None:
    rules = boilerplate_rules()
    layout = tomllib.loads(
        (resources.files("monitor.classify") / "layout.toml").read_text(encoding="utf-8")
    )
    markers = [fold(m) for m in layout["tail_markers"] + list(load_lexicon().tail_markers)]
    for lang, words in texts().items():
        for heading in words["headings"] + words["sealed_headings"]:
            folded = fold(heading)
            assert not rules.is_section_heading(folded), (lang, heading)
            assert not rules.is_phrase_line(folded), (lang, heading)
            assert not any(folded.startswith(m) for m in markers), (lang, heading)


def test_a_list_between_paragraphs_goes_with_its_unlisted_heading() -> None:
    html = _page(
        PARAGRAPH
        + '<div class="x"><div class="y">Тоже интересно</div><ul>'
        + '<li><a href="/ru/news/101">Парламент одобрил поправки в Налоговый кодекс</a> 12:30</li>'
        + '<li><a href="/ru/news/102">Курс тенге укрепился к доллару</a> <span>👁 1 204</span></li>'
        + "</ul></div>"
        + "<p>Стороны договорились провести следующую встречу осенью в Астане.</p>"
    )
    kept = _kept(html)
    assert "Налоговый кодекс" not in kept and "тенге" not in kept
    assert "Тоже интересно" not in kept and "1 204" not in kept
    assert "генеральным секретарём" in kept and "осенью в Астане" in kept


def test_a_paragraph_quoting_another_headline_stays() -> None:
    quoted = (
        '<p>Напомним: «<a href="/ru/news/90">Делегация ОИС посетила Астану в феврале</a>».</p>'
        '<p>Как сообщалось в материале «<a href="/ru/news/91">Казахстан и ОИС обсудили '
        "сотрудничество</a>», переговоры продолжатся.</p>"
    )
    kept = _kept(_page(PARAGRAPH + quoted))
    assert "Напомним: «Делегация ОИС посетила Астану в феврале»." in kept
    assert "Казахстан и ОИС обсудили сотрудничество" in kept


def test_short_paragraphs_and_inline_links_stay() -> None:
    html = _page(
        '<p>Встреча прошла <a href="/ru/tag/jeddah">в Джидде</a>.</p>'
        "<p>Переговоры продолжатся.</p>"
        '<p><a href="/ru/news/5">Министр иностранных дел Казахстана</a> выступил на '
        "сессии Совета министров иностранных дел ОИС.</p>"
    )
    kept = _kept(html)
    assert "Встреча прошла в Джидде." in kept
    assert "Переговоры продолжатся." in kept
    assert "выступил на сессии Совета министров" in kept


def test_only_headline_links_to_the_same_site_make_an_entry() -> None:
    html = _page(
        PARAGRAPH
        + "<ul>"
        + '<li><a href="https://www.un.org/press/sg1">UN chief welcomes the Jeddah talks</a></li>'
        + '<li><a href="https://oic-oci.org/topic/?t_id=1">OIC statement on the meeting</a></li>'
        + "</ul>"
        + '<p class="tags"><a href="/ru/tag/1">ОИС</a> <a href="/ru/tag/2">Джидда</a></p>'
    )
    kept = _kept(html)
    assert "UN chief welcomes the Jeddah talks" in kept
    assert "OIC statement on the meeting" in kept
    assert "Джидда" in kept


def test_the_article_listed_under_another_address_keeps_its_text() -> None:
    title = "Министр провёл встречу в Джидде"
    html = _page(
        PARAGRAPH
        + "<ul>"
        + f'<li><a href="/ru/news/77?from=latest">{title}</a></li>'
        + '<li><a href="/ru/news/78">Курс тенге укрепился к доллару</a></li>'
        + '<li><a href="/ru/news/79">Экспорт зерна вырос на четверть</a></li>'
        + "</ul>",
        title,
    )
    kept = _kept(html, also=["https://news.example.kz/ru/news/77"], title=title)
    assert "тенге" not in kept and "Экспорт зерна" not in kept
    assert title in kept and "генеральным секретарём" in kept


def test_a_short_article_followed_by_links_in_its_own_container_is_extracted() -> None:
    links = "".join(
        f'<p><small>1{i}.03.2025</small> <a href="/ru/news/{i}">{h}</a></p>'
        for i, h in enumerate(
            [
                "Синоптики прогнозируют сильный ветер на юге страны",
                "Национальный банк сохранил базовую ставку",
                "На границе открылся новый пункт пропуска",
                "Фермеры получат льготные кредиты на весенний сев",
            ]
        )
    )
    html = _page(f'<div class="text">{PARAGRAPH}{links}</div>')
    result = extract(html, URL)
    assert result is not None
    assert result.text == (
        "Министр иностранных дел провёл в Джидде переговоры с генеральным секретарём "
        "Организации исламского сотрудничества."
    )


def test_several_headlines_in_one_line_go_but_a_sentence_citing_two_stays() -> None:
    h = [
        '<a href="/ru/news/1">Курс тенге укрепился к доллару</a>',
        '<a href="/ru/news/2">Экспорт зерна вырос на четверть</a>',
        '<a href="/ru/news/3">На границе открылся новый пункт пропуска</a>',
    ]
    html = _page(
        PARAGRAPH
        + f"<div><span>Читайте у нас</span> {h[0]} <span>|</span> {h[1]} | {h[2]}</div>"
        + f"<p><em>Коротко о главном за день</em><br>{h[0]}<br>{h[1]}<br>{h[2]}</p>"
        + f"<p>Ранее мы писали о том, что «{h[0]}» и «{h[1]}».</p>"
    )
    kept = _kept(html)
    assert "Читайте у нас" not in kept and "Коротко о главном" not in kept
    assert "пункт пропуска" not in kept
    assert "Ранее мы писали о том, что «Курс тенге укрепился к доллару» и «Экспорт" in kept
