"""Article text, title, date and language from an HTML page (trafilatura plus fallbacks).

trafilatura finds the article body; with ``favor_precision`` few furniture lines survive,
and the rest are dropped with the per-language lists in ``data/boilerplate.toml``. The
publication date comes from the page's own metadata (meta tags, JSON-LD, <time> in the
article), then the feed entry, the URL and finally a date written beside the title: never
from htmldate on the whole page, which picked dates from "latest news" sidebars.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from html import unescape
from importlib import resources
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura import metadata as trafilatura_metadata
from trafilatura.settings import Document
from trafilatura.utils import load_html

from monitor.dates import DateMatch, find_date_in_text, iter_dates, parse_date
from monitor.extracted import Extracted, PageTooComplex
from monitor.language import detect
from monitor.link_blocks import drop_link_blocks
from monitor.urls import url_date

BOILERPLATE_FILE = "data/boilerplate.toml"

MAX_FIELD_CHARS = 10_000  # a title or author longer than this is not one
MIN_PROSE_CHARS = 60  # a page is an article only if some line this long reads as prose
TITLE_WINDOW_BEFORE = 200  # characters of page text before the title searched for its date
TITLE_WINDOW_AFTER = 300  # ... and after it
DATE_LINE_DIGIT_SPAN = 25
SHORT_DATE_LINE_REST = 40  # "13.01.2026, 13:31 636": a date and a little more is furniture

# Meta tags carrying the publication time, by property/name/itemprop (lower case).
PUBLISHED_META_KEYS = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "datepublished",
    "published_time",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "pubdate",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "article.published",
    "date",
)

_TITLE_SEPARATORS = re.compile(r"\s+[|–—:»·-]\s+|\s*::\s*")
_PROSE_END = re.compile(r"[.!?…؟۔][\"'»”’)]*$")
_SENTENCE_INSIDE = re.compile(r"[.!?]\s+\S")
# Apostrophes and letter variants folded to one form. No replacement is itself replaced, so
# a replace() per character present gives what str.translate would, several times faster
# on non-Latin text (translate looks up every character of the line in a dict).
_FOLDED_CHARS = tuple((c, "'") for c in "‘’ʻʼ`´ʹ") + (
    ("ي", "ی"), ("ك", "ک"), ("ى", "ی"), ("ё", "е"), ("\u200c", " "),
)  # fmt: skip
_LEADING_MARKS = " \t•·-–—►▶»>*|+"
_LABEL_MARKS = ":：-–—|»›/,."


# --- boilerplate lines -------------------------------------------------------------------


def _fold(text: str, *, strip_marks: bool = True) -> str:
    """A line reduced for comparison: case, apostrophes, letter variants, spacing."""
    text = unicodedata.normalize("NFC", text).casefold().replace("\u0307", "")
    for char, folded in _FOLDED_CHARS:
        if char in text:
            text = text.replace(char, folded)
    text = " ".join(text.split())
    return text.strip(_LEADING_MARKS) if strip_marks else text


@dataclass(frozen=True)
class BoilerplateRules:
    """The lists of ``data/boilerplate.toml``, folded and merged over all languages."""

    phrases: dict[str, tuple[str, ...]]  # by first character, longest first
    sections: frozenset[str]
    tokens: frozenset[str]
    counter: re.Pattern[str]
    max_line_chars: int
    section_line_chars: int

    @classmethod
    def from_toml(cls, raw: str) -> BoilerplateRules:
        data = tomllib.loads(raw)
        phrases: set[str] = set()
        sections: set[str] = set()
        tokens: set[str] = set()
        counter_words: set[str] = set()
        for value in data.values():
            if not isinstance(value, dict):
                continue
            phrases.update(_fold(p) for p in value.get("phrases", []))
            sections.update(_fold(p).rstrip(":") for p in value.get("sections", []))
            tokens.update(_fold(p, strip_marks=False) for p in value.get("tokens", []))
            counter_words.update(_fold(p) for p in value.get("counter_words", []))
        words = "|".join(re.escape(w) for w in sorted(counter_words, key=len, reverse=True))
        counter = re.compile(
            rf"^(?:(?:{words})\s*:?\s*)?\d[\d\s.,]*(?:k|к|тыс\.?)?\s*(?:{words})?\.?$"
        )
        by_initial: dict[str, list[str]] = {}
        for phrase in sorted(phrases, key=len, reverse=True):
            by_initial.setdefault(phrase[0], []).append(phrase)
        return cls(
            phrases={initial: tuple(group) for initial, group in by_initial.items()},
            sections=frozenset(sections),
            tokens=frozenset(tokens),
            counter=counter,
            max_line_chars=int(data["max_line_chars"]),
            section_line_chars=int(data["section_line_chars"]),
        )

    def is_phrase_line(self, folded: str) -> bool:
        if not folded or len(folded) > self.max_line_chars:
            return False
        for phrase in self.phrases.get(folded[0], ()):
            if not folded.startswith(phrase):
                continue
            rest = folded[len(phrase) :]
            if not phrase[-1].isalnum():  # "©2025", "фото:пресс-служба"
                return True
            if not any(ch.isalnum() for ch in rest) or rest[0] in _LABEL_MARKS:
                return True
            # "читайте также Заголовок", "Copyright 2025 ...": not "Share prices rose"
            if rest[0] == " " and (" " in phrase or rest[1:2].isdigit()):
                return True
        return False

    def is_token_line(self, unstripped: str) -> bool:
        """``unstripped``: the line folded without removing its leading/trailing marks."""
        words = [w.strip(":,.!") for w in unstripped.split()]
        words = [w for w in words if w]
        return bool(words) and all(w in self.tokens for w in words)

    def is_section_heading(self, folded: str) -> bool:
        return folded.rstrip(": ") in self.sections


@lru_cache(maxsize=1)
def boilerplate_rules() -> BoilerplateRules:
    """The rules from the packaged data file (read once)."""
    raw = resources.files("monitor").joinpath(BOILERPLATE_FILE).read_text(encoding="utf-8")
    return BoilerplateRules.from_toml(raw)


def _looks_like_prose(line: str) -> bool:
    line = line.strip()
    return len(line) >= MIN_PROSE_CHARS and bool(
        _PROSE_END.search(line) or _SENTENCE_INSIDE.search(line)
    )


def _is_date_line(line: str) -> bool:
    """A line led by a date that is a dateline or another story's date and headline."""
    if not any(ch.isdigit() for ch in line[:DATE_LINE_DIGIT_SPAN]):
        return False  # cheap test first: every date form has its day within this span
    first: DateMatch | None = next(iter_dates(line[:60]), None)
    if first is None or first.start > 2:
        return False
    rest = line[first.end :].strip(" ,|/·-–—")
    if len(rest) <= SHORT_DATE_LINE_REST and not _looks_like_prose(rest):
        return True
    has_time = ":" in line[first.start : first.end]
    return (
        has_time
        and len(rest) <= boilerplate_rules().section_line_chars
        and not (_PROSE_END.search(rest))
    )


