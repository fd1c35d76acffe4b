"""Filling the gaps a poll could not: its catch-up failed to read a route (a sitemap that
answered 503) or stopped at ``max_items_per_poll``. The backfill's reading runs over the
gap's dates at low priority, one gap at a time, and what it finds alerts marked late.

A gap stays open for another round only while a list fails in a way a later try may mend
(a timeout, a network error, HTTP 429 or 5xx). A list that can never be read (a robots.txt
Sitemap line naming an HTML page, a 403) does not hold it open: it is decided on what the
other routes found."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from monitor.backfill import Backfill
from monitor.config import Settings
from monitor.coverage import UNREACHABLE, give_up_gap
from monitor.pipeline import Pipeline
from monitor.sources import DateRange
from monitor.sources.lists import ListFailed
from monitor.store.models import Gap

log = logging.getLogger("monitor.catchup")


@dataclass(frozen=True)
class GapOutcome:
    gap: Gap
    status: str  # filled | unrecoverable | error
    items: int
    route: str


def late_reason(gap: Gap) -> str:
    return (
        f"found after the fact: {gap.source} published more than its feed shows between "
        f"{gap.start:%Y-%m-%d %H:%M} and {gap.end:%Y-%m-%d %H:%M} UTC"
    )


def retry_later(errors: Collection[str]) -> list[ListFailed]:
    """The lists among a report's errors that failed but may be read on another try."""
    return [k for k in errors if isinstance(k, ListFailed) and k.transient]


async def fill_gaps(
    pipeline: Pipeline, settings: Settings, names: Collection[str] | None = None
) -> list[GapOutcome]:
    """Try every open gap (of the sources in `names`, default all) once; close it as
    filled or unrecoverable."""
    store = pipeline.store
    outcomes = []
    sources = {s.name: s for s in settings.sources if s.enabled}
    for gap in store.gaps(status="open"):
        source = sources.get(gap.source)
        if source is None or gap.id is None or (names is not None and gap.source not in names):
            continue
        window = DateRange(gap.start.date(), gap.end.date())
        # workers=0: extraction stays in this process; catch-up must not crowd out polls.
        run = Backfill(pipeline, window, alerts=True, workers=0, late=late_reason(gap))
        result = await run.run([source])
        rep = result.reports[0]
        failed = rep.error or ", ".join(sorted(retry_later(rep.errors)))
        if failed:
            log.warning("%s: catch-up of gap %s failed: %s", gap.source, gap.id, failed)
            outcomes.append(GapOutcome(gap, "error", 0, failed))
            continue  # stays open; tried again next round
        found = rep.stored + rep.duplicates
        reached = rep.oldest_listed is not None and rep.oldest_listed <= gap.start.date()
        if found or reached:
            route = rep.routes or "feed"
            store.close_gap(gap.id, status="filled", items_found=rep.stored, route=route)
            log.info(
                "%s: gap %s filled with %d items via %s", gap.source, gap.id, rep.stored, route
            )
            outcomes.append(GapOutcome(gap, "filled", rep.stored, route))
            continue
        give_up_gap(store, settings, gap)
        outcomes.append(GapOutcome(gap, "unrecoverable", 0, UNREACHABLE))
    return outcomes
