"""Pure parts of alerting: message text, highlighting, retry policy. No network, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.alerts.dispatcher import DispatcherSettings, next_attempt, retry_delay, safe_label
from monitor.alerts.message import (
    OperatorNotice,
    Story,
    digest_key,
    digest_order,
    highlight_html,
    highlight_text,
    message_id,
    slack_operator,
    story_from_item,
    story_json,
)
from monitor.alerts.webhook import parse_retry_after, signature
from monitor.config import AlertChannel
from monitor.store import outbox
from monitor.store.models import Item

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def item(**kw: Any) -> Item:
    fields: dict[str, Any] = {
        "id": 5,
        "url": "https://mfa.example/news/5",
        "source": "mfa-kz",
        "title": "OIC meets",
        "published": datetime(2025, 3, 1, 9, 30),  # naive, as SQLite returns it
        "language": "ru",
        "content_hash": "0123456789abcdef",
        "text": "word " * 200,
        "relevance": 0.8,
        "tier": "relevant",
        "story_id": 5,
        **kw,
    }
    return Item(**fields)


def story(title: str, relevance: float | None, published: datetime | None = T0) -> Story:
    return Story(1, "https://x.example/", title, "s", published, "en", relevance, None, 1)


def test_highlight_marks_terms_case_insensitively_and_escapes_the_rest() -> None:
    text = "The <OIC> & the oic met; ОИС too"
    assert highlight_html(text, ["OIC", "ОИС"]) == (
        "The &lt;<mark>OIC</mark>&gt; &amp; the <mark>oic</mark> met; <mark>ОИС</mark> too"
    )
    assert highlight_text(text, ["OIC"]) == "The <«OIC»> & the «oic» met; ОИС too"


def test_highlight_prefers_the_longest_term() -> None:
    assert highlight_text("OIC Secretary General", ["OIC", "OIC Secretary General"]) == (
        "«OIC Secretary General»"
    )


def test_story_without_evidence_uses_the_lead_and_utc_dates() -> None:
    s = story_from_item(item(evidence=None, relevance=None, tier=None))
    assert s.snippet.endswith("word…") and len(s.snippet) <= 300
    assert s.published == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    body = story_json(s, key="5")
    assert body["evidence"] == [] and body["relevance"] is None
    assert body["published"] == "2025-03-01T09:30:00+00:00"


def test_snippet_comes_from_the_strongest_body_evidence() -> None:
    ev = [
        {"term": "OIC", "where": "title", "snippet": "title hit", "weight": 5.0},
        {"term": "OIC", "where": "body", "snippet": "weak  body\nhit", "weight": 0.1},
        {"term": "ОИС", "where": "body", "snippet": "strong body hit", "weight": 2.0},
        {"term": "x", "where": "lead", "snippet": "no weight", "weight": None},
    ]
    s = story_from_item(item(evidence=ev))
    assert s.snippet == "strong body hit"
    assert s.terms == ["OIC", "ОИС", "x"]


def test_digest_order_most_relevant_then_newest() -> None:
    stories = [
        story("low", 0.2),
        story("none", None),
        story("high-old", 0.9, T0),
        story("high-new", 0.9, T0 + timedelta(hours=1)),
    ]
    assert [s.title for s in digest_order(stories)] == ["high-new", "high-old", "low", "none"]


def test_digest_key_depends_on_the_set_of_stories_only() -> None:
    assert digest_key(["3", "1", "2"]) == digest_key(["1", "2", "3"]) != digest_key(["1", "2"])


def test_message_id_is_fixed_per_story_and_channel() -> None:
    a = AlertChannel(kind="email", smtp_host="h", sender="m@desk.example", to=["x@y"], name="a")
    b = AlertChannel(kind="email", smtp_host="h", sender="m@desk.example", to=["x@y"], name="b")
    assert message_id("42", a) == message_id("42", a)
    assert message_id("42", a) != message_id("42", b) != message_id("43", b)
    assert message_id("op:mfa kz:failing:1", a).startswith("<oic-monitor.op-mfa-kz-failing-1.")


def test_operator_notice_slack_text_is_escaped() -> None:
    notice = OperatorNotice.from_payload(
        {"source": "mfa-kz", "event": "recovered", "message": "back <ok>"}
    )
    assert slack_operator(notice) == "*oic-monitor: source mfa-kz has recovered*\nback &lt;ok&gt;"


def test_signature_is_hmac_sha256_of_the_body() -> None:
    # Known value: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_parse_retry_after() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:05:00 GMT", now=now) == 300.0
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_retry_delay_doubles_up_to_the_cap_with_full_jitter() -> None:
    top = [
        retry_delay(n, base=timedelta(seconds=30), cap=timedelta(hours=1), rand=lambda a, b: b)
        for n in range(1, 10)
    ]
    assert [d.total_seconds() for d in top] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    low = retry_delay(5, base=timedelta(seconds=30), cap=timedelta(hours=1), rand=lambda a, b: a)
    assert low == timedelta(0)
    assert retry_delay(10_000, base=timedelta(seconds=30), cap=timedelta(hours=1)) <= timedelta(
        hours=1
    )


def test_next_attempt_honours_retry_after_and_the_deadline() -> None:
    ds = DispatcherSettings(max_age=timedelta(hours=2))

    def at(now: datetime, retry_after: float | None = None) -> datetime | None:
        return next_attempt(
            attempts=1, created_at=T0, now=now, retry_after=retry_after, ds=ds, rand=lambda a, b: b
        )

    assert at(T0) == T0 + timedelta(seconds=30)
    assert at(T0, retry_after=600) == T0 + timedelta(seconds=600)
    assert at(T0, retry_after=10**9) == T0 + timedelta(hours=1)  # capped by max_retry_after
    assert at(T0 + timedelta(hours=1, minutes=59, seconds=50)) == T0 + timedelta(hours=2)
    assert at(T0 + timedelta(hours=2)) is None


def test_safe_label_hides_url_paths() -> None:
    assert safe_label("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/…"
    assert safe_label("desk") == "desk"


def test_operator_key_fits_the_column() -> None:
    assert outbox.operator_key("mfa-kz", "failing", 3) == "op:mfa-kz:failing:3"
    long = outbox.operator_key("s" * 300, "recovered", 12345)
    assert len(long) <= outbox.STORY_KEY_LENGTH and long.endswith(":recovered:12345")
