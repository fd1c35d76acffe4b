"""Filling gaps: the backfill's routes (sitemaps, listing pages, archive patterns) run
over the dates a poll could not see, at low priority, one gap at a time."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from monitor.alerts.operator import queue_operator_alert
from monitor.backfill import Backfill, DateRange
from monitor.config import Settings
from monitor.pipeline import Pipeline
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


async def fill_gaps(pipeline: Pipeline, settings: Settings) -> list[GapOutcome]:
    """Try every open gap once; close it as filled or unrecoverable."""
    store = pipeline.store
    outcomes = []
    sources = {s.name: s for s in settings.sources if s.enabled}
    for gap in store.gaps(status="open"):
        source = sources.get(gap.source)
        if source is None or gap.id is None:
            continue
        window = DateRange(gap.start.date(), gap.end.date())
        # workers=0: extraction stays in this process; catch-up must not crowd out polls.
        run = Backfill(pipeline, window, alerts=True, workers=0, late=late_reason(gap))
        result = await run.run([source])
        rep = result.reports[0]
        if rep.error:
            log.warning("%s: catch-up of gap %s failed: %s", gap.source, gap.id, rep.error)
            outcomes.append(GapOutcome(gap, "error", 0, rep.error))
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
        why = "no sitemap, listing pagination or archive pattern reaches that far back"
        store.close_gap(gap.id, status="unrecoverable", items_found=0, route=why)
        queue_operator_alert(
            store, settings, source=gap.source, event="gap", episode=gap.id,
            message=f"Articles of {gap.source} published between {gap.start:%Y-%m-%d %H:%M} "
            f"and {gap.end:%Y-%m-%d %H:%M} UTC were never seen and cannot be recovered: {why}.",
        )  # fmt: skip
        log.warning("%s: gap %s is unrecoverable: %s", gap.source, gap.id, why)
        outcomes.append(GapOutcome(gap, "unrecoverable", 0, why))
    return outcomes
