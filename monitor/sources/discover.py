"""What a URL is as a source: a feed, a page that links one, a sitemap, or a listing page.

Tried in that order, the way a feed reader subscribes to a site: the URL itself as a feed,
the feeds a page announces with <link rel="alternate">, the site's sitemaps (robots.txt
"Sitemap:" lines, then /sitemap.xml), and last the page as a listing of article links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from monitor.fetch import Fetcher, FetchError, FetchResult
from monitor.language import detect
from monitor.sources import Entry, SourceError
from monitor.sources.feed import parse_feed
from monitor.sources.listing import parse_listing
from monitor.sources.sitemap import parse_sitemap
from monitor.urls import canonical_url

Kind = Literal["feed", "sitemap", "html"]

SAMPLE_SIZE = 5
MIN_LISTING_LINKS = 3  # fewer article links than this is not a listing page
MAX_CANDIDATES = 4  # announced feeds or sitemaps tried, at most
MAX_CHILD_SITEMAPS = 3  # children of a sitemap index read for a sample
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+xml"}
)
_SITEMAP_ROOTS = frozenset({"urlset", "sitemapindex"})
_GZIP = b"\x1f\x8b"


class DiscoveryError(Exception):
    """Nothing at the URL can be polled as a source; the message says what was tried."""


@dataclass(frozen=True)
class Sample:
    url: str
    title: str | None
    published: datetime | None
    language: str | None


@dataclass
class Discovery:
    url: str  # what to poll: the feed or sitemap found, or the page itself
    kind: Kind
    title: str | None
    entries: list[Entry]
    how: str  # one line on how it was found
    tried: list[str] = field(default_factory=list)

    def sample(self, n: int = SAMPLE_SIZE, hint: str | None = None) -> list[Sample]:
        """The newest `n` entries (undated ones last), each with its title's language."""
        oldest = datetime.min.replace(tzinfo=UTC)
        newest = sorted(self.entries, key=lambda e: e.published or oldest, reverse=True)
        return [
            Sample(e.url, e.title, e.published, detect(e.title, hint) if e.title else None)
            for e in newest[:n]
        ]


async def discover(fetcher: Fetcher, url: str, *, kind: Kind | None = None) -> Discovery:
    """Find what `url` offers; with `kind`, only that kind is accepted.

    Raises DiscoveryError when nothing usable is found, FetchError when `url` itself
    cannot be fetched.
    """
    page = await fetcher.get(url, accept="any")
    tried: list[str] = []
    steps = {
        "feed": (_as_feed, _announced_feeds),
        "sitemap": (_as_sitemap, _site_sitemaps),
        "html": (_as_listing,),
    }
    order: tuple[Kind, ...] = (kind,) if kind else ("feed", "sitemap", "html")
    for k in order:
        for step in steps[k]:
            found = await step(fetcher, page, tried)
            if found is not None:
                found.tried = tried
                return found
    raise DiscoveryError(
        f"{url}: no {kind or 'feed, sitemap or listing of articles'} found ("
        + "; ".join(tried)
        + ")"
    )


async def _as_feed(fetcher: Fetcher, page: FetchResult, tried: list[str]) -> Discovery | None:
    return _feed_of(page, tried, how="the URL is a feed")


def _feed_of(page: FetchResult, tried: list[str], *, how: str) -> Discovery | None:
    try:
        feed = parse_feed(page.content, page.url, content_type=page.content_type)
    except SourceError as e:
        tried.append(f"{page.url}: {e}")
        return None
    return Discovery(page.url, "feed", feed.title, feed.entries, how)


async def _announced_feeds(
    fetcher: Fetcher, page: FetchResult, tried: list[str]
) -> Discovery | None:
    root = _html(page)
    if root is None:
        return None
    links = announced_feeds(root, page.url)
    if not links:
        tried.append("the page announces no feed")
    for link in links[:MAX_CANDIDATES]:
        try:
            feed_page = await fetcher.get(link, accept="feed")
        except FetchError as e:
            tried.append(str(e))
            continue
        found = _feed_of(feed_page, tried, how=f"announced by {page.url}")
        if found is not None:
            found.title = found.title or _page_title(root)
            return found
    return None


