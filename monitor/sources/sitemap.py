"""Sitemaps (urlset, sitemap index, Google News, gzip, plain text) and their reader.

XML is parsed with lxml without entity expansion, DTD loading or network access, so an
entity bomb stays a few bytes of unexpanded references; gzip is inflated in bounded steps.

The reader walks a sitemap index newest <lastmod> first and leaves out what cannot hold
anything new: a file last changed before the dates wanted, and (in a poll) a file whose
<lastmod> is the one it had when it was last read in full.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree

from monitor.config import Source
from monitor.fetch import FetchError
from monitor.sources import (
    DateRange,
    Entry,
    ListPage,
    SitemapRef,
    SourceError,
    Validators,
    reject_entity_declarations,
)
from monitor.sources.lists import Lists
from monitor.urls import canonical_url

MAX_INFLATED_BYTES = 50 * 1024 * 1024  # the sitemap protocol allows 50 MB uncompressed
INFLATE_CHUNK = 1024 * 1024
HISTORY_DEPTH = 5  # index -> index -> ... -> urlset
POLL_FILES = 50  # sitemap files one poll reads at most below its own

_GZIP_MAGIC = b"\x1f\x8b"
_W3C_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


@dataclass
class Sitemap:
    entries: list[Entry]
    sitemaps: list[SitemapRef]  # the children of a sitemap index, with their <lastmod>


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


def _child_sitemaps(root: etree._Element, base_url: str) -> list[SitemapRef]:
    found: dict[str, SitemapRef] = {}
    for node in _children(root, "sitemap"):
        loc = _child_text(node, "loc")
        if loc:
            url = urljoin(base_url, loc)
            if _is_http(url) and url not in found:
                lastmod = _w3c_datetime(_child_text(node, "lastmod"), partial=False)
                found[url] = SitemapRef(url, lastmod)
    return list(found.values())


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


def _w3c_datetime(value: str | None, *, partial: bool = True) -> datetime | None:
    """A W3C datetime ("2024", "2024-03", "2024-03-05", with time and zone) as aware UTC.

    ``partial=False`` leaves out "2024" and "2024-03": read as the 1st, a file's <lastmod>
    would seem to end a month before it does.
    """
    if not value:
        return None
    value = value.strip()
    m = _W3C_PARTIAL.match(value)
    if m:
        if not partial:
            return None
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


# --- the reader --------------------------------------------------------------------------


class SitemapReader:
    """A sitemap source: its own sitemap (or index) now, and for history also those the
    site names in robots.txt and at /sitemap.xml."""

    def __init__(self, source: Source, lists: Lists) -> None:
        self.source = source
        self.lists = lists

    async def latest(self) -> list[ListPage]:
        root = self.source.url
        walk = walk_sitemaps(self.lists, [root], DateRange(), own=root, files=POLL_FILES)
        return [page async for page in walk]

    async def history(
        self, window: DateRange, after: list[ListPage] | None = None
    ) -> AsyncIterator[ListPage]:
        roots = [self.source.url, *await self.lists.site_sitemaps()]
        own = None if after else self.source.url
        async for page in walk_sitemaps(self.lists, roots, window, own=own):
            yield page


async def site_sitemaps(lists: Lists, window: DateRange) -> AsyncIterator[ListPage]:
    """The site's sitemaps, for a feed or listing whose own pages do not reach back far
    enough: they usually list every article."""
    async for page in walk_sitemaps(lists, await lists.site_sitemaps(), window):
        yield page


async def walk_sitemaps(
    lists: Lists,
    roots: Sequence[str],
    window: DateRange,
    *,
    own: str | None = None,
    depth: int = HISTORY_DEPTH,
    files: int | None = None,
) -> AsyncIterator[ListPage]:
    """Sitemap files from ``roots`` down through indexes, each index's children newest
    <lastmod> first. ``own``: the source's own sitemap, whose failure is the source's; an
    absent /sitemap.xml or robots.txt entry is no error. ``files``: at most this many
    files below the roots are read."""
    queue: deque[tuple[SitemapRef, int]] = deque((SitemapRef(url), 0) for url in roots)
    read_below = 0
    while queue:
        ref, level = queue.popleft()
        if ref.url in lists.walked:
            continue
        lists.walked.add(ref.url)
        if lists.finished(ref):
            lists.resumed += 1
            continue
        if lists.unchanged(ref):  # known in full and unchanged: not even asked for
            yield ListPage(ref.url, "sitemap", not_modified=True)
            continue
        if level and files is not None:
            if read_below >= files:
                continue
            read_below += 1
        try:
            res = await lists.get(ref.url)
            sitemap = None if res.not_modified else parse_sitemap(res.content, res.url)
        except (FetchError, SourceError) as e:
            if ref.url == own:
                raise
            if level or not (isinstance(e, FetchError) and e.reason.startswith("http_4")):
                lists.failed("sitemap", ref.url, e)
            continue
        if sitemap is None:
            known = lists.validators(ref.url)
            children: Sequence[SitemapRef] = known.children or () if known else ()
            page = ListPage(ref.url, "sitemap", not_modified=True)
        else:
            children = sitemap.sitemaps
            validators = Validators(
                res.etag, res.last_modified, ref.lastmod, tuple(children) if children else None
            )
            page = ListPage(ref.url, "sitemap", sitemap.entries, validators=validators)
        if level < depth:
            for child in sorted(children, key=_newest_first):
                # A file last changed before the range holds nothing published in it.
                if not (child.lastmod and window.since and child.lastmod.date() < window.since):
                    queue.append((child, level + 1))
        yield page


def _newest_first(ref: SitemapRef) -> float:
    return -ref.lastmod.timestamp() if ref.lastmod else math.inf
