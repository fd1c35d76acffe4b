"""Sources read newest first, page by page: a feed, a listing. The base of their readers.

The first page is what a poll reads. For history the reader follows the source's own
paging until a page lists nothing new for this run, answers 304, or holds only entries
older than the dates wanted; then it walks the site's sitemaps, which usually list every
article. Paging past the last page (404) ends the route quietly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from monitor.config import Source
from monitor.fetch import Accept, FetchError, FetchResult
from monitor.sources import DateRange, Entry, ListPage, Route, SourceError, Validators
from monitor.sources.lists import Lists
from monitor.sources.sitemap import site_sitemaps

MAX_PAGES = 5000  # pages of one feed or listing read back at most
QUIET_ENDS = frozenset({"http_404", "http_410"})


class PagedReader:
    route: Route
    accept: Accept

    def __init__(self, source: Source, lists: Lists) -> None:
        self.source = source
        self.lists = lists

    def parse(self, res: FetchResult, page_no: int) -> tuple[list[Entry], str | None]:
        """The entries of page `page_no` and the URL of the next, older page."""
        raise NotImplementedError

    async def latest(self) -> list[ListPage]:
        return [await self.read(self.source.url, 1)]

    async def history(
        self, window: DateRange, after: list[ListPage] | None = None
    ) -> AsyncIterator[ListPage]:
        page = after[0] if after else None
        if page is None:
            page = await self.read(self.source.url, 1)
            yield page
        listed = {e.url for e in page.entries}
        page_no = 1
        while page.next and not page.not_modified and page_no < MAX_PAGES:
            if window.before(page.entries):
                break
            page_no += 1
            url = page.next
            try:
                page = await self.read(url, page_no)
            except FetchError as e:
                if e.reason not in QUIET_ENDS:
                    self.lists.failed(self.route, url, e)
                break
            except SourceError as e:
                self.lists.failed(self.route, url, e)
                break
            if not page.not_modified:
                page.entries = [e for e in page.entries if e.url not in listed]
                if not page.entries:
                    break  # past the last page, or a site that repeats it
                listed.update(e.url for e in page.entries)
            yield page
        async for page in site_sitemaps(self.lists, window):
            yield page

    async def read(self, url: str, page_no: int) -> ListPage:
        res = await self.lists.get(url, accept=self.accept)
        if res.not_modified:
            return ListPage(url, self.route, not_modified=True)
        entries, nxt = self.parse(res, page_no)
        validators = Validators(res.etag, res.last_modified)
        return ListPage(url, self.route, entries, next=nxt, validators=validators)
