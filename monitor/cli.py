"""The `oic-monitor` command line: parse, call, print."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from monitor.config import ConfigError, Settings, Source, load_settings
from monitor.logs import setup_logging
from monitor.pipeline import PollReport
from monitor.store.db import DatabaseError

app = typer.Typer(
    help="Watch ministry and news-agency sources for articles about the OIC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(
    help="List and check the configured sources.", invoke_without_command=True
)
app.add_typer(sources_app, name="sources")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

EXIT_FAILED = 1
EXIT_CONFIG = 2


@dataclass
class Globals:
    config: Path | None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings


def _globals(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    assert isinstance(obj, Globals)
    return obj


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="OIC_MONITOR_CONFIG",
            help="Config file [default: config/monitor.toml].",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    log_format: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    setup_logging(log_level, log_format)
    ctx.obj = Globals(config)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _parse_day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        err.print(f"{option}: expected a date like 2024-03-05, got {value!r}")
        raise typer.Exit(EXIT_CONFIG) from None


def _print_reports(reports: list[PollReport]) -> None:
    table = Table("source", "listed", "new", "stored", "dup", "relevant", "errors", "status")
    for r in reports:
        errors = ", ".join(f"{k}×{v}" for k, v in sorted(r.errors.items())) or "-"
        status = "not modified" if r.not_modified else ("ok" if r.ok else f"FAILED: {r.error}")
        table.add_row(
            r.source, str(r.discovered), str(r.new), str(r.stored), str(r.duplicates),
            str(r.relevant), errors, status,
        )  # fmt: skip
    out.print(table)


# --- run ------------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    http: Annotated[
        str | None, typer.Option(help="Serve the dashboard, /healthz and /metrics on HOST:PORT.")
    ] = None,
) -> None:
    """The daemon: poll every source on its interval and deliver alerts until stopped."""
    from monitor.scheduler import Daemon
    from monitor.web.health import parse_bind

    if http:
        try:
            parse_bind(http)
        except ValueError as e:
            err.print(str(e))
            raise typer.Exit(EXIT_CONFIG) from None
    settings = _globals(ctx).settings

    async def go() -> None:
        await Daemon(settings, http=http).run()

    try:
        _run(go())
    except OSError as e:
        err.print(str(e))
        raise typer.Exit(EXIT_FAILED) from None


# --- poll ---------------------------------------------------------------------


@app.command()
def poll(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this source (repeatable).")
    ] = None,
) -> None:
    """Poll every enabled source once, store what is new, then exit."""
    from monitor.runtime import Runtime

    settings = _globals(ctx).settings
    chosen = (
        [settings.source(n) for n in source]
        if source
        else [s for s in settings.sources if s.enabled]
    )

    async def go() -> list[PollReport]:
        async with Runtime(settings) as rt:
            return list(await asyncio.gather(*(rt.pipeline.poll(s) for s in chosen)))

    reports = _run(go())
    _print_reports(reports)


# --- items / export / import ----------------------------------------------------


@app.command()
def items(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="jsonl, json, csv or table.")] = "table",
    relevant: Annotated[bool, typer.Option("--relevant", help="Only the relevant tier.")] = False,
    stories: Annotated[
        bool,
        typer.Option("--stories", help="One row per story, with every outlet that carried it."),
    ] = False,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after DATE.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N items.")] = None,
) -> None:
    """Print stored items."""
    from monitor.export import records, story_records, write_records
    from monitor.store.repo import ItemFilter, Store

    if format not in ("jsonl", "json", "csv", "table"):
        err.print(f"--format: expected jsonl, json, csv or table, got {format!r}")
        raise typer.Exit(EXIT_CONFIG)
    settings = _globals(ctx).settings
    store = Store.open(settings.storage.url)
    flt = ItemFilter(
        source=source, relevant_only=relevant, since=_parse_day(since, "--since"), limit=limit
    )
    rows = store.items(flt)
    if stories:
        story_rows = list(story_records(store, rows))
        if format != "table":
            write_records(story_rows, format, sys.stdout)
            return
        table = Table("story", "copies", "tier", "score", "sources", "title")
        for r in story_rows:
            score = r["relevance"]
            table.add_row(
                str(r["story_id"]), str(r["copies"]), str(r["tier"] or "-"),
                "-" if not isinstance(score, float) else f"{score:.2f}",
                ", ".join(map(str, r["sources"])),  # type: ignore[call-overload]
                str(r["title"] or "")[:70],
            )  # fmt: skip
        out.print(table)
        return
    if format != "table":
        write_records(records(store, rows), format, sys.stdout)
        return
    table = Table("id", "published", "source", "lang", "tier", "score", "hash", "title")
    for r in records(store, rows):
        table.add_row(
            str(r["id"]), str(r["published"] or "-")[:16], str(r["source"]),
            str(r["language"] or "-"), str(r["tier"] or "-"),
            "-" if r["relevance"] is None else f"{r['relevance']:.2f}",
            str(r["content_hash"]), str(r["title"] or "")[:80],
        )  # fmt: skip
    out.print(table)


@app.command()
def export(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    format: Annotated[str, typer.Option("--format", help="txt or jsonl.")] = "txt",
) -> None:
    """Write every item to a folder: NNN_<content_hash>.txt files, or items.jsonl."""
    from monitor.export import export_jsonl, export_txt
    from monitor.store.repo import Store

    if format not in ("txt", "jsonl"):
        err.print(f"--format: expected txt or jsonl, got {format!r}")
        raise typer.Exit(EXIT_CONFIG)
    store = Store.open(_globals(ctx).settings.storage.url)
    n = export_txt(store, out_dir) if format == "txt" else export_jsonl(store, out_dir)
    out.print(f"wrote {n} items to {out_dir}")


@app.command("import")
def import_(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="Folder of UTF-8 .txt articles.")],
    source: Annotated[str, typer.Option(help="Source name to record.")] = "import",
    language: Annotated[str | None, typer.Option(help="Language hint.")] = None,
) -> None:
    """Store text files (such as NNN_<hash>.txt exports) as items, without alerts."""
    from monitor.export import import_dir
    from monitor.runtime import Runtime

    if not folder.is_dir():
        err.print(f"{folder}: not a folder")
        raise typer.Exit(EXIT_CONFIG)
    settings = _globals(ctx).settings
    src = Source(name=source, url="http://import.invalid/", kind="feed", language=language)

    async def go() -> PollReport:
        async with Runtime(settings) as rt:
            return import_dir(rt.pipeline, folder, src)

    report = _run(go())
    _print_reports([report])


# --- demo -----------------------------------------------------------------------


@app.command()
def demo() -> None:
    """Serve a small bundled news site on 127.0.0.1 and run the real pipeline on it."""
    from monitor.demo.run import run_demo

    out.print("Serving the demo site on 127.0.0.1 and polling its feed, sitemap and listing…")
    reports, stored, folder = _run(run_demo())
    _print_reports(reports)
    table = Table("id", "published", "source", "lang", "tier", "score", "hash", "title")
    for it in stored:
        table.add_row(
            str(it.id), it.published.strftime("%Y-%m-%d %H:%M") if it.published else "-",
            it.source, it.language or "-", it.tier or "-",
            "-" if it.relevance is None else f"{it.relevance:.2f}", it.content_hash,
            (it.title or "")[:70],
        )  # fmt: skip
    out.print(table)
    out.print(f"Stored {len(stored)} items in {folder / 'demo.db'}; texts in {folder / 'archive'}.")


# --- sources ------------------------------------------------------------------


@sources_app.callback()
def sources_default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        sources_list(ctx)


@sources_app.command("list")
def sources_list(ctx: typer.Context) -> None:
    """Each source with its kind, interval, last success and last error."""
    from monitor.store.repo import Store

    settings = _globals(ctx).settings
    states = Store.open(settings.storage.url).source_states()
    table = Table("name", "kind", "every", "lang", "polls", "last success", "last error", "url")
    for s in settings.sources:
        st = states.get(s.name)
        table.add_row(
            s.name + ("" if s.enabled else " (off)"), s.kind, _human(s.interval.total_seconds()),
            s.language or "-", str(st.polls if st else 0),
            _when(st.last_success_at if st else None),
            (st.last_error or "-")[:60] if st else "-", s.url,
        )  # fmt: skip
    out.print(table)


@sources_app.command("coverage")
def sources_coverage(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Count from DATE (YYYY-MM-DD).")] = None,
) -> None:
    """How complete each source's record is: items per day, gaps, delays, feed window."""
    from monitor.coverage import coverage
    from monitor.store.repo import Store

    settings = _globals(ctx).settings
    rows = coverage(Store.open(settings.storage.url), settings, _parse_day(since, "--since"))
    table = Table(
        "source", "items", "per day", "gaps found", "filled", "unrecoverable", "open",
        "max delay", "window", "note",
    )  # fmt: skip
    for r in rows:
        days = len(r.per_day) or 1
        table.add_row(
            r.name, str(r.items), f"{r.items / days:.1f}", str(r.gaps_found),
            str(r.gaps_filled), str(r.gaps_unrecoverable), str(r.gaps_open),
            _human(r.max_delay.total_seconds()) if r.max_delay else "-",
            f"{r.window_hours:.1f}h" if r.window_hours is not None else "-",
            r.window_warning or "",
        )  # fmt: skip
    out.print(table)


