"""What the daemon benchmarks share: a threaded HTTP server on 127.0.0.1 serving numbered
feeds (/f/<i>, ETag and 304) and article pages (/a/...), and a clean stop of the daemon."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# status, body, content type, extra headers
Answer = tuple[int, bytes, str, dict[str, str]]
NOT_FOUND: Answer = (404, b"not found", "text/plain", {})


# feed number, If-None-Match -> status, body, ETag
Feed = Callable[[int, str | None], tuple[int, bytes, str]]


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
        # TCP_NODELAY, as production servers set it. Without it a body written after its
        # headers waits on loopback for the client's delayed ACK of them (Nagle's algorithm
        # holds a segment below loopback's 64 KB MSS while one is unacknowledged): 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def answer(self, found: Answer) -> None:
            status, body, ctype, headers = found
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

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
