"""Running the real daemon (or backfill) as a subprocess against local sites and receivers.

Shared by the daemon, multi-daemon, crash, hostile-input and security tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from monitor.store.models import utcnow
from tests.pages import article_page
from tests.webserver import LocalWeb, Request, Response

SECRET = "daemon-test-secret-5b1c"
SECRET_ENV = "OIC_TEST_HOOK_SECRET"
# Generous bounds so a slow machine never hangs the suite; nothing here measures speed.
PATIENCE = 90.0


def wait_for(cond: Callable[[], bool], what: str, patience: float = PATIENCE) -> None:
    deadline = time.monotonic() + patience
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


@dataclass(frozen=True)
class Poll:
    """One request for a source's feed, as the site saw it."""

    at: float  # time.monotonic()
    agent: str  # User-Agent: tells the daemons apart


class Site:
    """A news site (under `prefix`) whose feed grows when the test publishes."""

    def __init__(self, web: LocalWeb, prefix: str = "") -> None:
        self.web = web
        self.prefix = prefix
        self.published: list[tuple[str, str]] = []  # (path, title)
        self.polls: list[Poll] = []
        self.lock = threading.Lock()
        web.routes[f"{prefix}/rss.xml"] = self.feed
        web.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")

    @property
    def feed_url(self) -> str:
        return self.web.url(f"{self.prefix}/rss.xml")

    def publish(
        self, n: int | str, title: str, paragraphs: Sequence[str], lang: str, *, path: str = ""
    ) -> str:
        """Put an article online and list it in the feed; returns its path."""
        page = article_page(title, tuple(paragraphs), lang=lang, published_iso=utcnow().isoformat())
        path = path or f"{self.prefix}/news/{n}.html"
        self.web.add(path, page.html)
        self.list(path, title)
        return path

    def list(self, path: str, title: str) -> None:
        """List an article already online (e.g. one another site published too)."""
        with self.lock:
            self.published.append((path, title))

    def feed(self, req: Request) -> Response:
        with self.lock:
            self.polls.append(Poll(time.monotonic(), req.headers.get("user-agent", "")))
            items = "".join(
                f"<item><title>{t}</title><link>{self.web.base}{p}</link>"
                f"<pubDate>{format_datetime(utcnow())}</pubDate></item>"
                for p, t in reversed(self.published)
            )
        return Response(
            body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )


class Hook:
    """Webhook receiver: answers 503 while `down`, else 200; records what it accepted.

    `keys` holds the Idempotency-Key of every accepted POST, repeats included: a receiver
    following the design drops a repeat by that key.
    """

    def __init__(
        self, web: LocalWeb, fail_first: int = 0, *, secret: str = SECRET, path: str = "/hook"
    ) -> None:
        self.fail_left = fail_first
        self.secret = secret
        self.down = False
        self.accepted: list[dict[str, object]] = []
        self.keys: list[str] = []
        self.refused = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.url = web.url(path)
        web.routes[path] = self.handle

    def handle(self, req: Request) -> Response:
        with self.lock:
            if self.down or self.fail_left > 0:
                self.fail_left = max(0, self.fail_left - 1)
                self.refused += 1
                return Response(status=503, body="busy")
            expected = hmac.new(self.secret.encode(), req.body, hashlib.sha256).hexdigest()
            if req.headers.get("x-signature") != f"sha256={expected}":
                self.bad_signatures += 1
            self.accepted.append(json.loads(req.body))
            self.keys.append(req.headers.get("idempotency-key", ""))
            return Response(status=200, body="ok")

    def stories(self) -> list[dict[str, object]]:
        with self.lock:
            return [b for b in self.accepted if b.get("kind", "story") == "story"]


def story_ids(accepted: list[dict[str, object]]) -> list[object]:
    return [body["story_id"] for body in accepted]


# --- articles ----------------------------------------------------------------------------

_CITIES = ("Astana", "Bishkek", "Tashkent", "Dushanbe", "Ashgabat", "Baku", "Jeddah", "Cairo")
_TOPICS = (
    "water security", "food security", "youth employment", "digital trade",
    "climate adaptation", "vaccine production", "higher education", "transport corridors",
)  # fmt: skip
_WORDS = (
    "delegation", "agreement", "budget", "committee", "harvest", "railway", "port", "bridge",
    "school", "clinic", "festival", "museum", "library", "exhibition", "seminar", "forum",
    "grant", "loan", "scholarship", "satellite", "pipeline", "reservoir", "orchard", "cotton",
)  # fmt: skip


def _sentences(rng: random.Random, n: int) -> str:
    return " ".join(
        f"The {rng.choice(_WORDS)} of {rng.choice(_CITIES)} "
        f"{rng.choice(['reported', 'discussed', 'approved', 'reviewed', 'announced'])} "
        f"{rng.randint(2, 999)} new {rng.choice(_WORDS)}s for {rng.choice(_TOPICS)}."
        for _ in range(n)
    )


