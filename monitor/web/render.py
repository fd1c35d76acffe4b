"""Rendering helpers of the dashboard's templates: highlighting, direction, dates, charts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from monitor import display, evidence
from monitor.store.models import Item
from monitor.store.queries import TIERS

HERE = Path(__file__).resolve().parent
RTL_LANGUAGES = frozenset({"ar", "fa", "ur", "he", "ps", "ug", "ckb", "sd", "yi"})
BAR_WIDTH, CHART_HEIGHT = 5, 28  # px of one day's bar, and of the tallest


def text_direction(language: str | None) -> str:
    return "rtl" if (language or "").split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def evidence_terms(ev: Iterable[dict[str, object]] | None) -> list[str]:
    return list(dict.fromkeys(str(e.get("term") or "") for e in ev or () if e.get("term")))


def highlight(text: str | None, terms: Sequence[str]) -> Markup:
    """Escape `text` and wrap each occurrence of an evidence term in <mark>."""
    text = text or ""
    patterns = [r"\s+".join(map(re.escape, t.split())) for t in terms if t.strip()]
    if not patterns:
        return escape(text)
    # Longest first, so "Organisation of Islamic Cooperation" wins over "Islamic".
    regex = re.compile("|".join(sorted(patterns, key=len, reverse=True)), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in regex.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def snippet(item: Item) -> Markup:
    """The words around the item's strongest evidence (or its lead), terms highlighted."""
    return highlight(evidence.snippet(item.evidence, item.text), evidence_terms(item.evidence))


def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(UTC).strftime(fmt) if value else "—"


def shown_title(item: Item) -> str:
    return display.item_title(item.title, item.text)


def published(item: Item, *, with_time: bool = True) -> str:
    """ "2022-03-24 00:08 UTC", "March 2023" or "undated": the date it was stored would
    mislead. Without the time: "2022-03-24"."""
    return display.published_label(item.published, item.published_precision, with_time=with_time)


def duration(value: timedelta | None) -> str:
    return display.duration(value.total_seconds()) if value is not None else "—"


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def chart(per_day: Sequence[tuple[date, int]]) -> dict[str, Any]:
    """Bars for a server-rendered SVG: x, height and a tooltip per day."""
    top = max((n for _, n in per_day), default=0)
    bars = [
        {
            "x": i * BAR_WIDTH,
            "h": max(1, round(n / top * CHART_HEIGHT)) if n else 0,
            "title": f"{d.isoformat()}: {n}",
        }
        for i, (d, n) in enumerate(per_day)
    ]
    return {"bars": bars, "width": len(per_day) * BAR_WIDTH, "height": CHART_HEIGHT, "top": top}


def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(HERE / "templates"))
    t.env.filters.update(when=when, score=score, pct=pct, direction=text_direction, cut=display.cut)
    t.env.globals.update(
        highlight=highlight,
        evidence_terms=evidence_terms,
        by_concept=evidence.by_concept,
        snippet=snippet,
        shown_title=shown_title,
        published=published,
        duration=duration,
        tiers=TIERS,
    )
    return t
