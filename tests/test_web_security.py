"""The dashboard and the daemon's web server, served for real: the token never reaches the
log, every answer carries the security headers, guessing the token is slowed to a stop, and
article text stays inert."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
from collections.abc import Iterator
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from monitor.config import WebSettings
from monitor.store.models import Item
from monitor.web.app import create_app
from monitor.web.security import COOKIE, HEADERS, GuessLimit, client_key, cookie_value
from tests.daemon_support import log_text, start, stop, wait_for, write_config
from tests.test_alerts_email import free_port
from tests.test_web_seed import Seeded, seed
from tests.web_support import running

TOKEN = "dash-token-7f3a91c2e5"
WRONG = "dash-wrong-0b5e44d1a8"
FEED_KEY = "feed-key-93ac1e6d"
TOKEN_ENV = "OIC_TEST_WEB_TOKEN"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
HOSTILE_TITLE = '<script>alert("t")</script><img src=x onerror=alert(1)>'
HOSTILE_TEXT = 'OIC summit. <script>document.title="x"</script> <b onmouseover=alert(2)>b</b>'


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    data = seed(tmp_path)
    yield data
    data.store.close()


class _KeepNoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False


def client(base: str, source: str = "127.0.0.1", **kw: Any) -> httpx.Client:
    """An HTTP client from `source` (any of 127.0.0.0/8) that sends only the cookies given.

    It keeps no cookie it is sent, so each request carries exactly the credentials it names.
    """
    transport = httpx.HTTPTransport(local_address=source)
    jar = CookieJar(policy=_KeepNoCookies())
    return httpx.Client(base_url=base, transport=transport, cookies=jar, **kw)


def with_cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={value}"}


def assert_secured(name: str, response: httpx.Response) -> None:
    for header, value in HEADERS.items():
        assert response.headers.get(header) == value, (name, header, response.status_code)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


# --- the log --------------------------------------------------------------------------

ACCESS_TEXT = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    uvicorn\.access: (.*)$", re.MULTILINE
)
ACCESS_MSG = re.compile(r'^127\.0\.0\.1:\d+ - "(.+)" (\d{3})$')


def access_lines(log: str, fmt: str) -> list[tuple[str, int]]:
    """(request line, status) of each access log line, which must be in the project's format."""
    if fmt == "json":
        records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        messages = [r["msg"] for r in records if r["logger"] == "uvicorn.access"]
        assert all(r["level"] == "info" for r in records if r["logger"] == "uvicorn.access")
    else:
        messages = ACCESS_TEXT.findall(log)
    out = []
    for msg in messages:
        m = ACCESS_MSG.match(msg)
        assert m, msg
        out.append((m.group(1), int(m.group(2))))
    return out


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_serve_logs_no_token_in_either_format(seeded: Seeded, tmp_path: Path, fmt: str) -> None:
    url = seeded.settings.storage.url
    cfg = write_config(
        tmp_path / "monitor.toml", url, [], extra=f'[web]\ntoken_env = "{TOKEN_ENV}"\n'
    )
    log = tmp_path / "serve.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ("--host", "127.0.0.1", "--port", str(port))
    proc = start(cfg, log, *args, command="serve", env={TOKEN_ENV: TOKEN}, log_format=fmt)
    try:
        wait_for(lambda: _answers(base + "/metrics"), "the dashboard")
        with client(base) as c:
            r = c.get("/", params={"token": TOKEN, "q": "ОИС"})
            assert r.status_code == 303
            cookie = r.cookies[COOKIE]
            assert cookie == cookie_value(TOKEN)
            assert c.get("/sources", headers=BEARER).status_code == 200
            assert c.get("/report", headers=with_cookie(cookie)).status_code == 200
            assert c.get("/feed.atom", params={"token": TOKEN}).status_code == 200
            assert c.get("/", params={"token": WRONG}).status_code == 401
            assert c.get("/", headers={"Authorization": f"Bearer {WRONG}"}).status_code == 401
            assert c.get("/", headers=with_cookie(WRONG)).status_code == 401
            feed = c.get("/feed.json", params={"api_key": FEED_KEY, "tier": "relevant"})
            assert feed.status_code == 401
    finally:
        stop(proc)
    text = log_text(log)
    for secret in (TOKEN, WRONG, cookie, FEED_KEY):
        assert secret not in text
    assert "INFO:     " not in text  # uvicorn's own format
    assert access_lines(text, fmt) == [
        ("GET /?token=***&q=%D0%9E%D0%98%D0%A1 HTTP/1.1", 303),
        ("GET /sources HTTP/1.1", 200),
        ("GET /report HTTP/1.1", 200),
        ("GET /feed.atom?token=*** HTTP/1.1", 200),
        ("GET /?token=*** HTTP/1.1", 401),
        ("GET / HTTP/1.1", 401),
        ("GET / HTTP/1.1", 401),
        ("GET /feed.json?api_key=***&tier=relevant HTTP/1.1", 401),
    ]
    if fmt == "json":
        lines = [line for line in text.splitlines() if line.strip()]
        assert all(json.loads(line) for line in lines if not line.startswith("dashboard on"))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def test_the_daemon_http_server_is_secured_the_same_way(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "monitor.toml",
        f"sqlite:///{tmp_path / 'monitor.db'}",
        [],
        extra=f'[web]\ntoken_env = "{TOKEN_ENV}"\n',
    )
    log = tmp_path / "daemon.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(cfg, log, "--http", f"127.0.0.1:{port}", env={TOKEN_ENV: TOKEN})
    try:
        wait_for(lambda: _answers(base + "/healthz"), "the daemon's web server")
        with client(base) as c:
            answers = {
                "health": (c.get("/healthz"), 200),
                "dashboard": (c.get("/", headers=BEARER), 200),
                "token in the URL": (c.get("/sources", params={"token": TOKEN}), 303),
                "wrong token": (c.get("/", params={"token": WRONG}), 401),
                "metrics": (c.get("/metrics"), 200),
            }
    finally:
        assert stop(proc) == 0
    for name, (response, status) in answers.items():
        assert response.status_code == status, name
        assert_secured(name, response)
    metrics = answers["metrics"][0].text
    assert "oic_web_token_failures_total 1.0" in metrics
    assert "oic_alerts_sent_total" in metrics  # the daemon's own registry
    text = log_text(log)
    assert TOKEN not in text and WRONG not in text
    assert '"GET /sources?token=*** HTTP/1.1" 303' in text
    assert '"GET /?token=*** HTTP/1.1" 401' in text
    assert "GET /healthz" not in text  # probes answered well are logged at debug only


