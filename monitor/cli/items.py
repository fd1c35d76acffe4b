"""Stored items in and out: items, export, import, report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from monitor.cli.base import (
    EXIT_NOTHING_DONE,
    Since,
    Until,
    app,
    fail,
    open_store,
    run,
    say,
    settings_of,
    warn,
)
from monitor.cli.render import items_table, poll_table, stories_table
from monitor.display import counted

if TYPE_CHECKING:
    from monitor.pipeline import PollReport


@app.command()
def items(
    ctx: typer.Context,
    format: Annotated[
        Literal["jsonl", "json", "csv", "table"], typer.Option("--format", help="Output format.")
    ] = "table",
    relevant: Annotated[bool, typer.Option("--relevant", help="Only the relevant tier.")] = False,
    stories: Annotated[
        bool,
        typer.Option("--stories", help="One row per story, with every outlet that carried it."),
    ] = False,
    source: Annotated[str | None, typer.Option(metavar="NAME", help="Only this source.")] = None,
    language: Annotated[
        str | None, typer.Option(metavar="LANG", help="Only this language, e.g. ru.")
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int | None, typer.Option(min=1, metavar="N", help="At most N items.")] = None,
) -> None:
    """Print stored items, oldest first."""
    from monitor.services.items import ItemQuery, matching, records, render, story_records

    query = ItemQuery(
        tiers=("relevant",) if relevant else (),
        languages=(language,) if language else (),
        sources=(source,) if source else (),
        since=since,
        until=until,
    )
    with open_store(settings_of(ctx)) as store:
        found = matching(store, query, limit)
        if stories and format == "table":
            stories_table(story_records(store, found))
        elif stories:
            render(story_records(store, found), format, sys.stdout)
        elif format == "table":
            items_table(found)
        else:
            render(records(store, found), format, sys.stdout)


@app.command()
def export(
    ctx: typer.Context,
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write into (created).")
    ],
    format: Annotated[Literal["txt", "jsonl"], typer.Option("--format", help="What to write.")] = (
        "txt"
    ),
) -> None:
    """Write every item to a folder, as text files or items.jsonl.

    --format txt writes one NNN_<content_hash>.txt per item, the text hashing to its name.
    Written into the configured archive folder, txt files rebuild the archive, and each
    item then names its file (archive_file).
    """
    from monitor.services.items import export_jsonl, export_txt

    settings = settings_of(ctx)
    with open_store(settings) as store:
        if format == "txt":
            done = export_txt(store, out_dir, archive_dir=settings.storage.archive_dir)
        else:
            done = export_jsonl(store, out_dir)
    say(f"wrote {counted(done.items, 'item')} to {done.folder}")


@app.command("import")
def import_(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Folder of .txt articles.")],
    source: Annotated[str, typer.Option(metavar="NAME", help="Source name to record.")] = "import",
    language: Annotated[str | None, typer.Option(metavar="LANG", help="Language hint.")] = None,
) -> None:
    """Store text files as items, without alerts.

    Every .txt file of DIR (such as NNN_<hash>.txt exports) in UTF-8, UTF-16 or a legacy
    code page; a file that is not text is counted as an error and skipped.
    """
    from monitor.config import Source
    from monitor.runtime import Runtime
    from monitor.services.imports import import_dir

    if not folder.is_dir():
        fail(f"{folder}: {'not a folder' if folder.exists() else 'not found'}")
    settings = settings_of(ctx)
    src = Source(name=source, url="http://import.invalid/", kind="feed", language=language)

    async def go() -> PollReport:
        async with Runtime(settings, fetch=False) as rt:
            return import_dir(rt.pipeline, folder, src)

    report = run(go())
    if report.discovered == 0:
        poll_table([report], "no .txt files")
        warn(f"{folder}: no .txt files")
    elif report.stored + report.duplicates + report.no_text == 0:
        poll_table([report], "FAILED: not one file could be read")
        raise typer.Exit(EXIT_NOTHING_DONE)
    else:
        poll_table([report])


@app.command()
def report(
    ctx: typer.Context,
    format: Annotated[Literal["table", "json"], typer.Option("--format", help="Output.")] = (
        "table"
    ),
    export_to: Annotated[
        Path | None,
        typer.Option(
            "--export", metavar="FILE", help="Also write the marked items as eval cases (JSONL)."
        ),
    ] = None,
    split: Annotated[
        Literal["tune", "heldout"], typer.Option(help="Split of the exported cases.")
    ] = "heldout",
) -> None:
    """The classifier's precision and recall, from analyst feedback.

    Per language, source and analyst, from the items analysts marked on the dashboard.
    """
    import io
    import json

    from monitor.files import write_output
    from monitor.report import report_from_marks, write_eval
    from monitor.store.marks import marks, verdicts

    with open_store(settings_of(ctx)) as store:
        all_marks = marks(store)
    pairs = verdicts(all_marks)
    result = report_from_marks(all_marks)
    if format == "json":
        say(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        say(result.format())
    if export_to is not None:
        buf = io.StringIO()
        n = write_eval(pairs, buf, split)
        write_output(export_to, buf.getvalue().encode("utf-8"))
        warn(f"wrote {counted(n, 'evaluation case')} to {export_to}")
