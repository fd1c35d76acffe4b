"""Realistic news-site pages wrapped around an article, for extraction and pipeline tests.

``article_page`` puts a title and paragraphs into one of three page templates (a news
agency, a ministry site, a WordPress-like blog) with the furniture such sites carry: menus,
breadcrumbs, a view counter beside the date, photo credits, share buttons, "read also"
links inside and below the text, a "most read" sidebar, comments, a cookie banner and a
copyright footer, all in the article's language (``tests/data/page_furniture.json``).
It returns the HTML and the furniture strings it used, so a test can assert none leaked.

``seed_articles`` gives the five seed articles with their own boilerplate removed
(``tests/data/seeds_bodies.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
FURNITURE_FILE = DATA_DIR / "page_furniture.json"
SEED_BODIES_FILE = DATA_DIR / "seeds_bodies.json"

TEMPLATES = ("agency", "ministry", "blog")
RTL_LANGUAGES = frozenset({"ar", "fa"})
COMMENTER_NAMES = ("Асхат", "Dilnoza")


@dataclass(frozen=True)
class GeneratedPage:
    """A generated page and the visible furniture strings it contains besides the article."""

    html: str
    boilerplate: tuple[str, ...]


@dataclass(frozen=True)
class SeedArticle:
    """One seed article: its file name, title, body paragraphs, language and visible date."""

    file: str
    title: str
    paragraphs: tuple[str, ...]
    language: str
    date_text: str | None


@lru_cache(maxsize=1)
def _furniture() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(FURNITURE_FILE.read_text(encoding="utf-8"))
    return data


def furniture(lang: str) -> dict[str, Any]:
    """The furniture strings of one language (falls back to English)."""
    table = _furniture()
    return table.get(lang, table["en"])


def seed_articles() -> list[SeedArticle]:
    """The five seed articles, bodies hand-picked from tests/data/seeds."""
    records = json.loads(SEED_BODIES_FILE.read_text(encoding="utf-8"))
    return [
        SeedArticle(
            file=r["file"],
            title=r["title"],
            paragraphs=tuple(r["paragraphs"]),
            language=r["language"],
            date_text=r["date_text"],
        )
        for r in records
    ]


def _head(lang: str, charset: str, page_title: str, extra: list[str]) -> str:
    direction = ' dir="rtl"' if lang in RTL_LANGUAGES else ""
    lines = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"{direction}>',
        "<head>",
        f'<meta charset="{escape(charset)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(page_title)}</title>",
        '<link rel="stylesheet" href="/static/css/main.css">',
        "<script>window.dataLayer = window.dataLayer || [];</script>",
        *extra,
        "</head>",
    ]
    return "\n".join(lines)


def _nav(items: list[str], css: str) -> str:
    links = "".join(
        f'<li><a href="/section/{i}/">{escape(x)}</a></li>' for i, x in enumerate(items)
    )
    return f'<nav class="{css}"><ul>{links}</ul></nav>'


def _headline_items(f: dict[str, Any], css: str) -> str:
    return "".join(
        f'<li class="{css}"><span class="date">{escape(d)}</span> '
        f'<a href="/news/{100 + i}.html">{escape(h)}</a></li>'
        for i, (d, h) in enumerate(f["headlines"])
    )


def _comments(f: dict[str, Any], dates: list[str]) -> str:
    items = "".join(
        f'<li class="comment"><div class="comment-author">{escape(name)}</div>'
        f'<div class="comment-metadata">{escape(date)}</div>'
        f'<div class="comment-content"><p>{escape(text)}</p></div></li>'
        for name, date, text in zip(COMMENTER_NAMES, dates, f["comment_texts"], strict=False)
    )
    return (
        f'<section id="comments" class="comments-area"><h3>{escape(f["comments"])} (2)</h3>'
        f'<ol class="comment-list">{items}</ol>'
        f'<div id="respond"><h3>{escape(f["comment_form"])}</h3>'
        '<form action="/comment" method="post"><textarea name="text"></textarea>'
        '<input type="text" name="name"><button type="submit">OK</button></form></div>'
        "</section>"
    )


def _body_paragraphs(paragraphs: list[str], inserts: dict[int, str]) -> str:
    """Paragraphs as <p>, with furniture HTML inserted after the given paragraph indexes."""
    out = []
    for i, text in enumerate(paragraphs):
        out.append(f"<p>{escape(text)}</p>")
        if i in inserts:
            out.append(inserts[i])
    return "\n".join(out)


def _agency(
    title: str,
    paragraphs: list[str],
    f: dict[str, Any],
    lang: str,
    date_text: str | None,
    published_iso: str | None,
    canonical: str | None,
    charset: str,
    views: int,
) -> str:
    meta = [
        f'<meta property="og:title" content="{escape(title)}">',
        '<meta property="og:type" content="article">',
        f'<meta property="og:site_name" content="{escape(f["site"])}">',
    ]
    if canonical:
        meta += [
            f'<link rel="canonical" href="{escape(canonical)}">',
            f'<meta property="og:url" content="{escape(canonical)}">',
        ]
    if published_iso:
        meta.append(f'<meta property="article:published_time" content="{escape(published_iso)}">')
    head = _head(lang, charset, f"{title} | {f['site']}", meta)
    headline = f["headlines"][0][1]
    inserts = {
        min(1, len(paragraphs) - 1): (
            f'<p class="read-also"><strong>{escape(f["read_also"])}:</strong> '
            f'<a href="/news/100.html">{escape(headline)}</a></p>'
        )
    }
    date_html = f'<span class="date">{escape(date_text)}</span> ' if date_text else ""
    return f"""{head}
