"""One whole daemon cycle, then exit (`oic-monitor poll`, e.g. from cron): poll the sources,
each catching up in the same poll when it published more than it shows; fill the gaps the
polls left; queue operator alerts for failing and silent sources; deliver what is due."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.alerts.dispatcher import DispatcherSettings, DispatchReport, dispatch_due
from monitor.catchup import GapOutcome, fill_gaps
from monitor.config import Settings, Source
from monitor.display import counted
from monitor.pipeline import PollReport
from monitor.runtime import Runtime
from monitor.watch import after_poll, check_silence


@dataclass
class CycleResult:
    reports: list[PollReport]
    gaps: list[GapOutcome]
    delivery: DispatchReport | None  # None when delivery was left to a daemon
    waiting: int  # alerts still queued at the end

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.reports)

    @property
    def nothing_done(self) -> bool:
        """There were sources to poll, and none could be."""
        return bool(self.reports) and self.failed == len(self.reports)

    def summary(self) -> str:
        stored = sum(r.stored for r in self.reports)
        caught_up = sum(r.caught_up for r in self.reports)
        errors = self.failed + sum(sum(r.errors.values()) for r in self.reports)
        filled = sum(g.items for g in self.gaps)
        read = sum(r.lists_read for r in self.reports)
        unchanged = sum(r.lists_not_modified for r in self.reports)
        text = (
            f"{counted(len(self.reports), 'source')}, {self.failed} failed; "
            f"{stored + filled} stored ({caught_up} from further back, {filled} filling gaps); "
            f"{counted(errors, 'error')}; "
            f"lists: {read} read, {unchanged} unchanged (304)"
        )
        if self.delivery is None:
            return f"{text}; alerts: {self.waiting} queued for the daemon"
        return f"{text}; alerts: {self.delivery.sent} delivered, {self.waiting} waiting"


async def run_poll_cycle(
    settings: Settings, sources: Sequence[Source], *, deliver: bool = True
) -> CycleResult:
    """Poll `sources` once, fill their gaps, and (with `deliver`) send the due alerts."""
    async with Runtime(settings) as rt:
        reports = list(await asyncio.gather(*(rt.pipeline.poll(s) for s in sources)))
        for source, report in zip(sources, reports, strict=True):
            after_poll(rt.store, settings, source, report)
        gaps = await fill_gaps(rt.pipeline, settings, names={s.name for s in sources})
        check_silence(rt.store, settings)
        delivery = None
        if deliver:
            ds = DispatcherSettings.of(settings.delivery)
            delivery = await dispatch_due(rt.store, settings, dsettings=ds)
        waiting = sum(n for n, _ in rt.store.outbox_stats().values())
    return CycleResult(reports, gaps, delivery, waiting)
