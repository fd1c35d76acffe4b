"""Article links on an HTML listing page ("news", "press releases"), its next page, and the
reader of a listing source (the first page now; for history the next pages, then the site's
sitemaps).

Without a configured ``link_pattern`` a link is kept when it looks like an article link by
signals that hold across languages and site engines: it is outside page chrome (header,
nav, footer, aside, menus), it points to a deeper, slug-like or numbered URL of the same
site, its text reads like a headline rather than a menu label, and it sits in an item
(article, list item, card) with a date near it. Each signal adds to a score; links known
to be navigation by their URL (tags, categories, paging, login, search, files) never count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import (
    parse_qsl,
    unquote,
    urldefrag,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

import lxml.html
from lxml import etree

from monitor.dates import find_date_in_text, parse_date
from monitor.fetch import FetchResult
from monitor.sources import Entry
from monitor.sources.paged import PagedReader
from monitor.urls import canonical_url, same_site

ACCEPT_SCORE = 3
CARD_LEVELS = 6  # how far above a link its item (card, list row) may start
HEADLINE_WORDS = 4
HEADLINE_CHARS = 30
MIN_ID_DIGITS = 3
SLUG_SEPARATORS = 2

# Elements that hold site navigation rather than the listing itself.
CHROME_TAGS = frozenset({"nav", "aside", "menu"})
# header/footer are chrome only outside an article (an article may have its own header).
CHROME_TAGS_OUTSIDE_ARTICLE = frozenset({"header", "footer"})
CHROME_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "search"}
)
# Parts of class/id names (split on "-", "_" and spaces) that mark navigation blocks.
CHROME_CLASS_PARTS = frozenset(
    {
        "nav",
        "navbar",
        "navigation",
        "menu",
        "submenu",
        "breadcrumb",
        "breadcrumbs",
        "pagination",
        "pager",
        "sidebar",
        "social",
        "share",
        "sharing",
        "popular",
        "mostread",
        "trending",
        "tagcloud",
    }
)
ITEM_TAGS = frozenset({"article", "main", "li", "tr", "dd"})
ITEM_CLASS_PARTS = frozenset(
    {"news", "item", "post", "card", "article", "entry", "story", "teaser", "novost", "xabar"}
)
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Path segments of navigation pages, in English and common transliterations.
NAV_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "teg",
        "tegi",
        "category",
        "categories",
        "kategoriya",
        "rubric",
        "rubrics",
        "rubrika",
        "author",
        "authors",
        "avtor",
        "search",
        "poisk",
        "login",
        "logout",
        "signin",
        "signup",
        "register",
        "registration",
        "account",
        "profile",
        "cart",
        "subscribe",
        "feed",
        "rss",
        "page",
        "wp-admin",
        "wp-login.php",
        "cdn-cgi",
    }
)
# Query keys that make a URL a page of results rather than an article.
NAV_QUERY_KEYS = frozenset(
    {
        "page",
        "paged",
        "pg",
        "pagen_1",
        "start",
        "offset",
        "sort",
        "order",
        "orderby",
        "q",
        "query",
        "search",
        "s",
        "tag",
        "tags",
        "category",
        "filter",
        "print",
        "share",
        "replytocom",
    }
)
STATIC_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".svg",
        ".ico",
        ".bmp",
        ".tif",
        ".tiff",
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".rtf",
        ".zip",
        ".rar",
        ".7z",
        ".gz",
        ".mp3",
        ".mp4",
        ".avi",
        ".mov",
        ".webm",
        ".ogg",
        ".wav",
        ".css",
        ".js",
        ".json",
        ".xml",
        ".rss",
        ".txt",
        ".exe",
        ".apk",
    }
)
# Language prefixes ("/ru/", "/kaz/", "/uz-cyrl/") are not part of a URL's depth.
LANGUAGE_SEGMENT = re.compile(
    r"^(?:[a-z]{2}(?:[-_][a-z]{2,4})?|rus|kaz|eng|uzb|kir|kyr|tjk|taj|aze|tur|ara|fra|fre|qaz)$"
)
# Anchor texts (case-folded) of a "next page" link, in order of preference: words before
# arrows, and "»" last because pagers often use it for "last page" beside "›".
NEXT_LABELS: tuple[str, ...] = (
    "next",
    "next page",
    "older posts",
    "older entries",
    "следующая",
    "следующая страница",
    "следующий",
    "следующие",
    "далее",
    "вперед",
    "вперёд",
    "дальше",
    "келесі",
    "келесі бет",
    "кийинки",
    "кийинки бет",
    "keyingi",
    "keyingi sahifa",
    "кейинги",
    "кейинги саҳифа",
    "навбатӣ",
    "саҳифаи навбатӣ",
    "indiki",
    "növbəti",
    "növbəti səhifə",
    "sonraki",
    "sonraki sayfa",
    "suivant",
    "page suivante",
    "التالي",
    "الصفحة التالية",
    "بعدی",
    "صفحه بعد",
    "›",
    "→",
    ">",
    ">>",
    "»",
)
_LABEL_TRIM = " \t\n›»→>…·|-–—:"

_CLASS_SPLIT = re.compile(r"[\s_-]+")
_SPACES = re.compile(r"\s+")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_DIGIT_RUN = re.compile(r"\d+")
_ID_QUERY_KEY = re.compile(r"(?:^|_)id$|^id", re.I)


@dataclass
class _Link:
    url: str  # canonical
    absolute: str  # as resolved, before canonicalisation
    anchor: lxml.html.HtmlElement
    text: str
    chrome: bool
    class_chrome: bool


@dataclass
class _Found:
    url: str
    position: int
    title: str = ""
    score: int = -(10**6)
    published: datetime | None = None
    anchors: list[lxml.html.HtmlElement] = field(default_factory=list)


def parse_listing(html: str, base_url: str, *, link_pattern: str | None = None) -> list[Entry]:
    """Article entries linked from a listing page, in page order, without repeats.

    With ``link_pattern`` (a regular expression searched in each absolute link URL) every
    matching link of the same site is kept; otherwise a general article-link heuristic
    decides.
    """
    root = _parse_html(html)
    if root is None:
        return []
    base = _document_base(root, base_url)
    links = _links(root, base, base_url)
    if link_pattern is not None:
        pattern = re.compile(link_pattern)
        # Searched without the fragment, and in the canonical form too (so "\d+$" works and
        # a pattern may use either raw or percent-encoded non-ASCII letters).
        chosen = [
            link
            for link in links
            if pattern.search(urldefrag(link.absolute).url) or pattern.search(link.url)
        ]
        return _entries(_group(chosen), chosen)
    found = _choose(links, ignore_class_chrome=False)
    if not found:
        # A wrapper class such as "layout-with-sidebar" can hide a whole page: retry
        # trusting only the HTML elements and roles.
        found = _choose(links, ignore_class_chrome=True)
    return found


def next_page(
    html: str, base_url: str, *, page_pattern: str | None = None, page_no: int = 1
) -> str | None:
    """URL of the page after this listing page, or None.

    With ``page_pattern`` ("?page={n}", "/page/{n}/", or a full URL with {n}) the URL of
    page ``page_no + 1`` is built from ``base_url``. Otherwise <link rel="next">, then
    <a rel="next">, then a link labelled "next" in one of the project's languages.
    """
    if page_pattern:
        return _pattern_page(page_pattern, base_url, page_no + 1)
    root = _parse_html(html)
    if root is None:
        return None
    base = _document_base(root, base_url)
    here = canonical_url(base_url)

    def usable(href: str | None) -> str | None:
        if not href or href.strip().startswith("#"):
            return None
        url = urljoin(base, href.strip())
        if not _is_http(url) or not same_site(url, base_url) or canonical_url(url) == here:
            return None
        return url

    for el in root.iter("link", "a"):
        if "next" in (el.get("rel") or "").lower().split():
            url = usable(el.get("href"))
            if url:
                return url
    headline_urls = {
        canonical_url(urljoin(base, a.get("href", "")))
        for a in root.iter("a")
        if len(_anchor_text(a).split()) >= HEADLINE_WORDS
    }
    best: tuple[int, str] | None = None
    for a in root.iter("a"):
        rank = _next_label_rank(a)
        if rank is None or (best and rank >= best[0]):
            continue
        url = usable(a.get("href"))
        # "Далее" is also a "read more" link under a headline pointing to the same article.
        if url and canonical_url(url) not in headline_urls:
            best = (rank, url)
    return best[1] if best else None


def _parse_html(html: str) -> lxml.html.HtmlElement | None:
    if not html or not html.strip():
        return None
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        root = lxml.html.document_fromstring(html.encode("utf-8", errors="replace"), parser)
    except (etree.ParserError, ValueError):
        return None
    return root


def _document_base(root: lxml.html.HtmlElement, base_url: str) -> str:
    for el in root.iter("base"):
        href = el.get("href")
        if href:
            return urljoin(base_url, href.strip())
    return base_url


def _is_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _anchor_text(a: lxml.html.HtmlElement) -> str:
    text = _collapse(a.text_content())
    if text:
        return text
    for attr_owner in (a, *a.iter("img")):
        for attr in ("title", "alt", "aria-label"):
            value = _collapse(attr_owner.get(attr) or "")
            if value:
                return value
    return ""


def _class_parts(el: lxml.html.HtmlElement) -> set[str]:
    names = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return {part for part in _CLASS_SPLIT.split(names) if part}


def _is_chrome_element(el: lxml.html.HtmlElement) -> bool:
    if el.tag in CHROME_TAGS or (el.get("role") or "").lower() in CHROME_ROLES:
        return True
    if el.tag in CHROME_TAGS_OUTSIDE_ARTICLE:
        return not any(up.tag == "article" for up in el.iterancestors())
    return False


class _ChromeFinder:
    """Tells whether a link sits in page chrome.

    Elements (nav, aside, roles) are trusted. Class names are trusted only for a block that
    holds at most half of the page's links: "layout-with-sidebar" on a wrapper around the
    whole page names a layout, not a navigation block.
    """

    def __init__(self, root: lxml.html.HtmlElement) -> None:
        self.total_links = sum(1 for _ in root.iter("a"))
        self._by_class: dict[lxml.html.HtmlElement, bool] = {}

    def _class_chrome(self, el: lxml.html.HtmlElement) -> bool:
        known = self._by_class.get(el)
        if known is None:
            known = bool(_class_parts(el) & CHROME_CLASS_PARTS)
            if known:
                known = 2 * sum(1 for _ in el.iter("a")) <= self.total_links
            self._by_class[el] = known
        return known

    def __call__(self, a: lxml.html.HtmlElement) -> tuple[bool, bool]:
        """(inside navigation elements or roles, inside a block whose class says so)."""
        by_element = by_class = False
        for el in a.iterancestors():
            if not isinstance(el.tag, str) or el.tag in ("body", "html"):
                continue
            by_element = by_element or _is_chrome_element(el)
            by_class = by_class or self._class_chrome(el)
        return by_element, by_class


def _links(root: lxml.html.HtmlElement, base: str, base_url: str) -> list[_Link]:
    """Same-site http(s) links of the page, in document order (self-links left out)."""
    here = canonical_url(base_url)
    chrome = _ChromeFinder(root)
    out: list[_Link] = []
    for a in root.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        absolute = urljoin(base, href)
        if not _is_http(absolute) or not same_site(absolute, base_url):
            continue
        url = canonical_url(absolute)
        if url == here:
            continue
        by_element, by_class = chrome(a)
        out.append(_Link(url, absolute, a, _anchor_text(a), by_element, by_class))
    return out


def _content_segments(url: str) -> list[str]:
    """Path segments of a URL without empty ones and leading language codes."""
    segments = [unquote(s) for s in urlsplit(url).path.split("/") if s]
    while segments and LANGUAGE_SEGMENT.match(segments[0].lower()):
        segments = segments[1:]
    return segments


def _is_navigation_url(url: str) -> bool:
    parts = urlsplit(url)
    segments = _content_segments(url)
    if not segments and not parts.query:
        return True  # the home page or a language's home page
    lowered = [s.lower() for s in segments]
    if any(s in NAV_SEGMENTS for s in lowered):
        return True
    if lowered:
        last = lowered[-1]
        dot = last.rfind(".")
        if dot > 0 and last[dot:] in STATIC_EXTENSIONS:
            return True
    keys = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return bool(keys & NAV_QUERY_KEYS)


def _looks_like_article_url(url: str) -> bool:
    """A slug ("oic-summit-opens-in-baku"), a numeric id ("/news/48213", "?id=48213")."""
    segments = _content_segments(url)
    for key, value in parse_qsl(urlsplit(url).query):
        if _ID_QUERY_KEY.search(key) and value.isdigit():
            return True
    if not segments:
        return False
    last = segments[-1].rsplit(".", 1)[0] if "." in segments[-1] else segments[-1]
    if sum(last.count(sep) for sep in "-_") >= SLUG_SEPARATORS and any(c.isalpha() for c in last):
        return True
    for run in _DIGIT_RUN.findall(last):
        if len(run) >= MIN_ID_DIGITS and not (_YEAR.match(run) and run == last):
            return True
    return False


def _in_item(a: lxml.html.HtmlElement) -> bool:
    for depth, el in enumerate(a.iterancestors()):
        if depth >= CARD_LEVELS or not isinstance(el.tag, str):
            break
        if el.tag in ITEM_TAGS or _class_parts(el) & ITEM_CLASS_PARTS:
            return True
    return False


def _in_heading(a: lxml.html.HtmlElement) -> bool:
    return any(el.tag in HEADING_TAGS for el in a.iterancestors())


def _base_score(link: _Link) -> int:
    """Score from the link itself, before looking for a date around it."""
    score = 0
    words = len(link.text.split())
    if words >= HEADLINE_WORDS or len(link.text) >= HEADLINE_CHARS:
        score += 2
    elif words == 1:
        score -= 2  # "Новости", "Контакты", "Suivant": menu labels are one word
    depth = len(_content_segments(link.url))
    if _looks_like_article_url(link.url):
        score += 2
    elif depth <= 1:
        score -= 2  # "/ru/politics", "/about": a section, not an article
    if depth >= 2:
        score += 1
    if _in_item(link.anchor):
        score += 1
    if _in_heading(link.anchor):
        score += 1
    return score


# Elements are keys themselves, not id(): lxml creates element proxies on demand, so an id
# is only stable while something holds the proxy.
Owners = dict[lxml.html.HtmlElement, str | None]


def _card(a: lxml.html.HtmlElement, owner: Owners) -> lxml.html.HtmlElement:
    """The largest element around `a` that holds no other article's link (its card)."""
    url = owner.get(a)
    card = a
    for depth, el in enumerate(a.iterancestors()):
        if depth >= CARD_LEVELS or el.tag in ("body", "html"):
            break
        if owner.get(el, url) != url:
            break
        card = el
    return card


