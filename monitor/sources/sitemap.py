"""Sitemaps (urlset, sitemap index, Google News, gzip, plain text) and URL dates.

XML is parsed with lxml without entity expansion, DTD loading or network access, so an
entity bomb stays a few bytes of unexpanded references; gzip is inflated in bounded steps.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree

from monitor.sources import Entry, SourceError
from monitor.sources.feed import reject_entity_declarations
from monitor.urls import canonical_url

MAX_INFLATED_BYTES = 50 * 1024 * 1024  # the sitemap protocol allows 50 MB uncompressed
INFLATE_CHUNK = 1024 * 1024
EARLIEST_URL_YEAR = 1995
LATEST_URL_YEAR = 2100

_GZIP_MAGIC = b"\x1f\x8b"
_W3C_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_ROBOTS_SITEMAP = re.compile(r"^\s*sitemap\s*:\s*(\S+)", re.I)

# Dates in article URLs, most specific first. Each needs a separator or the end after it,
# so "/2024/03/051234" or "/20240305123" (numeric ids) are not read as dates.
_URL_DATE_PATTERNS = (
    re.compile(r"/(\d{4})/(\d{1,2})/(\d{1,2})(?=[/_.-]|$)"),
    re.compile(r"(?<![\d])(\d{4})-(\d{2})-(\d{2})(?=[/_.-]|$)"),
    re.compile(r"/(\d{4})(\d{2})(\d{2})(?=[/_.-]|$)"),
)
_QUERY_DATE = re.compile(r"(?:^|&)[^=&]*=(\d{4})-(\d{2})-(\d{2})(?=&|$)")
_URL_MONTH = re.compile(r"/(\d{4})/(\d{1,2})(?=/|$)")


@dataclass
class Sitemap:
    entries: list[Entry]
    sitemaps: list[str]  # child sitemap URLs of a sitemap index


def parse_sitemap(content: bytes, base_url: str) -> Sitemap:
    """Entries and child sitemaps of a sitemap document (gzipped or not).

    Raises SourceError "too_large" (inflates beyond MAX_INFLATED_BYTES), "bad_xml" (not
    well-formed) or "not_a_sitemap" (well-formed XML of some other kind, e.g. an HTML page).
    """
    if content[:2] == _GZIP_MAGIC:
        content = _gunzip(content, MAX_INFLATED_BYTES)
    text_start = content.lstrip()[:1]
    if text_start and text_start != b"<" and not content.startswith(b"\xef\xbb\xbf<"):
        return Sitemap(entries=_plain_text_entries(content, base_url), sitemaps=[])
    reject_entity_declarations(content)
    root = _parse_xml(content)
    kind = etree.QName(root).localname.lower()
    if kind == "urlset":
        return Sitemap(entries=_url_entries(root, base_url), sitemaps=[])
    if kind == "sitemapindex":
        return Sitemap(entries=[], sitemaps=_child_sitemaps(root, base_url))
    raise SourceError(
        f"root element <{kind}> is neither <urlset> nor <sitemapindex>", reason="not_a_sitemap"
    )


def sitemaps_from_robots(robots_txt: str, base_url: str) -> list[str]:
    """Sitemap URLs named by "Sitemap:" lines of a robots.txt, in order, without repeats."""
    found: list[str] = []
    for line in robots_txt.splitlines():
        m = _ROBOTS_SITEMAP.match(line.split("#", 1)[0])
        if not m:
            continue
        url = urljoin(base_url, m.group(1))
        if _is_http(url) and url not in found:
            found.append(url)
    return found


def date_from_url(url: str) -> date | None:
    """The publication date written in an article URL, if it clearly has one.

    /2024/03/05/, /2024-03-05-slug, /20240305/, ?date=2024-03-05, and /2024/03/ (read as
    the first of the month). Impossible dates and years outside 1995..2100 give None.
    """
    parts = urlsplit(url)
    full_date_seen = False
    for pattern in _URL_DATE_PATTERNS:
        for m in pattern.finditer(parts.path):
            found = _date(m.group(1), m.group(2), m.group(3))
            if found:
                return found
            full_date_seen = True
    for m in _QUERY_DATE.finditer(parts.query):
        found = _date(m.group(1), m.group(2), m.group(3))
        if found:
            return found
    if full_date_seen:
        return None  # "/2024/02/30/" is a broken date, not February
    for m in _URL_MONTH.finditer(parts.path):
        found = _date(m.group(1), m.group(2), "1")
        if found:
            return found
    return None


def _date(year: str, month: str, day: str) -> date | None:
    y = int(year)
    if not EARLIEST_URL_YEAR <= y <= LATEST_URL_YEAR:
        return None
    try:
        return date(y, int(month), int(day))
    except ValueError:
        return None


def _gunzip(content: bytes, limit: int) -> bytes:
    """Inflate a gzip body, refusing to produce more than `limit` bytes (gzip bombs)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    data = content
    try:
        while data:
            out += inflater.decompress(data, INFLATE_CHUNK)
            if len(out) > limit:
                raise SourceError(
                    f"gzipped sitemap inflates to more than {limit} bytes; refused",
                    reason="too_large",
                )
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as e:
        raise SourceError(f"broken gzip data: {e}", reason="bad_xml") from None
    return bytes(out)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _parse_xml(content: bytes) -> etree._Element:
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as e:
        raise SourceError(f"sitemap is not well-formed XML: {e}", reason="bad_xml") from None
    if root is None:
        raise SourceError("sitemap is empty", reason="bad_xml")
    return root


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    """Child elements with local name `name`, whatever their namespace."""
    return [c for c in el if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _child_text(el: etree._Element, name: str) -> str | None:
    for child in _children(el, name):
        text = "".join(child.itertext()).strip()
        if text:
            return text
    return None


def _url_entries(root: etree._Element, base_url: str) -> list[Entry]:
    entries: list[Entry] = []
    seen: set[str] = set()
    for node in _children(root, "url"):
        loc = _child_text(node, "loc")
        if not loc:
            continue
        url = canonical_url(loc, base=base_url)
        if not _is_http(url) or url in seen:
            continue
        seen.add(url)
        title = None
        published = None
        for news in _children(node, "news"):
            title = title or _child_text(news, "title")
            published = published or _w3c_datetime(_child_text(news, "publication_date"))
        if published is None:
            published = _w3c_datetime(_child_text(node, "lastmod"))
        entries.append(Entry(url=url, title=title, published=published))
    return entries


def _child_sitemaps(root: etree._Element, base_url: str) -> list[str]:
    found: list[str] = []
    for node in _children(root, "sitemap"):
        loc = _child_text(node, "loc")
        if loc:
            url = urljoin(base_url, loc)
            if _is_http(url) and url not in found:
                found.append(url)
    return found


def _plain_text_entries(content: bytes, base_url: str) -> list[Entry]:
    entries: list[Entry] = []
    seen: set[str] = set()
    for line in content.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines():
        line = line.strip()
        if not line.lower().startswith(("http://", "https://")):
            continue
        url = canonical_url(line, base=base_url)
        if _is_http(url) and url not in seen:
            seen.add(url)
            entries.append(Entry(url=url))
    return entries


def _w3c_datetime(value: str | None) -> datetime | None:
    """A W3C datetime ("2024", "2024-03", "2024-03-05", with time and zone) as aware UTC."""
    if not value:
        return None
    value = value.strip()
    m = _W3C_PARTIAL.match(value)
    if m:
        try:
            return datetime(int(m.group(1)), int(m.group(2) or 1), 1, tzinfo=UTC)
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
