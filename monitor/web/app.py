"""The dashboard: items, one item, sources, the feedback report, and Atom/JSON feeds.

Server-rendered Jinja2 pages on Starlette. Nothing here changes an item; the one write is an
analyst's feedback on an item, posted by a same-origin form. Bound anywhere but loopback,
every page needs the access token (`Authorization: Bearer`, or `?token=` once, which sets a
cookie).
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.etree import ElementTree as ET

from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from monitor.config import Settings
from monitor.display import item_title, precision_of, published_label, published_short
from monitor.metrics import WebMetrics
from monitor.report import build_report, write_eval
from monitor.services import items as item_service
from monitor.services.status import source_status
from monitor.store import queries
from monitor.store.models import Item, utcnow
from monitor.store.queries import ItemQuery
from monitor.store.repo import Store
from monitor.web.security import SecuredStarlette, TokenMiddleware

if TYPE_CHECKING:
    from monitor.scheduler import Daemon

log = logging.getLogger("monitor.web")

HERE = Path(__file__).resolve().parent
RTL_LANGUAGES = frozenset({"ar", "fa", "ur", "he", "ps", "ug", "ckb", "sd", "yi"})
FEED_SIZE = 50
SUMMARY_CHARS = 400
CHART_DAYS = 30
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ATOM = "http://www.w3.org/2005/Atom"


class WebConfigError(Exception):
    """The dashboard cannot start as configured (e.g. exposed without a token)."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_token_for(host: str, token: str | None) -> None:
    """Refuse to expose the dashboard beyond this machine without an access token."""
    if not token and not is_loopback(host):
        raise WebConfigError(
            f"the dashboard on {host} needs an access token: set [web] token_env and that "
            "variable, or pass --token"
        )


# --- rendering helpers ----------------------------------------------------------------


def text_direction(language: str | None) -> str:
    return "rtl" if (language or "").split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def evidence_terms(evidence: Iterable[dict[str, object]] | None) -> list[str]:
    return list(dict.fromkeys(str(e.get("term") or "") for e in evidence or () if e.get("term")))


