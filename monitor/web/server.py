"""How `serve` and `run --http` bind their port and run their app under uvicorn.

The port is bound before anything else starts, so a port in use is one clear error.

Both log through the project's logging (readable or JSON lines, secrets masked by
`monitor.logs`), and both take the client address from the socket unless the peer is one of
`[web] trusted_proxies`, whose X-Forwarded-For and X-Forwarded-Proto are then believed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from monitor.config import WebSettings

# Probed every few seconds by orchestrators and Prometheus: logged at debug level only.
PROBE_PATHS = frozenset({"/healthz", "/metrics"})


class _QuietProbes(logging.Filter):
    """Demotes uvicorn's access lines for answered health and metrics probes to debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, http version, status)
        if not (isinstance(args, tuple) and len(args) == 5):
            return True
        path, status = str(args[2]).partition("?")[0], args[4]
        if path in PROBE_PATHS and isinstance(status, int) and status < 400:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def route_uvicorn_logs() -> None:
    """Send uvicorn's records to the root logger's handler, whatever uvicorn set up before."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # Its start-up lines repeat what the command prints; its warnings and errors stay.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _QuietProbes) for f in access.filters):
        access.addFilter(_QuietProbes())


def uvicorn_config(app: Any, web: WebSettings, **where: Any) -> uvicorn.Config:
    """A uvicorn config for `app`; `where` is host and port, or nothing with sockets."""
    route_uvicorn_logs()
    trusted = list(web.trusted_proxies)
    return uvicorn.Config(
        app,
        log_config=None,  # keep the handlers and format set up by monitor.logs
        log_level=None,
        access_log=True,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
        server_header=False,
        lifespan="off",
        **where,
    )


def parse_bind(value: str) -> tuple[str, int]:
    """HOST and PORT of "HOST:PORT" ("[::1]:8080" for IPv6); ValueError names a bad one."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--http: expected HOST:PORT such as 127.0.0.1:8080, got {value!r}")
    return host.strip("[]"), int(port)


def listen(bind: str) -> socket.socket:
    """Bind HOST:PORT now, so a taken port is a clear error before anything starts."""
    host, port = parse_bind(bind)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {bind}: {e.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def run(app: Any, web: WebSettings, sock: socket.socket) -> None:
    """Serve `app` on an already bound socket until interrupted (Ctrl+C or SIGTERM)."""
    uvicorn.Server(uvicorn_config(app, web)).run(sockets=[sock])


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the daemon, which owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_app(app: Any, sock: socket.socket, stop: asyncio.Event, web: WebSettings) -> None:
    """Serve `app` on an already bound socket until `stop` is set."""
    server = _Server(uvicorn_config(app, web))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await stop.wait()
    server.should_exit = True
    await task
