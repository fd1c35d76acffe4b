"""A real HTTP server on 127.0.0.1 for tests: routes, canned quirks and a request log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Request:
    method: str
    path: str  # path with query string, as sent
    headers: dict[str, str]
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)  # when the server read it
    client: int = 0  # the client's port: one per connection


@dataclass
class Response:
    status: int = 200
    body: bytes | str | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds between body chunks when body is an iterable


Handler = Callable[[Request], Response]


def read_body(h: BaseHTTPRequestHandler) -> bytes | None:
    """The request's body, or None when the client hung up before sending all of it.

    A real server never hands its application a request cut short (a client killed
    between its headers and its body); neither does this one.
    """
    length = int(h.headers.get("Content-Length") or 0)
    body = h.rfile.read(length) if length else b""
    if len(body) < length:
        h.close_connection = True
        return None
    return body


class LocalWeb:
    """Serve `routes` (path or path?query -> Response, list of Responses, or handler)."""

    def __init__(self) -> None:
        self.routes: dict[str, Response | list[Response] | Handler] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        web = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                web._serve(self, head=False)

            def do_HEAD(self) -> None:
                web._serve(self, head=True)

            def do_POST(self) -> None:
                web._serve(self, head=False)

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that hang up on purpose (size caps, timeouts) are expected

        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> LocalWeb:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str = b"", **kw: object) -> str:
        self.routes[path] = Response(body=body, **kw)  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.path == path or urlsplit(r.path).path == path]

    def _pick(self, req: Request) -> Response:
        route = self.routes.get(req.path) or self.routes.get(urlsplit(req.path).path)
        if route is None:
            return Response(status=404, body=b"not found", content_type="text/plain")
        if callable(route):
            return route(req)
        if isinstance(route, list):
            with self._lock:
                n = sum(1 for r in self.log if r.path == req.path) - 1
            return route[min(n, len(route) - 1)]
        return route

    def _serve(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        body = read_body(h)
        if body is None:
            return
        headers = {k.lower(): v for k, v in h.headers.items()}
        req = Request(h.command, h.path, headers, body, client=h.client_address[1])
        with self._lock:
            self.log.append(req)
        resp = self._pick(req)
        out = resp.body
        h.send_response(resp.status)
        headers = {"Content-Type": resp.content_type, **resp.headers}
        for k, v in headers.items():
            h.send_header(k, v)
        if isinstance(out, (bytes, str)):
            data = out.encode() if isinstance(out, str) else out
            if "Content-Length" not in headers:
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if not head:
                h.wfile.write(data)
            return
        # Streamed body without a length: close the connection at the end.
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        try:
            for chunk in out:
                h.wfile.write(chunk)
                h.wfile.flush()
                if resp.delay:
                    time.sleep(resp.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass
