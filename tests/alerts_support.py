"""Shared pieces for the alert tests: a webhook receiver that keeps bodies, stories, settings."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any

import jsonschema
from referencing import Registry, Resource

from monitor.alerts.webhook import BODY_KINDS, schema
from monitor.config import AlertChannel, Settings
from monitor.store.models import Alert, Item
from monitor.store.repo import Store
from tests.webserver import LocalWeb, read_body

SECRET = "s3cr3t-hmac-key-7f1e"


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(LocalWeb):
    """LocalWeb that also keeps each request body (the webhook signature covers it)."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[Posted] = []
        self._posts_lock = threading.Lock()

    def _serve(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        body = read_body(h)
        if body is None:
            return
        with self._posts_lock:
            self.posts.append(Posted(h.path, {k.lower(): v for k, v in h.headers.items()}, body))
        # LocalWeb reads the body itself; hand it the bytes already taken off the socket.
        wire = h.rfile
        h.rfile = io.BytesIO(body)
        try:
            super()._serve(h, head)
        finally:
            h.rfile = wire

    def posted(self, path: str) -> list[Posted]:
        with self._posts_lock:
            return [p for p in self.posts if p.path == path]


@cache
def _validators() -> dict[str, jsonschema.protocols.Validator]:
    schemas = {kind: schema(kind) for kind in BODY_KINDS}
    registry: Registry[Any] = Registry().with_resources(
        (str(s["$id"]), Resource.from_contents(s)) for s in schemas.values()
    )
    out = {}
    for kind, s in schemas.items():
        cls = jsonschema.validators.validator_for(s)
        cls.check_schema(s)
        out[kind] = cls(s, registry=registry, format_checker=cls.FORMAT_CHECKER)
    return out


def validate_body(body: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `body` matches the schema of its kind."""
    kind = body.get("kind")
    assert kind in BODY_KINDS, f"webhook body without a known kind: {body!r:.200}"
    _validators()[str(kind)].validate(body)


def validate_posts(posts: list[Posted]) -> int:
    """Check every JSON webhook body among `posts` against its schema; how many were checked.

    Only the monitor's own webhook posts (they carry an Idempotency-Key) are checked; of
    those, Slack-format bodies (a single `text`) are Slack's shape, not ours.
    """
    n = 0
    for post in posts:
        if "idempotency-key" not in post.headers:
            continue
        body = json.loads(post.body)
        if isinstance(body, dict) and set(body) != {"text"}:
            validate_body(body)
            n += 1
    return n


def settings_with(*channels: dict[str, Any]) -> Settings:
    return Settings(alerts=[AlertChannel(**c) for c in channels])


def evidence(*terms: str, snippet: str) -> list[dict[str, object]]:
    return [
        {
            "term": t,
            "concept": "oic.name",
            "where": "body",
            "snippet": snippet,
            "weight": 1.0 - i / 10,
        }
        for i, t in enumerate(terms)
    ]


def add_story(
    store: Store,
    channels: list[str],
    *,
    title: str = "OIC foreign ministers meet in Astana",
    relevance: float | None = 0.9,
    source: str = "mfa-kz",
    evidence_: list[dict[str, object]] | None = None,
    story_id: int | None = None,
    created_at: datetime | None = None,
    text: str | None = None,
) -> Item:
    """Store one item with queued alerts for `channels`, as the pipeline does."""
    body = text or f"{title}. The Organisation of Islamic Cooperation met today."
    digest = hashlib.sha256((title + body + source).encode()).hexdigest()[:16]
    item = Item(
        url=f"https://news.example/{digest}",
        source=source,
        title=title,
        published=created_at,
        language="en",
        content_hash=digest,
        text=body,
        relevance=relevance,
        tier="relevant" if relevance is not None else None,
        evidence=evidence_,
        story_id=story_id,
    )
    alerts = [Alert(channel=label, story_key="") for label in channels]
    if created_at:
        for a in alerts:
            a.created_at = a.next_attempt_at = created_at
    stored, created = store.add_item(item, [item.url], alerts)
    assert created
    return stored
