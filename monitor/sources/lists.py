"""How readers get their lists (feeds, listing pages, sitemaps).

Every list goes through the one Fetcher. A poll reads conditionally: the validators (ETag,
Last-Modified) each list answered when last read in full are sent back, so an unchanged
list costs a 304. A backfill reads everything and resumes from its checkpoints instead.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Mapping
from datetime import datetime
from urllib.parse import urlsplit

from monitor.config import Source
from monitor.fetch import Accept, Fetcher, FetchError, FetchResult
from monitor.sources import SitemapRef, SourceError, Validators

log = logging.getLogger("monitor.sources")


class ListFailed(str):
    """The error key of a list that could not be read, "<route>_<reason>" such as
    "sitemap_http_503", which also keeps its parts as fields: callers decide on those,
    never on how the key is spelled. Counted in the reports' errors like any other key."""

    route: str  # "feed", "listing" or "sitemap"
    reason: str  # the FetchError's or SourceError's reason
    transient: bool  # a later try may succeed (timeout, network error, HTTP 429 or 5xx)

    def __new__(cls, route: str, reason: str, transient: bool) -> ListFailed:
        key = super().__new__(cls, f"{route}_{reason}")
        key.route, key.reason, key.transient = route, reason, transient
        return key

    def __reduce__(self) -> tuple[type[ListFailed], tuple[str, str, bool]]:
        return ListFailed, (self.route, self.reason, self.transient)


class Lists:
    """The lists of one source in one run: fetched, counted, failures logged."""

    def __init__(
        self,
        fetcher: Fetcher,
        source: Source,
        *,
        known: Mapping[str, Validators] | None = None,
        done: Mapping[str, datetime] | None = None,
        others: Collection[str] = (),
        walked: set[str] | None = None,
    ) -> None:
        """``known``: validators by list URL; None reads every list in full (backfill).
        ``done``: sitemaps an earlier run of the same backfill finished, and when.
        ``others``: other sources' own sitemaps, left to them so items keep their source.
        ``walked``: sitemaps read so far by any source of this run (each is read once)."""
        self.fetcher = fetcher
        self.source = source
        self.known = known
        self.done = done or {}
        self.others = frozenset(others)
        self.walked = set() if walked is None else walked
        self.errors: Counter[str] = Counter()  # lists that failed, by ListFailed key
        self.read = 0  # lists read in full
        self.not_modified = 0  # lists that answered 304
        self.resumed = 0  # sitemaps finished by an earlier run, not read again

    def validators(self, url: str) -> Validators | None:
        return self.known.get(url) if self.known is not None else None

    async def get(self, url: str, *, accept: Accept = "any") -> FetchResult:
        """GET a list, conditionally when its validators are known."""
        known = self.validators(url)
        res = await self.fetcher.get(
            url,
            etag=known.etag if known else None,
            last_modified=known.last_modified if known else None,
            accept=accept,
        )
        if res.not_modified:
            self.not_modified += 1
        else:
            self.read += 1
        return res

    def failed(self, what: str, url: str, error: FetchError | SourceError) -> None:
        """Count and log a list that could not be read; the source goes on without it."""
        transient = isinstance(error, FetchError) and error.transient
        self.errors[ListFailed(what, error.reason, transient)] += 1
        # A FetchError's message starts with the URL too; said once here.
        detail = error.detail if isinstance(error, FetchError) else str(error)
        log.warning("%s: %s %s: %s", self.source.name, what, url, detail)

    def unchanged(self, ref: SitemapRef) -> bool:
        """A sitemap whose index gives the same <lastmod> as when it was last read in
        full: nothing on it can be new, so it is not even asked for."""
        known = self.validators(ref.url)
        return known is not None and ref.lastmod is not None and known.lastmod == ref.lastmod

    def finished(self, ref: SitemapRef) -> bool:
        """A sitemap an earlier run of the same backfill read in full, unchanged since."""
        when = self.done.get(ref.url)
        return when is not None and ref.lastmod is not None and ref.lastmod <= when

    async def site_sitemaps(self) -> list[str]:
        """The site's sitemaps: those its robots.txt names, then /sitemap.xml."""
        parts = urlsplit(self.source.url)
        found = await self.fetcher.robots_sitemaps(self.source.url)
        found.append(f"{parts.scheme}://{parts.netloc}/sitemap.xml")
        skip = self.others | {self.source.url}
        return [u for u in dict.fromkeys(found) if u not in skip]
