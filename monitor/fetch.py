"""The one HTTP client: polite (robots.txt and its Crawl-delay, per-host limits), bounded,
retrying, charset-aware."""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import logging
import random
import re
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from types import TracebackType
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

import charset_normalizer
import httpx

import monitor
from monitor import host_pools, robots
from monitor.config import FetchSettings
from monitor.files import bom_encoding
from monitor.redact import redact

__all__ = ["Accept", "FetchError", "FetchResult", "Fetcher"]

_log = logging.getLogger("monitor.fetch")

Accept = Literal["html", "feed", "any"]

_ACCEPT_HEADERS: dict[str, str] = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": (
        "application/rss+xml,application/atom+xml,application/rdf+xml,"
        "application/xml;q=0.9,text/xml;q=0.9,text/html;q=0.5,*/*;q=0.1"
    ),
    "any": "*/*",
}
_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# How much of the body to look at for magic numbers and <meta charset>.
_SNIFF_BYTES = 8
_CHARSET_SCAN_BYTES = 4096

# Leading bytes of formats that are certainly not a web page, whatever the header says.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"RIFF", "audio/video (RIFF)"),
    (b"%!PS", "application/postscript"),
)

_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?encoding\s*=\s*["']([\w.:-]+)["']""")
# Pages that declare Latin-1 or ASCII are in practice windows-1252, as browsers assume.
_SUPERSETS = {"iso8859-1": "cp1252", "ascii": "cp1252"}


class FetchError(Exception):
    """A URL could not be fetched; str() names the URL and what was wrong.

    str() and `detail` are fit to show: secrets in the URLs they hold are masked.

    `reason` is a short kind: "timeout", "network", "http_<status>", "too_large", "robots",
    "redirect_loop", "too_many_redirects", "bad_scheme", "bad_url", "not_html",
    "private_address" or "decode". While the host's robots.txt cannot be read nothing is
    fetched from it, and the reason is that of the failed robots.txt request.

    `transient` is true when a later try may succeed: the kinds of failure the client
    retries (timeouts, network errors, HTTP 429 and 5xx), also when robots.txt failed so.
    """

    def __init__(self, url: str, reason: str, detail: str, *, transient: bool = False) -> None:
        self.url = url
        self.reason = reason
        self.detail = redact(detail)
        self.transient = transient
        super().__init__(f"{redact(url)}: {self.detail}")

    def __reduce__(self) -> tuple[Callable[..., FetchError], tuple[str, str, str]]:
        # It crosses process pools; pickling passes only args, and `transient` is a keyword.
        return partial(type(self), transient=self.transient), (self.url, self.reason, self.detail)


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL, after redirects
    status: int  # 200..299, or 304 for a conditional GET that matched
    content: bytes  # content-encoding removed; a gzip *file* is left as it is
    content_type: str  # media type, lower-case, without parameters; "" when absent
    encoding: str | None  # Python codec name for text; None for binary or empty bodies
    etag: str | None
    last_modified: str | None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding or "utf-8", errors="replace")


@dataclass(frozen=True)
class _Redirect:
    location: str


class _RedirectSeen(Exception):
    """Raised from a response hook so httpx never parses Location itself: it would turn
    "javascript:..." or a malformed value into a generic error that looks retryable."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


async def _stop_at_redirect(response: httpx.Response) -> None:
    location = response.headers.get("location")
    if location and 300 <= response.status_code < 400 and response.status_code != 304:
        raise _RedirectSeen(location)


class _Retryable(Exception):
    """A failed attempt worth repeating, with the server's Retry-After if it sent one."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        error.transient = True  # what is worth repeating now may also succeed later
        self.error = error
        self.retry_after = retry_after


