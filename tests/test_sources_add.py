"""`sources add/remove`: what a URL is found to be, and the config file edited in place."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.config import FetchSettings, load_settings
from monitor.config_edit import ConfigEditError, add_sources, remove_source, source_name
from monitor.fetch import Fetcher
from monitor.sources.discover import Discovery, DiscoveryError, Kind, discover
from tests.daemon_support import cli
from tests.pages import listing_page
from tests.webserver import LocalWeb

TITLES = [
    ("Совещание министров иностранных дел ОИС прошло в Астане", "2026-11-20T09:15:00+05:00"),
    ("La session du Conseil des ministres de l'OCI s'ouvre à Yaoundé", "2026-11-21T10:00:00Z"),
    ("ИЫҰ сыртқы істер министрлері кеңесінің отырысы өтті", "2026-11-22T11:30:00+05:00"),
    ("OIC contact group on Afghanistan meets in Jeddah", "2026-11-23T08:45:00Z"),
    ("Министр провел переговоры с генеральным секретарём ОИС", "2026-11-24T16:00:00Z"),
    ("Старая новость об ОИС", "2026-10-01T10:00:00Z"),
]

CONFIG = """\
# The monitor's configuration: keep this comment.
[storage]
url = "sqlite:///monitor.db"  # next to this file

[fetch]
per_host_delay = "10ms"
backoff = "10ms"
retries = 0

# Ministries first.
[[sources]]
name = "mfa-kz"  # Kazakhstan
url = "https://www.gov.kz/memleket/entities/mfa/press/news/rss"

