"""Tables and cells of the command line's summaries (rich is imported when one is drawn)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.cli.base import print_table
from monitor.display import cut, item_title, published_short

if TYPE_CHECKING:
    from rich.table import Table

    from monitor.backfill import BackfillReport
    from monitor.pipeline import PollReport
    from monitor.store.models import Item


def when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M") if ts else "-"


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(*columns: str) -> Table:
    from rich.table import Table

    return Table(*columns)


def errors_cell(errors: Counter[str], source_failed: bool) -> str:
    """Errors by kind; a source that could not be read counts as a "source" error."""
    counts = errors + Counter({"source": 1}) if source_failed else errors
    return ", ".join(f"{k}×{v}" for k, v in sorted(counts.items()) if v) or "-"


def poll_table(reports: Sequence[PollReport], status: str | None = None) -> None:
    """One row per report; `status`, when given, is what the status column says instead."""
    t = table("source", "listed", "new", "stored", "dup", "relevant", "errors", "status")
    for r in reports:
        shown = "not modified" if r.not_modified else ("ok" if r.ok else f"FAILED: {r.error}")
        t.add_row(
            r.source, str(r.discovered), str(r.new), str(r.stored), str(r.duplicates),
            str(r.relevant), errors_cell(r.errors, not r.ok), status or shown,
        )  # fmt: skip
    print_table(t)


def backfill_table(reports: Sequence[BackfillReport], total: BackfillReport) -> None:
    t = table("source", "discovered", "by date", "known", "fetched", "stored", "dup",
              "relevant", "errors", "status")  # fmt: skip
    for r in [*reports, total]:
        is_total = r is total  # its errors already count the failed sources
        t.add_row(
            r.source, str(r.discovered), str(r.skipped_date + r.out_of_range), str(r.known),
            str(r.fetched), str(r.stored), str(r.duplicates), str(r.relevant),
            errors_cell(r.errors, bool(r.error) and not is_total),
            f"FAILED: {r.error}" if r.error else ("" if is_total else "ok"),
        )  # fmt: skip
    print_table(t)


def items_table(items: Iterable[Item]) -> None:
    t = table("id", "published", "source", "lang", "tier", "score", "hash", "title")
    for it in items:
        t.add_row(
            str(it.id), published_short(it.published, it.published_precision), it.source,
            it.language or "-", it.tier or "-", score(it.relevance), it.content_hash,
            cut(item_title(it.title, it.text)),
        )  # fmt: skip
    print_table(t)


def stories_table(rows: Iterable[dict[str, Any]]) -> None:
    t = table("story", "copies", "tier", "score", "sources", "title")
    for r in rows:
        t.add_row(
            str(r["story_id"]), str(r["copies"]), str(r["tier"] or "-"), score(r["relevance"]),
            ", ".join(map(str, r["sources"])), cut(r["title"]),
        )  # fmt: skip
    print_table(t)
