"""Small connection pools, a few for each host, behind one httpx transport.

httpcore's pool looks at every connection it holds each time a request starts or a response
ends, so a request costs more the more connections share a pool: measured on loopback, 0.5 ms
of CPU for a 60 KB page with one or two connections open and 1.1 ms with sixteen. One pool
for all hosts (httpx's default) or for a host crawled sixteen requests at a time pays that
on every request. Here each host gets pools of at most ``SHARD`` connections, a new one
when those it has are all busy, so the cost stays that of a small pool. ``Fetcher``'s host
gates already bound the requests in flight to a host; that bounds its pools too.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from urllib.request import getproxies

import httpx

SHARD = 2  # connections a pool holds at most
KEEPALIVE = 5.0  # seconds an idle connection is kept (httpx's default)


def mounts(ssl_context: ssl.SSLContext) -> dict[str, httpx.AsyncBaseTransport]:
    """httpx mounts sending through host pools the schemes that no proxy of the environment
    takes (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY): httpx keeps those proxies, and the hosts
    NO_PROXY names, for itself."""
    proxies = getproxies()
    pools = HostPools(ssl_context)
    return {
        f"{scheme}://": pools
        for scheme in ("http", "https")
        if not (proxies.get(scheme) or proxies.get("all"))
    }


class _Pool:
    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        limits = httpx.Limits(
            max_connections=SHARD, max_keepalive_connections=SHARD, keepalive_expiry=KEEPALIVE
        )
        self.transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
        self.busy = 0  # requests whose responses are not closed yet
        self.last_used = time.monotonic()


class HostPools(httpx.AsyncBaseTransport):
    """Routes each request to a pool of its origin that has a connection to spare."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._pools: dict[tuple[bytes, bytes, int | None], list[_Pool]] = {}
        self._swept = time.monotonic()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        if now - self._swept > KEEPALIVE:
            await self._sweep(now)
        url = request.url
        pools = self._pools.setdefault((url.raw_scheme, url.raw_host, url.port), [])
        pool = min(pools, key=lambda p: p.busy, default=None)
        if pool is None or pool.busy >= SHARD:
            pool = _Pool(self._ssl_context)
            pools.append(pool)
        pool.busy += 1
        pool.last_used = now
        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            pool.busy -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Counted(response.stream, pool)
        return response

    async def _sweep(self, now: float) -> None:
        """Close the pools left idle past the keep-alive time: their connections would
        otherwise stay open until their host is asked again. They are taken out before the
        first is closed, so that no request picks one while the others close."""
        self._swept = now
        idle: list[_Pool] = []
        for key, pools in list(self._pools.items()):
            keep = [p for p in pools if p.busy or now - p.last_used <= KEEPALIVE]
            idle += [p for p in pools if p not in keep]
            if keep:
                self._pools[key] = keep
            else:
                del self._pools[key]
        for pool in idle:
            await pool.transport.aclose()

    async def aclose(self) -> None:
        pools = [p for ps in self._pools.values() for p in ps]
        self._pools = {}
        for pool in pools:
            await pool.transport.aclose()


class _Counted(httpx.AsyncByteStream):
    """A response body that gives its pool's slot back when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: _Pool) -> None:
        self._stream = stream
        self._pool: _Pool | None = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._pool is not None:
                self._pool.busy -= 1
                self._pool.last_used = time.monotonic()
                self._pool = None
