"""Article text, title, date and language from an HTML page (trafilatura plus fallbacks)."""

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
