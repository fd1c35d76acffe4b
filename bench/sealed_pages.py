"""The sealed sets of bench/bench_headlines.py: page templates and block headings that the
development set (tests/news_site.py) does not use, generated with other seeds.

TEMPLATES put the blocks in sections of their own around the article; IN_BODY puts them
inside the article's own container, among its paragraphs, where trafilatura alone keeps
them. Their figures are reported apart and never used to tune link-block removal.
LATE was written after IN_BODY had been measured once (and had shown a flaw that was then
fixed in general), and turned out as easy as TEMPLATES (trafilatura alone keeps none of its
blocks). FINAL, written after that, puts every block where trafilatura keeps it, among the
article's paragraphs: it is the sealed figure of the version as it stands.
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
IN_BODY_SEED = 777
LATE_SEED = 4242
FINAL_SEED = 9001
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


# --- blocks inside the article's container ----------------------------------------------


def _body(ctx: Context, inserts: dict[int, str], tail: str) -> str:
    w = ctx.w
    return (
        head(ctx)
        + f'<div class="{w.cls()}"><h1>{escape(ctx.article.title)}</h1>{meta_line(ctx)}'
        + f'<div class="{w.cls()}">{paragraphs(ctx, inserts)}{tail}</div></div>'
        + foot(ctx)
    )


def _at(ctx: Context) -> int:
    return ctx.w.rng.randint(0, max(0, len(ctx.article.html) - 2))


def piped(ctx: Context) -> str:
    """Links in one line separated by bars; a paragraph of links broken by <br>."""
    w = ctx.w
    first, second = ctx.blocks[0], ctx.blocks[1]
    label = f"<span>{escape(first.heading)}</span> " if first.heading else ""
    bar = (
        f'<div class="{w.cls(True)}">{label}'
        + " <span>|</span> ".join(ctx.link(e.article) for e in first.entries)
        + "</div>"
    )
    lines = "<br>".join(ctx.link(e.article) for e in second.entries)
    heading = f"<em>{escape(second.heading)}</em><br>" if second.heading else ""
    return _body(ctx, {_at(ctx): bar}, f"<p>{heading}{lines}</p>")


def numbered(ctx: Context) -> str:
    """Numbered lines with dates in brackets; a list of bold headlines with counters."""
    w = ctx.w
    first, second = ctx.blocks[0], ctx.blocks[-1]
    heading = f"<p><u>{escape(first.heading)}</u></p>" if first.heading else ""
    lines = "".join(
        f"<p>{i}. {ctx.link(e.article)} ({when(ctx, e.article)})</p>"
        for i, e in enumerate(first.entries, 1)
    )
    items = "".join(
        f'<li><a href="{e.article.path}"><strong>{escape(e.article.title)}</strong></a><br>'
        f"<span>{escape(w.views(e.views))}</span></li>"
        for e in second.entries
    )
    return _body(ctx, {_at(ctx): f"<ol>{items}</ol>"}, heading + lines)


def grid(ctx: Context) -> str:
    """Rows of a thumbnail column and a text column with a section and date line."""
    w = ctx.w
    sections = w.t["sections"]
    block = ctx.blocks[0]
    rows = "".join(
        f'<div class="{w.cls()}"><div class="{w.cls()}"><a href="{e.article.path}">'
        f'<img src="/g/{e.article.number}.png" alt="{escape(e.article.title)}"></a></div>'
        f'<div class="{w.cls()}">{ctx.link(e.article)}'
        f"<p>{escape(sections[e.article.section])}, {when(ctx, e.article)}</p></div></div>"
        for e in block.entries
    )
    heading = f"<h4>{escape(block.heading)}</h4>" if block.heading else ""
    return _body(ctx, {}, f'<div class="{w.cls(True)}">{heading}{rows}</div>')


def mixed(ctx: Context) -> str:
    """A labelled link and a pair of links between paragraphs; a headed run at the end."""
    first, last = ctx.blocks[0], ctx.blocks[-1]
    label = f"<strong>{escape(first.heading)}</strong> " if first.heading else ""
    inserts = {_at(ctx): f"<p>{label}{ctx.link(first.entries[0].article)}</p>"}
    if len(first.entries) >= 3:
        pair = f"<p>{ctx.link(first.entries[1].article)} — {ctx.link(first.entries[2].article)}</p>"
        inserts[_at(ctx)] = pair
    heading = f"<h3>{escape(last.heading)}</h3>" if last.heading else ""
    tail = heading + "".join(f"<p>{ctx.link(e.article)}</p>" for e in last.entries)
    return _body(ctx, inserts, tail)


IN_BODY: dict[str, Render] = {
    "piped": piped,
    "numbered": numbered,
    "grid": grid,
    "mixed": mixed,
}


# --- the late sealed set ------------------------------------------------------------------


def cardlist(ctx: Context) -> str:
    """Rows of a section label, a headline in <h5> and a meta line, after the text."""
    w = ctx.w
    sections = w.t["sections"]
    block = ctx.blocks[-1]
    rows = "".join(
        f'<div class="{w.cls()}"><span class="{w.cls()}">{escape(sections[e.article.section])}'
        f"</span><h5>{ctx.link(e.article)}</h5><div><span>{when(ctx, e.article)}</span> "
        f"<span>👁 {e.views}</span></div></div>"
        for e in block.entries
    )
    heading = f'<div class="{w.cls()}">{escape(block.heading)}</div>' if block.heading else ""
    return _body(ctx, {}, f"<section>{heading}{rows}</section>")


def dual(ctx: Context) -> str:
    """A bold heading paragraph right before a list of thumbnail-and-headline items."""
    w = ctx.w
    block = ctx.blocks[0]
    items = "".join(
        f'<li><a href="{e.article.path}"><span class="{w.cls()}"></span></a><div>'
        f"{ctx.link(e.article)}<div><small>{when(ctx, e.article)}</small></div></div></li>"
        for e in block.entries
    )
    heading = f"<p><b>{escape(block.heading)}</b></p>" if block.heading else ""
    return _body(ctx, {_at(ctx): heading + f'<ul class="{w.cls(True)}">{items}</ul>'}, "")


def embed(ctx: Context) -> str:
    """An embedded card of another article, with its lead, between paragraphs."""
    w = ctx.w
    block = ctx.blocks[0]
    e = block.entries[0]
    title = f'<div class="{w.cls()}">{escape(block.heading)}:</div>' if block.heading else ""
    card = (
        f'<div class="{w.cls(True)}">{title}{ctx.link(e.article)}'
        f'<p class="{w.cls()}">{escape(e.article.paragraphs[0])}</p></div>'
    )
    return _body(ctx, {_at(ctx): card}, "")


def alternating(ctx: Context) -> str:
    """Headline and date in sibling divs, one after the other, no heading."""
    block = ctx.blocks[-1]
    run = "".join(
        f"<div>{ctx.link(e.article)}</div><div>{when(ctx, e.article)}</div>" for e in block.entries
    )
    return _body(ctx, {}, run)


LATE: dict[str, Render] = {
    "cardlist": cardlist,
    "dual": dual,
    "embed": embed,
    "alternating": alternating,
}


# --- the final sealed set -----------------------------------------------------------------


def ribbon(ctx: Context) -> str:
    """A labelled line of headlines separated by commas between paragraphs; a list of
    headlines with the section in brackets after the text."""
    w = ctx.w
    sections = w.t["sections"]
    first, last = ctx.blocks[0], ctx.blocks[-1]
    label = f"<span>{escape(first.heading)}</span> " if first.heading else ""
    line = ", ".join(ctx.link(e.article) for e in first.entries[:3])
    items = "".join(
        f"<li>{ctx.link(e.article)} <i>({escape(sections[e.article.section])})</i></li>"
        for e in last.entries
    )
    return _body(ctx, {_at(ctx): f'<p class="{w.cls()}">{label}{line}</p>'}, f"<ul>{items}</ul>")


def stamped(ctx: Context) -> str:
    """Each headline with a date and counter line under it, in its own paragraph."""
    w = ctx.w
    block = ctx.blocks[-1]
    heading = f"<p><b>{escape(block.heading)}</b></p>" if block.heading else ""
    lines = "".join(
        f"<p>{ctx.link(e.article)}<br><span>{when(ctx, e.article)} · "
        f"{escape(w.views(e.views))}</span></p>"
        for e in block.entries
    )
    return _body(ctx, {}, heading + lines)


def dashed(ctx: Context) -> str:
    """Dash-bulleted headlines under a heading with a colon; a headline with a "more"
    link between paragraphs."""
    w = ctx.w
    first, last = ctx.blocks[0], ctx.blocks[-1]
    e = first.entries[0]
    more = f'<div class="{w.cls(True)}">{ctx.link(e.article)} <a href="{e.article.path}">'
    more += f"{escape(w.t['more'])}</a></div>"
    heading = f"<p>{escape(last.heading)}:</p>" if last.heading else ""
    lines = "".join(f"<p>— {ctx.link(x.article)}</p>" for x in last.entries)
    return _body(ctx, {_at(ctx): more}, heading + lines)


def headed(ctx: Context) -> str:
    """Headlines in <h5> with their dates in a paragraph under each, after the text."""
    block = ctx.blocks[-1]
    heading = f"<h4>{escape(block.heading)}</h4>" if block.heading else ""
    run = "".join(
        f"<h5>{ctx.link(e.article)}</h5><p><small>{when(ctx, e.article)}</small></p>"
        for e in block.entries
    )
    return _body(ctx, {}, heading + run)


FINAL: dict[str, Render] = {
    "ribbon": ribbon,
    "stamped": stamped,
    "dashed": dashed,
    "headed": headed,
}
