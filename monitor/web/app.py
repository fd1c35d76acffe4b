"""The dashboard: stories, one item, sources, coverage, the report, saved searches, feeds.

Server-rendered Jinja2 pages on Starlette; a small script (static/keys.js) adds keyboard
navigation, and every page works without it. Nothing here changes an item: analysts write
only their own marks, read state, stars and saved searches, by same-origin form posts,
and read only their own saved searches' feeds.
Bound anywhere but loopback, every page needs an access token (`Authorization: Bearer`, or
`?token=` once, which sets a cookie); each token names an analyst.
"""

from __future__ import annotations

import io
import ipaddress
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.config import SHARED_ANALYST, Settings
from monitor.coverage import coverage
from monitor.metrics import WebMetrics
from monitor.report import report_from_marks, write_eval
from monitor.services import items as item_service
from monitor.services.status import source_status
from monitor.store import marks, queries
from monitor.store.models import utcnow
from monitor.store.repo import Store
from monitor.web.feeds import atom_feed, json_feed
from monitor.web.filters import Filters, feed_query, parse_filters
from monitor.web.render import HERE, chart, templates
from monitor.web.security import (
    SecuredStarlette,
    TokenMiddleware,
    WebConfigError,
    analyst_tokens,
)

if TYPE_CHECKING:
    from monitor.scheduler import Daemon

log = logging.getLogger("monitor.web")

FEED_SIZE = 50
CHART_DAYS = 30
SAVED_NAME_CHARS = 100

__all__ = ["WebConfigError", "create_app", "daemon_app", "is_loopback", "require_token_for"]


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
            "variable, [web] users, or pass --token"
        )


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