@sources_app.command("check")
def sources_check(
    ctx: typer.Context,
    source: Annotated[list[str] | None, typer.Option("--source")] = None,
) -> None:
    """Fetch each source once and say what it is and how many entries it lists."""
    from monitor.runtime import Runtime

    settings = _globals(ctx).settings
    chosen = [settings.source(n) for n in source] if source else settings.sources

    async def go() -> list[tuple[Source, str, int]]:
        async with Runtime(settings) as rt:
            return list(await asyncio.gather(*(rt.pipeline.check(s) for s in chosen)))

    results = _run(go())
    table = Table("name", "kind", "entries", "result")
    for s, result, n in results:
        table.add_row(s.name, s.kind, str(n), result)
    out.print(table)


def _human(seconds: float) -> str:
    """3600 -> 1h, 5400 -> 1h30m, 90061 -> 1d1h."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return "".join(shown) or "0s"


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M") if ts else "-"


# --- web dashboard and feedback report -----------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: [web] host, 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: [web] port, 8080].")] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Access token, needed unless on loopback [default: $[web] token_env]."),
    ] = None,
) -> None:
    """The web dashboard: items, sources, analyst feedback, the report and Atom/JSON feeds."""
    import uvicorn

    from monitor.store.repo import Store
    from monitor.web.app import WebConfigError, create_app, require_token_for

    settings = _globals(ctx).settings
    host = host or settings.web.host
    port = port or settings.web.port
    token = token or settings.web.resolved_token()
    try:
        require_token_for(host, token)
    except WebConfigError as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    store = Store.open(settings.storage.url)
    shown = f"[{host}]" if ":" in host else host
    out.print(f"dashboard on http://{shown}:{port}/", markup=False, highlight=False)
    try:
        uvicorn.run(create_app(store, settings, token=token), host=host, port=port)
    finally:
        store.close()


@app.command()
def report(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    export_to: Annotated[
        Path | None,
        typer.Option("--export", help="Also write the marked items as eval cases (JSONL)."),
    ] = None,
    split: Annotated[str, typer.Option(help="Split of the exported cases: tune or heldout.")] = (
        "heldout"
    ),
) -> None:
    """Precision and recall of the classifier per language and source, from analyst feedback."""
    import json

    from monitor.report import build_report, write_eval
    from monitor.store.repo import Store
    from monitor.web.queries import labelled_items

    if format not in ("table", "json"):
        err.print(f"--format: expected table or json, got {format!r}")
        raise typer.Exit(EXIT_CONFIG)
    if split not in ("tune", "heldout"):
        err.print(f"--split: expected tune or heldout, got {split!r}")
        raise typer.Exit(EXIT_CONFIG)
    store = Store.open(_globals(ctx).settings.storage.url)
    pairs = labelled_items(store)
    result = build_report(pairs)
    if format == "json":
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.format())
    if export_to is not None:
        with export_to.open("w", encoding="utf-8") as fh:
            n = write_eval(pairs, fh, split)
        err.print(f"wrote {n} evaluation cases to {export_to}", markup=False, highlight=False)


# --- entry point ----------------------------------------------------------------


def _guarded(fn: Callable[[], None]) -> None:
    try:
        fn()
    except ConfigError as e:
        err.print(f"config error: {e}", markup=False, highlight=False)
        sys.exit(EXIT_CONFIG)
    except DatabaseError as e:
        err.print(f"database error: {e}", markup=False, highlight=False)
        sys.exit(EXIT_FAILED)


def main() -> None:
    _guarded(lambda: app(standalone_mode=True))