# Then the agencies.
[[sources]]
name = "kazinform"
url = "https://www.inform.kz/rss/rus.xml"
interval = "10m"
"""


def rss(web: LocalWeb) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>{web.url(f'/news/{i}.html')}</link>"
        f"<pubDate>{d}</pubDate></item>"
        for i, (t, d) in enumerate(TITLES)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Local News Agency</title>{items}</channel></rss>"
    )


def home(feed_link: str = "") -> str:
    return (
        f"<html><head><title>Local News Agency | Home</title>{feed_link}</head>"
        "<body><p>Welcome</p><a href='/about'>About</a></body></html>"
    )


def site_with_feed(web: LocalWeb) -> None:
    link = '<link rel="alternate" type="application/rss+xml" title="News" href="/feed.xml">'
    web.add("/", home(link))
    web.add("/feed.xml", rss(web), content_type="application/rss+xml")


def site_with_sitemap(web: LocalWeb) -> None:
    web.add("/", home())
    web.add("/robots.txt", "User-agent: *\nSitemap: /maps/news.xml\n", content_type="text/plain")
    urls = "".join(
        f"<url><loc>{web.url(f'/news/{i}.html')}</loc><lastmod>{d}</lastmod></url>"
        for i, (_, d) in enumerate(TITLES)
    )
    web.add(
        "/maps/news.xml",
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{urls}</urlset>",
        content_type="application/xml",
    )


def found(web: LocalWeb, path: str = "/", kind: Kind | None = None) -> Discovery:
    async def go() -> Discovery:
        settings = FetchSettings(per_host_delay="1ms", retries=0)  # type: ignore[arg-type]
        async with Fetcher(settings) as fetcher:
            return await discover(fetcher, web.url(path), kind=kind)

    return asyncio.run(go())


# --- discovery ---------------------------------------------------------------------


def test_home_page_announcing_a_feed_gives_the_feed(web: LocalWeb) -> None:
    site_with_feed(web)

    d = found(web)

    assert (d.kind, d.url, d.title) == ("feed", web.url("/feed.xml"), "Local News Agency")
    assert len(d.entries) == 6
    sample = d.sample()
    assert [s.title for s in sample] == [t for t, _ in reversed(TITLES[:5])]
    assert [s.language for s in sample] == ["ru", "en", "kk", "fr", "ru"]
    assert all(s.published is not None for s in sample)


def test_a_feed_url_is_taken_as_it_is(web: LocalWeb) -> None:
    site_with_feed(web)
    d = found(web, "/feed.xml")
    assert (d.kind, d.how) == ("feed", "the URL is a feed")


def test_site_without_a_feed_gives_its_sitemap_from_robots(web: LocalWeb) -> None:
    site_with_sitemap(web)

    d = found(web)

    assert (d.kind, d.url) == ("sitemap", web.url("/maps/news.xml"))
    assert d.how == "named in robots.txt"
    assert d.sample()[0].url == web.url("/news/4.html")  # newest lastmod first


def test_site_without_feed_or_sitemap_gives_its_listing(web: LocalWeb) -> None:
    web.add("/news/", listing_page("ru", items=12))

    d = found(web, "/news/")

    assert (d.kind, d.url) == ("html", web.url("/news/"))
    assert len(d.entries) >= 10
    assert d.sample()[0].language == "ru"


def test_nothing_usable_says_what_was_tried(web: LocalWeb) -> None:
    web.add("/", home())
    with pytest.raises(DiscoveryError, match="announces no feed"):
        found(web)


def test_kind_restricts_what_is_accepted(web: LocalWeb) -> None:
    site_with_feed(web)
    web.add("/sitemap.xml", "<html>not a sitemap</html>")
    with pytest.raises(DiscoveryError, match="no sitemap found"):
        found(web, kind="sitemap")


# --- config editing ----------------------------------------------------------------


def test_add_keeps_comments_and_layout(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(CONFIG, encoding="utf-8")

    add_sources(cfg, [{"name": "akorda", "url": "https://www.akorda.kz/rss", "kind": "feed"}])

    text = cfg.read_text(encoding="utf-8")
    assert text.startswith(CONFIG)
    assert text[len(CONFIG) :] == (
        '\n[[sources]]\nname = "akorda"\nurl = "https://www.akorda.kz/rss"\nkind = "feed"\n'
    )
    assert [s.name for s in load_settings(cfg).sources] == ["mfa-kz", "kazinform", "akorda"]


def test_add_refuses_a_url_already_configured(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(CONFIG, encoding="utf-8")

    with pytest.raises(ConfigEditError, match="already configured as source 'kazinform'"):
        add_sources(cfg, [{"name": "x", "url": "https://WWW.inform.kz/rss/rus.xml#top"}])

    assert cfg.read_text(encoding="utf-8") == CONFIG


def test_remove_keeps_the_comments_of_the_others(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(CONFIG, encoding="utf-8")

    remove_source(cfg, "mfa-kz")

    text = cfg.read_text(encoding="utf-8")
    assert "mfa-kz" not in text and "# Kazakhstan" not in text
    for kept in ("# The monitor's configuration", "# next to this file", "# Then the agencies."):
        assert kept in text
    assert text.index("# Then the agencies.") < text.index('name = "kazinform"')
    with pytest.raises(ConfigEditError, match="no source named 'nope'"):
        remove_source(cfg, "nope")


def test_source_names_are_slugs_made_unique() -> None:
    assert source_name("Kazinform: News!", "https://inform.kz/", []) == "kazinform-news"
    assert source_name("Казинформ", "https://www.inform.kz/rss", ["inform.kz"]) == "inform.kz-2"


# --- the command line --------------------------------------------------------------


def test_cli_add_then_remove_edit_the_file_in_place(web: LocalWeb, tmp_path: Path) -> None:
    site_with_feed(web)
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(CONFIG, encoding="utf-8")

    added = cli(cfg, "sources", "add", web.url("/"), "--interval", "30m")
    text = cfg.read_text(encoding="utf-8")
    again = cli(cfg, "sources", "add", web.url("/feed.xml"), "--name", "other")
    removed = cli(cfg, "sources", "remove", "kazinform")

    assert added.returncode == 0, added.stderr
    assert f"feed: {web.url('/feed.xml')}" in added.stdout
    assert "name: local-news-agency" in added.stdout
    assert "OIC contact group on Afghanistan" in added.stdout and " kk " in added.stdout
    assert text.startswith(CONFIG)
    assert f'name = "local-news-agency"\nurl = "{web.url("/feed.xml")}"' in text
    assert 'interval = "30m"' in text
    assert again.returncode == 2
    assert "already configured as source 'local-news-agency'" in again.stderr
    assert removed.returncode == 0, removed.stderr
    after = cfg.read_text(encoding="utf-8")
    assert 'name = "kazinform"' not in after and "# Ministries first." in after
    assert [s.name for s in load_settings(cfg).sources] == ["mfa-kz", "local-news-agency"]
