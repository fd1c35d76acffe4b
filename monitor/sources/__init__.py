"""Discovering article entries in a source: feeds, sitemaps and HTML listing pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    """One article a source points at, before it is fetched."""

    url: str  # absolute, canonicalised
    title: str | None = None
    published: datetime | None = None  # timezone-aware UTC, or None when unknown
    summary: str | None = None  # plain text, HTML stripped


class SourceError(Exception):
    """A source's body is not what its kind promises, or is unsafe to parse.

    ``reason`` is a short code for reports and counters: "not_a_feed", "not_a_sitemap",
    "bad_xml", "xml_entities", "too_large".
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
