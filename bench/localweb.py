"""What the daemon benchmarks share: a threaded HTTP server on 127.0.0.1 serving numbered
feeds (/f/<i>, ETag and 304) and article pages (/a/...), and a clean stop of the daemon."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# status, body, content type, extra headers
Answer = tuple[int, bytes, str, dict[str, str]]
NOT_FOUND: Answer = (404, b"not found", "text/plain", {})


# feed number, If-None-Match -> status, body, ETag
Feed = Callable[[int, str | None], tuple[int, bytes, str]]


def write_answer(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str]
) -> None:
    """The status line, headers and body in one write, as production servers send a small
    response. Written apart (as ``end_headers`` then ``wfile.write`` do), the body waits
    on loopback for the client's delayed ACK of the headers: Nagle's algorithm holds a
    segment smaller than loopback's 64 KB MSS while one is unacknowledged, and every
    response then takes 40 ms."""
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if headers.get("Connection", "").lower() == "close":
        handler.close_connection = True
    handler.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def serve_feeds(
    feed: Feed,
    article: Callable[[list[str]], bytes],
    post: Callable[[str, bytes], Answer] | None = None,
) -> ThreadingHTTPServer:
    """/robots.txt, /f/<i> from `feed`, /a/<parts...> from `article`, POSTs to `post`."""

    def get(path: str, headers: Mapping[str, str]) -> Answer:
        parts = path.strip("/").split("/")
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", "text/plain", {}
        if parts[0] == "f" and len(parts) == 2:
            status, body, etag = feed(int(parts[1]), headers.get("If-None-Match"))
            return status, body, "application/rss+xml", {"ETag": etag}
        if parts[0] == "a" and len(parts) > 1:
            return 200, article(parts[1:]), "text/html; charset=utf-8", {}
        return NOT_FOUND

    return serve(get, post)


def serve(
    get: Callable[[str, Mapping[str, str]], Answer],
    post: Callable[[str, bytes], Answer] | None = None,
) -> ThreadingHTTPServer:
    """Serve GET (path, headers) and POST (path, body) with the given functions."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def answer(self, found: Answer) -> None:
            status, body, ctype, headers = found
            write_answer(self, status, body, {"Content-Type": ctype} | headers)

        def do_GET(self) -> None:
            self.answer(get(self.path, self.headers))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.answer(post(self.path, body) if post else NOT_FOUND)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a daemon closing its keep-alive connections as it stops is expected

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd would; SIGKILL if it does not stop in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