def strip_boilerplate(text: str, title: str | None = None) -> str:
    """``text`` without the lines that are page furniture rather than article.

    Only whole lines go, and only short ones or ones matching a listed pattern exactly:
    the title printed again, "read also" lines, photo credits, view counters, datelines,
    share buttons, copyright notices and "related news" blocks.
    """
    rules = boilerplate_rules()
    folded_title = _fold(title) if title else None
    kept: list[str] = []
    in_section = False
    for line in text.splitlines():
        stripped = line.strip()
        unstripped = _fold(stripped, strip_marks=False)
        folded = unstripped.strip(_LEADING_MARKS)
        if not folded:
            continue
        if rules.is_section_heading(folded):
            in_section = True
            continue
        if in_section:
            if len(stripped) <= rules.section_line_chars and not _PROSE_END.search(stripped):
                continue
            in_section = False
        if (
            folded == folded_title
            or rules.counter.match(folded)
            or rules.is_phrase_line(folded)
            or rules.is_token_line(unstripped)
            or _is_date_line(stripped.lstrip(_LEADING_MARKS))
        ):
            continue
        kept.append(stripped)
    return "\n".join(kept)


# --- title, canonical URL ----------------------------------------------------------------


def _clean_space(text: str) -> str:
    return " ".join(text.split())