def highlight(text: str | None, terms: Sequence[str]) -> Markup:
    """Escape `text` and wrap each occurrence of an evidence term in <mark>."""
    text = text or ""
    patterns = [r"\s+".join(map(re.escape, t.split())) for t in terms if t.strip()]
    if not patterns:
        return escape(text)
    # Longest first, so "Organisation of Islamic Cooperation" wins over "Islamic".
    regex = re.compile("|".join(sorted(patterns, key=len, reverse=True)), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in regex.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(UTC).strftime(fmt) if value else "—"


def shown_title(item: Item) -> str:
    return item_title(item.title, item.text)


def published_date(item: Item) -> str:
    """The date column: "2022-03-24 00:08", "2023-03" or "undated"."""
    return published_short(item.published, item.published_precision)


def published_full(item: Item) -> str:
    """The item page: "2022-03-24 00:08 UTC", "March 2023" or "undated"."""
    return published_label(item.published, item.published_precision)


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters.update(when=_when, score=_score, pct=_pct, direction=text_direction)
    env.globals.update(highlight=highlight, evidence_terms=evidence_terms, tiers=queries.TIERS)
    env.globals.update(
        shown_title=shown_title, published_date=published_date, published_full=published_full
    )
    return templates


def _clean_xml(text: str | None) -> str:
    return _XML_INVALID.sub("", text or "")


def _summary(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry_id(item: Item) -> str:
    # Content hashes outlive database ids, so a re-imported item keeps its feed identity.
    return f"tag:oic-monitor,2024:item/{item.content_hash}"


# --- query parameters -----------------------------------------------------------------


@dataclass(frozen=True)
class ParsedQuery:
    query: ItemQuery
    problems: list[str]
    params: dict[str, str]  # the filters as given, for forms and paging links


FILTER_KEYS = ("tier", "language", "source", "since", "until", "q")


def parse_query(params: QueryParams, per_page: int) -> ParsedQuery:
    """The list filters from a query string; bad values are dropped and named."""
    given = {k: params.get(k, "").strip() for k in FILTER_KEYS}
    problems: list[str] = []
    days: dict[str, date | None] = {}
    for key in ("since", "until"):
        days[key] = None
        if given[key]:
            try:
                days[key] = date.fromisoformat(given[key])
            except ValueError:
                problems.append(f"{key}: expected a date like 2024-03-05, got {given[key]!r}")
                given[key] = ""
    tier = given["tier"]
    if tier and tier not in (*queries.TIERS, queries.UNCLASSIFIED):
        problems.append(f"tier: expected one of {', '.join(queries.TIERS)}, got {tier!r}")
        given["tier"] = tier = ""
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    query = ItemQuery(
        tier=tier or None,
        language=given["language"] or None,
        source=given["source"] or None,
        since=days["since"],
        until=days["until"],
        text=given["q"] or None,
        page=page,
        per_page=per_page,
    )
    return ParsedQuery(query, problems, {k: v for k, v in given.items() if v})


def _page_link(params: dict[str, str], page: int) -> str:
    return "?" + urlencode({**params, "page": str(page)})


# --- same-origin check ----------------------------------------------------------------


def same_origin(request: Request) -> bool:
    """Whether a form post came from this site's own pages.

    Browsers, the only clients that send ambient credentials, mark every cross-site POST
    with Origin (and Sec-Fetch-Site); a request without either is not a forged one.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    host = request.headers.get("host", "")
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value:
            return value != "null" and urlsplit(value).netloc == host
    return True


# --- the app --------------------------------------------------------------------------


NextPolls = Callable[[], dict[str, datetime]]


class Dashboard:
    """The request handlers, bound to one store and a way to read the current settings."""

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Settings],
        next_polls: NextPolls | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.next_polls = next_polls
        self.templates = _templates()

    def _render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        context.setdefault("nav", name.removesuffix(".html"))
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def _not_found(self, request: Request, what: str) -> Response:
        return self._render(request, "error.html", {"message": f"{what} not found"}, 404)

    # --- pages --------------------------------------------------------------------

    async def items(self, request: Request) -> Response:
        parsed = parse_query(request.query_params, self.settings().web.page_size)
        page = await run_in_threadpool(item_service.page, self.store, parsed.query)
        languages, sources = await run_in_threadpool(queries.facets, self.store)
        return self._render(
            request,
            "items.html",
            {
                "page": page,
                "filters": parsed.params,
                "problems": parsed.problems,
                "languages": languages,
                "sources": sources,
                "prev_link": _page_link(parsed.params, page.page - 1) if page.page > 1 else None,
                "next_link": (
                    _page_link(parsed.params, page.page + 1) if page.page < page.pages else None
                ),
                "feed_query": ("?" + urlencode(parsed.params)) if parsed.params else "",
            },
        )

    async def item(self, request: Request) -> Response:
        item_id = int(request.path_params["item_id"])
        detail = await run_in_threadpool(queries.item_detail, self.store, item_id)
        if detail is None:
            return self._not_found(request, f"item {item_id}")
        return self._render(
            request,
            "item.html",
            {
                "d": detail,
                "item": detail.item,
                "terms": evidence_terms(detail.item.evidence),
                "saved": request.query_params.get("saved") == "1",
                "nav": "items",
            },
        )

    async def feedback(self, request: Request) -> Response:
        if not same_origin(request):
            return PlainTextResponse("403: cross-site form posts are refused", status_code=403)
        item_id = int(request.path_params["item_id"])
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        label = (form.get("label") or [""])[0]
        if label not in (*queries.LABELS, "clear"):
            return PlainTextResponse(
                "400: label must be relevant, not_relevant or clear", status_code=400
            )
        found = await run_in_threadpool(
            queries.set_feedback, self.store, item_id, None if label == "clear" else label
        )
        if not found:
            return self._not_found(request, f"item {item_id}")
        return RedirectResponse(f"/items/{item_id}?saved=1", status_code=303)

    async def sources(self, request: Request) -> Response:
        scheduled = self.next_polls() if self.next_polls else {}
        rows = await run_in_threadpool(
            lambda: source_status(self.store, self.settings(), scheduled=scheduled, days=CHART_DAYS)
        )
        view = [
            {
                "row": row,
                "source": row.source,
                "status": row.status,
                "ok": row.status == "ok",
                "next_poll": row.next_poll,
                "overdue": row.overdue,
                "chart": _chart(row.per_day),
            }
            for row in rows
        ]
        return self._render(request, "sources.html", {"sources": view, "days": CHART_DAYS})

    async def report(self, request: Request) -> Response:
        pairs = await run_in_threadpool(queries.labelled_items, self.store)
        recent = list(reversed(pairs[-30:]))
        return self._render(
            request, "report.html", {"report": build_report(pairs), "recent": recent}
        )

    async def eval_export(self, request: Request) -> Response:
        split = request.query_params.get("split", "heldout")
        if split not in ("tune", "heldout"):
            return PlainTextResponse("400: split must be tune or heldout", status_code=400)
        pairs = await run_in_threadpool(queries.labelled_items, self.store)
        buf = io.StringIO()
        write_eval(pairs, buf, split)
        return Response(
            buf.getvalue(),
            media_type="application/x-ndjson; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="feedback_eval.jsonl"'},
        )

    # --- feeds --------------------------------------------------------------------

    async def _stories(self, request: Request) -> tuple[ParsedQuery, list[tuple[Item, int]]]:
        parsed = parse_query(request.query_params, FEED_SIZE)
        stories = await run_in_threadpool(
            queries.relevant_stories, self.store, parsed.query, FEED_SIZE
        )
        return parsed, stories

    async def atom(self, request: Request) -> Response:
        parsed, stories = await self._stories(request)
        base = str(request.base_url).rstrip("/")
        self_url = f"{base}/feed.atom" + ("?" + urlencode(parsed.params) if parsed.params else "")
        body = atom_feed(stories, base=base, self_url=self_url, filters=parsed.params)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    async def json_feed(self, request: Request) -> Response:
        parsed, stories = await self._stories(request)
        base = str(request.base_url).rstrip("/")
        query = "?" + urlencode(parsed.params) if parsed.params else ""
        return JSONResponse(
            json_feed(stories, base=base, feed_url=f"{base}/feed.json{query}"),
            media_type="application/feed+json",
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.items, name="items"),
            Route("/items/{item_id:int}", self.item, name="item"),
            Route("/items/{item_id:int}/feedback", self.feedback, methods=["POST"]),
            Route("/sources", self.sources, name="sources"),
            Route("/report", self.report, name="report"),
            Route("/report/eval.jsonl", self.eval_export),
            Route("/feed.atom", self.atom),
            Route("/feed.json", self.json_feed),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ]


def _chart(per_day: list[tuple[date, int]]) -> dict[str, Any]:
    """Bars for an inline SVG: x, height and a tooltip per day."""
    top = max((n for _, n in per_day), default=0)
    bar, height = 5, 28
    bars = [
        {
            "x": i * bar,
            "h": max(1, round(n / top * height)) if n else 0,
            "title": f"{d.isoformat()}: {n}",
        }
        for i, (d, n) in enumerate(per_day)
    ]
    return {"bars": bars, "width": len(per_day) * bar, "height": height, "top": top}


def atom_feed(
    stories: list[tuple[Item, int]], *, base: str, self_url: str, filters: dict[str, str]
) -> bytes:
    """An Atom 1.0 document of the stories, newest first."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = _clean_xml(text)
        return el

    feed = ET.Element(f"{{{ATOM}}}feed")
    what = ", ".join(f"{k}={v}" for k, v in filters.items())
    sub(feed, "title", "OIC monitor: relevant stories" + (f" ({what})" if what else ""))
    sub(feed, "id", "tag:oic-monitor,2024:feed" + ("?" + urlencode(filters) if filters else ""))
    newest = max((i.fetched_at for i, _ in stories), default=None)
    sub(feed, "updated", _iso(newest or utcnow()))
    sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=f"{base}/", type="text/html")
    sub(sub(feed, "author"), "name", "oic-monitor")
    sub(feed, "generator", "oic-monitor")
    for item, copies in stories:
        entry = sub(feed, "entry")
        if item.language:
            entry.set("{http://www.w3.org/XML/1998/namespace}lang", item.language)
        sub(entry, "title", shown_title(item))
        sub(entry, "id", _entry_id(item))
        # Atom requires <updated>: an undated item gets the time it was stored there, and
        # no <published>, so a reader never takes the storing time for its publication.
        sub(entry, "updated", _iso(item.fetched_at))
        if item.published:
            sub(entry, "published", _iso(item.published))
        sub(entry, "link", rel="alternate", href=item.url, type="text/html")
        sub(entry, "link", rel="related", href=f"{base}/items/{item.id}", type="text/html")
        sub(sub(entry, "author"), "name", item.source)
        if item.tier:
            sub(entry, "category", term=item.tier, label=f"tier {item.tier}")
        extra = f" [{copies} outlets]" if copies > 1 else ""
        score = f"relevance {_score(item.relevance)}{extra}. {_dated(item)}"
        sub(entry, "summary", score + _summary(item.text), type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


def _dated(item: Item) -> str:
    """What a feed entry's summary says of its date when the entry's fields cannot."""
    if item.published is None:
        return f"Undated; stored {item.fetched_at:%Y-%m-%d}. "
    if item.published_precision == "month":
        return f"Published {published_label(item.published, 'month')}. "
    return ""


def json_feed(stories: list[tuple[Item, int]], *, base: str, feed_url: str) -> dict[str, Any]:
    """A JSON Feed 1.1 document of the stories, with the classifier's view under `_oic`."""
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "OIC monitor: relevant stories",
        "home_page_url": f"{base}/",
        "feed_url": feed_url,
        "items": [
            {
                "id": _entry_id(item),
                "url": item.url,
                "title": shown_title(item),
                "summary": _dated(item) + _summary(item.text),
                "content_text": item.text,
                "date_published": _iso(item.published) if item.published else None,
                "date_modified": _iso(item.fetched_at),
                "authors": [{"name": item.source}],
                "language": item.language,
                "tags": [t for t in (item.tier, item.language) if t],
                "_oic": {
                    "item_id": item.id,
                    "dashboard_url": f"{base}/items/{item.id}",
                    "source": item.source,
                    "tier": item.tier,
                    "relevance": item.relevance,
                    "story_id": item.story_id,
                    "copies": copies,
                    "published": published_label(item.published, item.published_precision),
                    "published_precision": precision_of(item.published, item.published_precision),
                    "evidence": evidence_terms(item.evidence),
                },
            }
            for item, copies in stories
        ],
    }


def create_app(
    store: Store,
    settings: Settings | Callable[[], Settings],
    *,
    token: str | None = None,
    next_polls: NextPolls | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    metrics: WebMetrics | None = None,
) -> Starlette:
    """The dashboard app; with `token`, every page but assets and health requires it.

    Without `metrics` (the daemon passes its own, with its /metrics among `extra_routes`)
    the app counts in a registry of its own and serves it at /metrics.
    """
    from monitor.web.health import metrics_response

    current = settings if callable(settings) else (lambda: settings)
    dashboard = Dashboard(store, current, next_polls)
    routes = [*extra_routes]
    if metrics is None:
        own = metrics = WebMetrics()

        async def serve_metrics(_: Request) -> Response:
            return metrics_response(own.registry)

        routes.append(Route("/metrics", serve_metrics))
    middleware = [Middleware(TokenMiddleware, token=token, metrics=metrics)] if token else []
    return SecuredStarlette(routes=[*routes, *dashboard.routes()], middleware=middleware)


def daemon_app(daemon: Daemon) -> Starlette:
    """`run --http`: health, metrics and, when it may be exposed there, the dashboard."""
    from monitor.web.health import health_app, parse_bind

    health = list(health_app(daemon).routes)
    host, _ = parse_bind(daemon.http or "127.0.0.1:0")
    token = daemon.settings.web.resolved_token()
    try:
        require_token_for(host, token)
    except WebConfigError as e:
        log.error("%s; serving /healthz and /metrics only", e)
        return SecuredStarlette(routes=health)
    assert daemon.rt is not None

    def next_polls() -> dict[str, datetime]:
        return {
            job.id: job.next_run_time
            for job in daemon.scheduler.get_jobs()
            if job.next_run_time is not None
        }

    return create_app(
        daemon.rt.store,
        lambda: daemon.settings,
        token=token,
        next_polls=next_polls,
        extra_routes=health,
        metrics=daemon.metrics.web,
    )
