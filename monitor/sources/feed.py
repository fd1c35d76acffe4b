"""RSS 0.9x/1.0/2.0 and Atom feeds -> entries (feedparser, with guards around it), and
the reader of a feed source.

feedparser reads the whole document and costs about 0.55 ms an entry, so a huge feed is cut
to its first ``max_entries`` items (and ``max_bytes``) before parsing: the cut ends just after
the closing tag of the last kept item, then the elements still open at that point are closed,
so the shortened document stays well-formed and feedparser's fast strict parser reads it.

A feed shows its newest entries only. For history the reader follows the feed's own paging
where it has one: RFC 5005 (a feed-level link rel="next", or rel="prev-archive" for an
archived feed), else, for a feed whose generator is WordPress, its ``?paged=N`` pages. Past
those it walks the site's sitemaps.
"""

from __future__ import annotations

import io
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from html.entities import name2codepoint
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.html
from lxml import etree

from monitor.fetch import FetchResult
from monitor.sources import Entry, SourceError, reject_entity_declarations
from monitor.sources.paged import PagedReader
from monitor.urls import canonical_url

log = logging.getLogger("monitor.sources")

MAX_ENTRIES = 5000
MAX_BYTES = 5 * 1024 * 1024
SNIFF_BYTES = 64 * 1024  # the root element must start within this many bytes

