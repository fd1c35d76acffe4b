"""The sealed set of bench/bench_headlines.py: page templates and block headings that the
development set (tests/news_site.py) does not use, generated with another seed.

Its figures are reported apart and never used to tune link-block removal.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.news_site import (  # noqa: E402
    Block,
    Context,
    Render,
    foot,
    head,
    meta_line,
    paragraphs,
    when,
)

SEED = 20261202
HEADINGS = "sealed_headings"


def magazine(ctx: Context) -> str:
    """Figures with captions inside the links; a pull-out box between paragraphs."""
    w = ctx.w
    sections = w.t["sections"]

    def figures(b: Block) -> str:
        items = "".join(
            f'<div class="{w.cls()}"><a href="{e.article.path}"><figure>'
            f'<img src="/m/{e.article.number}.jpg" alt=""><figcaption>{escape(e.article.title)}'
            f'</figcaption></figure></a><p class="{w.cls()}">{escape(sections[e.article.section])}'
            f" · {when(ctx, e.article)}</p></div>"
            for e in b.entries
        )
        hd = f"<header><span>{escape(b.heading)}</span></header>" if b.heading else ""
        return f'<section class="{w.cls(True)}">{hd}<div>{items}</div></section>'

    def pullout(b: Block) -> str:
        e = b.entries[-1]
        label = f"<em>{escape(b.heading)}</em> " if b.heading else ""
        stamp = f"<time>{when(ctx, e.article)}</time>"
        return f'<aside class="{w.cls(True)}">{label}{ctx.link(e.article)} {stamp}</aside>'

    n = len(ctx.article.html)
    first, *rest = ctx.blocks
    inserts = {w.rng.randint(0, n - 2): pullout(first)} if n >= 3 else {}
    return (
        head(ctx)
        + f'<div class="{w.cls()}"><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}'
        + f'<div class="{w.cls()}">{paragraphs(ctx, inserts)}</div></div>'
        + "".join(figures(b) for b in rest)
        + foot(ctx)
    )


def ticker(ctx: Context) -> str:
    """A one-line ticker of links above the article; counters inside the links."""
    w = ctx.w
    first, *rest = ctx.blocks
    label = f"<b>{escape(first.heading)}</b> " if first.heading else ""
    line = " · ".join(ctx.link(e.article) for e in first.entries)
    bar = f'<div class="{w.cls(True)}">{label}{line}</div>'

    def boxed(b: Block) -> str:
        items = "".join(
            f'<li><a href="{e.article.path}"><b>{escape(e.article.title)}</b><br>'
            f"<small>{escape(w.views(e.views))}</small></a></li>"
            for e in b.entries
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h5", "p"))}<ul>{items}</ul></div>'

    def pairs(b: Block) -> str:
        items = "".join(
            f'<div class="{w.cls()}">{i}</div><div class="{w.cls()}">{ctx.link(e.article)}</div>'
            for i, e in enumerate(b.entries, 1)
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h6", "div"))}{items}</div>'

    return (
        head(ctx)
        + bar
        + f"<main><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}"
        + f'<div class="{w.cls()}">{paragraphs(ctx, {})}</div></main>'
        + "".join(boxed(b) if i % 2 else pairs(b) for i, b in enumerate(rest))
        + foot(ctx)
    )


def quotes(ctx: Context) -> str:
    """Blockquote boxes between paragraphs; ranked list with labels; a "more" link."""
    w = ctx.w
    sections = w.t["sections"]

    def box(b: Block) -> str:
        hd = f"<p>{escape(b.heading)}</p>" if b.heading else ""
        links = "".join(f"<p>{ctx.link(e.article)}</p>" for e in b.entries[:2])
        return f'<blockquote class="{w.cls(True)}">{hd}{links}</blockquote>'

    def ranked(b: Block) -> str:
        items = "".join(
            f"<li><b>{i}</b> <em>{escape(sections[e.article.section])}</em> "
            f"{ctx.link(e.article)}</li>"
            for i, e in enumerate(b.entries, 1)
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h3", "div"))}<ol>{items}</ol></div>'

    def dashed(b: Block) -> str:
        items = "".join(
            f"<p>{ctx.link(e.article)} — <span>{when(ctx, e.article)}</span></p>" for e in b.entries
        )
        more = f'<p><a href="/all/">{escape(w.t["more"])}</a></p>'
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h2", "strong"))}{items}{more}</div>'

    n = len(ctx.article.html)
    first, *rest = ctx.blocks
    inserts = {w.rng.randint(0, n - 2): box(first)} if n >= 3 else {}
    return (
        head(ctx)
        + f'<article class="{w.cls()}"><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}'
        + paragraphs(ctx, inserts)
        + "</article>"
        + "".join(ranked(b) if i % 2 else dashed(b) for i, b in enumerate(rest))
        + foot(ctx)
    )


def legacy(ctx: Context) -> str:
    """Old markup (center, font, floats): entries separated by <br> in one box;
    previous/next links under the article; entries with another article's teaser."""
    w = ctx.w

    def br_list(b: Block) -> str:
        items = "".join(
            f"{ctx.link(e.article)}<br><small>{when(ctx, e.article)}</small><br>" for e in b.entries
        )
        hd = f"<b>{escape(b.heading)}</b><br>" if b.heading else ""
        return f'<div class="{w.cls(True)}">{hd}{items}</div>'

    def teasers(b: Block) -> str:
        items = "".join(
            f'<div class="{w.cls()}">{ctx.link(e.article)}'
            f"<p>{escape(w.rng.choice(w.t['sentences']))}</p></div>"
            for e in b.entries
        )
        return f'<div class="{w.cls(True)}">{ctx.heading(b, ("h3",))}{items}</div>'

    first, *rest = ctx.blocks
    prev_next = ""
    if len(first.entries) >= 2:
        a, b = first.entries[0].article, first.entries[1].article
        prev_next = (
            f'<div class="{w.cls()}"><a href="{a.path}">← {escape(a.title)}</a> '
            f'<a href="{b.path}">{escape(b.title)} →</a></div>'
        )
    return (
        head(ctx)
        + f'<center><div style="float:left;width:70%"><h1>{escape(ctx.article.title)}</h1>'
        + meta_line(ctx)
        + f'<font size="3">{paragraphs(ctx, {})}</font>{prev_next}</div>'
        + '<div style="float:right">'
        + "".join(br_list(x) if i % 2 == 0 else teasers(x) for i, x in enumerate(rest))
        + "</div>"
        + "</center>"
        + foot(ctx)
    )


TEMPLATES: dict[str, Render] = {
    "magazine": magazine,
    "ticker": ticker,
    "quotes": quotes,
    "legacy": legacy,
}