# --- headers --------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(seeded: Seeded) -> None:
    item = seeded.items[0].id
    app = create_app(seeded.store, seeded.settings, token=TOKEN)
    with running(app) as base, client(base, headers=BEARER) as c:
        origin = {"origin": base}
        answers = {
            "items": (c.get("/"), 200),
            "item": (c.get(f"/items/{item}"), 200),
            "missing item": (c.get("/items/999999"), 404),
            "no such page": (c.get("/nothing-here"), 404),
            "sources": (c.get("/sources"), 200),
            "report": (c.get("/report"), 200),
            "download": (c.get("/report/eval.jsonl"), 200),
            "bad download": (c.get("/report/eval.jsonl", params={"split": "x"}), 400),
            "atom": (c.get("/feed.atom"), 200),
            "json feed": (c.get("/feed.json"), 200),
            "stylesheet": (c.get("/static/style.css"), 200),
            "missing file": (c.get("/static/none.css"), 404),
            "metrics": (c.get("/metrics"), 200),
            "feedback": (c.post(f"/items/{item}/feedback", data={"label": "relevant"},
                                headers=origin), 303),
            "cross-site post": (c.post(f"/items/{item}/feedback", data={"label": "relevant"},
                                       headers={"origin": "https://evil.example"}), 403),
            "bad label": (c.post(f"/items/{item}/feedback", data={"label": "x"},
                                 headers=origin), 400),
            "wrong method": (c.get(f"/items/{item}/feedback"), 405),
        }  # fmt: skip
        with client(base, source="127.0.0.3") as other:
            answers["token redirect"] = (other.get("/", params={"token": TOKEN}), 303)
            answers["no token"] = (other.get("/"), 401)
            for _ in range(10):
                other.get("/", params={"token": WRONG})
            answers["locked out"] = (other.get("/"), 429)
        # A broken database makes the next page fail inside the app.
        path = seeded.settings.storage.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            db.execute("ALTER TABLE item RENAME TO item_gone")
        answers["server error"] = (c.get("/"), 500)
    for name, (response, status) in answers.items():
        assert response.status_code == status, name
        assert_secured(name, response)


def test_the_health_only_daemon_app_carries_the_headers_too(seeded: Seeded) -> None:
    from monitor.scheduler import Daemon
    from monitor.web.app import daemon_app

    daemon = Daemon(seeded.settings, http="0.0.0.0:8080")  # no token: health only
    with running(daemon_app(daemon)) as base, client(base) as c:
        r = c.get("/")
    assert r.status_code == 404
    assert_secured("health-only app", r)


# --- guessing -------------------------------------------------------------------------


