"""Webhook bodies against their published JSON Schemas, and the timestamped signature.

Every body the receiver fixture is sent is validated when the test ends (see conftest);
the tests here make each kind go out for real and check the README's own examples and its
verification snippet.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from monitor.alerts.dispatcher import dispatch_due, send_test
from monitor.alerts.message import OPERATOR_EVENTS
from monitor.alerts.operator import queue_operator_alert
from monitor.alerts.webhook import BODY_KINDS, signature_headers
from monitor.store import outbox
from monitor.store.models import utcnow
from monitor.store.repo import Store
from tests.alerts_support import (
    SECRET,
    Posted,
    Receiver,
    add_story,
    evidence,
    settings_with,
    validate_body,
    validate_posts,
)

README = Path(__file__).resolve().parent.parent / "README.md"


def _channel(receiver: Receiver, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": path.strip("/"), "kind": "webhook", "url": receiver.url(path), **extra}


def _bodies(posts: list[Posted]) -> list[dict[str, Any]]:
    return [json.loads(p.body) for p in posts]


def test_every_kind_of_body_goes_out_and_matches_its_schema(
    store: Store, receiver: Receiver
) -> None:
    for path in ("/now", "/daily", "/ops"):
        receiver.add(path, "ok")
    settings = settings_with(
        _channel(receiver, "/now", secret=SECRET),
        _channel(receiver, "/daily", secret=SECRET, mode="digest", digest_every="1h"),
        _channel(receiver, "/ops", secret=SECRET, operator=True, stories=False),
    )
    t0 = utcnow()
    first = add_story(
        store,
        ["now", "daily"],
        evidence_=evidence("OIC", "ОИС", snippet="the OIC met in Astana"),
        created_at=t0,
    )
    add_story(store, ["now", "daily"], title="ИЫҰ саммиті", relevance=None, created_at=t0)
    add_story(store, [], title="OIC summit, reprinted", source="kazinform", story_id=first.story_id)
    for n, event in enumerate(OPERATOR_EVENTS):
        queue_operator_alert(
            store, settings, source="mfa-kz", event=event, episode=n, message=f"{event} spell"
        )

    asyncio.run(dispatch_due(store, settings, now=t0 + timedelta(hours=2)))
    asyncio.run(send_test(settings))

    assert {r.status for r in outbox.alerts(store)} == {"sent"}
    now, daily, ops = (_bodies(receiver.posted(p)) for p in ("/now", "/daily", "/ops"))
    assert [b["kind"] for b in now] == ["story", "story", "test"]
    assert [b["kind"] for b in daily] == ["digest", "test"]
    assert daily[0]["count"] == 2 == len(daily[0]["stories"])
    assert {s["key"] for s in daily[0]["stories"]} == {b["key"] for b in now[:2]}
    assert sorted(b["event"] for b in ops if b["kind"] == "operator") == sorted(OPERATOR_EVENTS)
    kinds = {b["kind"] for b in now + daily + ops}
    assert kinds == set(BODY_KINDS)
    assert validate_posts(receiver.posts) == len(receiver.posts) == 3 + 2 + 5


@pytest.mark.parametrize("kind", BODY_KINDS)
def test_the_readme_example_of_each_kind_matches_its_schema(kind: str) -> None:
    examples = [
        json.loads(block)
        for block in re.findall(r"```json\n(.*?)```", README.read_text("utf-8"), re.S)
    ]
    mine = [e for e in examples if e.get("kind") == kind]
    assert mine, f"no README example of a {kind} body"
    for example in mine:
        validate_body(example)


@pytest.mark.parametrize(
    ("kind", "broken"),
    [
        ("story", {"relevance": "high"}),
        ("story", {"published": "yesterday"}),
        ("story", {"published_precision": "year"}),
        ("operator", {"event": "exploded"}),
        ("test", {"key": None}),
        ("digest", {"stories": [{"kind": "story"}]}),
    ],
)
def test_a_body_off_its_schema_is_refused(kind: str, broken: dict[str, Any]) -> None:
    good = {
        "story": {
            "kind": "story", "key": "1", "id": 1, "url": "https://x.example/1", "title": "t",
            "source": "s", "published": None, "published_precision": None, "language": None,
            "relevance": 0.5, "tier": "relevant", "evidence": [], "story_id": 1,
            "also_reported_by": [], "snippet": "", "late": None,
        },
        "operator": {"kind": "operator", "key": "op:s:gap:1", "source": "s", "event": "gap",
                     "message": "m"},
        "test": {"kind": "test", "key": "test-1", "message": "m"},
        "digest": {"kind": "digest", "key": "digest-1", "count": 1, "stories": []},
    }[kind]  # fmt: skip
    if kind != "digest":
        validate_body(good)
    with pytest.raises(jsonschema.ValidationError):
        validate_body({**good, **broken})


def _readme_verify() -> Any:
    text = README.read_text("utf-8")
    code = re.search(r"<!-- verify-webhook -->\n```python\n(.*?)```", text, re.S)
    assert code, "the README's verification snippet is missing"
    scope: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md", "exec"), scope)  # the snippet as users copy it
    return scope["verify"]


def test_the_readme_snippet_accepts_a_fresh_request_and_refuses_a_replay(
    store: Store, receiver: Receiver
) -> None:
    verify = _readme_verify()
    receiver.add("/hook", "ok")
    settings = settings_with(_channel(receiver, "/hook", secret=SECRET))
    add_story(store, ["hook"])
    asyncio.run(dispatch_due(store, settings))
    [post] = receiver.posted("/hook")
    headers = {k.title(): v for k, v in post.headers.items()}

    assert abs(int(headers["X-Signature-Timestamp"]) - time.time()) < 3600
    assert verify(headers, post.body, SECRET)
    assert not verify(headers, post.body, "another secret")
    assert not verify(headers, post.body + b" ", SECRET)
    # The same body and signature sent again later, or with its timestamp moved, is refused.
    replayed = signature_headers(SECRET, post.body, clock=lambda: time.time() - 3600)
    assert not verify(replayed, post.body, SECRET)
    moved = str(int(headers["X-Signature-Timestamp"]) + 1)
    assert not verify({**headers, "X-Signature-Timestamp": moved}, post.body, SECRET)
    unsigned = {k: v for k, v in headers.items() if k != "X-Signature-V2"}
    assert not verify(unsigned, post.body, SECRET)


def test_the_body_only_signature_keeps_its_meaning(store: Store, receiver: Receiver) -> None:
    receiver.add("/hook", "ok")
    add_story(store, ["hook"])
    asyncio.run(dispatch_due(store, settings_with(_channel(receiver, "/hook", secret=SECRET))))
    [post] = receiver.posted("/hook")
    body_only = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-signature"] == body_only
    assert post.headers["x-signature-v2"] != body_only


def test_unsigned_channels_send_no_signature_headers(store: Store, receiver: Receiver) -> None:
    receiver.add("/hook", "ok")
    add_story(store, ["hook"])
    asyncio.run(dispatch_due(store, settings_with(_channel(receiver, "/hook"))))
    [post] = receiver.posted("/hook")
    assert not {"x-signature", "x-signature-v2", "x-signature-timestamp"} & set(post.headers)


def test_slack_format_digest_is_one_text(store: Store, receiver: Receiver) -> None:
    receiver.add("/slack", "ok")
    settings = settings_with(
        _channel(receiver, "/slack", format="slack", mode="digest", digest_every="1h")
    )
    t0 = utcnow()
    add_story(store, ["slack"], title="OIC summit <opens>", created_at=t0)
    add_story(store, ["slack"], title="OIC envoy", relevance=0.5, created_at=t0)
    asyncio.run(dispatch_due(store, settings, now=t0 + timedelta(hours=2)))
    [body] = _bodies(receiver.posted("/slack"))
    assert set(body) == {"text"}
    assert body["text"].startswith("*oic-monitor: 2 new stories*")
    assert body["text"].index("OIC summit &lt;opens&gt;") < body["text"].index("OIC envoy")
