"""Email delivery through the outbox, against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from monitor.alerts.dispatcher import DispatcherSettings, dispatch_due, send_test
from monitor.alerts.operator import queue_operator_alert
from monitor.store import outbox
from monitor.store.models import utcnow
from monitor.store.repo import Store
from tests.alerts_support import add_story, evidence, settings_with

PASSWORD = "pa55-w0rd-93ad"
# aiosmtpd warns about AUTH without TLS; these tests use it on purpose, on 127.0.0.1.
AUTH_IN_CLEAR = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self, refuse_rcpt: bool = False) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_rcpt = refuse_rcpt

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"analyst",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


class Smtp:
    def __init__(self, inbox: Inbox, **kw: Any) -> None:
        self.inbox = inbox
        self.port = free_port()
        self.controller = Controller(inbox, hostname="127.0.0.1", port=self.port, **kw)

    def __enter__(self) -> Smtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with Smtp(Inbox()) as server:
        yield server


def server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    return ctx


def mail_channel(port: int, **extra: object) -> dict[str, object]:
    return {
        "name": "desk",
        "kind": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "sender": "monitor@desk.example",
        "to": ["analyst@desk.example", "chief@desk.example"],
        **extra,
    }


def parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    page = msg.get_body(("html",))
    assert text is not None and page is not None
    return text.get_content(), page.get_content()


def test_instant_email_has_both_parts_tag_highlights_and_link(store: Store, smtp: Smtp) -> None:
    settings = settings_with(mail_channel(smtp.port))
    item = add_story(
        store,
        ["desk"],
        title="OIC <b>ministers</b> meet",
        relevance=0.91,
        evidence_=evidence("OIC", snippet="Ministers of the OIC met in Astana & agreed"),
    )

    report = asyncio.run(dispatch_due(store, settings))

    assert report.sent == 1
    [msg] = smtp.inbox.messages
    assert msg["Subject"] == "[OIC] OIC <b>ministers</b> meet"
    assert msg["To"] == "analyst@desk.example, chief@desk.example"
    assert msg["X-OIC-Monitor-Story"] == str(item.story_id)
    assert msg["Message-ID"].endswith("@desk.example>")
    text, page = parts(msg)
    assert "Ministers of the «OIC» met in Astana & agreed" in text
    assert item.url in text and "mfa-kz" in text and "score 0.91" in text and "en" in text
    assert "Ministers of the <mark>OIC</mark> met in Astana &amp; agreed" in page
    assert f'<a href="{item.url}">OIC &lt;b&gt;ministers&lt;/b&gt; meet</a>' in page
    assert "<b>ministers" not in page
    assert only_status(store) == "sent"


def only_status(store: Store) -> str:
    [row] = outbox.alerts(store)
    return row.status


@AUTH_IN_CLEAR
def test_login_without_tls(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    inbox = Inbox()
    with Smtp(inbox, authenticator=authenticate, auth_required=True, auth_require_tls=False) as s:
        settings = settings_with(
            mail_channel(s.port, username="analyst", password_env="SMTP_PASSWORD")
        )
        add_story(store, ["desk"])
        asyncio.run(dispatch_due(store, settings))

    assert len(inbox.messages) == 1 and only_status(store) == "sent"


@AUTH_IN_CLEAR
def test_wrong_password_fails_and_password_is_never_logged(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD + "-wrong")
    inbox = Inbox()
    with (
        caplog.at_level(logging.DEBUG),
        Smtp(inbox, authenticator=authenticate, auth_required=True, auth_require_tls=False) as s,
    ):
        settings = settings_with(
            mail_channel(s.port, username="analyst", password_env="SMTP_PASSWORD")
        )
        add_story(store, ["desk"])
        report = asyncio.run(dispatch_due(store, settings))

    assert report.failed == 1 and inbox.messages == []
    [row] = outbox.alerts(store)
    assert row.status == "failed" and row.last_error and row.last_error.startswith("SMTP 535")
    assert PASSWORD not in caplog.text


def test_starttls_with_a_private_ca(store: Store, cert: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with Smtp(inbox, tls_context=server_tls(cert), require_starttls=True) as s:
        settings = settings_with(mail_channel(s.port, smtp_tls="starttls"))
        add_story(store, ["desk"])
        report = asyncio.run(
            dispatch_due(store, settings, dsettings=DispatcherSettings(ca_file=cert[0]))
        )

    assert report.sent == 1 and len(inbox.messages) == 1


def test_starttls_refuses_an_unknown_certificate(store: Store, cert: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with Smtp(inbox, tls_context=server_tls(cert), require_starttls=True) as s:
        settings = settings_with(mail_channel(s.port, smtp_tls="starttls"))
        add_story(store, ["desk"])
        report = asyncio.run(dispatch_due(store, settings))

    assert report.retried == 1 and inbox.messages == []


def test_implicit_tls(store: Store, cert: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with Smtp(inbox, ssl_context=server_tls(cert)) as s:
        settings = settings_with(mail_channel(s.port, smtp_tls="ssl"))
        add_story(store, ["desk"])
        report = asyncio.run(
            dispatch_due(store, settings, dsettings=DispatcherSettings(ca_file=cert[0]))
        )

    assert report.sent == 1 and len(inbox.messages) == 1


def test_refused_recipients_fail_without_retry(store: Store) -> None:
    inbox = Inbox(refuse_rcpt=True)
    with Smtp(inbox) as s:
        settings = settings_with(mail_channel(s.port))
        add_story(store, ["desk"])
        report = asyncio.run(dispatch_due(store, settings))

    assert report.failed == 1
    [row] = outbox.alerts(store)
    assert row.status == "failed" and row.last_error and "550" in row.last_error


def test_unreachable_server_is_retried(store: Store) -> None:
    settings = settings_with(mail_channel(free_port()))
    add_story(store, ["desk"])

    report = asyncio.run(dispatch_due(store, settings))

    assert report.retried == 1 and only_status(store) == "queued"


def test_digest_waits_for_the_period_then_sends_one_message_most_relevant_first(
    store: Store, smtp: Smtp
) -> None:
    settings = settings_with(mail_channel(smtp.port, mode="digest", digest_every="1h"))
    t0 = utcnow()
    for title, score in [("Weak OIC mention", 0.4), ("OIC summit", 0.95), ("OIC envoy", 0.7)]:
        add_story(store, ["desk"], title=title, relevance=score, created_at=t0)

    early = asyncio.run(dispatch_due(store, settings, now=t0 + timedelta(minutes=59)))
    due = asyncio.run(dispatch_due(store, settings, now=t0 + timedelta(minutes=61)))
    later = asyncio.run(dispatch_due(store, settings, now=t0 + timedelta(hours=5)))

    assert (early.sent, due.sent, later.sent) == (0, 3, 0)
    [msg] = smtp.inbox.messages
    assert msg["Subject"] == "[OIC] 3 new stories"
    text, page = parts(msg)
    order = [text.index(t) for t in ("OIC summit", "OIC envoy", "Weak OIC mention")]
    assert order == sorted(order)
    assert page.index("OIC summit") < page.index("OIC envoy") < page.index("Weak OIC mention")
    assert {r.status for r in outbox.alerts(store)} == {"sent"}


def test_operator_alert_email_goes_out_at_once_even_on_a_digest_channel(
    store: Store, smtp: Smtp
) -> None:
    settings = settings_with(
        mail_channel(smtp.port, mode="digest", operator=True, subject_tag="[OIC-ops]")
    )
    queue_operator_alert(
        store,
        settings,
        source="mfa-uz",
        event="failing",
        episode=3,
        message="mfa-uz: 6 polls failed: <timeout>",
    )

    report = asyncio.run(dispatch_due(store, settings))

    assert report.sent == 1
    [msg] = smtp.inbox.messages
    assert msg["Subject"] == "[OIC-ops] source mfa-uz is failing"
    assert msg["X-OIC-Monitor-Story"] == "op:mfa-uz:failing:3"
    text, page = parts(msg)
    assert "mfa-uz: 6 polls failed: <timeout>" in text
    assert "&lt;timeout&gt;" in page


def test_send_test_email(smtp: Smtp) -> None:
    settings = settings_with(mail_channel(smtp.port))

    [(label, ok, detail)] = asyncio.run(send_test(settings))

    assert (label, ok) == ("desk", True) and "accepted" in detail
    assert smtp.inbox.messages[0]["Subject"] == "[OIC] test alert"
