"""What an alert says: webhook JSON, Slack text and email (plain text and HTML).

Everything here is pure: rows in, strings and messages out. The templates are data files
in templates/; values are escaped before they go in.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from functools import cache
from importlib.resources import files
from string import Template
from typing import Literal, get_args
from urllib.parse import urlsplit

from monitor.config import AlertChannel
from monitor.display import cut_at_word, item_title, precision_of, published_label
from monitor.evidence import snippet as evidence_snippet
from monitor.evidence import terms as evidence_terms
from monitor.store.models import Item

OperatorEvent = Literal["failing", "recovered", "silent", "gap"]

SLACK_TERMS = 8  # evidence terms listed in a Slack line


@dataclass(frozen=True)
class Story:
    """One stored article as an alert shows it."""

    item_id: int
    url: str
    title: str
    source: str
    published: datetime | None
    language: str | None
    relevance: float | None
    tier: str | None
    story_id: int | None
    evidence: list[dict[str, object]] = field(default_factory=list)
    also_reported_by: list[str] = field(default_factory=list)
    snippet: str = ""
    late: str | None = None  # why the alert comes after the fact (found by a gap catch-up)
    published_precision: str | None = None  # "month": only the month is known

    @property
    def terms(self) -> list[str]:
        """Distinct evidence terms, strongest first."""
        return evidence_terms(self.evidence)


@dataclass(frozen=True)
class OperatorNotice:
    """A message about the monitor itself, e.g. a source that keeps failing."""

    source: str
    event: OperatorEvent
    message: str

    @classmethod
    def from_payload(cls, payload: Mapping[str, object] | None) -> OperatorNotice:
        p = payload or {}
        event = next((e for e in OPERATOR_EVENTS if e == p.get("event")), None)
        if event is None:
            raise ValueError(f"operator alert with unknown event {p.get('event')!r}")
        return cls(source=str(p.get("source") or "?"), event=event, message=str(p.get("message")))

    @property
    def headline(self) -> str:
        return f"source {self.source} {_EVENT_HEADLINES[self.event]}"


OPERATOR_EVENTS: tuple[OperatorEvent, ...] = get_args(OperatorEvent)
_EVENT_HEADLINES: dict[OperatorEvent, str] = {
    "failing": "is failing",
    "recovered": "has recovered",
    "silent": "has gone silent",
    "gap": "missed articles that cannot be recovered",
}


def story_from_item(
    item: Item, also_reported_by: Sequence[str] = (), late: str | None = None
) -> Story:
    assert item.id is not None
    evidence = [dict(e) for e in item.evidence or [] if isinstance(e, Mapping)]
    return Story(
        item_id=item.id,
        url=item.url,
        title=item_title(item.title, item.text) or item.url,
        source=item.source,
        published=_utc(item.published),
        language=item.language,
        relevance=item.relevance,
        tier=item.tier,
        story_id=item.story_id,
        evidence=evidence,
        also_reported_by=list(also_reported_by),
        snippet=evidence_snippet(evidence, item.text),
        late=late,
        published_precision=item.published_precision,
    )


def _utc(dt: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes; everything the monitor stores is UTC.
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=UTC)


def _date(story: Story) -> str:
    return published_label(story.published, story.published_precision)


def _score(story: Story) -> str:
    return f"{story.relevance:.2f}" if story.relevance is not None else "n/a"


# --- highlighting ------------------------------------------------------------


def highlight(text: str, terms: Sequence[str]) -> list[tuple[str, bool]]:
    """Split `text` into (segment, is_term) parts, matching terms case-insensitively."""
    words = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
    if not words:
        return [(text, False)] if text else []
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            parts.append((text[pos : m.start()], False))
        parts.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], False))
    return parts


def highlight_html(text: str, terms: Sequence[str]) -> str:
    return "".join(
        f"<mark>{html.escape(s)}</mark>" if hit else html.escape(s)
        for s, hit in highlight(text, terms)
    )


def highlight_text(text: str, terms: Sequence[str]) -> str:
    return "".join(f"«{s}»" if hit else s for s, hit in highlight(text, terms))


# --- webhook JSON and Slack --------------------------------------------------


def story_json(story: Story, *, key: str) -> dict[str, object]:
    """The webhook body for one story; `key` is also sent as the Idempotency-Key."""
    return {
        "kind": "story",
        "key": key,
        "id": story.item_id,
        "url": story.url,
        "title": story.title,
        "source": story.source,
        "published": story.published.isoformat() if story.published else None,
        "published_precision": precision_of(story.published, story.published_precision),
        "language": story.language,
        "relevance": story.relevance,
        "tier": story.tier,
        "evidence": story.evidence,
        "story_id": story.story_id,
        "also_reported_by": story.also_reported_by,
        "snippet": story.snippet,
        "late": story.late,
    }


def operator_json(notice: OperatorNotice, *, key: str) -> dict[str, object]:
    return {
        "kind": "operator",
        "key": key,
        "source": notice.source,
        "event": notice.event,
        "message": notice.message,
    }


def test_json(*, key: str) -> dict[str, object]:
    return {"kind": "test", "key": key, "message": "oic-monitor test alert: this channel works."}


def digest_json(stories: Sequence[tuple[Story, str]], *, key: str) -> dict[str, object]:
    """The webhook body of a digest: each (story, its key) as its own alert would have been."""
    keys = {id(story): story_key for story, story_key in stories}
    ordered = digest_order([story for story, _ in stories])
    return {
        "kind": "digest",
        "key": key,
        "count": len(ordered),
        "stories": [story_json(s, key=keys[id(s)]) for s in ordered],
    }


def slack_escape(text: str) -> str:
    """Slack and Mattermost treat &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_story(story: Story) -> str:
    title = slack_escape(story.title).replace("|", "¦").replace("*", "∗")
    head = f"*<{_slack_url(story.url)}|{title}>*" if _linkable(story.url) else f"*{title}*"
    meta = " · ".join(
        [
            slack_escape(story.source),
            _date(story),
            slack_escape(story.tier or "unclassified"),
            f"score {_score(story)}",
        ]
    )
    lines = [head, meta]
    if story.terms:
        terms = ", ".join(slack_escape(t) for t in story.terms[:SLACK_TERMS])
        lines.append(f"evidence: {terms}")
    if story.also_reported_by:
        lines.append("also reported by: " + ", ".join(map(slack_escape, story.also_reported_by)))
    if story.late:
        lines.append("late: " + slack_escape(story.late))
    return "\n".join(lines)


