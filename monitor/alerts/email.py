"""Email delivery over SMTP (STARTTLS, implicit TLS or plain), in a worker thread."""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from monitor.alerts.errors import DeliveryError, PermanentError, TemporaryError
from monitor.config import AlertChannel

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """Verified TLS; `ca_file` adds a private CA (a relay with its own certificate)."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


async def send(
    channel: AlertChannel, msg: EmailMessage, *, timeout: float, ca_file: Path | None = None
) -> str:
    """Send `msg` through the channel's SMTP server. Returns a short detail.

    Raises PermanentError on a 5xx SMTP answer and TemporaryError on a 4xx answer,
    a network or TLS error, or a missing password.
    """
    # smtplib blocks; a thread keeps the event loop (polling, webhooks) moving.
    return await asyncio.to_thread(_send, channel, msg, timeout, ca_file)


def _password(channel: AlertChannel) -> str | None:
    if not channel.username:
        return None
    if not channel.password_env:
        raise PermanentError("username is set but password_env is not")
    password = os.environ.get(channel.password_env)
    if password is None:
        # Kept queued: setting the variable and restarting delivers the backlog.
        raise TemporaryError(f"environment variable {channel.password_env} is not set")
    return password


def _send(channel: AlertChannel, msg: EmailMessage, timeout: float, ca_file: Path | None) -> str:
    if not channel.smtp_host:
        raise PermanentError("email channel has no smtp_host")
    password = _password(channel)
    host = channel.smtp_host
    port = channel.smtp_port or DEFAULT_PORTS[channel.smtp_tls]
    try:
        smtp: smtplib.SMTP
        if channel.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls_context(ca_file))
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if channel.smtp_tls == "starttls":
                smtp.starttls(context=tls_context(ca_file))
            if channel.username and password is not None:
                smtp.login(channel.username, password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPNotSupportedError as e:
        raise PermanentError(f"SMTP server does not support it: {e}") from None
    except smtplib.SMTPRecipientsRefused as e:
        raise _refused(e.recipients) from None
    except smtplib.SMTPResponseException as e:
        raise _answer(e.smtp_code, e.smtp_error) from None
    except (smtplib.SMTPException, OSError) as e:
        raise TemporaryError(f"SMTP {host}:{port}: {type(e).__name__}: {e}") from None
    if refused:
        return f"accepted by {host}:{port}; refused for {', '.join(sorted(refused))}"
    return f"accepted by {host}:{port}"


def _answer(code: int, text: bytes | str) -> DeliveryError:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    detail = f"SMTP {code} {said[:200]}".strip()
    return PermanentError(detail) if code >= 500 else TemporaryError(detail)


def _refused(recipients: dict[str, tuple[int, bytes]]) -> DeliveryError:
    # Every recipient refused: permanent only when every refusal is permanent.
    codes = [code for code, _ in recipients.values()]
    detail = "all recipients refused: " + ", ".join(
        f"{r} ({code})" for r, (code, _) in sorted(recipients.items())
    )
    if codes and all(c >= 500 for c in codes):
        return PermanentError(detail)
    return TemporaryError(detail)
