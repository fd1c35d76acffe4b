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