<body>
<header class="site-header">
<div class="logo"><a href="/">{escape(f["site"])}</a></div>
{_nav(f["nav"], "main-menu")}
<form class="search" action="/search"><input type="text" name="q"></form>
</header>
<div class="breadcrumbs"><a href="/">{escape(f["nav"][0])}</a> &raquo;
<a href="/section/1/">{escape(f["nav"][1])}</a></div>
<main class="page">
<article class="news-item">
<h1 class="news-title">{escape(title)}</h1>
<div class="news-meta">{date_html}<span class="views"><i class="icon-eye"></i> {views}</span></div>
<figure class="news-image"><img src="/upload/photo-1.jpg" alt="">
<figcaption>{escape(f["photo"])}</figcaption></figure>
<div class="news-text">
{_body_paragraphs(paragraphs, inserts)}
<p class="subscribe"><a href="https://t.me/example">{escape(f["subscribe"])}</a></p>
</div>
<div class="share"><span>{escape(f["share"])}:</span>
<a href="#fb">Facebook</a> <a href="#tg">Telegram</a>
<a href="#wa">WhatsApp</a> <a href="#x">X</a></div>
<div class="tags">{escape(f["tags"])}: <a href="/tag/1">{escape(f["nav"][1])}</a>
<a href="/tag/2">{escape(f["nav"][4])}</a></div>
</article>
<section class="related-news"><h3>{escape(f["read_also"])}</h3>
<ul>{_headline_items(f, "related-item")}</ul></section>
{_comments(f, [f["headlines"][0][0], f["headlines"][1][0]])}
</main>
<aside class="sidebar"><h3>{escape(f["most_read"])}</h3>
<ol>{_headline_items(f, "popular-item")}</ol></aside>
<div class="cookie-banner" id="cookie-consent"><p>{escape(f["cookie"])}</p>
<button type="button">{escape(f["cookie_ok"])}</button></div>
<footer class="site-footer">
<p class="copyright">{escape(f["copyright"])}</p>
<p>{escape(f["footer_note"])}</p>
{_nav(f["nav"], "footer-menu")}
<a href="#top" class="to-top">{escape(f["top"])}</a>
</footer>
</body>
</html>
"""


def _ministry(
    title: str,
    paragraphs: list[str],
    f: dict[str, Any],
    lang: str,
    date_text: str | None,
    published_iso: str | None,
    canonical: str | None,
    charset: str,
    views: int,
) -> str:
    meta = []
    if canonical:
        meta.append(f'<link rel="canonical" href="{escape(canonical)}">')
    ld: dict[str, Any] = {"@context": "https://schema.org", "@type": "NewsArticle"}
    ld["headline"] = title
    if published_iso:
        ld["datePublished"] = published_iso
    meta.append(
        '<script type="application/ld+json">' + json.dumps(ld, ensure_ascii=False) + "</script>"
    )
    head = _head(lang, charset, f"{title} - {f['site']}", meta)
    rubric = "".join(
        f'<div class="rubric-item"><div class="date">{escape(d)}</div>'
        f'<a href="/news/{200 + i}">{escape(h)}</a></div>'
        for i, (d, h) in enumerate(f["headlines"])
    )
    popular = "".join(
        f'<li><a href="/news/{300 + i}">{escape(h)}</a> '
        f'<span class="counter">{900 - i * 70}</span></li>'
        for i, (_, h) in enumerate(f["headlines"])
    )
    date_html = escape(date_text) if date_text else ""
    return f"""{head}