def slack_digest(stories: Sequence[Story]) -> str:
    ordered = digest_order(stories)
    n = len(ordered)
    head = f"*oic-monitor: {n} new {'story' if n == 1 else 'stories'}*"
    return "\n\n".join([head, *(slack_story(s) for s in ordered)])


def slack_operator(notice: OperatorNotice) -> str:
    return f"*oic-monitor: {slack_escape(notice.headline)}*\n{slack_escape(notice.message)}"


def _slack_url(url: str) -> str:
    return url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def _linkable(url: str) -> bool:
    # Only web links become clickable; anything else is shown as text.
    return urlsplit(url).scheme in ("http", "https")


# --- email -------------------------------------------------------------------


@cache
def _template(name: str) -> Template:
    return Template(files("monitor.alerts").joinpath("templates", name).read_text("utf-8"))


def _story_parts(story: Story) -> tuple[str, str]:
    """(plain text, HTML) blocks for one story."""
    terms = story.terms
    also = ", ".join(story.also_reported_by)
    also_text = f" · also reported by {also}" if also else ""
    if story.late:
        also_text += f" · late: {story.late}"
    text = _template("story.txt").substitute(
        title=story.title,
        source=story.source,
        date=_date(story),
        language=story.language or "?",
        tier=story.tier or "unclassified",
        score=_score(story),
        also=also_text,
        snippet=highlight_text(story.snippet, terms),
        url=story.url,
    )
    url = html.escape(story.url)
    title = html.escape(story.title)
    linkable = _linkable(story.url)
    page = _template("story.html").substitute(
        link=f'<a href="{url}">{title}</a>' if linkable else title,
        source=html.escape(story.source),
        date=html.escape(_date(story)),
        language=html.escape(story.language or "?"),
        tier=html.escape(story.tier or "unclassified"),
        score=_score(story),
        also=html.escape(also_text),
        snippet=highlight_html(story.snippet, terms),
        url_link=f'<a href="{url}">{url}</a>' if linkable else url,
    )
    return text.strip() + "\n", page


def _email(
    channel: AlertChannel, *, subject: str, text: str, body_html: str, key: str
) -> EmailMessage:
    footer = "Sent by oic-monitor."
    msg = EmailMessage()
    msg["Subject"] = f"{channel.subject_tag} {subject}".strip()
    msg["From"] = channel.sender or ""
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(key, channel)
    msg["X-OIC-Monitor-Story"] = key
    msg.set_content(f"{text.rstrip()}\n\n-- \n{footer}\n")
    page = _template("email.html").substitute(
        title=html.escape(msg["Subject"]), body=body_html, footer=html.escape(footer)
    )
    msg.add_alternative(page, subtype="html")
    return msg