def _local(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default`: never a way to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


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
        self.templates = templates()

    # --- shared -------------------------------------------------------------------

    @staticmethod
    def analyst(request: Request) -> str:
        return str(getattr(request.state, "analyst", SHARED_ANALYST))

    def _filters(self, request: Request, params: QueryParams | None = None) -> Filters:
        return parse_filters(
            request.query_params if params is None else params,
            self.settings().web.page_size,
            analyst=self.analyst(request),
        )

    async def _render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        settings = self.settings()
        enabled = [s.name for s in settings.sources if s.enabled]
        failing, gaps = await run_in_threadpool(queries.health, self.store, enabled)
        context.setdefault("nav", name.removesuffix(".html"))
        context.update(
            analyst=self.analyst(request),
            named=bool(settings.web.users),
            failing=failing,
            open_gaps=gaps,
        )
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    async def _not_found(self, request: Request, what: str) -> Response:
        return await self._render(request, "error.html", {"message": f"{what} not found"}, 404)

    # --- pages --------------------------------------------------------------------

    async def items(self, request: Request) -> Response:
        f = self._filters(request)
        page = await run_in_threadpool(item_service.page, self.store, f.query)
        languages, sources = await run_in_threadpool(queries.facets, self.store)
        analyst = self.analyst(request)
        saved = await run_in_threadpool(marks.saved_searches, self.store, analyst)
        ids = [row.item.id for row in page.stories if row.item.id is not None]
        mine = await run_in_threadpool(marks.feedback_for, self.store, ids, analyst)
        here = "/" + f.qs(page=str(page.page) if page.page > 1 else None)
        return await self._render(
            request,
            "items.html",
            {
                "page": page,
                "f": f,
                "problems": f.problems,
                "languages": languages,
                "sources": sources,
                "saved": saved,
                "mine": mine,
                "here": here,
                "prev_link": f.qs(page=str(page.page - 1)) if page.page > 1 else None,
                "next_link": f.qs(page=str(page.page + 1)) if page.page < page.pages else None,
            },
        )

    async def item(self, request: Request) -> Response:
        item_id = int(request.path_params["item_id"])
        analyst = self.analyst(request)
        detail = await run_in_threadpool(queries.item_detail, self.store, item_id, analyst)
        if detail is None:
            return await self._not_found(request, f"item {item_id}")
        f = self._filters(request)
        story = detail.item.story_id or item_id
        newer, older = await run_in_threadpool(queries.neighbours, self.store, f.query, detail.item)
        read = detail.read
        if request.query_params.get("stay") != "unread":
            await run_in_threadpool(marks.set_read, self.store, analyst, story, True)
            read = True
        return await self._render(
            request,
            "item.html",
            {
                "d": detail,
                "item": detail.item,
                "story": story,
                "read": read,
                "f": f,
                "here": f"/items/{item_id}" + f.qs(),
                "newer": newer,
                "older": older,
                "saved": request.query_params.get("saved") == "1",
                "nav": "items",
                "kind": "item",
            },
        )

    async def feedback(self, request: Request) -> Response:
        if not same_origin(request):
            return PlainTextResponse("403: cross-site form posts are refused", status_code=403)
        item_id = int(request.path_params["item_id"])
        label = (await _form(request)).get("label", "")
        if label not in (*marks.LABELS, "clear"):
            return PlainTextResponse(
                "400: label must be relevant, not_relevant or clear", status_code=400
            )
        found = await run_in_threadpool(
            marks.set_feedback,
            self.store,
            item_id,
            None if label == "clear" else label,
            self.analyst(request),
        )
        if not found:
            return await self._not_found(request, f"item {item_id}")
        f = self._filters(request)
        return RedirectResponse(f"/items/{item_id}" + f.qs(saved="1"), status_code=303)

    async def story_state(self, request: Request) -> Response:
        """POST /stories/{id}/read or /star: `value=1` sets it, `value=0` clears it."""
        if not same_origin(request):
            return PlainTextResponse("403: cross-site form posts are refused", status_code=403)
        story_id = int(request.path_params["story_id"])
        what = request.path_params["what"]
        if what not in ("read", "star"):
            return PlainTextResponse("404: no such page", status_code=404)
        form = await _form(request)
        on = form.get("value", "1") == "1"
        setter = marks.set_read if what == "read" else marks.set_starred
        await run_in_threadpool(setter, self.store, self.analyst(request), story_id, on)
        if _wants_json(request):
            return JSONResponse({"story": story_id, what: on})
        return RedirectResponse(_local(form.get("back")), status_code=303)

    async def save_search(self, request: Request) -> Response:
        if not same_origin(request):
            return PlainTextResponse("403: cross-site form posts are refused", status_code=403)
        form = await _form(request)
        name = " ".join(form.get("name", "").split())[:SAVED_NAME_CHARS]
        f = self._filters(request, QueryParams(form.get("query", "")))
        if not name:
            return PlainTextResponse("400: a saved search needs a name", status_code=400)
        query = f.qs().removeprefix("?")
        await run_in_threadpool(marks.save_search, self.store, self.analyst(request), name, query)
        return RedirectResponse("/" + f.qs(), status_code=303)

    async def delete_search(self, request: Request) -> Response:
        if not same_origin(request):
            return PlainTextResponse("403: cross-site form posts are refused", status_code=403)
        search_id = int(request.path_params["search_id"])
        await run_in_threadpool(marks.delete_search, self.store, self.analyst(request), search_id)
        return RedirectResponse(_local((await _form(request)).get("back")), status_code=303)

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
                "chart": chart(row.per_day),
            }
            for row in rows
        ]
        return await self._render(request, "sources.html", {"sources": view, "days": CHART_DAYS})

    async def coverage(self, request: Request) -> Response:
        settings = self.settings()
        raw = request.query_params.get("since", "").strip()
        problems = []
        since = None
        if raw:
            try:
                since = date.fromisoformat(raw)
            except ValueError:
                problems.append(f"since: expected a date like 2024-03-05, got {raw[:40]!r}")
        start = datetime.combine(since, datetime.min.time(), UTC) if since else None
        rows = await run_in_threadpool(coverage, self.store, settings, start)
        gaps = await run_in_threadpool(lambda: self.store.gaps(status="open"))
        today = utcnow().date()
        days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
        view = [
            {"row": r, "chart": chart(_per_day(r.per_day, days)), "days": len(r.per_day) or 1}
            for r in rows
        ]
        return await self._render(
            request,
            "coverage.html",
            {"rows": view, "gaps": gaps, "since": since, "problems": problems, "days": CHART_DAYS},
        )

    async def report(self, request: Request) -> Response:
        all_marks = await run_in_threadpool(marks.marks, self.store)
        recent = list(reversed(all_marks[-30:]))
        return await self._render(
            request, "report.html", {"report": report_from_marks(all_marks), "recent": recent}
        )

    async def eval_export(self, request: Request) -> Response:
        split = request.query_params.get("split", "heldout")
        if split not in ("tune", "heldout"):
            return PlainTextResponse("400: split must be tune or heldout", status_code=400)
        pairs = await run_in_threadpool(marks.labelled_items, self.store)
        buf = io.StringIO()
        write_eval(pairs, buf, split)
        return Response(
            buf.getvalue(),
            media_type="application/x-ndjson; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="feedback_eval.jsonl"'},
        )

    async def download(self, request: Request) -> Response:
        """The items of the current view (every page of it) as CSV or JSONL."""
        fmt = "csv" if request.url.path.endswith(".csv") else "jsonl"
        f = self._filters(request)
        rows = item_service.records(self.store, item_service.matching(self.store, f.query))
        name = f"oic-monitor-items-{utcnow():%Y%m%d-%H%M}.{fmt}"
        media = "text/csv" if fmt == "csv" else "application/x-ndjson"
        return StreamingResponse(
            item_service.stream(rows, fmt),  # a plain iterator: read in a worker thread
            media_type=f"{media}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # --- feeds --------------------------------------------------------------------

    async def _feed(
        self, request: Request, f: Filters, path: str, title: str, feed_id: str, atom: bool
    ) -> Response:
        stories = await run_in_threadpool(
            queries.relevant_stories, self.store, feed_query(f), FEED_SIZE
        )
        base = str(request.base_url).rstrip("/")
        url = f"{base}{path}" + f.qs(show=None)
        if atom:
            body = atom_feed(stories, base=base, self_url=url, feed_id=feed_id, title=title)
            return Response(body, media_type="application/atom+xml; charset=utf-8")
        return JSONResponse(
            json_feed(stories, base=base, feed_url=url, title=title),
            media_type="application/feed+json",
        )

    async def feed(self, request: Request) -> Response:
        f = parse_filters(request.query_params, FEED_SIZE)
        given = [(k, v) for k, v in f.pairs if k != "show"]
        what = ", ".join(f"{k}={v}" for k, v in given)
        title = "OIC monitor: relevant stories" + (f" ({what})" if what else "")
        feed_id = "tag:oic-monitor,2024:feed" + ("?" + urlencode(given) if given else "")
        path = request.url.path
        return await self._feed(request, f, path, title, feed_id, path.endswith(".atom"))

    async def saved_feed(self, request: Request) -> Response:
        search_id = int(request.path_params["search_id"])
        # Another analyst's search is not found, as if it did not exist.
        analyst = self.analyst(request)
        saved = await run_in_threadpool(marks.saved_search, self.store, analyst, search_id)
        if saved is None:
            return PlainTextResponse(f"404: no saved search {search_id}", status_code=404)
        f = parse_filters(QueryParams(saved.query), FEED_SIZE)
        path = request.url.path
        title = f"OIC monitor: {saved.name}"
        feed_id = f"tag:oic-monitor,2024:search/{saved.id}"
        return await self._feed(request, f, path, title, feed_id, path.endswith(".atom"))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.items, name="items"),
            Route("/items/{item_id:int}", self.item, name="item"),
            Route("/items/{item_id:int}/feedback", self.feedback, methods=["POST"]),
            Route("/stories/{story_id:int}/{what:str}", self.story_state, methods=["POST"]),
            Route("/searches", self.save_search, methods=["POST"]),
            Route("/searches/{search_id:int}/delete", self.delete_search, methods=["POST"]),
            Route("/searches/{search_id:int}/feed.atom", self.saved_feed),
            Route("/searches/{search_id:int}/feed.json", self.saved_feed),
            Route("/sources", self.sources, name="sources"),
            Route("/coverage", self.coverage, name="coverage"),
            Route("/report", self.report, name="report"),
            Route("/report/eval.jsonl", self.eval_export),
            Route("/items.csv", self.download),
            Route("/items.jsonl", self.download),
            Route("/feed.atom", self.feed),
            Route("/feed.json", self.feed),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ]


def _per_day(counts: Counter[str], days: Sequence[date]) -> list[tuple[date, int]]:
    return [(d, counts.get(d.isoformat(), 0)) for d in days]


def create_app(
    store: Store,
    settings: Settings | Callable[[], Settings],
    *,
    token: str | None = None,
    next_polls: NextPolls | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    metrics: WebMetrics | None = None,
) -> Starlette:
    """The dashboard app. With `token` (the shared one) or `[web] users`, every page but
    assets and health requires a token; raises WebConfigError when a user's is not set.

    Without `metrics` (the daemon passes its own, with its /metrics among `extra_routes`)
    the app counts in a registry of its own and serves it at /metrics.
    """
    from monitor.web.health import metrics_response

    current = settings if callable(settings) else (lambda: settings)
    tokens = analyst_tokens(current().web, token)
    dashboard = Dashboard(store, current, next_polls)
    routes = [*extra_routes]
    if metrics is None:
        own = metrics = WebMetrics()

        async def serve_metrics(_: Request) -> Response:
            return metrics_response(own.registry)

        routes.append(Route("/metrics", serve_metrics))
    middleware = [Middleware(TokenMiddleware, tokens=tokens, metrics=metrics)] if tokens else []
    return SecuredStarlette(routes=[*routes, *dashboard.routes()], middleware=middleware)


def daemon_app(daemon: Daemon) -> Starlette:
    """`run --http`: health, metrics and, when it may be exposed there, the dashboard."""
    from monitor.web.health import health_app
    from monitor.web.server import parse_bind

    health = list(health_app(daemon).routes)
    host, _ = parse_bind(daemon.http or "127.0.0.1:0")
    token = daemon.settings.web.resolved_token()
    try:
        tokens = analyst_tokens(daemon.settings.web, token)
        require_token_for(host, next(iter(tokens), None))
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
