"""Every article, once, within one poll: three local news sites (a feed of 5 items, a listing
of 8 a page, a sitemap index) are backfilled, then publish 40 articles at once. One `poll`
stores all 40 once and alerts each relevant story once; the next poll is answered 304 and
fetches no article. Then the same with the daemon, killed with SIGKILL along the way."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from monitor.store.models import utcnow
from monitor.store.repo import Store
from tests.daemon_support import (
    SECRET,
    SECRET_ENV,
    Hook,
    Zygote,
    cli,
    kill,
    log_text,
    oic_article,
    plain_article,
    stop,
    wait_for,
)
from tests.pages import article_page
from tests.webserver import LocalWeb, Request, Response

FEED_SIZE = 5
LISTING_PAGE = 8
ARTICLES = "/a/"  # every article page of every site is under this path


@dataclass(frozen=True)
class Article:
    path: str
    title: str
    when: datetime
    relevant: bool
    group: str  # the sitemap file that lists it (sitemap site)


class NewsSite:
    """A site on its own origin whose lists answer conditionally: ETag on the feed and
    listing pages, Last-Modified on sitemaps."""

    def __init__(self, name: str, texts: int) -> None:
        self.name = name
        self.texts = texts  # article n of this site has text number texts + n: its own
        self.web = LocalWeb().start()
        self.articles: list[Article] = []
        self.lock = threading.Lock()
        self._changed: dict[str, tuple[bytes, datetime]] = {}  # list path -> body, changed
        self.answers: list[int] = []  # the status of every list request, in order
        self.answered: list[tuple[str, int, str]] = []  # path, status, validator sent
        self.web.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")

    def publish(self, n: int, when: datetime, *, relevant: bool, group: str = "") -> Article:
        k = self.texts + n
        title, paragraphs = oic_article(k) if relevant else plain_article(k)
        title = f"{title} ({self.name})"
        path = f"{ARTICLES}{self.name}-{n}.html"
        page = article_page(title, paragraphs, lang="en", published_iso=when.isoformat())
        self.web.add(path, page.html)
        article = Article(path, title, when, relevant, group)
        with self.lock:
            self.articles.append(article)
        return article

    def newest_first(self) -> list[Article]:
        with self.lock:
            return sorted(self.articles, key=lambda a: a.when, reverse=True)

    def url(self, path: str) -> str:
        return self.web.url(path)

    def etag_list(self, path: str, render: Callable[[Request], str], media: str) -> None:
        def handler(req: Request) -> Response:
            body = render(req)
            tag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
            status = 304 if req.headers.get("if-none-match") == tag else 200
            self.answers.append(status)
            self.answered.append((req.path, status, str(req.headers.get("if-none-match"))))
            return Response(status, body if status == 200 else b"", {"ETag": tag}, media)

        self.web.routes[path] = handler

    def dated_list(self, path: str, render: Callable[[Request], str]) -> None:
        def handler(req: Request) -> Response:
            body = render(req).encode()
            with self.lock:
                old = self._changed.get(req.path)
                if old is None or old[0] != body:
                    now = datetime.now().astimezone().replace(microsecond=0)
                    # Strictly later than the last change: HTTP dates have whole seconds.
                    changed = max(now, old[1] + timedelta(seconds=1)) if old else now
                    self._changed[req.path] = (body, changed)
                changed = self._changed[req.path][1]
            since = req.headers.get("if-modified-since")
            status = 304 if since and parsedate_to_datetime(since) >= changed else 200
            self.answers.append(status)
            self.answered.append((req.path, status, str(since)))
            headers = {"Last-Modified": format_datetime(changed)}
            return Response(status, body if status == 200 else b"", headers, "application/xml")

        self.web.routes[path] = handler

    def article_requests(self, since: int = 0) -> list[Request]:
        return [r for r in self.web.log[since:] if r.path.startswith(ARTICLES)]


def urlset(site: NewsSite, articles: list[Article]) -> str:
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(
            f"<url><loc>{site.url(a.path)}</loc><lastmod>{a.when.isoformat()}</lastmod></url>"
            for a in articles
        )
        + "</urlset>"
    )


def feed_site() -> NewsSite:
    """An RSS feed of its five newest articles; robots.txt names a sitemap of them all."""
    site = NewsSite("feed", 0)

    def rss(req: Request) -> str:
        items = "".join(
            f"<item><title>{a.title}</title><link>{site.url(a.path)}</link>"
            f"<pubDate>{format_datetime(a.when)}</pubDate></item>"
            for a in site.newest_first()[:FEED_SIZE]
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}'
            "</channel></rss>"
        )

    site.etag_list("/rss.xml", rss, "application/rss+xml")
    site.dated_list("/sitemap-all.xml", lambda req: urlset(site, site.newest_first()))
    site.web.add(
        "/robots.txt",
        f"User-agent: *\nAllow: /\nSitemap: {site.url('/sitemap-all.xml')}\n",
        content_type="text/plain",
    )
    return site


def listing_site() -> NewsSite:
    """A listing, newest first, eight a page, with a rel=next link to the next page."""
    site = NewsSite("listing", 1000)

    def page(req: Request) -> str:
        no = int(parse_qs(urlsplit(req.path).query).get("page", ["1"])[0])
        articles = site.newest_first()
        rows = articles[(no - 1) * LISTING_PAGE : no * LISTING_PAGE]
        cards = "".join(
            f'<li class="news-item"><span class="date">{a.when:%d.%m.%Y}</span> '
            f'<a href="{a.path}">{a.title}</a></li>'
            for a in rows
        )
        more = len(articles) > no * LISTING_PAGE
        nxt = f'<a rel="next" href="/news/?page={no + 1}">Next</a>' if more else ""
        return (
            '<html><head><meta charset="utf-8"><title>News</title></head><body>'
            f'<main><ul class="news-list">{cards}</ul><div class="pager">{nxt}</div></main>'
            "</body></html>"
        )

    site.etag_list("/news/", page, "text/html; charset=utf-8")
    return site


def sitemap_site() -> NewsSite:
    """A sitemap index of one sitemap per group of articles, each with its <lastmod>."""
    site = NewsSite("sitemap", 2000)

    def groups() -> dict[str, list[Article]]:
        found: dict[str, list[Article]] = {}
        for a in site.newest_first():
            found.setdefault(a.group, []).append(a)
        return found

    def index(req: Request) -> str:
        children = "".join(
            f"<sitemap><loc>{site.url(f'/sitemaps/{g}.xml')}</loc>"
            f"<lastmod>{max(a.when for a in rows).isoformat()}</lastmod></sitemap>"
            for g, rows in groups().items()
        )
        return (
            '<?xml version="1.0"?><sitemapindex '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
        )

    def child(req: Request) -> str:
        group = urlsplit(req.path).path.removeprefix("/sitemaps/").removesuffix(".xml")
        return urlset(site, groups().get(group, []))

    site.dated_list("/sitemap_index.xml", index)
    for group in ("2024-01", "2024-02", "current"):
        site.dated_list(f"/sitemaps/{group}.xml", child)
    return site


@dataclass
class Sites:
    feed: NewsSite
    listing: NewsSite
    sitemap: NewsSite

    def __iter__(self) -> Iterator[NewsSite]:
        return iter((self.feed, self.listing, self.sitemap))

    def logs(self) -> list[int]:
        return [len(s.web.log) for s in self]

    def answers(self) -> list[int]:
        return [len(s.answers) for s in self]

    def answered_since(self, before: list[int]) -> list[int]:
        """The statuses of the list requests made since `before` (from ``answers()``)."""
        return [code for s, n in zip(self, before, strict=True) for code in s.answers[n:]]

    def answered_detail(self, before: list[int]) -> list[tuple[str, int, str]]:
        return [a for s, n in zip(self, before, strict=True) for a in s.answered[n:]]

    def no_article_fetched_since(self, before: list[int]) -> bool:
        return all(s.article_requests(n) == [] for s, n in zip(self, before, strict=True))


@pytest.fixture
def sites() -> Iterator[Sites]:
    made = Sites(feed_site(), listing_site(), sitemap_site())
    try:
        yield made
    finally:
        for site in made:
            site.web.stop()


@pytest.fixture
def hook(web: LocalWeb) -> Hook:
    """The alert receiver, on a host of its own."""
    return Hook(web)


def publish_history(sites: Sites) -> None:
    """What the sites held before the monitor came: 42 articles from 3 to 30 days ago."""
    now = utcnow()
    for n in range(10):
        sites.feed.publish(n, now - timedelta(days=5 + n), relevant=n % 3 == 0)
    for n in range(20):
        sites.listing.publish(n, now - timedelta(days=3, hours=7 * n), relevant=n % 3 == 0)
    for n in range(12):
        group = "2024-01" if n < 6 else "2024-02"
        sites.sitemap.publish(n, now - timedelta(days=30 - n), relevant=n % 3 == 0, group=group)


def publish_forty(sites: Sites) -> set[str]:
    """40 articles at once, every other one about the OIC; the URLs of the relevant ones."""
    now = utcnow()
    relevant = set()
    plan = [(sites.feed, 14), (sites.listing, 16), (sites.sitemap, 10)]
    k = 0
    for site, count in plan:
        for i in range(count):
            k += 1
            article = site.publish(
                100 + i, now - timedelta(minutes=k), relevant=k % 2 == 0, group="current"
            )
            if article.relevant:
                relevant.add(site.url(article.path))
    return relevant


def write_config(path: Path, sites: Sites, hook: Hook, extra: str = "") -> Path:
    path.write_text(
        f"""
