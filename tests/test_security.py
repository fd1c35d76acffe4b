"""Secrets stay secret, webhooks are verifiable, health listens where it is told, and
fetches of private addresses can be refused."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from monitor.pipeline import PollReport
from monitor.runtime import Runtime
from monitor.web.server import parse_bind
from tests.daemon_support import (
    SECRET,
    Hook,
    Site,
    SourceSpec,
    cli,
    kill,
    log_text,
    oic_article,
    start,
    stop,
    wait_for,
    write_config,
)
from tests.test_alerts_email import (
    AUTH_IN_CLEAR,
    PASSWORD,
    Inbox,
    Smtp,
    authenticate,
    free_port,
)
from tests.test_hostile import Bench
from tests.webserver import LocalWeb

CONFIG_SECRET = "cfg-hook-secret-0d9e41"  # written in the config file itself
WRONG_PASSWORD = "not-the-password-77c2"


def listening_on(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def auth_smtp() -> Smtp:
    """An SMTP server that wants the analyst's login (over plain text, on 127.0.0.1)."""
    return Smtp(Inbox(), authenticator=authenticate, auth_required=True, auth_require_tls=False)


@AUTH_IN_CLEAR
def test_secrets_never_reach_logs_or_output_and_webhooks_are_signed(
    web: LocalWeb, tmp_path: Path
) -> None:
    site = Site(web, "/s")
    from_env = Hook(web, fail_first=2)  # secret from the environment (secret_env)
    from_config = Hook(web, secret=CONFIG_SECRET, path="/hook2")
    mail = f"""
[[alerts]]
name = "hook2"
kind = "webhook"
url = "{from_config.url}"
secret = "{CONFIG_SECRET}"
"""
    with auth_smtp() as ok, auth_smtp() as bad:
        for name, server, var in (("mail", ok, "SMTP_PASSWORD"), ("mail-bad", bad, "SMTP_BAD")):
            mail += (
                f'\n[[alerts]]\nname = "{name}"\nkind = "email"\nsmtp_host = "127.0.0.1"\n'
                f'smtp_port = {server.port}\nsmtp_tls = "none"\nusername = "analyst"\n'
                f'password_env = "{var}"\nsender = "m@example.org"\nto = ["d@example.org"]\n'
            )
        cfg = write_config(
            tmp_path / "monitor.toml",
            f"sqlite:///{tmp_path / 'monitor.db'}",
            [SourceSpec("s", site.feed_url)],
            hook_url=from_env.url,
        )
        cfg.write_text(cfg.read_text() + mail)
        site.publish(1, *oic_article(21), "en")
        log = tmp_path / "daemon.log"
        port = free_port()
        env = {"SMTP_PASSWORD": PASSWORD, "SMTP_BAD": WRONG_PASSWORD}
        proc = start(cfg, log, "--http", f"127.0.0.1:{port}", env=env, log_level="debug")
        try:
            wait_for(lambda: bool(from_env.keys and from_config.keys), "both webhooks")
            wait_for(lambda: len(ok.inbox.messages) == 1, "the email")
            wait_for(lambda: "SMTP 535" in log_text(log), "the refused login")
            # The health endpoint listens on loopback only, as told.
            assert listening_on(port) == {"0100007F"}
            assert stop(proc) == 0
        finally:
            kill(proc)

    assert from_env.bad_signatures == from_config.bad_signatures == 0
    assert from_env.refused == 2
    items = cli(cfg, "items", "--format", "jsonl")
    stories = cli(cfg, "items", "--stories", "--format", "json")
    assert items.returncode == stories.returncode == 0
    assert '"relevant": true' in items.stdout
    outputs = log_text(log) + items.stdout + items.stderr + stories.stdout + stories.stderr
    for secret in (SECRET, CONFIG_SECRET, PASSWORD, WRONG_PASSWORD):
        assert secret not in outputs


def test_a_config_error_does_not_echo_a_secret(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(
        f'[[alerts]]\nkind = "webhook"\nurl = "ftp://x"\nsecret = "{CONFIG_SECRET}"\n'
        f"[fetch]\nuser_agent = 12\n",
        encoding="utf-8",
    )
    result = cli(cfg, "items")
    assert result.returncode == 2
    assert "config error" in result.stderr
    assert CONFIG_SECRET not in result.stdout + result.stderr


def test_health_needs_an_explicit_host_and_port(tmp_path: Path) -> None:
    assert parse_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_bind("8080")
    cfg = write_config(tmp_path / "monitor.toml", f"sqlite:///{tmp_path / 'm.db'}", [])
    result = cli(cfg, "run", "--http", "8080")
    assert result.returncode == 2
    assert "expected HOST:PORT such as 127.0.0.1:8080" in result.stdout + result.stderr


def test_private_addresses_are_refused_when_configured(
    web: LocalWeb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor")
    bench = Bench(web, tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}")
    settings = bench.settings([], block_private_addresses=True)

    async def go() -> PollReport:
        async with Runtime(settings) as rt:
            return await rt.pipeline.poll(settings.sources[0])

    report = asyncio.run(go())
    assert report.error and "resolves to a non-public address (127.0.0.1)" in report.error
    assert "non-public address (127.0.0.1)" in caplog.text
    assert not web.log  # refused before connecting
    # Off by default: the same source is fetched and its article stored.
    bench.poll([])
