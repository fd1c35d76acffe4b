"""robots.txt as RFC 9309 has it: rules read by Protego, one copy per origin kept as long as
its HTTP caching headers allow (at most a day), and what to do when there is no file."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from protego import Protego

if TYPE_CHECKING:
    from monitor.config import FetchSettings


__all__ = ["AGENT", "REDIRECTS", "Reply", "RobotsCache", "Rules", "log_skipped"]

_log = logging.getLogger("monitor.robots")

# The product token robots.txt groups are matched against.
AGENT = "oic-monitor"
# RFC 9309 2.3.1.2: at least five redirects are followed to reach robots.txt.
REDIRECTS = 5
# RFC 9309 2.4: a cached robots.txt should not be used for longer than 24 hours.
MAX_AGE = 24 * 3600.0


@dataclass(frozen=True)
class Reply:
    """What asking for robots.txt gave: its text and headers, or the fetch failure's reason
    ("http_404", "http_503", "network", ...) and message."""

    text: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    failure: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Rules:
    """The rules of one origin. No parser: no file, so everything is allowed, unless the
    file could not be read (`failure` is then the fetch error's reason, `detail` its
    message), in which case nothing is."""

    parser: Protego | None = None
    failure: str = ""
    detail: str = ""

    @classmethod
    def parse(cls, text: str) -> Rules:
        return cls(Protego.parse(text))

    def allows(self, url: str) -> bool:
        if self.failure:
            return False
        return self.parser is None or self.parser.can_fetch(url, AGENT)

    @property
    def crawl_delay(self) -> float | None:
        """Seconds of Crawl-delay in the group that applies to us, if it sets one."""
        return self.parser.crawl_delay(AGENT) if self.parser else None

    @property
    def sitemaps(self) -> list[str]:
        return list(self.parser.sitemaps) if self.parser else []


@dataclass
class _Copy:
    rules: Rules
    fresh_until: float  # time.monotonic()
    readable: Rules | None  # the last rules read from a file, used while it is unreachable
    failing: bool = False  # robots.txt was unreachable when last asked for


class RobotsCache:
    """One robots.txt per origin, asked for once however many requests wait for it, and
    again once stale.

    4xx (but 429): no usable file, everything allowed. 5xx, 429 and network errors: the
    origin is unreachable and nothing is fetched from it (with the last copy read, if there
    is one, still in force) until robots.txt is asked for again after `robots_error_ttl`.
    """

    def __init__(self, settings: FetchSettings, ask: Callable[[str], Awaitable[Reply]]) -> None:
        self._settings = settings
        self._ask = ask
        self._copies: dict[str, _Copy] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._capped: set[str] = set()

    async def rules(self, url: str) -> Rules:
        """The rules in force for `url`'s origin."""
        origin = _origin(url)
        copy = self._copies.get(origin)
        if copy is not None and copy.fresh_until > time.monotonic():
            return copy.rules
        async with self._locks.setdefault(origin, asyncio.Lock()):
            copy = self._copies.get(origin)
            if copy is None or copy.fresh_until <= time.monotonic():
                reply = await self._ask(origin + "/robots.txt")
                copy = self._settle(origin, reply, copy)
                self._copies[origin] = copy
            return copy.rules

    def crawl_delay(self, url: str, rules: Rules) -> float:
        """The origin's Crawl-delay for us in seconds (0 when none), cut to max_crawl_delay
        with a warning the first time that happens for the origin."""
        delay = rules.crawl_delay or 0.0
        cap = self._settings.max_crawl_delay.total_seconds()
        if delay <= cap:
            return delay
        origin = _origin(url)
        if origin not in self._capped:
            self._capped.add(origin)
            _log.warning(
                "%s: robots.txt asks for a Crawl-delay of %gs; using the max_crawl_delay of %gs",
                origin,
                delay,
                cap,
            )
        return cap

    def _settle(self, origin: str, reply: Reply, before: _Copy | None) -> _Copy:
        now = time.monotonic()
        if reply.text is not None:
            rules = Rules.parse(reply.text)
            lifetime = freshness(reply.headers) or self._settings.robots_ttl.total_seconds()
            return _Copy(rules, now + min(lifetime, MAX_AGE), rules)
        if not _unreachable(reply.failure):
            # No file (404, 403, ...), or one that cannot be reached by following redirects.
            lifetime = min(self._settings.robots_ttl.total_seconds(), MAX_AGE)
            return _Copy(Rules(), now + lifetime, None)
        retry = self._settings.robots_error_ttl.total_seconds()
        last = before.readable if before is not None else None
        if before is None or not before.failing:
            kept = "keeping the copy read before" if last else "nothing is fetched from it"
            _log.warning(
                "%s: robots.txt unreachable (%s); %s until it can be read (asked again every %gs)",
                origin,
                reply.detail or reply.failure,
                kept,
                retry,
            )
        rules = last if last is not None else Rules(None, reply.failure, reply.detail)
        return _Copy(rules, now + retry, last, failing=True)


def freshness(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a response may be reused, from Cache-Control max-age or else Expires (less
    its Age); None when the headers say nothing useful or forbid reuse: the caller's
    default applies then, rather than asking before every request."""
    lower = {k.lower(): v for k, v in headers.items()}
    directives: dict[str, str] = {}
    for part in lower.get("cache-control", "").split(","):
        name, _, value = part.partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    age = lower.get("age", "").strip()
    lifetime: float | None = None
    if directives.get("max-age", "").isdigit():
        lifetime = float(directives["max-age"])
    elif "expires" in lower:
        expires = _http_date(lower["expires"])
        date = _http_date(lower.get("date", ""))
        if expires is not None:
            lifetime = expires - (date if date is not None else (now or time.time()))
    if lifetime is None:
        return None
    lifetime -= float(age) if age.isdigit() else 0.0
    return lifetime if lifetime > 0 else None


def log_skipped(source: str, errors: Mapping[str, int]) -> None:
    """One line per source for the URLs robots.txt kept it from fetching, however many."""
    if n := errors.get("robots", 0):
        _log.warning("%s: %d URL(s) not fetched: robots.txt disallows them", source, n)


def _unreachable(reason: str) -> bool:
    return reason in ("network", "timeout", "http_429") or reason.startswith("http_5")


def _http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # "0", "-1" and other junk: already expired, as RFC 9111 says
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