class _HostGate:
    """At most `slots` requests in flight to one host, and none starting sooner than
    `spacing` after the last start or the last end of a request to it.

    Counting from the end too means the host never sees two requests closer than the
    spacing, however long a connection took to open or a response to arrive: the gap a
    site's Crawl-delay asks for is the gap it observes. The spacing can grow once the host's
    robots.txt is read; it applies from that request, so the next one already waits for it.
    """

    def __init__(self, slots: int, spacing: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self.spacing = spacing
        self._last_start: float | None = None
        self._last_end: float | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            loop = asyncio.get_running_loop()
            while True:  # asked again after each sleep: another waiter may have started
                marks = [t for t in (self._last_start, self._last_end) if t is not None]
                wait = max(marks) + self.spacing - loop.time() if marks else 0.0
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self._last_start = loop.time()
            try:
                yield
            finally:
                self._last_end = loop.time()


class Fetcher:
    """Fetch pages politely; one instance per process, shared by all sources."""

    def __init__(self, settings: FetchSettings, *, version: str = monitor.__version__) -> None:
        self._settings = settings
        self.user_agent = settings.user_agent.format(version=version, contact=settings.contact)
        connect = settings.connect_timeout.total_seconds()
        read = settings.read_timeout.total_seconds()
        # httpx's read timeout is per chunk; the deadline bounds a whole attempt, so a server
        # that drips bytes cannot hold a request open forever.
        self._deadline = connect + read
        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.user_agent},
            timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=read),
            follow_redirects=False,  # followed by hand: each hop is checked
            event_hooks={"response": [_stop_at_redirect]},
            mounts=host_pools.mounts(httpx.create_ssl_context()),
        )
        self._gates: dict[tuple[str, int], _HostGate] = {}
        self._robots = robots.RobotsCache(settings, self._ask_robots)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: Accept = "any",
    ) -> FetchResult:
        """GET `url`, following redirects; raise FetchError when it cannot be had.

        With `etag`/`last_modified` the request is conditional and an unchanged page comes
        back as a result with status 304 and no content. accept="html" refuses responses
        that are not web pages (reason "not_html") before reading their body.
        """
        headers = {"Accept": _ACCEPT_HEADERS[accept]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._follow(
            url,
            headers,
            accept=accept,
            obey_robots=self._settings.obey_robots,
            retries=self._settings.retries,
            validators=(etag, last_modified),
        )

    async def robots_sitemaps(self, url: str) -> list[str]:
        """The Sitemap: URLs listed in the robots.txt of `url`'s host (cached), in order,
        without repeats: relative ones resolved against the robots.txt URL, and lines that
        are not http(s) URLs (ftp:, mailto:, text) left out, as no fetch could succeed."""
        _check_url(url)
        listed = (await self._robots.rules(url)).sitemaps
        base = urljoin(url, "/robots.txt")
        found = []
        for value in listed:
            if sitemap := _sitemap_url(base, value):
                found.append(sitemap)
            else:
                _log.info("%s names a Sitemap that is not an http(s) URL: %r", base, value)
        return list(dict.fromkeys(found))

    async def delay_for(self, url: str) -> float:
        """Seconds between the starts of two requests to `url`'s host: per_host_delay, or
        the host's Crawl-delay for us when longer (cut to max_crawl_delay)."""
        _check_url(url)
        delay = self._settings.per_host_delay.total_seconds()
        if not self._settings.obey_robots:
            return delay
        return max(delay, self._robots.crawl_delay(url, await self._robots.rules(url)))

    # --- redirects and retries ---------------------------------------------------------

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        *,
        accept: Accept,
        obey_robots: bool,
        retries: int,
        validators: tuple[str | None, str | None] = (None, None),
        max_redirects: int | None = None,
    ) -> FetchResult:
        _check_url(url)
        start = current = urldefrag(url).url
        # A URL revisited with the same cookies would get the same answer: that is a loop.
        # Revisited after the server set a cookie (consent and cookie-check pages), it is not.
        seen = {(current, self._cookie_state())}
        if max_redirects is None:
            max_redirects = self._settings.max_redirects
        for _ in range(max_redirects + 1):
            try:
                if obey_robots:
                    await self._obey_robots(current)
                outcome = await self._with_retries(current, headers, accept, retries, validators)
            except FetchError as e:
                if current == start:
                    raise
                detail = f"{e.detail} (after redirect to {current})"
                raise FetchError(url, e.reason, detail, transient=e.transient) from e
            if isinstance(outcome, FetchResult):
                return outcome
            try:
                target = urldefrag(urljoin(current, outcome.location.strip())).url
                scheme = urlsplit(target).scheme.lower()
            except ValueError:
                detail = f"redirect to an unusable URL: {outcome.location!r}"
                raise FetchError(url, "bad_url", detail) from None
            if scheme not in _SCHEMES:
                raise FetchError(url, "bad_scheme", f"redirect to a non-HTTP URL refused: {target}")
            visit = (target, self._cookie_state())
            if visit in seen:
                raise FetchError(url, "redirect_loop", f"redirect loop back to {target}")
            seen.add(visit)
            current = target
        raise FetchError(url, "too_many_redirects", f"more than {max_redirects} redirects")

    async def _with_retries(
        self,
        url: str,
        headers: dict[str, str],
        accept: Accept,
        retries: int,
        validators: tuple[str | None, str | None],
    ) -> FetchResult | _Redirect:
        limit = self._settings.max_retry_after.total_seconds()
        attempt = 0
        while True:
            try:
                return await self._attempt(url, headers, accept, validators)
            except _Retryable as failure:
                error = failure.error
                if failure.retry_after is not None and failure.retry_after > limit:
                    _log.warning(
                        "giving up on %s: %s with Retry-After %.0fs, over the %.0fs limit",
                        url,
                        error.reason,
                        failure.retry_after,
                        limit,
                    )
                    detail = f"{error.detail}; server asks to wait {failure.retry_after:.0f}s"
                    raise FetchError(url, error.reason, detail, transient=True) from None
                if attempt >= retries:
                    if retries:
                        _log.warning(
                            "giving up on %s after %d attempts: %s", url, attempt + 1, error.reason
                        )
                    raise error from None
                wait = failure.retry_after
                if wait is None:
                    wait = self._backoff(attempt)
                attempt += 1
                _log.info(
                    "retry %d of %d for %s in %.2fs after %s",
                    attempt,
                    retries,
                    url,
                    wait,
                    error.reason,
                )
                await asyncio.sleep(wait)

    def _cookie_state(self) -> frozenset[tuple[str, str, str, str]]:
        return frozenset(
            (c.domain, c.path, c.name, c.value or "") for c in self._client.cookies.jar
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, so many clients do not retry in step."""
        base = self._settings.backoff.total_seconds()
        ceiling = min(self._settings.max_retry_after.total_seconds(), base * 2**attempt)
        return random.uniform(0, ceiling)

    # --- one request ---------------------------------------------------------------------

    async def _attempt(
        self,
        url: str,
        headers: dict[str, str],
        accept: Accept,
        validators: tuple[str | None, str | None],
    ) -> FetchResult | _Redirect:
        if self._settings.block_private_addresses:
            await _check_public(url)
        try:
            async with self._gate(url).turn():
                async with asyncio.timeout(self._deadline):
                    async with self._client.stream("GET", url, headers=headers) as response:
                        return await self._receive(url, response, accept, validators)
        except _RedirectSeen as redirect:
            return _Redirect(redirect.location)
        except TimeoutError:
            detail = f"no complete response within {self._deadline:g}s"
            raise _Retryable(FetchError(url, "timeout", detail)) from None
        except httpx.TimeoutException as e:
            detail = f"timed out ({type(e).__name__})"
            raise _Retryable(FetchError(url, "timeout", detail)) from None
        except httpx.InvalidURL as e:
            raise FetchError(url, "bad_url", f"unusable URL: {e}") from None
        except httpx.DecodingError as e:
            raise FetchError(url, "decode", f"cannot decode the response body: {e}") from None
        except httpx.TransportError as e:
            detail = f"network error: {e or type(e).__name__}"
            raise _Retryable(FetchError(url, "network", detail)) from None

    async def _receive(
        self,
        url: str,
        response: httpx.Response,
        accept: Accept,
        validators: tuple[str | None, str | None],
    ) -> FetchResult:
        status = response.status_code
        media = _media_type(response.headers.get("content-type"))
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if status == 304:
            # Read to its (empty) end: a response left unread closes its connection, and
            # every poll of an unchanged feed would pay a new TCP (and TLS) handshake.
            await response.aread()
            # Keep the validators we sent when the server does not repeat them.
            return FetchResult(
                url, 304, b"", media, None, etag or validators[0], last_modified or validators[1]
            )
        if not 200 <= status < 300:
            error = FetchError(url, f"http_{status}", f"HTTP {status} {response.reason_phrase}")
            if status == 429 or status >= 500:
                raise _Retryable(error, parse_retry_after(response.headers.get("retry-after")))
            raise error
        if accept == "html" and not _may_be_html(media):
            raise FetchError(url, "not_html", f"not an HTML page ({media})")
        max_bytes = self._settings.max_bytes
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise FetchError(url, "too_large", f"body of {length} bytes is over {max_bytes}")
        content = await self._read_body(url, response, sniff=accept == "html")
        encoding = _charset(response.headers.get("content-type"), content, media)
        return FetchResult(
            url, status, content, media, encoding, etag, last_modified, response.headers
        )

    async def _read_body(self, url: str, response: httpx.Response, *, sniff: bool) -> bytes:
        """Read at most max_bytes of the decoded body, stopping as soon as it is exceeded.

        aiter_bytes yields content-decoded chunks, so a gzip bomb hits the cap too (one raw
        chunk can still expand in memory before the check).
        """
        max_bytes = self._settings.max_bytes
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(url, "too_large", f"body is over {max_bytes} bytes")
            if sniff and len(body) >= _SNIFF_BYTES:
                _refuse_binary(url, body)
                sniff = False
        if sniff:
            _refuse_binary(url, body)
        return bytes(body)

    def _gate(self, url: str) -> _HostGate:
        parts = urlsplit(url)
        key = ((parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS[parts.scheme.lower()])
        gate = self._gates.get(key)
        if gate is None:
            gate = _HostGate(
                self._settings.per_host_concurrency,
                self._settings.per_host_delay.total_seconds(),
            )
            self._gates[key] = gate
        return gate

    # --- robots.txt ----------------------------------------------------------------------

    async def _obey_robots(self, url: str) -> None:
        """Raise FetchError unless robots.txt lets us fetch `url`; space the host's requests
        by its Crawl-delay."""
        rules = await self._robots.rules(url)
        if rules.failure:
            detail = f"{rules.detail} for robots.txt; the host is not crawled until it answers"
            raise FetchError(url, rules.failure, detail, transient=True)
        if not rules.allows(url):
            raise FetchError(url, "robots", f"robots.txt disallows {robots.AGENT}")
        delay = self._robots.crawl_delay(url, rules)
        gate = self._gate(url)
        gate.spacing = max(self._settings.per_host_delay.total_seconds(), delay)

    async def _ask_robots(self, robots_url: str) -> robots.Reply:
        try:
            result = await self._follow(
                robots_url,
                {"Accept": "text/plain,*/*;q=0.1"},
                accept="any",
                obey_robots=False,
                retries=self._settings.retries,
                max_redirects=robots.REDIRECTS,
            )
        except FetchError as e:
            return robots.Reply(failure=e.reason, detail=e.detail)
        return robots.Reply(result.text, result.headers)


# --- helpers ------------------------------------------------------------------------------


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as e:
        raise FetchError(url, "bad_url", f"unusable URL: {e}") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise FetchError(url, "bad_scheme", "only http:// and https:// URLs can be fetched")
    if not parts.hostname:
        raise FetchError(url, "bad_url", "the URL has no host")


def _sitemap_url(base: str, value: str) -> str | None:
    """A robots.txt Sitemap: value as an absolute http(s) URL, or None when it is none."""
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        return None  # a URL has no inner whitespace: this is prose, not a location
    try:
        given = urlsplit(value)
        url = urljoin(base, value)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # e.g. "http://[::1": a broken host
        return None
    if given.scheme and not given.netloc:
        return None  # "http:" or "https:x": a scheme without a host of its own
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return None
    return url


async def _check_public(url: str) -> None:
    """Refuse hosts that resolve to private, loopback, link-local or reserved addresses.

    The name is resolved again when connecting, so this narrows rather than closes the gap
    for a hostile DNS server; it stops links and redirects that point inside the network.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise _Retryable(FetchError(url, "network", f"cannot resolve {host}: {e}")) from None
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            detail = f"{host} resolves to a non-public address ({address})"
            raise FetchError(url, "private_address", detail)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _may_be_html(media: str) -> bool:
    # Lenient on text/* and a missing header: servers mislabel pages; sniffing catches binaries.
    return media in ("", "application/xhtml+xml") or media.startswith("text/")


def _is_textual(media: str) -> bool:
    return (
        media == ""
        or media.startswith("text/")
        or media.endswith(("xml", "+json", "/json", "javascript"))
    )


def _refuse_binary(url: str, head: bytes | bytearray) -> None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            raise FetchError(url, "not_html", f"not an HTML page (content looks like {kind})")


def _codec(name: bytes | str) -> str | None:
    """Python's codec name for a declared charset, or None if Python does not know it."""
    if isinstance(name, bytes):
        name = name.decode("ascii", errors="replace")
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _SUPERSETS.get(codec, codec)


def _charset(content_type: str | None, content: bytes, media: str) -> str | None:
    """The body's encoding: BOM, header charset, <meta>, XML declaration, then detection."""
    if not content or not _is_textual(media):
        return None
    # A byte order mark is unambiguous, so it outranks the header (as in browsers).
    if bom := bom_encoding(content):
        return bom
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and (codec := _codec(value)):
            return codec
    head = content[:_CHARSET_SCAN_BYTES]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        m = pattern.search(head)
        if m and (codec := _codec(m.group(1))):
            return codec
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"  # also pure ASCII; cheaper than detection and always right
    best = charset_normalizer.from_bytes(content).best()
    return _codec(best.encoding) if best is not None else "utf-8"
