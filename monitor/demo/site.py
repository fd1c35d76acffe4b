"""Renders the demo site (articles.toml) and serves it on 127.0.0.1."""

from __future__ import annotations

import html
import threading
import tomllib
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).with_name("articles.toml")

# The site chrome in each language: what an extractor has to leave out.
CHROME = {
    "ru": ("Главная", "Политика", "Экономика", "Общество", "Читайте также",
           "Популярные новости", "просмотров", "Поделиться", "Все права защищены"),
    "kk": ("Басты бет", "Саясат", "Экономика", "Қоғам", "Тақырып бойынша жаңалықтар",
           "Ең көп оқылғаны", "қаралым", "Бөлісу", "Барлық құқықтар қорғалған"),
    "fr": ("Accueil", "Politique", "Économie", "Société", "À lire aussi",
           "Les plus lus", "vues", "Partager", "Tous droits réservés"),
    "en": ("Home", "Politics", "Economy", "Society", "Read also",
           "Most read", "views", "Share", "All rights reserved"),
}  # fmt: skip


@dataclass(frozen=True)
class Article:
    slug: str
    lang: str
    date: datetime
    where: tuple[str, ...]
    title: str
    paragraphs: tuple[str, ...]


def load_articles() -> list[Article]:
    raw = tomllib.loads(DATA.read_text(encoding="utf-8"))
    return [
        Article(
            slug=a["slug"],
            lang=a["lang"],
            date=datetime.fromisoformat(a["date"]),
            where=tuple(a["where"]),
            title=a["title"],
            paragraphs=tuple(a["paragraphs"]),
        )
        for a in raw["articles"]
    ]


def article_page(a: Article, others: list[Article], views: int) -> str:
    home, pol, eco, soc, also, popular, views_word, share, rights = CHROME[a.lang]
    esc = html.escape
    related = "".join(
        f'<li><a href="/{o.slug}/">{esc(o.title)}</a> <span>{o.date:%d.%m.%Y}</span></li>'
        for o in others[:4]
    )
    body = "".join(f"<p>{esc(p)}</p>" for p in a.paragraphs)
    return f"""<!doctype html>
<html lang="{a.lang}"><head><meta charset="utf-8">
<title>{esc(a.title)} | Demo News</title>
<meta property="og:title" content="{esc(a.title)}">
<meta property="article:published_time" content="{a.date.isoformat()}">
</head><body>
<header><nav><a href="/">{home}</a> <a href="/news/">{pol}</a> <a href="/news/">{eco}</a>
<a href="/news/">{soc}</a></nav></header>
<div class="cookie">Cookies: OK</div>
<main><article>
<h1>{esc(a.title)}</h1>
<div class="meta">{a.date:%d.%m.%Y, %H:%M} <span class="views">{views} {views_word}</span></div>
{body}
<div class="share">{share}: Telegram Facebook WhatsApp</div>
</article>
<section class="related"><h3>{also}</h3><ul>{related}</ul></section>
</main>
<aside><h3>{popular}</h3><ul>{related}</ul></aside>
<footer>© 2026 Demo News. {rights}.</footer>
</body></html>"""


def feed_xml(base: str, articles: list[Article]) -> str:
    items = "".join(
        f"<item><title>{html.escape(a.title)}</title><link>{base}/{a.slug}/</link>"
        f"<pubDate>{format_datetime(a.date)}</pubDate></item>"
        for a in articles
        if "feed" in a.where
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Demo News</title><link>{base}/</link>{items}</channel></rss>"
    )


def sitemap_xml(base: str, articles: list[Article]) -> str:
    urls = "".join(
        f"<url><loc>{base}/{a.slug}/</loc><lastmod>{a.date.isoformat()}</lastmod></url>"
        for a in articles
        if "sitemap" in a.where
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


def listing_html(articles: list[Article]) -> str:
    cards = "".join(
        f'<li class="card"><a href="/{a.slug}/">{html.escape(a.title)}</a>'
        f" <time>{a.date:%d.%m.%Y %H:%M}</time></li>"
        for a in articles
        if "listing" in a.where
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>News</title></head><body>'
        '<header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>'
        f'<main><ul class="news">{cards}</ul></main>'
        "<footer>© 2026 Demo News</footer></body></html>"
    )


class DemoSite:
    """The demo web on 127.0.0.1 at a free port; stop() when done."""

    def __init__(self) -> None:
        self.articles = load_articles()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> DemoSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def page(self, path: str) -> tuple[str, str] | None:
        if path == "/rss.xml":
            return "application/rss+xml", feed_xml(self.base, self.articles)
        if path == "/sitemap.xml":
            return "application/xml", sitemap_xml(self.base, self.articles)
        if path == "/news/":
            return "text/html", listing_html(self.articles)
        if path == "/robots.txt":
            return "text/plain", f"User-agent: *\nAllow: /\nSitemap: {self.base}/sitemap.xml\n"
        for i, a in enumerate(self.articles):
            if path == f"/{a.slug}/":
                others = [o for o in self.articles if o is not a]
                return "text/html", article_page(a, others, views=137 + 91 * i)
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                found = site.page(self.path.split("?")[0])
                status, (ctype, text) = (200, found) if found else (404, ("text/plain", "no"))
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", f"{ctype}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
