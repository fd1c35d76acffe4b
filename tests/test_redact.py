"""Secrets in URLs are masked wherever a URL can reach a person: log lines in both formats,
error messages of fetches, deliveries, the database and the config, and command output."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from monitor.logs import JsonFormatter, TextFormatter
from monitor.redact import MASK, is_secret_name, redact, url_origin
from tests.daemon_support import cli, write_config
from tests.test_alerts_email import free_port
from tests.webserver import LocalWeb

KEY = "k-5d0c7e91f2"
PASSWORD = "pw-a83b1c44e0"


@pytest.mark.parametrize(
    "name",
    ["token", "access_token", "api_key", "apiKey", "APIKEY", "x-api-key", "key", "secret",
     "client_secret", "password", "passwd", "pwd", "passwort", "sig", "signature",
     "X-Amz-Signature", "X-Amz-Credential", "X-Goog-Credential", "auth", "authToken",
     "Authorization", "session_id", "sessionId", "jwt", "%74oken", "private_key"],
)  # fmt: skip
def test_names_that_hold_secrets(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["q", "page", "tier", "language", "lang_code", "source", "since", "keyword", "keywords",
     "author", "monkey", "utm_source", "id", "format", "bypass", "signup", "passage"],
)  # fmt: skip
def test_names_that_do_not(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('"GET /?token=T&q=x HTTP/1.1" 303', '"GET /?token=***&q=x HTTP/1.1" 303'),
        ("https://h.example/feed?format=rss&api_key=K", "https://h.example/feed?format=rss&api_key=***"),
        ("https://h.example/cb#access_token=T&state=1", "https://h.example/cb#access_token=***&state=1"),
        ("postgresql+psycopg://u:P@db:5432/m?password=Q&sslmode=require",
         "postgresql+psycopg://u:***@db:5432/m?password=***&sslmode=require"),
        ("redirect to https://a.example/x?next=https://b.example/?sig=S==&z=1",
         "redirect to https://a.example/x?next=https://b.example/?sig=***&z=1"),
        ("token=T", "token=***"),
        ("https://h.example/?token=", "https://h.example/?token="),
        ("mailto:desk@example.org and a=b", "mailto:desk@example.org and a=b"),
    ],
)  # fmt: skip
def test_redact_masks_values_and_keeps_the_rest(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_url_origin_keeps_only_the_host() -> None:
    assert url_origin("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/…"


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError(f"cannot reach https://h.example/?key={KEY}")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("monitor.x", logging.ERROR, __file__, 1, msg, args, info)


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_log_lines_are_masked_in_both_formats(formatter: logging.Formatter) -> None:
    line = formatter.format(_record("fetch %s failed", f"https://h.example/?token={KEY}", exc=True))
    assert KEY not in line
    assert f"?token={MASK}" in line and f"?key={MASK}" in line  # message and traceback
    if isinstance(formatter, JsonFormatter):
        assert json.loads(line)["msg"] == f"fetch https://h.example/?token={MASK} failed"


def test_a_failing_source_with_a_key_in_its_url(web: LocalWeb, tmp_path: Path) -> None:
    url = web.url(f"/feed.xml?api_key={KEY}")  # not served: 404
    cfg = write_config(tmp_path / "monitor.toml", f"sqlite:///{tmp_path / 'm.db'}", [])
    cfg.write_text(
        cfg.read_text() + f'\n[[sources]]\nname = "keyed"\nurl = "{url}"\n', encoding="utf-8"
    )
    polled = cli(cfg, "poll")
    listed = cli(cfg, "sources", "list")
    shown = polled.stdout + polled.stderr + listed.stdout + listed.stderr
    assert "HTTP 404" in shown and f"api_key={MASK}" in shown
    assert KEY not in shown


def test_a_webhook_with_a_key_in_its_url(tmp_path: Path) -> None:
    hook = f"http://127.0.0.1:{free_port()}/hook?key={KEY}"  # nothing listens there
    cfg = write_config(tmp_path / "monitor.toml", f"sqlite:///{tmp_path / 'm.db'}", [])
    cfg.write_text(
        cfg.read_text() + f'\n[[alerts]]\nkind = "webhook"\nurl = "{hook}"\n', encoding="utf-8"
    )
    result = cli(cfg, "--log-level", "debug", "alerts", "test")
    assert result.returncode == 1
    assert "network error" in result.stdout
    assert KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/oic_no_such_db",
        f"postgresql+psycopg://postgres@127.0.0.1:5432/oic_no_such_db?password={PASSWORD}",
        f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:port/x",
    ],
)
def test_a_database_url_with_a_password(tmp_path: Path, url: str) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    result = cli(cfg, "items")
    assert result.returncode == 1
    assert "database error" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_a_bad_source_url_in_the_config(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        f'[[sources]]\nname = "x"\nurl = "ftp://h.example/feed?token={KEY}"\n', encoding="utf-8"
    )
    result = cli(cfg, "items")
    assert result.returncode == 2
    assert "bad URL" in result.stderr and f"token={MASK}" in result.stderr
    assert KEY not in result.stderr
