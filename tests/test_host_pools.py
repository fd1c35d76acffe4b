"""Connections as the fetcher keeps them: reused, closed when idle, and through the
environment's proxies when those are set."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor import host_pools
from monitor.config import FetchSettings
from monitor.fetch import Fetcher, FetchError, FetchResult
from tests.webserver import LocalWeb, Request, Response


def settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = {"per_host_delay": 0.001, "retries": 0, "obey_robots": False}
    return FetchSettings(**{**values, **overrides})  # type: ignore[arg-type]


class _Tracked(ThreadingHTTPServer):
    """Answers every GET with a small page over keep-alive connections, and notes each
    connection's port when it opens and when the client closes it."""

    daemon_threads = True
    delay = 0.0  # seconds before each answer

    def __init__(self) -> None:
        self.opened: list[int] = []
        self.closed: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                server.opened.append(self.client_address[1])

            def finish(self) -> None:
                super().finish()
                server.closed.append(self.client_address[1])

            def do_GET(self) -> None:
                time.sleep(server.delay)
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(("127.0.0.1", 0), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def tracked() -> Iterator[_Tracked]:
    server = _Tracked()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_host_fetched_many_at_a_time_reuses_its_connections(web: LocalWeb) -> None:
    def slow(req: Request) -> Response:
        time.sleep(0.05)  # long enough for all eight to be in flight together
        return Response(200, "ok")

    web.routes["/p"] = slow

    async def two_rounds() -> list[int]:
        async with Fetcher(settings(per_host_concurrency=8)) as f:
            statuses = []
            for _ in range(2):
                results = await asyncio.gather(*(f.get(web.url(f"/p?i={i}")) for i in range(8)))
                statuses += [r.status for r in results]
            return statuses

    assert asyncio.run(two_rounds()) == [200] * 16
    hits = web.hits("/p")
    first, second = {h.client for h in hits[:8]}, {h.client for h in hits[8:]}
    assert len(first) == 8  # one connection for each request in flight
    assert second <= first  # the second round opened none


def test_connections_left_idle_are_closed_without_their_host_asked_again(
    tracked: _Tracked, web: LocalWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host_pools, "KEEPALIVE", 0.2)
    other = web.add("/other", "ok")

    async def go() -> None:
        async with Fetcher(settings()) as f:
            await f.get(tracked.url("/a"))
            await asyncio.sleep(0.3)
            await f.get(other)  # another host: nothing asks the first one again
            deadline = time.monotonic() + 5
            while not tracked.closed and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert tracked.closed == tracked.opened  # closed while the fetcher lives on

    asyncio.run(go())
    assert len(tracked.opened) == 1


def test_a_request_arriving_while_idle_pools_close_keeps_its_connection_tracked(
    tracked: _Tracked, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host_pools, "KEEPALIVE", 0.3)
    tracked.delay = 0.05  # three requests in flight together: two pools for the host
    host = tracked.url("")
    other = host.replace("127.0.0.1", "localhost")  # another origin, the same server

    async def go() -> None:
        async with Fetcher(settings(per_host_concurrency=4)) as f:
            await asyncio.gather(*(f.get(f"{host}/a?i={i}") for i in range(3)))
            await asyncio.sleep(0.4)  # both pools idle past the keep-alive time
            # The first closes the idle pools; the second comes to the host meanwhile.
            await asyncio.gather(f.get(f"{other}/b"), f.get(f"{host}/late"))
            for _ in range(2):  # everything idle again, and closed by the next sweep
                await asyncio.sleep(0.4)
                await f.get(f"{other}/c")
            deadline = time.monotonic() + 5
            while len(tracked.opened) - len(tracked.closed) > 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            # Only the connection the last request used is open: none was lost by a pool.
            assert len(tracked.opened) - len(tracked.closed) == 1

    asyncio.run(go())


def test_a_connection_in_use_is_not_closed_as_idle(
    web: LocalWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host_pools, "KEEPALIVE", 0.05)
    web.routes["/slow"] = Response(body=[b"a" * 1000] * 5, delay=0.1)
    fast = web.add("/fast", "ok")

    async def go() -> tuple[int, int]:
        async with Fetcher(settings(per_host_concurrency=4)) as f:
            slow = asyncio.ensure_future(f.get(web.url("/slow")))
            await asyncio.sleep(0.2)  # the slow body is still coming
            await f.get(fast)  # past the keep-alive time: idle pools are closed now
            return len((await slow).content), len(web.hits("/slow"))

    assert asyncio.run(go()) == (5000, 1)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_proxies_from_the_environment_still_apply(
    variable: str, web: LocalWeb, tracked: _Tracked, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `web` plays the proxy: a request through a proxy names the whole URL.
    web.add("/via-proxy", "proxied")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, web.base)
    monkeypatch.setenv("NO_PROXY", f"127.0.0.1:{tracked.server_address[1]}")

    async def go() -> tuple[bytes, bytes]:
        async with Fetcher(settings()) as f:
            proxied = await f.get("http://news.invalid/via-proxy")
            direct = await f.get(tracked.url("/direct"))
            return proxied.content, direct.content

    assert asyncio.run(go()) == (b"proxied", b"ok")
    assert [h.path for h in web.hits("/via-proxy")] == ["http://news.invalid/via-proxy"]
    assert len(tracked.opened) == 1  # the host NO_PROXY names was asked directly


def test_https_certificates_are_checked_and_a_private_ca_can_be_named(
    tracked: _Tracked, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    tracked.socket = context.wrap_socket(tracked.socket, server_side=True)
    url = tracked.url("/tls").replace("http://", "https://")

    async def get() -> FetchResult | FetchError:
        async with Fetcher(settings()) as f:
            try:
                return await f.get(url)
            except FetchError as e:
                return e

    refused = asyncio.run(get())
    assert isinstance(refused, FetchError) and "CERTIFICATE_VERIFY_FAILED" in refused.detail
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # read when a fetcher starts
    fetched = asyncio.run(get())
    assert isinstance(fetched, FetchResult) and fetched.content == b"ok"
