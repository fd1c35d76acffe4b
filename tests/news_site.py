"""Generated news sites whose article pages list other articles' headlines.

Each ``Site`` is one outlet in one language and one page template: a couple of dozen
articles written from the real sentences of ``tests/data/news_site_texts.toml``, each page
carrying "latest", "related" and "most read" blocks of the site's other headlines, with or
without a heading, some between the article's paragraphs. Markup varies within a template
as between sites: random class names, nesting, ul/ol/div/p/dl/table lists, thumbnails,
dates and view counters beside the links, headings in h2/h3/h4/div/strong/span or none.
Articles carry their own traps: inline links inside paragraphs, a paragraph quoting
another article's headline (sometimes linked), and one-sentence paragraphs.

A ``Page`` knows its article's paragraphs and the headlines its blocks list, so a test or
bench can measure what an extractor kept: ``leaked`` and ``paragraphs_found``.

The templates here are the development set. bench/sealed_pages.py adds templates and
headings used only for the sealed figures.
"""

from __future__ import annotations

import random
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

TEXTS_FILE = Path(__file__).resolve().parent / "data" / "news_site_texts.toml"
LANGUAGES = ("ru", "kk", "ky", "uz", "tg", "tk", "az", "tr", "fa", "ar", "fr", "en")
RTL = frozenset({"ar", "fa"})
FIRST_DAY = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

# Class names for the page's parts; blocks may also get words extractors know as furniture.
_CLASS_PARTS = (
    "news", "item", "list", "block", "col", "wrap", "box", "feed", "post", "entry", "card",
    "w", "b", "c", "grid", "row", "unit", "lenta", "mat", "pub", "story", "tile",
    "panel", "area", "zone", "inner", "holder", "cnt", "txt",
)  # fmt: skip
_BLOCK_PARTS = ("side", "widget", "teaser", "aside", "more", "rel", "top", "popular", "latest")


@lru_cache(maxsize=1)
def texts() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = tomllib.loads(TEXTS_FILE.read_text(encoding="utf-8"))
    return data


def fold(text: str) -> str:
    """Comparison form: NFC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


# --- articles ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    number: int
    path: str
    title: str
    published: datetime
    section: int
    paragraphs: tuple[str, ...]  # plain text, as a reader sees each paragraph
    html: tuple[str, ...]  # the same paragraphs as <p> contents (inline links, quotes)


@dataclass(frozen=True)
class Listed:
    """One entry of a headline block."""

    article: Article
    views: int


@dataclass(frozen=True)
class Block:
    kind: str  # latest | related | popular
    heading: str | None
    entries: tuple[Listed, ...]


@dataclass(frozen=True)
class Page:
    url: str
    html: str
    language: str
    template: str
    article: Article
    listed: tuple[str, ...]  # headlines of other articles that the page's blocks show

    def leaked(self, text: str) -> list[str]:
        """Lines of an extracted ``text`` that carry another article's headline (a line
        that is one of the article's own paragraphs, even one quoting a headline, does
        not count)."""
        own = {fold(p) for p in self.article.paragraphs}
        heads = [fold(h) for h in self.listed]
        out = []
        for line in text.splitlines():
            folded = fold(line)
            if folded and folded not in own and any(h in folded for h in heads):
                out.append(line)
        return out

    def paragraphs_found(self, text: str) -> int:
        """How many of the article's paragraphs stand whole in ``text``."""
        lines = {fold(line) for line in text.splitlines()}
        body = fold(text)
        return sum(1 for p in self.article.paragraphs if fold(p) in lines or fold(p) in body)