def oic_article(n: int) -> tuple[str, tuple[str, ...]]:
    """A distinct English article about an OIC meeting: classified relevant, its own story."""
    rng = random.Random(n)
    city, topic = rng.choice(_CITIES), rng.choice(_TOPICS)
    return f"OIC ministers discuss {topic} in {city} (meeting {n})", (
        f"Foreign ministers of the Organisation of Islamic Cooperation met in {city} "
        f"for session {n} to discuss {topic}.",
        _sentences(rng, 5),
        _sentences(rng, 5),
        "The OIC Secretary General said the member states of the Organisation of Islamic "
        f"Cooperation would review {topic} again.",
    )


def plain_article(n: int) -> tuple[str, tuple[str, ...]]:
    """A distinct English article with nothing about the OIC: stored, never alerted."""
    rng = random.Random(1_000_000 + n)
    return f"Local weather and markets report number {n}", (
        _sentences(rng, 5),
        _sentences(rng, 5),
        "Forecasters expect light snow and a moderate north wind.",
    )


# --- config and processes ------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    name: str
    url: str
    interval: str = "1s"
    kind: str = "feed"


def write_config(
    path: Path,
    db_url: str,
    sources: Sequence[SourceSpec],
    *,
    hook_url: str | None = None,
    extra: str = "",
    fetch: str = "",
    delivery: str = "",
) -> Path:
    """A config for test daemons: fast retries and delivery, the given sources and hook."""
    text = f"""
[storage]
url = "{db_url}"
archive_dir = "archive"

[fetch]
per_host_delay = "5ms"
per_host_concurrency = 8
backoff = "10ms"
{fetch}

[delivery]
base_delay = "200ms"
max_delay = "500ms"
every = "200ms"
{delivery}
{extra}
"""
    for s in sources:
        text += (
            f'\n[[sources]]\nname = "{s.name}"\nurl = "{s.url}"\nkind = "{s.kind}"\n'
            f'interval = "{s.interval}"\n'
        )
    if hook_url:
        text += (
            f'\n[[alerts]]\nname = "hook"\nkind = "webhook"\nurl = "{hook_url}"\n'
            f'secret_env = "{SECRET_ENV}"\n'
        )
    path.write_text(text, encoding="utf-8")
    return path


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One `oic-monitor --config CFG ARGS` run to its end; wide columns keep tables whole."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "250"},
    )


def start(
    cfg: Path,
    log: Path,
    *args: str,
    command: str = "run",
    env: dict[str, str] | None = None,
    log_level: str = "info",
    log_format: str = "text",
) -> subprocess.Popen[bytes]:
    """`oic-monitor --config CFG COMMAND ARGS`, output appended to `log`.

    In its own session, so that killing it also ends the worker processes it started.
    """
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(cfg), "--log-level", log_level]
        + ["--log-format", log_format, command, *args],
        stdout=out,
        stderr=out,
        env={**os.environ, SECRET_ENV: SECRET, **(env or {})},
        start_new_session=True,
    )


class Process(Protocol):
    """What the helpers need of a started process: a subprocess.Popen or a Forked."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...


# Imports the package once, then forks a child per command: a restart costs milliseconds
# instead of seconds of imports, so a test can crash and restart the daemon many times.
# Each child is a new process running the same entry point as `oic-monitor`.
_ZYGOTE = r"""
import json, os, random, sys, traceback
import monitor.backfill, monitor.cli, monitor.runtime, monitor.scheduler
import monitor.web.health, monitor.web.server

for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "start":
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setsid()
                null = os.open(os.devnull, os.O_RDONLY)
                log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(null, 0)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.environ.update(req["env"])
                random.seed()
                sys.argv = ["oic-monitor", *req["argv"]]
                monitor.cli.main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        out = {"pid": pid}
    else:
        flags = 0 if req["block"] else os.WNOHANG
        done, status = os.waitpid(req["pid"], flags)
        out = {"status": os.waitstatus_to_exitcode(status) if done else None}
    print(json.dumps(out), flush=True)
"""


class Zygote:
    """A process that has imported the monitor and forks children that run its CLI."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()

    def ask(self, **req: object) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
            return answer

    def start(
        self,
        cfg: Path,
        log: Path,
        *args: str,
        command: str = "run",
        env: dict[str, str] | None = None,
    ) -> Forked:
        """Like `start`, in a child forked from this process."""
        argv = ["--config", str(cfg), command, *args]
        env = {SECRET_ENV: SECRET, **(env or {})}
        pid = self.ask(op="start", argv=argv, env=env, log=str(log))["pid"]
        return Forked(self, pid)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Forked:
    """A child of a Zygote, with the part of Popen's interface the helpers use."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.ask(op="wait", pid=self.pid, block=False)["status"]
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (PATIENCE if timeout is None else timeout)
        while (code := self.poll()) is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or PATIENCE)
            time.sleep(0.05)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)


def kill(proc: Process) -> None:
    """SIGKILL the process and everything in its session; wait for it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def stop(proc: Process, timeout: float = 30) -> int:
    """SIGTERM and wait; SIGKILL if it does not stop in time. Returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill(proc)
    return proc.wait()


def log_text(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
