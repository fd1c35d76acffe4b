"""Apprise channels: config, delivery through the outbox to a local json:// receiver, formats."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import apprise.plugins.telegram
import pytest

from monitor.alerts import apprise_channel
from monitor.alerts.dispatcher import dispatch_due, send_test
from monitor.alerts.message import Story
from monitor.config import AlertChannel, ConfigError, Settings, settings_from_dict
from monitor.store import outbox
from monitor.store.models import utcnow
from monitor.store.repo import Store
from tests.alerts_support import Receiver, add_story, evidence, settings_with
from tests.webserver import LocalWeb, Request, Response

HOOK = "/notify"
TG_TOKEN = "123456789:AAFakeTokenForTests_abcdefghijk"


def json_url(receiver: Receiver, path: str = HOOK, query: str = "") -> str:
    return f"json://127.0.0.1:{receiver.port}{path}{query}"


def chat_settings(*urls: str, **extra: object) -> Settings:
    return settings_with({"name": "chat", "kind": "apprise", "urls": list(urls), **extra})


def messages(receiver: Receiver, path: str = HOOK) -> list[dict[str, Any]]:
    return [json.loads(p.body) for p in receiver.posted(path)]


# --- config --------------------------------------------------------------------------


def test_urls_expand_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TOKEN", TG_TOKEN)
    monkeypatch.setenv("TG_CHAT", "-100123")
    ch = AlertChannel(kind="apprise", urls=["tgram://$TG_TOKEN/${TG_CHAT}"])

    assert ch.urls == [f"tgram://{TG_TOKEN}/-100123"]
    assert ch.label == "apprise:tgram"
    assert TG_TOKEN not in repr(ch)


def test_missing_variable_names_it_and_the_key_but_no_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TG_TOKEN", TG_TOKEN)
    monkeypatch.delenv("TG_CHAT", raising=False)
    raw = {"alerts": [{"name": "tg", "kind": "apprise", "urls": ["tgram://$TG_TOKEN/$TG_CHAT"]}]}

    with pytest.raises(ConfigError) as e:
        settings_from_dict(raw, tmp_path / "monitor.toml")

    message = str(e.value)
    assert "alerts[0] (tg).urls[0]" in message
    assert "environment variable TG_CHAT is not set" in message
    assert TG_TOKEN not in message


def test_unusable_url_is_a_config_error_showing_only_its_scheme(tmp_path: Path) -> None:
    raw = {"alerts": [{"kind": "apprise", "urls": ["tgram://not-a-token-SECRETPART"]}]}

    with pytest.raises(ConfigError) as e:
        settings_from_dict(raw, tmp_path / "monitor.toml")

    assert "tgram://" in str(e.value) and "SECRETPART" not in str(e.value)


def test_an_apprise_channel_needs_urls() -> None:
    with pytest.raises(ValueError, match="needs urls"):
        AlertChannel(kind="apprise")


def test_label_lists_schemes_never_the_url() -> None:
    ch = AlertChannel(kind="apprise", urls=["json://user:pw@127.0.0.1:9/a", "ntfy://topic"])
    assert ch.label == "apprise:json,ntfy"


# --- delivery through the outbox ---------------------------------------------------


def test_story_arrives_once_with_evidence_outlets_and_link(
    store: Store, receiver: Receiver
) -> None:
    receiver.add(HOOK, "ok")
    settings = chat_settings(json_url(receiver))
    item = add_story(
        store,
        ["chat"],
        evidence_=evidence("ОИС", snippet="Совет министров ОИС собрался в Астане"),
        story_id=None,
    )

    first = asyncio.run(dispatch_due(store, settings))
    again = asyncio.run(dispatch_due(store, settings, now=utcnow() + timedelta(days=1)))

    assert (first.sent, again.sent) == (1, 0)
    [msg] = messages(receiver)
    assert msg["title"] == item.title
    body = msg["message"]
    assert "> Совет министров **ОИС** собрался в Астане" in body
    assert "Evidence: ОИС" in body
    assert f"]({item.url})" in body
    assert "mfa-kz" in body and "relevant" in body and "score 0.90" in body


def test_receiver_down_for_a_while_loses_nothing(store: Store, receiver: Receiver) -> None:
    receiver.routes[HOOK] = [Response(status=503, body="down")] * 3 + [Response(body="ok")]
    settings = chat_settings(json_url(receiver))
    add_story(store, ["chat"], evidence_=evidence("OIC", snippet="the OIC met"))

    reports = [
        asyncio.run(dispatch_due(store, settings, now=utcnow() + timedelta(hours=2 * i)))
        for i in range(5)
    ]

    assert [r.sent for r in reports] == [0, 0, 0, 1, 0]
    assert [r.retried for r in reports] == [1, 1, 1, 0, 0]
    [row] = outbox.alerts(store)
    assert row.status == "sent" and row.attempts == 4
    assert len(receiver.posted(HOOK)) == 4  # three refused, one accepted


def test_a_retry_skips_the_services_that_already_took_the_message(
    store: Store, receiver: Receiver
) -> None:
    receiver.add("/a", "ok")
    receiver.routes["/b"] = [Response(status=503, body="down"), Response(body="ok")]
    settings = chat_settings(json_url(receiver, "/a"), json_url(receiver, "/b"))
    add_story(store, ["chat"])

    first = asyncio.run(dispatch_due(store, settings))
    second = asyncio.run(dispatch_due(store, settings, now=utcnow() + timedelta(days=1)))

    assert (first.retried, second.sent) == (1, 1)
    assert len(receiver.posted("/a")) == 1
    assert len(receiver.posted("/b")) == 2


def test_digest_mode_sends_one_message_for_the_period(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    settings = chat_settings(json_url(receiver), mode="digest", digest_every="1h")
    add_story(store, ["chat"], title="OIC contact group meets", relevance=0.7)
    add_story(store, ["chat"], title="OIC summit in Baku", relevance=0.95)

    early = asyncio.run(dispatch_due(store, settings))
    later = asyncio.run(dispatch_due(store, settings, now=utcnow() + timedelta(hours=2)))

    assert (early.sent, later.sent) == (0, 2)
    [msg] = messages(receiver)
    assert msg["title"] == "oic-monitor: 2 new stories"
    assert msg["message"].index("OIC summit in Baku") < msg["message"].index("contact group")


def test_text_only_services_get_plain_text(store: Store, receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    settings = chat_settings(json_url(receiver, query="?format=text"))
    add_story(store, ["chat"], evidence_=evidence("OIC", snippet="the OIC_met [today]"))

    asyncio.run(dispatch_due(store, settings))

    [msg] = messages(receiver)
    assert "the «OIC»_met [today]" in msg["message"]
    assert "**" not in msg["message"] and "\\" not in msg["message"]


def test_send_test_covers_apprise_channels(receiver: Receiver) -> None:
    receiver.add(HOOK, "ok")
    receiver.routes["/down"] = Response(status=500, body="no")
    settings = settings_with(
        {"name": "up", "kind": "apprise", "urls": [json_url(receiver)]},
        {"kind": "apprise", "urls": [json_url(receiver, "/down")]},
    )

    results = asyncio.run(send_test(settings))

    assert [(label, ok) for label, ok, _ in results] == [("up", True), ("apprise:json", False)]
    assert messages(receiver)[0]["message"] == "oic-monitor test alert: this channel works."


def test_tokens_never_reach_the_logs(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.routes[HOOK] = Response(status=503, body="down")
    secret = "TOPSECRET987"
    settings = chat_settings(f"json://bot:{secret}@127.0.0.1:{receiver.port}{HOOK}")
    add_story(store, ["chat"])
    caplog.set_level(logging.DEBUG)

    asyncio.run(dispatch_due(store, settings))
    apprise_channel.known_url(f"tgram://{secret}")

    assert caplog.records and secret not in caplog.text
    assert secret not in (outbox.alerts(store)[0].last_error or "")


# --- Telegram: Apprise's real request, to a Bot API stand-in on 127.0.0.1 ---------------


def telegram_payloads(monkeypatch: pytest.MonkeyPatch, web: LocalWeb) -> list[dict[str, Any]]:
    """Point Apprise's Telegram plugin at `web` (its API address is a class attribute) and
    record the sendMessage bodies it posts there."""
    sent: list[dict[str, Any]] = []

    def send_message(req: Request) -> Response:
        sent.append(json.loads(req.body))
        return Response(body='{"ok": true}', content_type="application/json")

    web.routes[f"/bot{TG_TOKEN}/sendMessage"] = send_message
    monkeypatch.setattr(apprise.plugins.telegram.NotifyTelegram, "notify_url", web.url("/bot"))
    return sent


def story(**extra: Any) -> Story:
    fields: dict[str, Any] = {
        "item_id": 1,
        "url": "https://mfa.example/news/oic_(session)-2026.html",
        "title": "Session of the OIC Council of Foreign Ministers [Astana]",
        "source": "mfa-kz",
        "published": None,
        "language": "en",
        "relevance": 0.91,
        "tier": "relevant",
        "story_id": 7,
        "evidence": [{"term": "OIC", "weight": 1.0}],
        "also_reported_by": ["kazinform", "akorda_kz"],
        "snippet": "The 51st session of the OIC Council opened in Astana (Kazakhstan).",
    }
    fields.update(extra)
    return Story(**fields)


def test_telegram_gets_its_markdown_with_title_evidence_and_link(
    monkeypatch: pytest.MonkeyPatch, web: LocalWeb
) -> None:
    sent = telegram_payloads(monkeypatch, web)
    ch = AlertChannel(name="tg", kind="apprise", urls=[f"tgram://{TG_TOKEN}/-100123"])

    detail = asyncio.run(apprise_channel.send_story(ch, story(), previous=[]))

    assert detail.startswith("apprise: sent to tgram")
    [payload] = sent
    assert str(payload["chat_id"]) == "-100123"
    assert payload["parse_mode"] == "MARKDOWN"  # Apprise's default: Telegram's classic Markdown
    lines = payload["text"].split("\n")
    assert lines[0] == "*Session of the OIC Council of Foreign Ministers \\[Astana\\]*"
    assert lines[1] == "mfa-kz · undated · relevant · score 0.91"
    assert "> The 51st session of the *OIC* Council opened in Astana (Kazakhstan)." in lines
    assert "Also reported by: kazinform, akorda\\_kz" in lines
    assert lines[-1].endswith("](https://mfa.example/news/oic_%28session%29-2026.html)")


def test_telegram_markdownv2_is_escaped_as_telegram_requires(
    monkeypatch: pytest.MonkeyPatch, web: LocalWeb
) -> None:
    sent = telegram_payloads(monkeypatch, web)
    ch = AlertChannel(name="tg", kind="apprise", urls=[f"tgram://{TG_TOKEN}/-100123?mdv=v2"])

    asyncio.run(apprise_channel.send_story(ch, story(), previous=[]))

    [payload] = sent
    assert payload["parse_mode"] == "MarkdownV2"
    text = payload["text"]
    assert "mfa\\-kz · undated · relevant · score 0\\.91" in text
    assert "opened in Astana \\(Kazakhstan\\)\\." in text
    assert "](https://mfa.example/news/oic_%28session%29-2026.html)" in text


def test_telegram_message_is_cut_to_its_limit_keeping_the_link(
    monkeypatch: pytest.MonkeyPatch, web: LocalWeb
) -> None:
    sent = telegram_payloads(monkeypatch, web)
    ch = AlertChannel(name="tg", kind="apprise", urls=[f"tgram://{TG_TOKEN}/-100123"])
    long_snippet = "OIC ministers (and their deputies) met. " * 400

    asyncio.run(apprise_channel.send_story(ch, story(snippet=long_snippet), previous=[]))

    [payload] = sent
    text = payload["text"]
    assert 3000 < len(text) <= 4096
    assert "…" in text and "Also reported by" in text
    assert "https://mfa.example/news/oic_" in text