class Writer:
    """Random page parts in one language (sentences, dates, counters, class names)."""

    def __init__(self, language: str, rng: random.Random) -> None:
        self.lang = language
        self.t = texts()[language]
        self.rng = rng

    def cls(self, block: bool = False) -> str:
        r = self.rng
        parts = _CLASS_PARTS + _BLOCK_PARTS if block else _CLASS_PARTS
        name = "-".join(r.sample(parts, r.choice((1, 2, 2))))
        if r.random() < 0.3:
            name += f"__{r.choice(_CLASS_PARTS)}"
        if r.random() < 0.3:
            name += str(r.randrange(1, 40))
        return name

    def date(self, when: datetime) -> str:
        r, months = self.rng, self.t["months"]
        month = months[when.month - 1]
        forms = [
            f"{when:%d.%m.%Y}",
            f"{when:%d.%m.%Y %H:%M}",
            f"{when.day} {month} {when.year}",
            f"{when:%H:%M}",
            f"{when.day} {month}, {when:%H:%M}",
            f"{when:%Y-%m-%d}",
        ]
        if self.lang == "ky":
            forms.append(f"{when.year}-жылдын {when.day}-{month}")
        if self.lang in ("fa", "ar") and r.random() < 0.5:
            digits = str.maketrans(
                "0123456789", "۰۱۲۳۴۵۶۷۸۹" if self.lang == "fa" else "٠١٢٣٤٥٦٧٨٩"
            )
            return r.choice(forms).translate(digits)
        return r.choice(forms)

    def views(self, n: int) -> str:
        return self.rng.choice((f"{n} {self.t['views']}", f"👁 {n}", f"{n:,}".replace(",", " ")))

    def heading(self, pool: Sequence[str]) -> str | None:
        return None if self.rng.random() < 0.25 else self.rng.choice(list(pool))