catchup_every = "2s"

[storage]
url = "sqlite:///monitor.db"
archive_dir = "archive"

[fetch]
per_host_delay = "5ms"
per_host_concurrency = 4
backoff = "10ms"

[delivery]
base_delay = "200ms"
max_delay = "500ms"
every = "200ms"
lease = "2s"
{extra}

[[sources]]
name = "feed"
url = "{sites.feed.url("/rss.xml")}"
kind = "feed"
interval = "1s"

[[sources]]
name = "listing"
url = "{sites.listing.url("/news/")}"
kind = "html"
link_pattern = "/a/"
interval = "1s"

[[sources]]
name = "sitemap"
url = "{sites.sitemap.url("/sitemap_index.xml")}"
kind = "sitemap"
interval = "1s"

[[alerts]]
name = "hook"
kind = "webhook"
url = "{hook.url}"
secret_env = "{SECRET_ENV}"
""",
        encoding="utf-8",
    )
    return path


def every_url(sites: Sites) -> set[str]:
    return {site.url(a.path) for site in sites for a in site.articles}


def relevant_story_keys(store: Store, relevant: set[str]) -> set[str]:
    return {str(i.story_id) for i in store.items() if i.url in relevant}


def check_stored_once(store: Store, sites: Sites) -> None:
    urls = [i.url for i in store.items()]
    assert len(urls) == len(set(urls))
    assert set(urls) == every_url(sites)
    with store.engine.connect() as conn:
        repeated = conn.execute(
            text("SELECT content_hash FROM item GROUP BY content_hash HAVING count(*) > 1")
        ).fetchall()
    assert not repeated


def delivered_stories(hook: Hook) -> list[str]:
    return [k for k in hook.keys if not k.startswith("op:")]


def test_one_poll_stores_forty_new_articles_once_and_the_next_poll_is_304(
    sites: Sites, hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    cfg = write_config(tmp_path / "monitor.toml", sites, hook)
    publish_history(sites)
    backfill = cli(cfg, "backfill", "--workers", "1")
    assert backfill.returncode == 0, backfill.stderr
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    assert store.count_items() == 42

    relevant = publish_forty(sites)
    result = cli(cfg, "poll")
    assert result.returncode == 0, result.stderr + result.stdout
    check_stored_once(store, sites)
    assert store.count_items() == 82
    assert "17 from further back" in result.stdout  # 9 from the sitemap, 8 from page 2
    # One alert per relevant new story, delivered by the poll itself; none for history.
    assert sorted(hook.keys) == sorted(relevant_story_keys(store, relevant))
    assert len(hook.keys) == len(relevant) == 20
    assert hook.bad_signatures == 0
    assert "20 delivered, 0 waiting" in result.stdout

    before, logs = sites.answers(), sites.logs()
    again = cli(cfg, "poll")
    assert again.returncode == 0, again.stderr
    answers = sites.answered_since(before)
    assert answers and answers.count(304) / len(answers) >= 0.9, answers
    assert sites.no_article_fetched_since(logs)
    assert store.count_items() == 82
    assert len(hook.keys) == 20
    store.close()


def test_the_daemon_stores_forty_new_articles_once_through_kills(
    sites: Sites, hook: Hook, tmp_path: Path
) -> None:
    rng = random.Random(20261127)
    cfg = write_config(tmp_path / "monitor.toml", sites, hook)
    log = tmp_path / "monitor.log"
    publish_history(sites)
    assert cli(cfg, "backfill", "--workers", "1").returncode == 0
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    assert store.count_items() == 42

    relevant = publish_forty(sites)
    beyond = {a.path for a in sites.feed.newest_first()[FEED_SIZE:14]}  # only the sitemap has
    zygote = Zygote()
    try:
        # The first kill lands as the first poll reaches beyond the feed's window, the
        # others at random moments of the work.
        for run in range(3):
            proc = zygote.start(cfg, log)
            try:
                seen = sum(sites.logs())
                if run == 0:
                    wait_for(
                        lambda: any(r.path in beyond for r in sites.feed.article_requests()),
                        "the catch-up under way",
                    )
                else:
                    wait_for(lambda s=seen: sum(sites.logs()) > s, "the daemon at work")
                    time.sleep(rng.uniform(0.1, 1.5))
            finally:
                kill(proc)
            assert proc.returncode in (0, -9), log_text(log)[-3000:]
            if run == 0:
                assert store.count_items() < 82
        proc = zygote.start(cfg, log)
        try:
            wait_for(lambda: store.count_items() == 82, "every article stored")
            stories = relevant_story_keys(store, relevant)
            wait_for(lambda: set(hook.keys) >= stories, "every relevant story delivered")
            # Settled: from here on the daemon's polls are 304s and fetch no article.
            before, logs = sites.answers(), sites.logs()
            wait_for(
                lambda: all(len(s.answers) >= n + 5 for s, n in zip(sites, before, strict=True)),
                "more polls of every source",
            )
            assert stop(proc) == 0
        finally:
            kill(proc)
    finally:
        zygote.close()
    check_stored_once(store, sites)
    # A poll killed while catching up left its catch-up to the next poll: nothing was lost,
    # so no gap was ever recorded.
    assert store.gaps() == []
    answers = sites.answered_since(before)
    assert answers.count(304) / len(answers) >= 0.9, sites.answered_detail(before)
    assert sites.no_article_fetched_since(logs)
    assert set(hook.keys) == stories  # a repeat after a kill carries the same key
    assert hook.bad_signatures == 0
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM alert GROUP BY status"))
        assert dict(rows.fetchall()) == {"sent": len(stories)}  # no operator alert: no gap
    store.close()


def test_a_paged_feed_is_read_back_page_by_page_until_it_meets_what_is_stored(
    web: LocalWeb, tmp_path: Path
) -> None:
    """RFC 5005: an Atom feed of five entries a page, each page linking the next, older one."""
    site = NewsSite("atom", 3000)
    try:

        def page(req: Request) -> str:
            no = int(parse_qs(urlsplit(req.path).query).get("page", ["1"])[0])
            rows = site.newest_first()[(no - 1) * FEED_SIZE : no * FEED_SIZE]
            entries = "".join(
                f'<entry><title>{a.title}</title><link href="{site.url(a.path)}"/>'
                f"<id>{a.path}</id><updated>{a.when.isoformat()}</updated></entry>"
                for a in rows
            )
            nxt = f'<link rel="next" href="/atom.xml?page={no + 1}"/>' if rows else ""
            return (
                f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{nxt}{entries}</feed>'
            )

        site.etag_list("/atom.xml", page, "application/atom+xml")
        cfg = tmp_path / "monitor.toml"
        cfg.write_text(
            f'[storage]\nurl = "sqlite:///monitor.db"\n[fetch]\nper_host_delay = "1ms"\n'
            f'[[sources]]\nname = "atom"\nurl = "{site.url("/atom.xml")}"\nkind = "feed"\n',
            encoding="utf-8",
        )
        now = utcnow()
        for n in range(8):
            site.publish(n, now - timedelta(days=2, hours=n), relevant=False)
        assert cli(cfg, "poll").returncode == 0  # the first poll takes the first page
        for n in range(100, 112):
            site.publish(n, now - timedelta(minutes=n), relevant=False)
        result = cli(cfg, "poll")
        assert result.returncode == 0, result.stderr
        assert "12 stored (7 from further back" in result.stdout
        pages = [r.path for r in site.web.log if r.path.startswith("/atom.xml")]
        assert pages[-3:] == ["/atom.xml", "/atom.xml?page=2", "/atom.xml?page=3"]
        assert not site.web.hits("/sitemap.xml")  # the feed's own pages reached far enough
    finally:
        site.web.stop()


def test_poll_exits_3_when_no_source_could_be_polled(web: LocalWeb, tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        '[storage]\nurl = "sqlite:///monitor.db"\n[fetch]\nretries = 0\n'
        f'[[sources]]\nname = "gone"\nurl = "{web.url("/gone.xml")}"\n'
        f'[[sources]]\nname = "html"\nurl = "{web.url("/page.html")}"\n',
        encoding="utf-8",
    )
    web.add("/page.html", "<html><body>not a feed</body></html>")
    result = cli(cfg, "poll")
    assert result.returncode == 3, result.stderr
    assert "2 sources, 2 failed" in result.stdout and "2 errors" in result.stdout
    web.add("/gone.xml", '<rss version="2.0"><channel><title>t</title></channel></rss>',
            content_type="application/rss+xml")  # fmt: skip
    result = cli(cfg, "poll")
    assert result.returncode == 0, result.stderr  # one source works: the poll did its job
    assert "2 sources, 1 failed" in result.stdout
    result = cli(cfg, "poll", "--source", "html")
    assert result.returncode == 3, result.stderr
    assert "1 source, 1 failed" in result.stdout and "; 1 error;" in result.stdout


def test_poll_no_deliver_leaves_the_alerts_queued_for_the_daemon(
    sites: Sites, hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    cfg = write_config(tmp_path / "monitor.toml", sites, hook)
    relevant = publish_forty(sites)
    result = cli(cfg, "poll", "--no-deliver", "--source", "feed")
    assert result.returncode == 0, result.stderr
    waiting = sum(1 for a in sites.feed.newest_first()[:FEED_SIZE] if a.relevant)
    assert f"alerts: {waiting} queued for the daemon" in result.stdout
    assert hook.keys == []
    result = cli(cfg, "poll", "--source", "feed")
    assert f"{waiting} delivered, 0 waiting" in result.stdout
    assert len(hook.keys) == waiting and relevant
