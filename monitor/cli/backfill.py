"""`backfill`: the sources' history from their sitemaps, listing pages and feeds."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.base import (
    EXIT_NOTHING_DONE,
    DryRun,
    SourceNames,
    app,
    chosen_sources,
    day_option,
    fail,
    run,
    say,
    settings_of,
    warn,
)
from monitor.cli.render import backfill_table, errors_cell
from monitor.display import counted

if TYPE_CHECKING:
    from monitor.backfill import BackfillResult, Progress


@app.command()
def backfill(
    ctx: typer.Context,
    since: Annotated[
        date | None, day_option("Published on or after DATE (undated articles too).")
    ] = None,
    until: Annotated[
        date | None, day_option("Published on or before DATE (undated articles too).")
    ] = None,
    source: SourceNames = None,
    alerts: Annotated[
        bool, typer.Option("--alerts", help="Queue alerts for what it stores, as a poll would.")
    ] = False,
    dry_run: DryRun = False,
    workers: Annotated[
        int | None,
        typer.Option(min=0, metavar="N", help="Extraction processes [default: one per core]."),
    ] = None,
) -> None:
    """Store the sources' history (sitemaps, listings, feeds).

    Sitemaps, listing pages and feeds are read back to --since. Interrupted, the same
    command continues where it stopped and fetches nothing stored. With --dry-run it lists
    the articles it would fetch and stores nothing.
    """
    from monitor.backfill import Backfill, DateRange, LogProgress, RichProgress, is_terminal
    from monitor.runtime import Runtime

    if since and until and since > until:
        fail(f"--since {since} is after --until {until}")
    settings = settings_of(ctx)
    chosen = chosen_sources(settings, source)

    async def go(progress: Progress) -> BackfillResult:
        async with Runtime(settings) as rt:
            job = Backfill(
                rt.pipeline, DateRange(since, until), alerts=alerts, dry_run=dry_run,
                workers=workers, progress=progress,
            )  # fmt: skip
            return await job.run(chosen)

    try:
        if is_terminal() and not dry_run:
            from rich.console import Console

            with RichProgress([s.name for s in chosen], console=Console(stderr=True)) as bars:
                result = run(go(bars))
        else:
            result = run(go(LogProgress()))
    except KeyboardInterrupt:
        fail("interrupted: run the same command again to continue where it stopped", 130)
    if dry_run:
        for p in result.planned:
            day = f"{p.days[0]}" if p.days and p.days[0] == p.days[1] else "-"
            say(f"{day}\t{p.source}\t{p.url}")
        say(f"{counted(len(result.planned), 'article')} would be fetched")
        for r in result.reports:  # what could not be listed, so that none looks like "nothing"
            if r.error or r.errors:
                status = f"FAILED: {r.error}" if r.error else "listed, with errors"
                warn(f"{r.source}: {status}; errors: {errors_cell(r.errors, bool(r.error))}")
    else:
        backfill_table(result.reports, result.total)
    if result.reports and all(r.error for r in result.reports):
        raise typer.Exit(EXIT_NOTHING_DONE)