def announced_feeds(root: lxml.html.HtmlElement, base_url: str) -> list[str]:
    """Feed URLs a page lists with <link rel="alternate" type="application/rss+xml">."""
    base = base_url
    for b in root.iter("base"):
        if b.get("href"):
            base = urljoin(base_url, b.get("href"))
            break
    found: list[str] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        media = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and media in FEED_TYPES and href:
            url = canonical_url(href, base=base)
            if urlsplit(url).scheme in ("http", "https") and url not in found:
                found.append(url)
    return found


async def _as_sitemap(fetcher: Fetcher, page: FetchResult, tried: list[str]) -> Discovery | None:
    if not page.content.startswith(_GZIP) and _xml_root(page.content) not in _SITEMAP_ROOTS:
        return None
    return await _sitemap_of(fetcher, page, tried, how="the URL is a sitemap")


async def _site_sitemaps(fetcher: Fetcher, page: FetchResult, tried: list[str]) -> Discovery | None:
    candidates = []
    try:
        candidates = [urljoin(page.url, u) for u in await fetcher.robots_sitemaps(page.url)]
    except FetchError as e:
        tried.append(str(e))
    fallback = urljoin(page.url, "/sitemap.xml")
    if fallback not in candidates:
        candidates.append(fallback)
    for url in candidates[:MAX_CANDIDATES]:
        try:
            found_page = await fetcher.get(url, accept="any")
        except FetchError as e:
            tried.append(str(e))
            continue
        how = "named in robots.txt" if url != fallback else "at the site's /sitemap.xml"
        found = await _sitemap_of(fetcher, found_page, tried, how=how)
        if found is not None:
            return found
    return None


async def _sitemap_of(
    fetcher: Fetcher, page: FetchResult, tried: list[str], *, how: str
) -> Discovery | None:
    try:
        sitemap = parse_sitemap(page.content, page.url)
    except SourceError as e:
        tried.append(f"{page.url}: {e}")
        return None
    entries = list(sitemap.entries)
    # An index lists no articles itself: read a few children for the sample.
    for child in sitemap.sitemaps[:MAX_CHILD_SITEMAPS]:
        try:
            entries += parse_sitemap((await fetcher.get(child.url)).content, child.url).entries
        except (FetchError, SourceError) as e:
            tried.append(str(e))
    if not entries:
        tried.append(f"{page.url}: a sitemap without articles")
        return None
    return Discovery(page.url, "sitemap", None, entries, how)


async def _as_listing(fetcher: Fetcher, page: FetchResult, tried: list[str]) -> Discovery | None:
    root = _html(page)
    if root is None:
        tried.append(f"{page.url}: not an HTML page")
        return None
    entries = parse_listing(page.text, page.url)
    if len(entries) < MIN_LISTING_LINKS:
        tried.append(f"{page.url}: {len(entries)} article links, too few for a listing")
        return None
    return Discovery(page.url, "html", _page_title(root), entries, "article links on the page")


def _html(page: FetchResult) -> lxml.html.HtmlElement | None:
    if page.content_type and "html" not in page.content_type:
        return None
    try:
        return lxml.html.document_fromstring(page.text)
    except (etree.ParserError, ValueError):
        return None


def _page_title(root: lxml.html.HtmlElement) -> str | None:
    title = root.findtext(".//title")
    return " ".join(title.split()) or None if title else None


def _xml_root(content: bytes) -> str | None:
    """Local name of the root element of an XML document, without parsing all of it."""
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False
    )
    try:
        parser.feed(content[:65536].lstrip())
        for _, el in parser.read_events():
            return str(etree.QName(el).localname).lower()
    except etree.XMLSyntaxError:
        return None
    return None
