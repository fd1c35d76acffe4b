"""What extraction hands on, apart from the extractor: a backfill's main process receives
these from its workers without importing trafilatura (40 MB it would never use)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    author: str | None
    published: datetime | None  # timezone-aware UTC, or None when unknown
    language: str | None  # ISO 639-1 code
    canonical_url: str | None


class PageTooComplex(ValueError):
    """The page has too many elements, or is nested too deep, to extract reliably."""