<body>
<div id="top-bar"><a href="/">{escape(f["nav"][0])}</a>
<span class="lang-switch"><a href="?lang=kk">Қаз</a> <a href="?lang=ru">Рус</a>
<a href="?lang=en">Eng</a></span></div>
<div class="menu">{_nav(f["nav"], "ministry-menu")}</div>
<div class="container"><div class="row">
<div class="col-md-8 content">
<div class="page-date">{date_html} <span class="counter">{views}</span></div>
<h1 class="page-title">{escape(title)}</h1>
<div class="text-content">
<p>{escape(title)}</p>
<p><img src="/images/news/1.jpg" alt=""></p>
<p class="photo-credit">{escape(f["photo"])}</p>
{_body_paragraphs(paragraphs, {})}
<p>&nbsp;</p>
<p class="source-note">{escape(f["footer_note"])}</p>
</div>
<div class="typo-notice"><p><b>{escape(f["typo"])}</b></p></div>
<div class="rubric-news"><h4>{escape(f["related"])}</h4>{rubric}</div>
</div>
<div class="col-md-4 sidebar"><h4>{escape(f["most_read"])}</h4><ul>{popular}</ul></div>
</div></div>
<footer><div class="copyright">{escape(f["copyright"])}</div>
<div class="address">010000, Astana, +7 (7172) 72-00-00</div></footer>
<div class="cookie">{escape(f["cookie"])} <a href="#" class="ok">{escape(f["cookie_ok"])}</a></div>
</body>
</html>
"""


def _blog(
    title: str,
    paragraphs: list[str],
    f: dict[str, Any],
    lang: str,
    date_text: str | None,
    published_iso: str | None,
    canonical: str | None,
    charset: str,
    views: int,
) -> str:
    site_title = f"{title} – {f['site']}"
    meta = [f'<meta property="og:title" content="{escape(site_title)}">']
    if canonical:
        meta.append(f'<link rel="canonical" href="{escape(canonical)}">')
    head = _head(lang, charset, site_title, meta)
    if published_iso:
        shown = escape(date_text or published_iso[:10])
        time_html = (
            f'<time class="entry-date published" datetime="{escape(published_iso)}">{shown}</time>'
        )
    elif date_text:
        time_html = f'<span class="entry-date">{escape(date_text)}</span>'
    else:
        time_html = ""
    middle = len(paragraphs) // 2
    inserts = {
        max(0, middle - 1): (
            f'<p>{escape(f["read_also"])}: <a href="/news/101.html">'
            f"{escape(f['headlines'][1][1])}</a></p>"
        )
    }
    return f"""{head}
