"""`sources`: list, coverage and check (what the sources are doing); add, remove, import and
export (changing the config file)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer

from monitor.cli.base import (
    EXIT_FAILED,
    DryRun,
    SourceNames,
    chosen_sources,
    day_option,
    day_start,
    fail,
    open_store,
    print_table,
    run,
    say,
    settings_of,
    sources_app,
)
from monitor.cli.render import table, when
from monitor.display import counted, cut, duration


@sources_app.callback()
def sources_default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        sources_list(ctx)


@sources_app.command("list")
def sources_list(ctx: typer.Context) -> None:
    """Each source with its state and next poll.

    Kind, interval, language, items stored, last success, last error and next poll.
    """
    from monitor.redact import redact
    from monitor.services.status import source_status

    settings = settings_of(ctx)
    with open_store(settings) as store:
        rows = source_status(store, settings)
    t = table("name", "kind", "every", "lang", "items", "last success", "last error", "next poll",
              "url")  # fmt: skip
    for row in rows:
        s, st = row.source, row.state
        if s is None:  # no longer configured
            continue
        t.add_row(
            s.name + ("" if s.enabled else " (off)"), s.kind, duration(s.interval.total_seconds()),
            s.language or "-", str(row.items), when(st.last_success_at if st else None),
            cut(st.last_error) if st and st.last_error else "-", when(row.next_poll),
            redact(s.url),
        )  # fmt: skip
    print_table(t)


@sources_app.command("coverage")
def sources_coverage(
    ctx: typer.Context,
    since: Annotated[
        date | None, day_option("Items stored and gaps found on or after DATE.")
    ] = None,
) -> None:
    """How complete each source's record is.

    Items per day, gaps found and filled, the largest delay and the feed window.
    """
    from monitor.coverage import coverage

    settings = settings_of(ctx)
    with open_store(settings) as store:
        rows = coverage(store, settings, day_start(since))
    t = table("source", "items", "per day", "gaps found", "filled", "unrecoverable", "open",
              "max delay", "window", "note")  # fmt: skip
    for r in rows:
        days = len(r.per_day) or 1
        t.add_row(
            r.name, str(r.items), f"{r.items / days:.1f}", str(r.gaps_found),
            str(r.gaps_filled), str(r.gaps_unrecoverable), str(r.gaps_open),
            duration(r.max_delay.total_seconds()) if r.max_delay else "-",
            f"{r.window_hours:.1f}h" if r.window_hours is not None else "-",
            r.window_warning or "",
        )  # fmt: skip
    print_table(t)


@sources_app.command("check")
def sources_check(ctx: typer.Context, source: SourceNames = None) -> None:
    """Fetch each enabled source (or each named one) once: what it is, how many entries it
    lists, and the spacing between requests to its host (per_host_delay, or its robots.txt
    Crawl-delay). Needs no database."""
    from monitor.services.sources import check_sources

    settings = settings_of(ctx)
    t = table("name", "kind", "entries", "delay", "result")
    for c in run(check_sources(settings, chosen_sources(settings, source))):
        t.add_row(c.source.name, c.source.kind, str(c.entries), f"{c.delay:g}s", c.result)
    print_table(t)


@sources_app.command("add")
def sources_add(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Argument(metavar="URL", help="A feed, or a site's page: its feed is looked for.")
    ],
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="Source name [default: from its title].")
    ] = None,
    kind: Annotated[
        Literal["feed", "sitemap", "html"] | None,
        typer.Option(help="What to look for [default: the first found of these]."),
    ] = None,
    interval: Annotated[
        str | None, typer.Option(metavar="DURATION", help="Poll every, e.g. 15m, 2h.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(metavar="LANG", help="Language hint, e.g. ru.")
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Find the source a URL offers and add it to the config.

    A feed, a feed the page announces, the site's sitemap, or the page as a listing; the
    newest entries are shown before anything is written.
    """
    from monitor.fetch import FetchError
    from monitor.services.sources import add_source, find_source
    from monitor.sources.discover import DiscoveryError

    settings = settings_of(ctx)
    try:
        new = run(
            find_source(settings, url, kind=kind, name=name, interval=interval, language=language)
        )
    except (DiscoveryError, FetchError) as e:
        fail(str(e), EXIT_FAILED)
    found = new.found
    say(f"{found.kind}: {found.url} ({found.how})")
    say(f"title: {found.title or '-'}")
    say(f"name: {new.name}; {counted(len(found.entries), 'entry', 'entries')}, the newest:")
    t = table("published", "lang", "title", "url")
    for sample in found.sample(hint=language):
        t.add_row(when(sample.published), sample.language or "-", cut(sample.title), sample.url)
    print_table(t)
    if not dry_run:
        path = add_source(settings, new)
        say(f"added source {new.name!r} to {path}")


@sources_app.command("remove")
def sources_remove(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")]
) -> None:
    """Delete a source from the config file, keeping its comments."""
    from monitor.services.sources import remove

    remove(settings_of(ctx), name)
    say(f"removed source {name!r}")


@sources_app.command("import")
def sources_import(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="An OPML file, as feed readers export.")
    ],
    dry_run: DryRun = False,
) -> None:
    """Add the feeds of an OPML file.

    Folders become tags; a feed already configured, or repeated in the file, is skipped.
    """
    from monitor.services.sources import import_opml

    plan = import_opml(settings_of(ctx), file, dry_run=dry_run)
    t = table("result", "name", "kind", "tags", "url")
    for tb in plan.tables:
        t.add_row("added", tb["name"], tb["kind"], ", ".join(tb["tags"]), tb["url"])
    for src, why in plan.skipped:
        t.add_row(f"skipped: {why}", src.title or "-", src.kind, ", ".join(src.tags), src.url)
    print_table(t)
    verb = "would add" if dry_run else "added"
    say(f"{verb} {counted(len(plan.tables), 'source')}, skipped {len(plan.skipped)}")


@sources_app.command("export")
def sources_export(
    ctx: typer.Context,
    format: Annotated[Literal["opml"], typer.Option("--format", help="What to write.")] = "opml",
    out_file: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="File [default: standard output].")
    ] = None,
) -> None:
    """Write the configured sources as OPML 2.0.

    One folder per source's first tag; sitemap and listing sources keep their kind.
    """
    from monitor.files import write_output
    from monitor.services.sources import export

    data = export(settings_of(ctx))
    if out_file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        write_output(out_file, data)