def message_id(key: str, channel: AlertChannel) -> str:
    """A Message-ID fixed by story and channel, so a repeat can be recognised and dropped."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", key).strip("-") or "alert"
    chan = hashlib.sha256(channel.label.encode()).hexdigest()[:10]
    domain = (channel.sender or "").rpartition("@")[2].strip(" >") or "oic-monitor.invalid"
    return f"<oic-monitor.{slug}.{chan}@{domain}>"


def email_story(story: Story, channel: AlertChannel, *, key: str) -> EmailMessage:
    text, page = _story_parts(story)
    return _email(channel, subject=story.title, text=text, body_html=page, key=key)


def digest_order(stories: Sequence[Story]) -> list[Story]:
    """Most relevant first; newest first among equals."""

    def rank(s: Story) -> tuple[float, float]:
        published = s.published.timestamp() if s.published else 0.0
        return (s.relevance if s.relevance is not None else -1.0, published)

    return sorted(stories, key=rank, reverse=True)


def email_digest(stories: Sequence[Story], channel: AlertChannel, *, key: str) -> EmailMessage:
    ordered = digest_order(stories)
    n = len(ordered)
    heading = f"{n} new {'story' if n == 1 else 'stories'}"
    parts = [_story_parts(s) for s in ordered]
    text = heading + "\n\n" + "\n---\n\n".join(t for t, _ in parts)
    page = f'<h1 style="font-size: 1.3em">{html.escape(heading)}</h1>\n' + "\n".join(
        h for _, h in parts
    )
    return _email(channel, subject=heading, text=text, body_html=page, key=key)


def digest_key(story_keys: Sequence[str]) -> str:
    """The same set of stories always gives the same key."""
    joined = ",".join(sorted(story_keys))
    return "digest-" + hashlib.sha256(joined.encode()).hexdigest()[:16]


def email_operator(notice: OperatorNotice, channel: AlertChannel, *, key: str) -> EmailMessage:
    text = _template("operator.txt").substitute(headline=notice.headline, message=notice.message)
    page = _template("operator.html").substitute(
        headline=html.escape(notice.headline), message=html.escape(notice.message)
    )
    return _email(channel, subject=notice.headline, text=text, body_html=page, key=key)


def email_test(channel: AlertChannel, *, key: str) -> EmailMessage:
    line = "oic-monitor test alert: this channel works."
    return _email(
        channel, subject="test alert", text=line, body_html=f"<p>{html.escape(line)}</p>", key=key
    )


# --- chat services (Apprise) -------------------------------------------------

# Characters CommonMark may read as markup anywhere in a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
# ...and at the start of a line (headings, quotes, lists).
_MD_LINE_START = re.compile(r"^([#>+-]|\d+[.)])", re.MULTILINE)


def md_escape(text: str) -> str:
    """Text that CommonMark shows as it is."""
    return _MD_LINE_START.sub(r"\\\1", _MD_SPECIAL.sub(r"\\\1", text))


def _md_url(url: str) -> str:
    # A link destination ends at ")" or a space; encoded, the link still opens the page.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C")


def _md_highlight(text: str, terms: Sequence[str]) -> str:
    return "".join(
        f"**{md_escape(s)}**" if hit else md_escape(s) for s, hit in highlight(text, terms)
    )


def chat_story(
    story: Story, *, markdown: bool, snippet_limit: int | None = None
) -> tuple[str, str]:
    """(title, body) of one story for a chat service, in Markdown or plain text.

    `snippet_limit` shortens the evidence snippet, the one part that may be cut; the
    title, source, date, tier, score, outlets and link always stay.
    """
    tier = story.tier or "unclassified"
    meta = " · ".join([story.source, _date(story), tier, f"score {_score(story)}"])
    snippet = story.snippet if snippet_limit is None else cut_at_word(story.snippet, snippet_limit)
    terms = story.terms
    also = ", ".join(story.also_reported_by)
    if markdown:
        lines = [md_escape(meta)]
        if snippet:
            lines.append("> " + _md_highlight(snippet, terms))
        if terms:
            lines.append("Evidence: " + md_escape(", ".join(terms[:SLACK_TERMS])))
        if also:
            lines.append("Also reported by: " + md_escape(also))
        if _linkable(story.url):
            lines.append(f"[{md_escape(story.url)}]({_md_url(story.url)})")
        else:
            lines.append(md_escape(story.url))
        return md_escape(story.title), "\n\n".join(lines)
    lines = [meta]
    if snippet:
        lines.append(highlight_text(snippet, terms))
    if terms:
        lines.append("Evidence: " + ", ".join(terms[:SLACK_TERMS]))
    if also:
        lines.append("Also reported by: " + also)
    lines.append(story.url)
    return story.title, "\n\n".join(lines)


def chat_digest(stories: Sequence[Story], *, markdown: bool) -> tuple[str, str]:
    """(title, body) of a digest: one short block per story, most relevant first.

    Long digests are split into several messages by the sender, at block boundaries.
    """
    ordered = digest_order(stories)
    n = len(ordered)
    title = f"oic-monitor: {n} new {'story' if n == 1 else 'stories'}"
    blocks = []
    for s in ordered:
        meta = " · ".join([s.source, _date(s), s.tier or "unclassified", _score(s)])
        if markdown:
            head = (
                f"**[{md_escape(s.title)}]({_md_url(s.url)})**"
                if _linkable(s.url)
                else f"**{md_escape(s.title)}**"
            )
            blocks.append(f"{head}\n{md_escape(meta)}")
        else:
            blocks.append(f"{s.title}\n{meta}\n{s.url}")
    return title, "\n\n".join(blocks)


def chat_operator(notice: OperatorNotice, *, markdown: bool) -> tuple[str, str]:
    title = f"oic-monitor: {notice.headline}"
    return (md_escape(title), md_escape(notice.message)) if markdown else (title, notice.message)


def chat_test() -> tuple[str, str]:
    return "oic-monitor test alert", "oic-monitor test alert: this channel works."