<body class="post-template-default single single-post">
<div id="cookie-notice" role="dialog"><span>{escape(f["cookie"])}</span>
<a href="#" class="cn-accept">{escape(f["cookie_ok"])}</a></div>
<div id="page" class="site">
<header id="masthead" class="site-header">
<p class="site-title"><a href="/" rel="home">{escape(f["site"])}</a></p>
{_nav(f["nav"], "main-navigation")}
</header>
<div id="content" class="site-content"><div id="primary" class="content-area">
<main id="main" class="site-main">
<article class="post type-post status-publish">
<header class="entry-header"><h1 class="entry-title">{escape(title)}</h1>
<div class="entry-meta"><span class="posted-on">{time_html}</span>
<span class="post-views">{views} {escape(f["views"])}</span></div></header>
<div class="entry-content">
{_body_paragraphs(paragraphs, inserts)}
<div class="sharedaddy"><h3 class="sd-title">{escape(f["share"])}:</h3>
<ul><li><a href="#tg">Telegram</a></li><li><a href="#fb">Facebook</a></li>
<li><a href="#wa">WhatsApp</a></li></ul></div>
</div>
<footer class="entry-footer"><span class="tags-links">{escape(f["tags"])}:
<a href="/tag/x" rel="tag">{escape(f["nav"][4])}</a></span></footer>
</article>
<nav class="post-navigation"><a href="/news/102.html">&laquo; {escape(f["headlines"][2][1])}</a>
<a href="/news/103.html">{escape(f["headlines"][3][1])} &raquo;</a></nav>
<div class="related-posts"><h3>{escape(f["related"])}</h3>
<ul>{_headline_items(f, "related-post")}</ul></div>
{_comments(f, [f["headlines"][3][0], f["headlines"][4][0]])}
</main></div>
<aside id="secondary" class="widget-area"><section class="widget">
<h2 class="widget-title">{escape(f["most_read"])}</h2>
<ul>{_headline_items(f, "popular-post")}</ul></section></aside>
</div>
<footer id="colophon" class="site-footer"><div class="site-info">{escape(f["copyright"])}
| {escape(f["footer_note"])}</div></footer>
</div>
</body>
</html>
"""


_RENDERERS = (_agency, _ministry, _blog)


def boilerplate_strings(lang: str, views: int = 1234) -> tuple[str, ...]:
    """The visible furniture strings a page in ``lang`` carries (whatever the template)."""
    f = furniture(lang)
    strings = [
        f["nav"][0],
        f["read_also"],
        f["related"],
        f["most_read"],
        f["cookie"],
        f["comment_form"],
        f["subscribe"],
        f["photo"],
        f["copyright"],
        f["footer_note"],
        f["typo"],
        f["site"],
        f"{views} {f['views']}",
        *f["comment_texts"],
        *(h for _, h in f["headlines"]),
        *(d for d, _ in f["headlines"]),
    ]
    return tuple(strings)


def article_page(
    title: str,
    paragraphs: list[str] | tuple[str, ...],
    *,
    lang: str,
    date_text: str | None = None,
    published_iso: str | None = None,
    template: int = 0,
    canonical: str | None = None,
    charset: str = "utf-8",
    views: int = 1234,
) -> GeneratedPage:
    """A news page around one article.

    template: 0 agency (og: tags, ``article:published_time`` meta when ``published_iso``),
    1 ministry (no <article>, title repeated in the text, JSON-LD ``datePublished``),
    2 blog (<time datetime> in the post, site name in og:title).
    ``date_text`` is the visible date beside the title; ``charset`` only sets the meta tag.
    """
    render = _RENDERERS[template % len(_RENDERERS)]
    html = render(
        title,
        list(paragraphs),
        furniture(lang),
        lang,
        date_text,
        published_iso,
        canonical,
        charset,
        views,
    )
    return GeneratedPage(html=html, boilerplate=boilerplate_strings(lang, views))


def listing_page(lang: str, *, items: int = 20) -> str:
    """An index page of a news section: only headlines, dates and links, no article."""
    f = furniture(lang)
    rows = "".join(
        f'<li><span class="date">{escape(d)}</span> <a href="/news/{i}.html">{escape(h)}</a></li>'
        for i in range(items)
        for d, h in [f["headlines"][i % len(f["headlines"])]]
    )
    head = _head(lang, "utf-8", f"{f['nav'][1]} | {f['site']}", [])
    return f"""{head}
<body>
<header>{_nav(f["nav"], "main-menu")}</header>
<main><h1>{escape(f["nav"][1])}</h1><ul class="news-list">{rows}</ul>
<div class="pager"><a href="?page=2">2</a> <a href="?page=3">3</a></div></main>
<footer><p>{escape(f["copyright"])}</p></footer>
</body>
</html>
"""