def test_ten_wrong_tokens_lock_out_that_address_only(seeded: Seeded) -> None:
    app = create_app(seeded.store, seeded.settings, token=TOKEN)
    with running(app) as base, client(base) as guesser, client(base, "127.0.0.2") as analyst:
        # Every way of giving a token counts as a guess when it is wrong.
        for i in range(4):
            assert guesser.get("/", params={"token": f"{WRONG}{i}"}).status_code == 401
        for i in range(3):
            bearer = {"Authorization": f"Bearer {WRONG}{i}"}
            assert guesser.get("/sources", headers=bearer).status_code == 401
        for i in range(3):
            assert guesser.get("/", headers=with_cookie(f"{WRONG}{i}")).status_code == 401
        refused = guesser.get("/", params={"token": TOKEN})
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 60
        # Even the right token is not tried from there: it would tell a right guess apart.
        assert guesser.get("/report", headers=BEARER).status_code == 429
        assert guesser.get("/static/style.css").status_code == 200  # assets stay open
        # Another address is not held back by the guesser.
        assert analyst.get("/", headers=BEARER).status_code == 200
        assert analyst.get("/", params={"token": WRONG}).status_code == 401
        assert analyst.get("/sources", params={"token": TOKEN}).status_code == 303
        metrics = analyst.get("/metrics").text
    assert "oic_web_token_failures_total 11.0" in metrics
    assert "oic_web_refused_total 2.0" in metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_counts_within_a_minute_and_lifts_after_one() -> None:
    clock = Clock()
    limit = GuessLimit(clock=clock)
    for _ in range(9):
        limit.failed("192.0.2.1")
        clock.now += 7  # ten failures spread over 63 s: never ten within a minute
    limit.failed("192.0.2.1")
    assert limit.retry_after("192.0.2.1") == 0
    for _ in range(9):
        limit.failed("192.0.2.1")
    assert limit.retry_after("192.0.2.1") == 60
    clock.now += 59.5
    assert limit.retry_after("192.0.2.1") == pytest.approx(0.5)
    clock.now += 0.5
    assert limit.retry_after("192.0.2.1") == 0
    # A fresh start after the block: one more failure does not lock out again.
    limit.failed("192.0.2.1")
    assert limit.retry_after("192.0.2.1") == 0


def test_the_limit_forgets_on_success_and_stays_small() -> None:
    limit = GuessLimit(max_clients=100, clock=Clock())
    for _ in range(9):
        limit.failed("192.0.2.1")
    limit.succeeded("192.0.2.1")
    limit.failed("192.0.2.1")
    assert limit.retry_after("192.0.2.1") == 0
    for i in range(1000):
        limit.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limit) <= 100


def test_one_ipv6_network_is_one_guesser() -> None:
    assert client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:3::5") != client_key("2001:db8:1:2::5")
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"


def test_a_bare_visit_is_no_guess(seeded: Seeded) -> None:
    app = create_app(seeded.store, seeded.settings, token=TOKEN)
    with running(app) as base, client(base) as c:
        for _ in range(15):
            assert c.get("/").status_code == 401
        assert c.get("/", headers=BEARER).status_code == 200
        assert "oic_web_token_failures_total 0.0" in c.get("/metrics").text


def test_forwarded_for_counts_only_from_a_trusted_proxy(seeded: Seeded) -> None:
    def guess(c: httpx.Client, forwarded: str, token: str = WRONG) -> int:
        forwarded_for = {"X-Forwarded-For": forwarded}
        return c.get("/", params={"token": token}, headers=forwarded_for).status_code

    # By default the peer is the client, whatever it claims to forward for.
    app = create_app(seeded.store, seeded.settings, token=TOKEN)
    with running(app) as base, client(base) as c:
        assert [guess(c, f"198.51.100.{i}") for i in range(10)] == [401] * 10
        assert guess(c, "198.51.100.99", TOKEN) == 429
    # Behind a trusted proxy, the address it forwards for is the client.
    app = create_app(seeded.store, seeded.settings, token=TOKEN)
    proxy = WebSettings(trusted_proxies=["127.0.0.1"])
    with running(app, proxy) as base, client(base) as c:
        assert [guess(c, "203.0.113.7") for _ in range(10)] == [401] * 10
        assert guess(c, "203.0.113.7", TOKEN) == 429
        # A client cannot escape by writing its own X-Forwarded-For before the proxy's.
        assert guess(c, "203.0.113.8, 203.0.113.7", TOKEN) == 429
        assert guess(c, "203.0.113.8", TOKEN) == 303


# --- untrusted article text -----------------------------------------------------------


def test_article_markup_comes_out_inert(seeded: Seeded) -> None:
    base_item = seeded.by(language="ru", tier="relevant")[0]
    hostile = Item(
        url="https://kazinform-ru.example/news/hostile?a=1&b=<x>",
        source="kazinform-ru",
        title=HOSTILE_TITLE,
        text=HOSTILE_TEXT,
        content_hash="0123456789abcdef",
        language="ru",
        published=base_item.published,
        relevance=0.9,
        tier="relevant",
        evidence=[
            {"term": "<b onmouseover=alert(2)>", "concept": "x", "where": "text", "weight": 1.0}
        ],
    )
    stored, _ = seeded.store.add_item(hostile, [hostile.url])
    app = create_app(seeded.store, seeded.settings)
    with running(app) as base, client(base) as c:
        pages = {
            "list": c.get("/", params={"q": "OIC summit"}).text,
            "item": c.get(f"/items/{stored.id}").text,
        }
        atom = c.get("/feed.atom").content
    for name, html in pages.items():
        assert "<script>alert" not in html and "<img src=x" not in html, name
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html, name
    item = pages["item"]
    assert "<b onmouseover" not in item and "&lt;b onmouseover=alert(2)&gt;" in item
    assert "<script>document" not in item
    feed = feedparser.parse(atom)
    assert not feed.bozo
    entry = next(e for e in feed.entries if e.id.endswith("0123456789abcdef"))
    assert entry.title_detail.type == "text/plain" and entry.title == HOSTILE_TITLE
    assert b"<script>" not in atom