def _paragraphs(
    w: Writer, others: Sequence[tuple[str, str]], sections: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(plain, html) paragraphs of one article; ``others``: (path, headline) it may cite."""
    r = w.rng
    sentences = r.sample(w.t["sentences"], len(w.t["sentences"]))
    plain: list[str] = []
    marked: list[str] = []
    count = r.randint(3, 8)
    while sentences and len(plain) < count:
        take = 1 if r.random() < 0.3 else r.randint(2, 3)
        chosen, sentences = sentences[:take], sentences[take:]
        text = " ".join(chosen)
        html = escape(text)
        if r.random() < 0.3:  # an inline link on two or three words of the paragraph
            words = text.split(" ")
            if len(words) > 5:
                i = r.randrange(0, len(words) - 3)
                n = r.choice((2, 3))
                href = r.choice([p for p, _ in others] + [f"/section/{r.randrange(sections)}/"])
                linked = " ".join(words[i : i + n])
                html = (
                    escape(" ".join(words[:i]) + (" " if i else ""))
                    + f'<a href="{href}">{escape(linked)}</a>'
                    + escape(" " + " ".join(words[i + n :]))
                )
        plain.append(text)
        marked.append(html)
    if others and r.random() < 0.35:  # a paragraph of the article quoting another headline
        path, headline = r.choice(list(others))
        frame = r.choice(w.t["quote_frames"])
        before, after = frame.split("{h}")
        shown = f'<a href="{path}">{escape(headline)}</a>' if r.random() < 0.5 else escape(headline)
        at = r.randint(1, len(plain))
        plain.insert(at, before + headline + after)
        marked.insert(at, escape(before) + shown + escape(after))
    return tuple(plain), tuple(marked)


# --- sites -------------------------------------------------------------------------------

Render = Callable[["Context"], str]


@dataclass
class Context:
    """What a template needs to render one page."""

    w: Writer
    site: str
    article: Article
    blocks: list[Block]
    base: str
    nav: list[str]
    heads: list[str] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.w.lang

    def link(self, a: Article, text: str | None = None) -> str:
        return f'<a href="{a.path}">{escape(a.title if text is None else text)}</a>'

    def thumb(self, a: Article) -> str:
        alt = escape(a.title) if self.w.rng.random() < 0.5 else ""
        return f'<a href="{a.path}"><img src="/upload/{a.number}.jpg" alt="{alt}"></a>'

    def heading(
        self, block: Block, tags: Sequence[str] = ("h2", "h3", "h4", "div", "strong")
    ) -> str:
        if block.heading is None:
            return ""
        tag = self.w.rng.choice(list(tags))
        return f'<{tag} class="{self.w.cls()}">{escape(block.heading)}</{tag}>'


class Site:
    """One outlet: ``size`` articles in one language, rendered with one template."""

    def __init__(
        self,
        language: str,
        template: str,
        seed: int,
        *,
        size: int = 24,
        templates: dict[str, Render] | None = None,
        headings: str = "headings",
    ) -> None:
        self.language = language
        self.template = template
        self.render = (templates or TEMPLATES)[template]
        self.seed = f"{seed}:{language}:{template}"
        self.rng = random.Random(self.seed)
        self.w = Writer(language, self.rng)
        self.headings = texts()[language][headings]
        t = self.w.t
        self.host = f"{template}-{language}.news.test"
        self.base = f"http://{self.host}"
        titles = self.rng.sample(t["headlines"], min(size, len(t["headlines"])))
        slug = self.w.cls()
        paths = [
            f"/{language}/{slug}/{1000 + i}" + self.rng.choice(("", ".html", "/"))
            for i in range(len(titles))
        ]
        self.articles: list[Article] = []
        when = FIRST_DAY
        for i, title in enumerate(titles):
            when += timedelta(hours=self.rng.randint(2, 30), minutes=self.rng.randint(0, 59))
            others = [(p, h) for j, (p, h) in enumerate(zip(paths, titles, strict=True)) if j != i]
            plain, marked = _paragraphs(self.w, others, len(t["sections"]))
            self.articles.append(
                Article(
                    i, paths[i], title, when, self.rng.randrange(len(t["sections"])), plain, marked
                )
            )
        self.popular = self.rng.sample(self.articles, min(6, len(self.articles)))

    def page(self, index: int, *, newest: bool = False) -> Page:
        """The page of article ``index``. Its "latest" block lists the articles published
        just before it (as a poll sees the page), or with ``newest`` the site's newest
        articles (as a later backfill sees every page)."""
        r = random.Random(f"{self.seed}:{index}:{newest}")
        w = Writer(self.language, r)
        art = self.articles[index]
        others = [a for a in self.articles if a is not art]
        if newest:
            latest = [a for a in reversed(self.articles) if a is not art][:6]
        else:
            latest = list(reversed(self.articles[max(0, index - 6) : index]))
        blocks = []
        if latest:
            blocks.append(self._block(w, "latest", latest))
        blocks.append(self._block(w, "related", r.sample(others, min(4, len(others)))))
        blocks.append(self._block(w, "popular", [a for a in self.popular if a is not art][:5]))
        r.shuffle(blocks)
        ctx = Context(
            w,
            texts()[self.language]["site"],
            art,
            blocks,
            self.base,
            texts()[self.language]["sections"],
        )
        html = self.render(ctx)
        shown = (e.article.title for b in blocks for e in b.entries)
        listed = tuple(dict.fromkeys(h for h in shown if escape(h) in html))
        return Page(self.base + art.path, html, self.language, self.template, art, listed)

    def _block(self, w: Writer, kind: str, articles: Sequence[Article]) -> Block:
        entries = tuple(Listed(a, w.rng.randint(40, 25_000)) for a in articles)
        return Block(kind, w.heading(self.headings), entries)


# --- shared page parts -------------------------------------------------------------------


def head(ctx: Context, extra: str = "") -> str:
    a, t = ctx.article, ctx.w.t
    direction = ' dir="rtl"' if ctx.lang in RTL else ""
    return (
        f'<!DOCTYPE html><html lang="{ctx.lang}"{direction}><head><meta charset="utf-8">'
        f"<title>{escape(a.title)} | {escape(ctx.site)}</title>"
        f'<meta property="og:title" content="{escape(a.title)}">'
        f'<meta property="og:site_name" content="{escape(ctx.site)}">'
        f'<meta property="article:published_time" content="{a.published.isoformat()}">'
        f'<link rel="canonical" href="{ctx.base}{a.path}">{extra}'
        '<script>var cfg = {"ads": true, "counter": 12345};</script></head>'
        f'<body class="{ctx.w.cls()}"><header><a class="logo" href="/">{escape(ctx.site)}</a>'
        + menu(ctx)
        + f'</header><div class="{ctx.w.cls()}">{escape(t["sections"][a.section])}</div>'
    )


def menu(ctx: Context) -> str:
    items = "".join(
        f'<li><a href="/section/{i}/">{escape(s)}</a></li>' for i, s in enumerate(ctx.nav)
    )
    return f'<nav class="{ctx.w.cls()}"><ul>{items}</ul></nav>'


def foot(ctx: Context) -> str:
    return (
        f'<footer class="{ctx.w.cls()}">{menu(ctx)}<p>© 2025 {escape(ctx.site)}</p></footer>'
        "</body></html>"
    )


def meta_line(ctx: Context) -> str:
    w, a = ctx.w, ctx.article
    views = f' <span class="{w.cls()}">{escape(w.views(w.rng.randint(50, 9000)))}</span>'
    return f'<div class="{w.cls()}"><time>{escape(w.date(a.published))}</time>{views}</div>'


def paragraphs(ctx: Context, inserts: dict[int, str]) -> str:
    out = []
    for i, html in enumerate(ctx.article.html):
        out.append(f"<p>{html}</p>")
        if i in inserts:
            out.append(inserts[i])
    return "\n".join(out)


def between(ctx: Context, block: Block | None, render: Callable[[Block], str]) -> dict[int, str]:
    """The block placed after one of the first paragraphs (not after the last)."""
    n = len(ctx.article.html)
    if block is None or n < 3:
        return {}
    return {ctx.w.rng.randint(0, n - 2): render(block)}


def split(ctx: Context) -> tuple[Block | None, list[Block]]:
    """One block to put between paragraphs (about half the time), the rest after."""
    if ctx.w.rng.random() < 0.5:
        return None, list(ctx.blocks)
    return ctx.blocks[0], list(ctx.blocks[1:])


def when(ctx: Context, a: Article) -> str:
    return escape(ctx.w.date(a.published))


# --- development templates ---------------------------------------------------------------


def agency(ctx: Context) -> str:
    w = ctx.w

    def inline(b: Block) -> str:
        e = b.entries[0]
        return (
            f'<div class="{w.cls(True)}">{ctx.heading(b, ("div", "strong", "span"))}'
            f"{ctx.thumb(e.article)}{ctx.link(e.article)}</div>"
        )

    def aside(b: Block) -> str:
        items = "".join(
            f'<li><span class="{w.cls()}">{when(ctx, e.article)}</span> {ctx.link(e.article)}</li>'
            for e in b.entries
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b)}<ul>{items}</ul></div>'

    mid, rest = split(ctx)
    return (
        head(ctx)
        + f'<main><div class="{w.cls()}"><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}'
        + f'<div class="{w.cls()}">{paragraphs(ctx, between(ctx, mid, inline))}</div></div>'
        + f'<aside class="{w.cls()}">{"".join(aside(b) for b in rest)}</aside></main>'
        + foot(ctx)
    )


def cards(ctx: Context) -> str:
    w = ctx.w

    def grid(b: Block) -> str:
        cells = "".join(
            f'<article class="{w.cls()}"><a href="{e.article.path}">'
            f'<img src="/i/{e.article.number}.webp" alt=""><h3>{escape(e.article.title)}</h3></a>'
            f"<time>{when(ctx, e.article)}</time> "
            f'<span class="{w.cls()}">{escape(w.views(e.views))}</span></article>'
            for e in b.entries
        )
        grid = f'<div class="{w.cls()}">{cells}</div>'
        return f'<section class="{w.cls(True)}">{ctx.heading(b, ("h2", "div"))}{grid}</section>'

    def numbered(b: Block) -> str:
        items = "".join(
            f"<li>{ctx.link(e.article)} <em>{escape(w.views(e.views))}</em></li>" for e in b.entries
        )
        return (
            f'<div class="{w.cls(True)}">{ctx.heading(b, ("strong", "h3"))}<ol>{items}</ol></div>'
        )

    mid, rest = split(ctx)
    return (
        head(ctx)
        + f'<div class="{w.cls()}"><article><header><h1>{escape(ctx.article.title)}</h1>'
        + f"{meta_line(ctx)}</header>"
        + paragraphs(ctx, between(ctx, mid, numbered))
        + "</article>"
        + "".join(grid(b) if i % 2 == 0 else numbered(b) for i, b in enumerate(rest))
        + "</div>"
        + foot(ctx)
    )


def table(ctx: Context) -> str:
    w = ctx.w

    def rows(b: Block) -> str:
        body = "".join(
            f"<tr><td>{i}.</td><td>{ctx.link(e.article)}</td><td>{e.views}</td></tr>"
            for i, e in enumerate(b.entries, 1)
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("div",))}</div><table>{body}</table>'

    def stacked(b: Block) -> str:
        items = "".join(
            f"<p>{ctx.link(e.article)}<br><small>{when(ctx, e.article)}</small></p>"
            for e in b.entries
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h4", "div"))}{items}</div>'

    mid, rest = split(ctx)
    return (
        head(ctx)
        + f'<div class="{w.cls()}"><div class="{w.cls()}"><h1>{escape(ctx.article.title)}</h1>'
        + meta_line(ctx)
        + paragraphs(ctx, between(ctx, mid, stacked))
        + "".join(stacked(b) if i == 0 else rows(b) for i, b in enumerate(rest))
        + "</div></div>"
        + foot(ctx)
    )


def plist(ctx: Context) -> str:
    """Headline lines as plain <p> siblings right after the article's paragraphs."""
    w = ctx.w

    def lines(b: Block) -> str:
        heading = f"<p><b>{escape(b.heading)}</b></p>" if b.heading and w.rng.random() < 0.5 else ""
        return heading + "".join(
            f"<p><small>{when(ctx, e.article)}</small> {ctx.link(e.article)}</p>" for e in b.entries
        )

    first, *rest = ctx.blocks
    return (
        head(ctx)
        + f'<div class="{w.cls()}"><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}'
        + f'<div class="{w.cls()}">{paragraphs(ctx, {})}{lines(first)}</div></div>'
        + "".join(
            f'<div class="{w.cls()}"><ul>'
            + "".join(f"<li>{ctx.link(e.article)}</li>" for e in b.entries)
            + "</ul></div>"
            for b in rest
        )
        + foot(ctx)
    )


def wordpress(ctx: Context) -> str:
    w = ctx.w
    sections = ctx.w.t["sections"]

    def related(b: Block) -> str:
        items = "".join(
            f'<div class="{w.cls()}"><h4>{ctx.link(e.article)}</h4>'
            f'<p class="{w.cls()}">{when(ctx, e.article)}</p>'
            f"<p>{escape(sections[e.article.section])}</p></div>"
            for e in b.entries
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h3",))}<div>{items}</div></div>'

    def widget(b: Block) -> str:
        items = "".join(
            f'<li>{ctx.link(e.article)} <span class="{w.cls()}">{when(ctx, e.article)}</span></li>'
            for e in b.entries
        )
        heading = ctx.heading(b, ("h2",))
        return f'<section class="widget {w.cls(True)}">{heading}<ul>{items}</ul></section>'

    first, *rest = ctx.blocks
    return (
        head(ctx)
        + '<div id="primary"><article class="post">'
        + f'<h1 class="entry-title">{escape(ctx.article.title)}</h1>'
        + meta_line(ctx)
        + f'<div class="entry-content">{paragraphs(ctx, {})}</div>{related(first)}</article></div>'
        + f'<div id="secondary">{"".join(widget(b) for b in rest)}</div>'
        + foot(ctx)
    )


def definitions(ctx: Context) -> str:
    w = ctx.w

    def dl(b: Block) -> str:
        items = "".join(
            f"<dt>{when(ctx, e.article)}</dt><dd>{ctx.link(e.article)}</dd>" for e in b.entries
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h4",))}<dl>{items}</dl></div>'

    def spans(b: Block) -> str:
        items = "".join(
            f'<div class="{w.cls()}"><span class="{w.cls()}">{ctx.link(e.article)}</span>'
            f"<span>{when(ctx, e.article)}</span></div>"
            for e in b.entries
        )
        hd = f'<div class="{w.cls()}"><span>{escape(b.heading)}</span></div>' if b.heading else ""
        return f'<div class="{w.cls(True)}">{hd}{items}</div>'

    mid, rest = split(ctx)
    return (
        head(ctx)
        + f'<main><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}<div class="{w.cls()}">'
        + paragraphs(ctx, between(ctx, mid, dl))
        + "</div>"
        + "".join(spans(b) for b in rest)
        + "</main>"
        + foot(ctx)
    )


def inline(ctx: Context) -> str:
    """ "Read also" lines and quotes between paragraphs, a numbered list at the end."""
    w = ctx.w

    def reads(b: Block) -> dict[int, str]:
        n = len(ctx.article.html)
        out: dict[int, str] = {}
        label = f"<b>{escape(b.heading)}:</b> " if b.heading else ""
        for e in b.entries[:2]:
            form = w.rng.choice(
                (
                    f"<p>{label}{ctx.link(e.article)}</p>",
                    f"<blockquote>{ctx.link(e.article)}</blockquote>",
                )
            )
            out[w.rng.randint(0, max(0, n - 2))] = form
        if len(b.entries) > 3:  # several headlines on one line
            line = w.rng.choice((" · ", " | ", "<br>")).join(
                ctx.link(e.article) for e in b.entries[2:]
            )
            out[w.rng.randint(0, max(0, n - 2))] = f"<p>{label}{line}</p>"
        return out

    def ranked(b: Block) -> str:
        items = "".join(
            f"<li><span>{i}</span> {ctx.link(e.article)} <i>{escape(w.views(e.views))}</i></li>"
            for i, e in enumerate(b.entries, 1)
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b)}<ol>{items}</ol></div>'

    first, *rest = ctx.blocks
    return (
        head(ctx)
        + f'<div class="{w.cls()}"><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}'
        + f'<div class="{w.cls()}">{paragraphs(ctx, reads(first))}</div></div>'
        + "".join(ranked(b) for b in rest)
        + foot(ctx)
    )


def nested(ctx: Context) -> str:
    """Deep div soup, thumbnails as background boxes, numbers inside the links."""
    w = ctx.w
    sections = w.t["sections"]

    def deep(inner: str, levels: int, block: bool = False) -> str:
        for _ in range(levels):
            inner = f'<div class="{w.cls(block)}">{inner}</div>'
        return inner

    def tiles(b: Block) -> str:
        items = "".join(
            deep(
                f'<a href="{e.article.path}"><div class="{w.cls()}" '
                f'style="background:url(/t/{e.article.number}.jpg)"></div></a>'
                f'<div class="{w.cls()}"><div>{ctx.link(e.article)}</div>'
                f"<div><span>{escape(sections[e.article.section])}</span> · "
                f"<span>{when(ctx, e.article)}</span></div></div>",
                2,
            )
            for e in b.entries
        )
        hd = f"<div>{escape(b.heading)}</div>" if b.heading and w.rng.random() < 0.5 else ""
        return deep(hd + items, 2, True)

    def numbered(b: Block) -> str:
        items = "".join(
            f'<li><a href="{e.article.path}"><span class="{w.cls()}">{i}</span>'
            f'<span class="{w.cls()}">{escape(e.article.title)}</span></a></li>'
            for i, e in enumerate(b.entries, 1)
        )
        return deep(f"{ctx.heading(b, ('div', 'span'))}<ul>{items}</ul>", 3, True)

    mid, rest = split(ctx)
    body = deep(paragraphs(ctx, between(ctx, mid, tiles)), 3)
    return (
        head(ctx)
        + deep(f"<h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}{body}", 4)
        + "".join(tiles(b) if i % 2 else numbered(b) for i, b in enumerate(rest))
        + foot(ctx)
    )


def scripted(ctx: Context) -> str:
    """Entries without links (a script opens them on click): nothing in the page's
    structure tells them from text, so only what the source repeats can."""
    w = ctx.w

    def clickable(b: Block) -> str:
        items = "".join(
            f'<li data-href="{e.article.path}" onclick="go(this)">{escape(e.article.title)}</li>'
            for e in b.entries
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h3", "div"))}<ul>{items}</ul></div>'

    return (
        head(ctx)
        + f"<main><article><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}"
        + f'<div class="{w.cls()}">{paragraphs(ctx, {})}</div>'
        + "".join(clickable(b) for b in ctx.blocks)
        + "</article></main>"
        + foot(ctx)
    )


TEMPLATES: dict[str, Render] = {
    "agency": agency,
    "cards": cards,
    "table": table,
    "plist": plist,
    "wordpress": wordpress,
    "definitions": definitions,
    "inline": inline,
    "nested": nested,
}
# Lists without links: the line memory's part, measured apart.
LINKLESS: dict[str, Render] = {"scripted": scripted}


def pages(
    seed: int,
    *,
    per_site: int = 6,
    languages: Sequence[str] = LANGUAGES,
    templates: dict[str, Render] | None = None,
    headings: str = "headings",
    newest: bool = False,
) -> list[Page]:
    """``per_site`` pages of every (template, language) site."""
    out = []
    for name in templates or TEMPLATES:
        for lang in languages:
            site = Site(lang, name, seed, templates=templates, headings=headings)
            step = max(1, len(site.articles) // per_site)
            out += [site.page(i, newest=newest) for i in range(0, len(site.articles), step)][
                :per_site
            ]
    return out
