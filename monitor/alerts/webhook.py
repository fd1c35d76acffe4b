"""Webhook delivery: one signed JSON POST, and what its answer means for a retry.

Bodies come in four kinds (story, operator, test, digest), each described by a JSON Schema
in schemas/. With a secret, two signatures go along:

- `X-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body;
- `X-Signature-V2: sha256=<hex>`, HMAC-SHA256 of `<timestamp>.<raw body>`, where the
  timestamp is the `X-Signature-Timestamp` header (Unix seconds). It lets a receiver refuse
  a request replayed later, which the body-only signature cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from importlib.resources import files

import httpx

from monitor.alerts.errors import PermanentError, TemporaryError
from monitor.alerts.message import (
    OperatorNotice,
    Story,
    digest_json,
    operator_json,
    slack_digest,
    slack_operator,
    slack_story,
    story_json,
    test_json,
)
from monitor.config import AlertChannel
from monitor.fetch import parse_retry_after
from monitor.redact import redact

BODY_KINDS = ("story", "operator", "test", "digest")


def signature(secret: str, body: bytes) -> str:
    """The X-Signature header value: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def timestamped_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Signature-V2 header value: HMAC-SHA256 of `<timestamp>.<raw body>`."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_headers(
    secret: str, body: bytes, clock: Callable[[], float] = time.time
) -> dict[str, str]:
    timestamp = str(int(clock()))
    return {
        "X-Signature": signature(secret, body),
        "X-Signature-Timestamp": timestamp,
        "X-Signature-V2": timestamped_signature(secret, timestamp, body),
    }


def schema(kind: str) -> dict[str, object]:
    """The JSON Schema of one body kind, as shipped in schemas/<kind>.json."""
    if kind not in BODY_KINDS:
        raise ValueError(f"no webhook body kind {kind!r}")
    text = files("monitor.alerts").joinpath("schemas", f"{kind}.json").read_text("utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded


def story_body(channel: AlertChannel, story: Story, *, key: str) -> dict[str, object]:
    if channel.format == "slack":
        return {"text": slack_story(story)}
    return story_json(story, key=key)


def operator_body(channel: AlertChannel, notice: OperatorNotice, *, key: str) -> dict[str, object]:
    if channel.format == "slack":
        return {"text": slack_operator(notice)}
    return operator_json(notice, key=key)


def digest_body(
    channel: AlertChannel, stories: Sequence[tuple[Story, str]], *, key: str
) -> dict[str, object]:
    if channel.format == "slack":
        return {"text": slack_digest([story for story, _ in stories])}
    return digest_json(stories, key=key)


def test_body(channel: AlertChannel, *, key: str) -> dict[str, object]:
    if channel.format == "slack":
        return {"text": "oic-monitor test alert: this channel works."}
    return test_json(key=key)


async def post(
    client: httpx.AsyncClient, channel: AlertChannel, body: dict[str, object], *, key: str
) -> str:
    """POST `body` to the channel. Returns a short detail; raises a DeliveryError.

    5xx, 429 and network errors are temporary; any other non-2xx answer is permanent.
    """
    if not channel.url:
        raise PermanentError("webhook channel has no url")
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    secret = channel.resolved_secret()
    if channel.secret_env and not secret:
        # Never send unsigned when a signature is expected; the env may be fixed on restart.
        raise TemporaryError(f"environment variable {channel.secret_env} (secret_env) is not set")
    if secret:
        headers |= signature_headers(secret, raw)
    request = client.build_request("POST", channel.url, content=raw, headers=headers)
    try:
        # Streamed so a receiver's large answer is never read: only the status matters.
        response = await client.send(request, stream=True, follow_redirects=False)
    except httpx.TimeoutException as e:
        raise TemporaryError(f"timed out ({type(e).__name__})") from None
    except httpx.TransportError as e:
        raise TemporaryError(f"network error: {type(e).__name__}: {redact(str(e))}") from None
    await response.aclose()
    status = response.status_code
    detail = f"HTTP {status} {response.reason_phrase}".strip()
    if 200 <= status < 300:
        return detail
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise TemporaryError(detail, retry_after=retry_after)
    raise PermanentError(detail)