def _headings(tree: HtmlElement) -> list[str]:
    return [t for t in (_clean_space(h.text_content()) for h in tree.iter("h1")) if t]


def clean_title(title: str | None, sitename: str | None, headings: list[str]) -> str | None:
    """The article title without a " | Site name" part."""
    if not title:
        return headings[0] if headings else None
    title = _clean_space(title)
    for heading in headings:
        if title == heading:
            return title
        if title.startswith(heading) and _TITLE_SEPARATORS.match(title, len(heading)):
            return heading
        if title.endswith(heading) and _TITLE_SEPARATORS.search(title[: -len(heading)] + " "):
            return heading
    if sitename:
        parts = _TITLE_SEPARATORS.split(title)
        rest = [p for p in parts if _fold(p) != _fold(sitename)]
        if rest and len(rest) < len(parts):
            return " – ".join(rest)
    # " | " separates a site's name far more often than it belongs to a headline
    head, bar, tail = title.rpartition(" | ")
    if bar and head and len(tail) < len(head):
        return head.strip()
    return title


def canonical_url(tree: HtmlElement, url: str) -> str | None:
    """<link rel=canonical> or og:url, made absolute against the page URL."""
    candidates = [
        link.get("href")
        for link in tree.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    candidates += [
        meta.get("content")
        for meta in tree.iter("meta")
        if (meta.get("property") or meta.get("name") or "").lower() == "og:url"
    ]
    for href in candidates:
        if href and href.strip():
            absolute = urljoin(url, href.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return None


# --- dates -------------------------------------------------------------------------------


def _json_ld_values(node: Any, key: str) -> Iterator[str]:
    if isinstance(node, dict):
        value = node.get(key)
        if isinstance(value, str):
            yield value
        for child in node.values():
            yield from _json_ld_values(child, key)
    elif isinstance(node, list):
        for child in node:
            yield from _json_ld_values(child, key)


# Compiled once: tree.xpath(string) compiles its expression again on every call.
_ITEMPROP_DATES = etree.XPath('//*[@itemprop="datePublished"]')
_TIME_DATES = etree.XPath("//article//time[@datetime] | //time[@pubdate][@datetime]")


def _metadata_date_strings(tree: HtmlElement) -> Iterator[str]:
    """Publication-time strings the page states about itself, most explicit first."""
    by_key: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        content = meta.get("content")
        if key in PUBLISHED_META_KEYS and content and key not in by_key:
            by_key[key] = content
    for key in PUBLISHED_META_KEYS:
        if key in by_key:
            yield by_key[key]
    for script in tree.iter("script"):
        if (script.get("type") or "").lower() == "application/ld+json" and script.text:
            try:
                data = json.loads(script.text)
            except ValueError:
                continue
            yield from _json_ld_values(data, "datePublished")
    for element in _ITEMPROP_DATES(tree):
        value = element.get("datetime") or element.get("content") or element.text_content()
        if value:
            yield value
    for time in _TIME_DATES(tree):
        yield time.get("datetime")


def metadata_date(tree: HtmlElement) -> datetime | None:
    """The publication date from meta tags, JSON-LD, microdata or <time> in the article."""
    for value in _metadata_date_strings(tree):
        parsed = parse_date(value)
        if parsed:
            return parsed
    return None


def date_from_url(url: str) -> datetime | None:
    """A full date written in the article's URL, as midnight UTC of that day."""
    day = url_date(url)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


_INVISIBLE = frozenset({"script", "style", "noscript", "template"})


def _visible_text(tree: HtmlElement) -> str:
    """The page's text in document order, one text node a line, without scripts."""
    body = tree.find("body")
    if body is None:
        return ""
    parts: list[str] = []
    for event, element in etree.iterwalk(body, events=("start", "end")):
        if event == "start":
            if isinstance(element.tag, str) and element.tag not in _INVISIBLE and element.text:
                parts.append(element.text)
        elif element.tail and element is not body:
            parts.append(element.tail)
    return "\n".join(p.strip() for p in parts if p.strip())


def date_beside_title(page_text: str, title: str | None) -> datetime | None:
    """The date written closest to the title in the page's text (before or after it)."""
    if not title:
        return None
    position = page_text.find(title)
    if position < 0:
        return None
    title_end = position + len(title)
    start = max(0, position - TITLE_WINDOW_BEFORE)
    window = page_text[start : title_end + TITLE_WINDOW_AFTER]
    title_start, title_stop = position - start, title_end - start
    best: tuple[int, datetime] | None = None
    for found in iter_dates(window):
        if found.end <= title_start:
            distance = title_start - found.end
        elif found.start >= title_stop:
            distance = found.start - title_stop
        else:
            continue
        if best is None or distance < best[0]:
            best = (distance, found.value)
    return best[1] if best else None


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# --- the stage ---------------------------------------------------------------------------


def _bare_extraction(tree: HtmlElement, url: str) -> Document | None:
    """The article body. trafilatura's own metadata pass is skipped: it costs as much as
    the body extraction (a byline search over a copy of the whole page, htmldate,
    categories, licence), and ``_page_metadata`` reads the fields used here."""
    result = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
    )
    return result if isinstance(result, Document) else None


def _page_metadata(tree: HtmlElement) -> Document:
    """Title, site name and author from the page's meta tags and JSON-LD (trafilatura's
    readers), the title falling back to <h1> and <title>. The author is what the page
    declares; bylines are not searched for in the body."""
    meta = trafilatura_metadata.examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # a login name or handle, not a person's name
    # Odd JSON-LD can raise inside trafilatura's reader; the meta tags still count.
    with contextlib.suppress(Exception):
        meta = trafilatura_metadata.extract_meta_json(tree, meta)
    if not meta.title:
        meta.title = trafilatura_metadata.extract_title(tree)
    if not meta.sitename:
        meta.sitename = trafilatura_metadata.extract_sitename(tree)
    # What trafilatura's metadata pass did last (Document.clean_and_trim), written out
    # because that also deletes Persian non-joiners: entities decoded ("Rock &amp; Roll" in
    # JSON-LD), spaces collapsed, length capped; "@agency" (twitter:site) is a site name.
    meta.title = _clean_field(meta.title)
    meta.author = _clean_field(meta.author)
    meta.sitename = _clean_field((meta.sitename or "").lstrip("@"))
    return meta


def _clean_field(value: str | None) -> str | None:
    if not value:
        return None
    return " ".join(unescape(value[:MAX_FIELD_CHARS]).split()) or None


# trafilatura drops characters that are not printable, and with them the zero-width
# non-joiner that Persian writes inside words (رئیس‌جمهور, همکاری‌ها). While it works, the
# non-joiner stands in the tree as a letter no news text uses, and is put back after.
ZWNJ = "\u200c"
_ZWNJ_STAND_IN = "\ua78f"  # LATIN LETTER SINOLOGICAL DOT: printable, joins like a letter
_ZWNJ_ENTITY = re.compile("&#0*8204;|&#[xX]0*200[cC];")


def _has_zwnj(html: str) -> bool:
    # Substring tests first: a regex scan of a whole page costs as much as a tenth of its
    # extraction, and nearly every page has some "&#", few the digits of this one.
    if ZWNJ in html or "&zwnj;" in html:
        return True
    if "8204;" in html or "200c;" in html or "200C;" in html:
        return bool(_ZWNJ_ENTITY.search(html))
    return False


def _swap_in_tree(tree: HtmlElement, old: str, new: str) -> None:
    for element in tree.iter():
        if element.text and old in element.text:
            element.text = element.text.replace(old, new)
        if element.tail and old in element.tail:
            element.tail = element.tail.replace(old, new)


def _unswap(value: str | None) -> str | None:
    return value.replace(_ZWNJ_STAND_IN, ZWNJ) if value else value


# Elements trafilatura removes before extraction anyway; their text is never article text.
# Not <footer> (an article's own may carry its date) nor <form> (some sites wrap the whole
# page in one); trafilatura still drops those.
_NEVER_TEXT = ("script", "style", "noscript", "svg", "nav", "aside", "menu")


def _read_page(
    tree: HtmlElement, url: str, html: str, canonical: str | None
) -> tuple[Document | None, Document]:
    """(article body, page metadata with the cleaned title), with Persian non-joiners kept
    in both. Removes scripts, styles, menus, side blocks and blocks listing other articles
    from ``tree``: read its JSON-LD and dates before."""
    swap = _has_zwnj(html)
    if swap:
        _swap_in_tree(tree, ZWNJ, _ZWNJ_STAND_IN)
    try:
        meta = _page_metadata(tree)
        headings = [h.replace(_ZWNJ_STAND_IN, ZWNJ) for h in _headings(tree)]
        meta.title = clean_title(_unswap(meta.title), _unswap(meta.sitename), headings)
        # Dropped now rather than inside trafilatura, which copies the whole tree (inline
        # scripts and styles are often most of a page's bytes, menus most of its elements)
        # and runs slow searches over it. Its fallback, readability, reads that raw tree
        # and would otherwise take a long side block of teasers for the article.
        etree.strip_elements(tree, *_NEVER_TEXT, with_tail=False)
        drop_link_blocks(tree, url, also=[canonical] if canonical else [], title=meta.title)
        document = _bare_extraction(tree, url)
    finally:
        if swap:
            _swap_in_tree(tree, _ZWNJ_STAND_IN, ZWNJ)
    if swap:
        for doc in (document, meta):
            for field in ("text", "title", "sitename", "author"):
                value = getattr(doc, field, None) if doc is not None else None
                if value:
                    setattr(doc, field, _unswap(value))
    return document, meta


# News pages carry 1,000-5,000 elements; extraction time grows with their number (a
# 200,000-element page took a minute), so a page far past that is refused, not parsed.
MAX_ELEMENTS = 60_000


# libxml2 stops parsing HTML at 256 levels of nesting and keeps only what it read so far,
# so a tree that deep is a page it gave up on (news pages nest 20-40 levels).
MAX_DEPTH = 255


# An element with MAX_DEPTH ancestors, found level by level: one pass over the tree, where
# counting every element's ancestors costs its depth each.
_TOO_DEEP = etree.XPath("boolean(" + "/*" * (MAX_DEPTH + 1) + ")")
_COUNT_ELEMENTS = etree.XPath("count(//*)")


def _size(tree: HtmlElement) -> tuple[int, bool]:
    """(number of elements, whether any is nested deeper than MAX_DEPTH) of a parsed page."""
    elements = int(_COUNT_ELEMENTS(tree))
    return elements, bool(_TOO_DEEP(tree.getroottree()))


def extract(
    html: str,
    url: str,
    *,
    feed_date: datetime | None = None,
    language_hint: str | None = None,
) -> Extracted | None:
    """The article on an HTML page, or None when the page has no article text.

    Pure: no I/O. ``feed_date`` (from the feed entry or sitemap) is used when the page
    states no date of its own; ``language_hint`` (the source's language) only settles
    texts too short or too ambiguous to identify.
    """
    if not html or not html.strip():
        return None
    tree = load_html(html)
    if tree is None:
        return None
    elements, too_deep = _size(tree)
    if elements > MAX_ELEMENTS:
        raise PageTooComplex(f"{url}: {elements:,} HTML elements, more than {MAX_ELEMENTS:,}")
    if too_deep:
        raise PageTooComplex(f"{url}: HTML nested more than {MAX_DEPTH} levels deep")
    declared_date = metadata_date(tree)  # JSON-LD is in scripts, which go next
    canonical = canonical_url(tree, url)
    document, meta = _read_page(tree, url, html, canonical)
    if document is None or not document.text:
        return None
    title = meta.title
    text = strip_boilerplate(document.text, title)
    if not any(_looks_like_prose(line) for line in text.splitlines()):
        return None  # an index of links or a stub, not an article
    language = detect(text, hint=language_hint)
    published = (
        declared_date
        or _as_utc(feed_date)
        or date_from_url(url)
        or date_beside_title(_visible_text(tree), title)
        or find_date_in_text(document.text, language)
    )
    return Extracted(
        text=text,
        title=title,
        author=meta.author,
        published=published,
        language=language,
        canonical_url=canonical,
    )