def _text_around(card: lxml.html.HtmlElement, skip: Iterable[lxml.html.HtmlElement]) -> str:
    """Text of a card without the text of the given anchors (a headline may hold a year)."""
    skipped = set(skip)
    parts: list[str] = []

    def walk(el: lxml.html.HtmlElement) -> None:
        if el not in skipped and el.tag not in ("script", "style"):
            parts.append(el.text or "")
            for child in el:
                if isinstance(child.tag, str):
                    walk(child)
                parts.append(child.tail or "")

    walk(card)
    return _collapse(" ".join(parts))


def _card_date(
    card: lxml.html.HtmlElement, anchors: list[lxml.html.HtmlElement]
) -> datetime | None:
    for el in card.iter("time"):
        stamp = el.get("datetime")
        if stamp:
            value = parse_date(stamp)
            if value:
                return value
    text = _text_around(card, anchors)
    return find_date_in_text(text) if text else None


def _owners(links: list[_Link]) -> Owners:
    """For each element the one article URL it contains, or None when it holds several."""
    owner: Owners = {}
    for link in links:
        for el in (link.anchor, *link.anchor.iterancestors()):
            if el not in owner:
                owner[el] = link.url
            elif owner[el] != link.url:
                owner[el] = None
    return owner


def _group(links: list[_Link]) -> dict[str, _Found]:
    found: dict[str, _Found] = {}
    for position, link in enumerate(links):
        item = found.setdefault(link.url, _Found(link.url, position))
        item.anchors.append(link.anchor)
        if len(link.text) > len(item.title):
            item.title = link.text
    return found