FEED_ROOTS = frozenset({"rss", "rdf", "feed", "channel"})
# Elements after which a space goes, so "<p>a</p><p>b</p>" reads "a b", not "ab".
BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"blockquote", "section", "article", "figure", "figcaption", "pre", "hr", "dd", "dt"}
)

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
# Prolog items that may come before the root element.
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>)", re.S | re.I)
_ROOT = re.compile(r"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
# Markup in the part of the document before the first item, to know which elements are open.
_MARKUP = re.compile(
    rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<![^>]*>|<(/?)([^\s/>!?]+)[^>]*?(/?)>", re.S
)
_SPACES = re.compile(r"\s+")
_NAMED_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
PAGING_RELS = ("next", "prev-archive")  # RFC 5005: paged feeds, then archived feeds


@dataclass
class Feed:
    title: str | None
    entries: list[Entry]
    problem: str | None  # what was wrong when the XML was malformed but entries were read
    next: str | None = None  # the feed's next (older) page, when it is paged


def parse_feed(
    content: bytes,
    base_url: str,
    *,
    content_type: str = "",
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> Feed:
    """Entries of an RSS, RDF or Atom document, in feed order, URLs canonical.

    Raises SourceError "not_a_feed" for an HTML page or any body without a feed root, and
    "xml_entities" for a document that declares its own XML entities (entity expansion).
    """
    _check_is_feed(content, content_type)
    reject_entity_declarations(content)
    # Blank lines before "<?xml" (common with PHP sites) make the strict parser give up.
    body, cut_note = _cut(content.lstrip(b" \t\r\n"), max_entries, max_bytes)
    body = _html_entities_as_numbers(body)
    # Always say "XML" (servers often send text/html for feeds); keep the declared charset.
    charset = _charset(content_type)
    media = f"application/xml; charset={charset}" if charset else "application/xml"
    headers = {"content-location": base_url, "content-type": media}
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        raise SourceError(
            f"no RSS, RDF or Atom structure found{_served_as(content_type)}", reason="not_a_feed"
        )
    entries: list[Entry] = []
    seen: set[str] = set()
    for raw in parsed.entries:
        entry = _entry(raw, base_url)
        if entry is None or entry.url in seen:
            continue
        seen.add(entry.url)
        entries.append(entry)
        if len(entries) >= max_entries:
            break
    problem = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problem = f"{type(exc).__name__}: {exc}" if exc else "malformed XML"
    if cut_note:
        problem = f"{problem}; {cut_note}" if problem else cut_note
    title = _text(parsed.feed.get("title"), parsed.feed.get("title_detail"))
    nxt = _next_page(parsed.feed, base_url) if entries else None
    return Feed(title=title, entries=entries, problem=problem, next=nxt)


def _next_page(feed: Any, base_url: str) -> str | None:
    """The feed's next page: its RFC 5005 link, or WordPress's ``?paged=N`` convention."""
    here = base_url.split("#", 1)[0]
    for rel in PAGING_RELS:
        for link in feed.get("links") or []:
            href = link.get("href")
            if link.get("rel") == rel and href:
                url = urljoin(base_url, href)
                if urlsplit(url).scheme in ("http", "https") and url != here:
                    return url
    generator = f"{feed.get('generator') or ''} {(feed.get('generator_detail') or {}).get('href')}"
    if "wordpress" not in generator.lower():
        return None
    parts = urlsplit(base_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    page = query.get("paged", "1")
    query["paged"] = str(int(page) + 1 if page.isdigit() else 2)
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def _decode_head(content: bytes) -> str:
    head = content[:SNIFF_BYTES]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    if head[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a BOM
        return head.decode("utf-16-le" if head[0] else "utf-16-be", errors="replace")
    return head.decode("latin-1")  # enough to read ASCII markup names


def _root_name(content: bytes) -> str | None:
    """Local name of the root element (lower case), None if none starts the document."""
    head = _decode_head(content)
    pos = 0
    while m := _PROLOG.match(head, pos):
        if m.end() == pos:
            break
        pos = m.end()
    rest = head[pos:].lstrip()
    m = _ROOT.match(rest)
    return m.group(2).lower() if m else None


def _served_as(content_type: str) -> str:
    media = content_type.split(";")[0].strip()
    return f" (served as {media})" if media else ""


def _check_is_feed(content: bytes, content_type: str) -> None:
    if not content.strip():
        raise SourceError("empty body, not a feed", reason="not_a_feed")
    root = _root_name(content)
    if root is None:
        raise SourceError(
            f"body does not start with XML markup{_served_as(content_type)}", reason="not_a_feed"
        )
    if root == "html":
        raise SourceError(
            f"got an HTML page, not a feed{_served_as(content_type)}", reason="not_a_feed"
        )
    if root not in FEED_ROOTS:
        raise SourceError(
            f"root element <{root}> is not RSS, RDF or Atom{_served_as(content_type)}",
            reason="not_a_feed",
        )


def _cut(content: bytes, max_entries: int, max_bytes: int) -> tuple[bytes, str | None]:
    """The document shortened to at most max_entries items and about max_bytes, closed."""
    if max_entries <= 0:
        max_entries = 1
    end = 0
    count = 0
    for m in _ITEM_END.finditer(content):
        if count >= max_entries or (count and m.end() > max_bytes):
            break
        count += 1
        end = m.end()
    else:
        return content, None  # the whole document is within both bounds
    first = _ITEM_START.search(content)
    if not end or not first or first.start() > end:
        return content, None
    still_open = _open_elements(content[: first.start()])
    closing = b"".join(b"</" + name + b">" for name in reversed(still_open))
    note = f"feed cut after {count} entries ({end} bytes) to bound parsing cost"
    return content[:end] + closing, note


def _open_elements(head: bytes) -> list[bytes]:
    stack: list[bytes] = []
    for m in _MARKUP.finditer(head):
        name = m.group(2)
        if not name or m.group(3):  # comment, CDATA, PI, declaration or <empty/>
            continue
        if m.group(1):
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
        else:
            stack.append(name)
    return stack


def _html_entities_as_numbers(body: bytes) -> bytes:
    """Write HTML named entities ("&nbsp;", "&eacute;") as character references.

    XML knows only five named entities; feeds (RSS 0.91 above all) use HTML ones, which
    would send feedparser to its slower loose parser and flag the feed as malformed.
    """

    def number(m: re.Match[bytes]) -> bytes:
        name = m.group(1)
        if name in _XML_ENTITIES:
            return m.group(0)
        codepoint = name2codepoint.get(name.decode("ascii"))
        return b"&#%d;" % codepoint if codepoint else m.group(0)

    return _NAMED_ENTITY.sub(number, body)


def _charset(content_type: str) -> str | None:
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    return charset.strip() if isinstance(charset, str) and charset.strip() else None


def _entry(raw: Any, base_url: str) -> Entry | None:
    url = _entry_url(raw, base_url)
    if url is None:
        return None
    summary_detail = raw.get("summary_detail")
    summary = _text(raw.get("summary"), summary_detail)
    if not summary and raw.get("content"):
        first = raw["content"][0]
        summary = _text(first.get("value"), first)
    return Entry(
        url=url,
        title=_text(raw.get("title"), raw.get("title_detail")),
        published=_date(raw),
        summary=summary,
    )


def _entry_url(raw: Any, base_url: str) -> str | None:
    candidates: list[str] = []
    if raw.get("link"):
        candidates.append(raw["link"])
    for link in raw.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            candidates.append(link["href"])
    if raw.get("id"):
        candidates.append(raw["id"])
    for candidate in candidates:
        url = canonical_url(candidate, base=base_url)
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            return url
    return None


def _date(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value: time.struct_time | None = raw.get(key)
        if value:
            try:
                return datetime(*value[:6], tzinfo=UTC)
            except ValueError:
                continue
    return None


def _text(value: str | None, detail: Any = None) -> str | None:
    """Plain text of a feed text construct: HTML stripped, entities read, spaces collapsed."""
    if not value:
        return None
    kind = (detail or {}).get("type", "text/html")
    text = value if kind == "text/plain" else html_to_text(value)
    text = _SPACES.sub(" ", text).strip()
    return text or None


def html_to_text(markup: str) -> str:
    """Text of an HTML fragment, with a space where block elements meet."""
    if "<" not in markup and "&" not in markup:
        return markup
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return markup
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in ("script", "style"):
            el.text = ""
        elif el.tag in BLOCK_TAGS:
            el.tail = " " + (el.tail or "")
            el.text = " " + (el.text or "")
    return str(root.text_content())


# --- the reader --------------------------------------------------------------------------


class FeedReader(PagedReader):
    """A feed source: the feed now; for history its older pages, then the site's sitemaps."""

    route = "feed"
    accept = "feed"

    def parse(self, res: FetchResult, page_no: int) -> tuple[list[Entry], str | None]:
        feed = parse_feed(res.content, res.url, content_type=res.content_type)
        if feed.problem:
            log.warning("%s: feed is malformed but was read: %s", self.source.name, feed.problem)
        return feed.entries, feed.next
