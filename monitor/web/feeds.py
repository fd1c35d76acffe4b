"""Atom 1.0 and JSON Feed 1.1 documents of stories, for feed readers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from monitor import evidence
from monitor.display import precision_of, published_label
from monitor.store.models import Item, utcnow
from monitor.web.render import evidence_terms, score, shown_title

ATOM = "http://www.w3.org/2005/Atom"
TITLE = "OIC monitor: relevant stories"
SUMMARY_CHARS = 400
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean_xml(text: str | None) -> str:
    return _XML_INVALID.sub("", text or "")


def _summary(text: str) -> str:
    return evidence.lead(text, SUMMARY_CHARS)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_id(item: Item) -> str:
    # Content hashes outlive database ids, so a re-imported item keeps its feed identity.
    return f"tag:oic-monitor,2024:item/{item.content_hash}"


def atom_feed(
    stories: list[tuple[Item, int]], *, base: str, self_url: str, feed_id: str, title: str = TITLE
) -> bytes:
    """An Atom 1.0 document of the stories, newest first."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = _clean_xml(text)
        return el

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "title", title)
    sub(feed, "id", feed_id)
    newest = max((i.fetched_at for i, _ in stories), default=None)
    sub(feed, "updated", _iso(newest or utcnow()))
    sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=f"{base}/", type="text/html")
    sub(sub(feed, "author"), "name", "oic-monitor")
    sub(feed, "generator", "oic-monitor")
    for item, copies in stories:
        entry = sub(feed, "entry")
        if item.language:
            entry.set("{http://www.w3.org/XML/1998/namespace}lang", item.language)
        sub(entry, "title", shown_title(item))
        sub(entry, "id", entry_id(item))
        # Atom requires <updated>: an undated item gets the time it was stored there, and
        # no <published>, so a reader never takes the storing time for its publication.
        sub(entry, "updated", _iso(item.fetched_at))
        if item.published:
            sub(entry, "published", _iso(item.published))
        sub(entry, "link", rel="alternate", href=item.url, type="text/html")
        sub(entry, "link", rel="related", href=f"{base}/items/{item.id}", type="text/html")
        sub(sub(entry, "author"), "name", item.source)
        if item.tier:
            sub(entry, "category", term=item.tier, label=f"tier {item.tier}")
        extra = f" [{copies} outlets]" if copies > 1 else ""
        lead = f"relevance {score(item.relevance)}{extra}. {_dated(item)}"
        sub(entry, "summary", lead + _summary(item.text), type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


def _dated(item: Item) -> str:
    """What a feed entry's summary says of its date when the entry's fields cannot."""
    if item.published is None:
        return f"Undated; stored {item.fetched_at:%Y-%m-%d}. "
    if item.published_precision == "month":
        return f"Published {published_label(item.published, 'month')}. "
    return ""


def json_feed(
    stories: list[tuple[Item, int]], *, base: str, feed_url: str, title: str = TITLE
) -> dict[str, Any]:
    """A JSON Feed 1.1 document of the stories, with the classifier's view under `_oic`."""
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": f"{base}/",
        "feed_url": feed_url,
        "items": [
            {
                "id": entry_id(item),
                "url": item.url,
                "title": shown_title(item),
                "summary": _dated(item) + _summary(item.text),
                "content_text": item.text,
                "date_published": _iso(item.published) if item.published else None,
                "date_modified": _iso(item.fetched_at),
                "authors": [{"name": item.source}],
                "language": item.language,
                "tags": [t for t in (item.tier, item.language) if t],
                "_oic": {
                    "item_id": item.id,
                    "dashboard_url": f"{base}/items/{item.id}",
                    "source": item.source,
                    "tier": item.tier,
                    "relevance": item.relevance,
                    "story_id": item.story_id,
                    "copies": copies,
                    "published": published_label(item.published, item.published_precision),
                    "published_precision": precision_of(item.published, item.published_precision),
                    "evidence": evidence_terms(item.evidence),
                },
            }
            for item, copies in stories
        ],
    }