def _entries(found: dict[str, _Found], links: list[_Link]) -> list[Entry]:
    owner = _owners(links)
    entries = []
    for item in sorted(found.values(), key=lambda f: f.position):
        published = None
        for anchor in item.anchors:
            published = _card_date(_card(anchor, owner), item.anchors)
            if published:
                break
        entries.append(Entry(url=item.url, title=item.title or None, published=published))
    return entries


def _choose(links: list[_Link], *, ignore_class_chrome: bool) -> list[Entry]:
    usable = [
        link
        for link in links
        if not link.chrome
        and not (link.class_chrome and not ignore_class_chrome)
        and not _is_navigation_url(link.url)
    ]
    scores = [_base_score(link) for link in usable]
    # Cards are bounded by the links that could be articles, so a category label inside a
    # card does not split it.
    strong = [link for link, score in zip(usable, scores, strict=True) if score >= ACCEPT_SCORE - 1]
    owner = _owners(strong)
    found = _group(usable)
    for link, score in zip(usable, scores, strict=True):
        item = found[link.url]
        item.score = max(item.score, score)
    for item in found.values():
        if item.score == ACCEPT_SCORE - 1:
            for anchor in item.anchors:
                if _card_date(_card(anchor, owner), item.anchors):
                    item.score += 1
                    break
    accepted = {url: item for url, item in found.items() if item.score >= ACCEPT_SCORE}
    kept = [link for link in strong if link.url in accepted]
    return _entries(accepted, kept)


