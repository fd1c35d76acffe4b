"""What the web apps check on their own: the access token, guessing it, and browser headers.

- `SecuredStarlette` puts `SecurityHeaders` outside everything else, Starlette's own error
  handler included, so every answer (pages, feeds, files, health, 401/403/404/429, 500)
  carries the same Content-Security-Policy, nosniff, Referrer-Policy and X-Frame-Options.
- `TokenMiddleware` asks for a token on every path but assets and health, tells the
  request which analyst it belongs to (`request.state.analyst`), and refuses an address for
  a while after too many wrong tokens (`GuessLimit`).

The client address is the socket peer, as the server hands it over; the server replaces it
with the X-Forwarded-For address only for proxies listed in `[web] trusted_proxies`
(`monitor.web.server`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.config import SHARED_ANALYST, WebSettings
from monitor.metrics import WebMetrics

# Scripts, styles, images and fonts only from files of this site; nothing inline, no
# plugins, no <base> tricks, forms post only here, and no site may frame the dashboard.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The address bar may hold ?token= for a moment: it never leaves in a Referer.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}

COOKIE = "oic_token"
# Reachable without the token: assets carry no data, and orchestrators probe health bare.
OPEN_PREFIXES = ("/static/", "/healthz", "/metrics")
# Feed readers and scripts rarely keep cookies, so these take `?token=` on every request.
FEED_PATHS = frozenset({"/feed.atom", "/feed.json", "/report/eval.jsonl", "/items.csv",
                        "/items.jsonl"})  # fmt: skip
FEED_SUFFIXES = ("/feed.atom", "/feed.json")  # a saved search's feeds


class WebConfigError(Exception):
    """The dashboard cannot start as configured (e.g. exposed without a token)."""


def analyst_tokens(web: WebSettings, shared: str | None) -> dict[str, str]:
    """Each access token and the analyst it names: `shared` (the single token) names the
    shared analyst, each of `[web] users` their own from the environment."""
    tokens = {shared: SHARED_ANALYST} if shared else {}
    for user in web.users:
        value = os.environ.get(user.token_env)
        if not value:
            raise WebConfigError(
                f"[web] users: analyst {user.name!r} has no token: environment variable "
                f"{user.token_env} is not set"
            )
        if value in tokens:
            raise WebConfigError(
                f"[web] users: analyst {user.name!r} has the same token as {tokens[value]!r}"
            )
        tokens[value] = user.name
    return tokens


def is_feed(path: str) -> bool:
    return path in FEED_PATHS or (path.startswith("/searches/") and path.endswith(FEED_SUFFIXES))


class SecurityHeaders:
    """Adds `HEADERS` to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredStarlette(Starlette):
    """A Starlette app whose every response, its 500 page too, carries `HEADERS`."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


# --- guessing the token ---------------------------------------------------------------


def client_key(host: str | None) -> str:
    """Who is guessing: the IPv4 address, or the /64 of an IPv6 one (one site's share)."""
    if not host:
        return "?"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class GuessLimit:
    """After `attempts` wrong tokens within `window` seconds, an address waits `block` s.

    Memory is bounded: at most `max_clients` addresses are remembered, the oldest dropped.
    """

    attempts: int = 10
    window: float = 60.0
    block: float = 60.0
    max_clients: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _blocked: dict[str, float] = field(default_factory=dict, repr=False)

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again; 0 when it may now."""
        until = self._blocked.get(client)
        if until is None:
            return 0.0
        left = until - self.clock()
        if left <= 0:
            del self._blocked[client]
            return 0.0
        return left

    def failed(self, client: str) -> None:
        now = self.clock()
        times = self._failures.pop(client, None) or deque()
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.attempts:
            self._blocked[client] = now + self.block
            self._trim(self._blocked)
        else:
            self._failures[client] = times  # re-inserted last: dicts drop the oldest first
            self._trim(self._failures)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def __len__(self) -> int:
        """How many addresses are remembered."""
        return len(self._failures.keys() | self._blocked.keys())

    def _trim(self, table: dict[str, Any]) -> None:
        while len(table) > self.max_clients:
            del table[next(iter(table))]


# --- the token ------------------------------------------------------------------------


def cookie_value(token: str) -> str:
    # The cookie holds a digest, so the token itself never sits in the browser's store.
    return hmac.new(token.encode(), b"oic-monitor dashboard", hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenMiddleware(BaseHTTPMiddleware):
    """Every request but assets and health needs a token: bearer, cookie or `?token=`.

    `tokens` maps each token to its analyst, whose name the request then carries in
    `request.state.analyst`. A valid `?token=` wins over a cookie, so one browser can
    change analyst by opening a link with another token.
    """

    def __init__(
        self,
        app: ASGIApp,
        tokens: Mapping[str, str],
        metrics: WebMetrics,
        limit: GuessLimit | None = None,
    ) -> None:
        super().__init__(app)
        self.tokens = [(token, cookie_value(token), name) for token, name in tokens.items()]
        self.metrics = metrics
        self.limit = limit or GuessLimit()

    def _analyst(self, given: str | None, *, cookie: bool = False) -> str | None:
        """The analyst whose token (or cookie digest) `given` is; every one is compared."""
        found = None
        if given is not None:
            for token, digest, name in self.tokens:
                if _same(given, digest if cookie else token):
                    found = name
        return found

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith(OPEN_PREFIXES):
            return await call_next(request)
        client = client_key(request.client.host if request.client else None)
        wait = self.limit.retry_after(client)
        if wait:
            # Nothing is checked meanwhile, or the answer would still tell a right guess.
            self.metrics.refused.inc()
            return PlainTextResponse(
                "429: too many wrong access tokens from this address; try again later.",
                status_code=429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        auth = request.headers.get("authorization", "")
        cookie = request.cookies.get(COOKIE)
        given = request.query_params.get("token")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        by_query = self._analyst(given)
        analyst = by_query or self._analyst(bearer) or self._analyst(cookie, cookie=True)
        if analyst is None:
            return self._refuse(client, tried=bool(auth) or cookie is not None or given is not None)
        request.state.analyst = analyst
        if by_query is not None:
            response = await self._with_query_token(request, call_next, str(given))
        else:
            response = await call_next(request)
        self.limit.succeeded(client)
        return response

    async def _with_query_token(
        self, request: Request, call_next: RequestResponseEndpoint, token: str
    ) -> Response:
        path = request.url.path
        if is_feed(path) or request.method != "GET":
            response = await call_next(request)
        else:
            # Drop the token from the address bar (and history) once the cookie is set;
            # one leading slash, so the target can never be another host.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = "/" + path.lstrip("/") + ("?" + urlencode(rest) if rest else "")
            response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            cookie_value(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    def _refuse(self, client: str, *, tried: bool) -> Response:
        response = PlainTextResponse(
            "401: this dashboard needs its access token (?token=... or Authorization: Bearer).",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        if tried:
            # A bare first visit is no guess; a wrong bearer, cookie or ?token= is one.
            self.limit.failed(client)
            self.metrics.token_failures.inc()
            response.delete_cookie(COOKIE)  # a stale cookie is sent once, not on every page
        return response