def _next_label_rank(a: lxml.html.HtmlElement) -> int | None:
    best: int | None = None
    texts = [_collapse(a.text_content())]
    texts += [_collapse(a.get(attr) or "") for attr in ("aria-label", "title")]
    for text in texts:
        if not text:
            continue
        folded = text.casefold()
        for candidate in (folded, folded.strip(_LABEL_TRIM)):
            if candidate in NEXT_LABELS:
                rank = NEXT_LABELS.index(candidate)
                best = rank if best is None else min(best, rank)
    return best


def _pattern_page(pattern: str, base_url: str, n: int) -> str:
    """Page `n` of a listing from a pattern such as "?page={n}" or "/page/{n}/"."""
    filled = pattern.replace("{n}", str(n))
    if "://" in pattern:
        return filled
    parts = urlsplit(base_url)
    if pattern.startswith(("?", "&")):
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(parse_qsl(filled.lstrip("?&"), keep_blank_values=True))
        return urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    # A path pattern replaces an existing page part of the path, or is appended to it.
    existing = re.escape(pattern).replace(re.escape("{n}"), r"\d+")
    path = re.sub(existing.rstrip("/") + "/?$", "", parts.path)
    path = path.rstrip("/") + ("" if filled.startswith("/") else "/") + filled
    return urlunsplit(parts._replace(path=path, fragment=""))


# --- the reader --------------------------------------------------------------------------


class ListingReader(PagedReader):
    """A listing source: its first page now; for history the next pages, then the site's
    sitemaps. Listing pages shift as articles appear, so a backfill never checkpoints
    them; a poll asks for them conditionally."""

    route = "listing"
    accept = "html"

    def parse(self, res: FetchResult, page_no: int) -> tuple[list[Entry], str | None]:
        source, html = self.source, res.text
        return (
            parse_listing(html, res.url, link_pattern=source.link_pattern),
            next_page(html, res.url, page_pattern=source.page_pattern, page_no=page_no),
        )
