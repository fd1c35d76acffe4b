"""The `oic-monitor` command line: parse, call, print."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from monitor.classify import LexiconError
from monitor.config import CONFIG_ENV, DEFAULT_CONFIG, ConfigError, Settings, Source, load_settings
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
alerts_app = typer.Typer(help="Alert channels.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

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


# --- backfill -----------------------------------------------------------------


@app.command()
def backfill(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Published on or after DATE.")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before DATE.")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this source (repeatable).")
    ] = None,
    alerts: Annotated[
        bool, typer.Option("--alerts", help="Queue alerts for what it stores, as a poll would.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the articles it would fetch; store nothing.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Extraction processes [default: one per core].")
    ] = None,
) -> None:
    """Store the sources' history from their sitemaps, listing pages and feeds.

    Interrupted, the same command continues where it stopped and fetches nothing stored.
    """
    from monitor.backfill import (
        Backfill,
        BackfillResult,
        DateRange,
        LogProgress,
        Progress,
        RichProgress,
        is_terminal,
    )
    from monitor.runtime import Runtime

    settings = _globals(ctx).settings
    first, last = _parse_day(since, "--since"), _parse_day(until, "--until")
    if first and last and first > last:
        err.print(f"--since {since} is after --until {until}")
        raise typer.Exit(EXIT_CONFIG)
    window = DateRange(first.date() if first else None, last.date() if last else None)
    chosen = (
        [settings.source(n) for n in source]
        if source
        else [s for s in settings.sources if s.enabled]
    )

    async def go(progress: Progress) -> BackfillResult:
        async with Runtime(settings) as rt:
            job = Backfill(
                rt.pipeline, window, alerts=alerts, dry_run=dry_run, workers=workers,
                progress=progress,
            )  # fmt: skip
            return await job.run(chosen)

    try:
        if is_terminal() and not dry_run:
            with RichProgress([s.name for s in chosen], console=err) as bars:
                result = _run(go(bars))
        else:
            result = _run(go(LogProgress()))
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to continue where it stopped")
        raise typer.Exit(130) from None
    if dry_run:
        for p in result.planned:
            day = f"{p.days[0]}" if p.days and p.days[0] == p.days[1] else "-"
            typer.echo(f"{day}\t{p.source}\t{p.url}")
        out.print(f"{len(result.planned)} articles would be fetched", highlight=False)
        return
    table = Table("source", "discovered", "by date", "known", "fetched", "stored", "dup",
                  "relevant", "errors", "status")  # fmt: skip
    for r in [*result.reports, result.total]:
        errors = ", ".join(f"{k}×{v}" for k, v in sorted(r.all_errors.items())) or "-"
        table.add_row(
            r.source, str(r.discovered), str(r.skipped_date + r.out_of_range), str(r.known),
            str(r.fetched), str(r.stored), str(r.duplicates), str(r.relevant), errors,
            f"FAILED: {r.error}" if r.error else ("" if r.source == "total" else "ok"),
        )  # fmt: skip
    out.print(table)


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


# --- classify -------------------------------------------------------------------


@app.command()
def classify(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(help="A text file, or - for standard input.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    eval_path: Annotated[
        Path | None, typer.Option("--eval", help="Score a labelled JSONL evaluation set.")
    ] = None,
) -> None:
    """Classify one text (tier, score, evidence), or score an evaluation set."""
    import json

    from monitor.classify import classification_to_dict, format_classification
    from monitor.classify.evaluate import evaluate, load_eval_set
    from monitor.runtime import load_classifier

    clf = load_classifier(_lexicon_settings(ctx))
    if eval_path is not None:
        report = evaluate(load_eval_set(eval_path), clf)
        if as_json:
            print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        else:
            print(report.format())
        return
    if file is None:
        err.print("give a FILE, - for standard input, or --eval PATH")
        raise typer.Exit(EXIT_CONFIG)
    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    verdict = clf.classify(None, text)
    if as_json:
        print(json.dumps(classification_to_dict(verdict), ensure_ascii=False, indent=2))
    else:
        print(format_classification(verdict))


def _lexicon_settings(ctx: typer.Context) -> Settings:
    """The config when there is one; the built-in lexicon otherwise (classify needs no config)."""
    g = _globals(ctx)
    if g.config is None and not Path(DEFAULT_CONFIG).exists() and not os.environ.get(CONFIG_ENV):
        return Settings()
    return g.settings


@app.command()
def reclassify(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Only items published since DATE.")] = None,
) -> None:
    """Re-score stored items with the current lexicon; report what moved. Sends no alerts."""
    from collections import Counter

    from monitor.pipeline import evidence_dict
    from monitor.runtime import load_classifier
    from monitor.store.repo import Store

    settings = _globals(ctx).settings
    clf = load_classifier(settings)
    store = Store.open(settings.storage.url)
    start = _parse_day(since, "--since")
    moved: Counter[tuple[str, str]] = Counter()
    n = 0
    for item in store.iter_items():
        when = item.published or item.fetched_at
        if start and when < start:
            continue
        verdict = clf.classify(item.title, item.text, item.language)
        store.update_classification(
            item.id or 0,
            relevance=round(verdict.relevance, 4),
            tier=verdict.tier,
            evidence=[evidence_dict(e) for e in verdict.evidence],
            version=clf.version,
        )
        moved[(item.tier or "unscored", verdict.tier)] += 1
        n += 1
    table = Table("from", "to", "items")
    for (old, new), count in sorted(moved.items()):
        table.add_row(old, new, str(count), style=None if old == new else "bold")
    out.print(table)
    changed = sum(c for (o, nw), c in moved.items() if o != nw)
    out.print(f"re-scored {n} items with lexicon {clf.version}; {changed} changed tier")


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
    """Each source with its kind, interval, items, last success, last error and next poll."""
    from monitor.redact import redact
    from monitor.store.repo import Store

    settings = _globals(ctx).settings
    store = Store.open(settings.storage.url)
    states, counts = store.source_states(), store.items_per_source()
    table = Table(
        "name", "kind", "every", "lang", "items", "last success", "last error", "next poll", "url"
    )
    for s in settings.sources:
        st = states.get(s.name)
        next_poll = st.next_poll_at if st else None
        if next_poll is None and st and st.last_poll_at:  # no daemon has said: estimate
            next_poll = st.last_poll_at + s.interval
        table.add_row(
            s.name + ("" if s.enabled else " (off)"), s.kind, _human(s.interval.total_seconds()),
            s.language or "-", str(counts.get(s.name, 0)),
            _when(st.last_success_at if st else None),
            (st.last_error or "-")[:60] if st else "-", _when(next_poll), redact(s.url),
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
    """Fetch each source once: what it is, how many entries it lists, and the spacing
    between requests to its host (per_host_delay, or its robots.txt Crawl-delay)."""
    from monitor.runtime import Runtime

    settings = _globals(ctx).settings
    chosen = [settings.source(n) for n in source] if source else settings.sources

    async def go() -> list[tuple[tuple[Source, str, int], float]]:
        async with Runtime(settings) as rt:
            checked = await asyncio.gather(*(rt.pipeline.check(s) for s in chosen))
            # After the check each host's robots.txt is known, so this asks for nothing new.
            return [(c, await rt.fetcher.delay_for(c[0].url)) for c in checked]

    results = _run(go())
    table = Table("name", "kind", "entries", "delay", "result")
    for (s, result, n), delay in results:
        table.add_row(s.name, s.kind, str(n), f"{delay:g}s", result)
    out.print(table)


@sources_app.command("add")
def sources_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="A feed, or a site's page: its feed is looked for.")],
    name: Annotated[str | None, typer.Option(help="Source name [default: from its title].")] = None,
    kind: Annotated[
        str | None, typer.Option(help="feed, sitemap or html [default: discovered].")
    ] = None,
    interval: Annotated[str | None, typer.Option(help="Poll every, e.g. 15m, 2h.")] = None,
    language: Annotated[str | None, typer.Option(help="Language hint, e.g. ru.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, do not write.")] = False,
) -> None:
    """Find what URL offers (feed, announced feed, sitemap or listing) and add it to the config."""
    from monitor.config import parse_duration
    from monitor.config_edit import ConfigEditError, add_sources, duplicate_of, source_name
    from monitor.fetch import Fetcher, FetchError
    from monitor.sources.discover import Discovery, DiscoveryError, Kind, discover

    if kind not in (None, "feed", "sitemap", "html"):
        err.print(f"--kind: expected feed, sitemap or html, got {kind!r}")
        raise typer.Exit(EXIT_CONFIG)
    if interval is not None:
        try:
            parse_duration(interval)
        except ValueError as e:
            err.print(f"--interval: {e}", markup=False, highlight=False)
            raise typer.Exit(EXIT_CONFIG) from None
    settings = _globals(ctx).settings
    taken = {s.name for s in settings.sources}
    if name is not None and name in taken:
        err.print(f"a source named {name!r} already exists", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG)

    def refuse_duplicate(candidate: str) -> None:
        if (dup := duplicate_of(candidate, settings.sources)) is not None:
            err.print(
                f"{candidate} is already configured as source {dup.name!r}",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(EXIT_CONFIG)

    refuse_duplicate(url)
    wanted: Kind | None = kind  # type: ignore[assignment]

    async def go() -> Discovery:
        async with Fetcher(settings.fetch) as fetcher:
            return await discover(fetcher, url, kind=wanted)

    try:
        found = _run(go())
    except (DiscoveryError, FetchError) as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
    refuse_duplicate(found.url)
    chosen = name or source_name(found.title, found.url, taken)
    out.print(
        f"{found.kind}: {found.url} ({found.how})\ntitle: {found.title or '-'}\n"
        f"name: {chosen}; {len(found.entries)} entries, the newest:",
        markup=False,
        highlight=False,
    )
    table = Table("published", "lang", "title", "url")
    for sample in found.sample(hint=language):
        table.add_row(
            _when(sample.published), sample.language or "-", (sample.title or "-")[:70],
            sample.url,
        )  # fmt: skip
    out.print(table)
    if dry_run:
        return
    fields: dict[str, Any] = {"name": chosen, "url": found.url, "kind": found.kind}
    fields |= {"interval": interval, "language": language}
    try:
        add_sources(Path(str(settings.config_path)), [fields])
    except ConfigEditError as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    out.print(f"added source {chosen!r} to {settings.config_path}", markup=False, highlight=False)


@sources_app.command("remove")
def sources_remove(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Delete a source from the config file, keeping the file's comments."""
    from monitor.config_edit import ConfigEditError, remove_source

    settings = _globals(ctx).settings
    try:
        remove_source(Path(str(settings.config_path)), name)
    except ConfigEditError as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    out.print(f"removed source {name!r}", markup=False, highlight=False)


@sources_app.command("import")
def sources_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An OPML file, as feed readers export.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, do not write.")] = False,
) -> None:
    """Add the feeds of an OPML file; folders become tags, repeats are skipped."""
    from monitor.config_edit import ConfigEditError, add_sources
    from monitor.sources import SourceError
    from monitor.sources.opml import parse_opml, plan_import

    settings = _globals(ctx).settings
    try:
        opml = parse_opml(file.read_bytes())
    except (OSError, SourceError) as e:
        err.print(f"{file}: {e}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    plan = plan_import(opml, settings.sources)
    if plan.tables and not dry_run:
        try:
            add_sources(Path(str(settings.config_path)), plan.tables)
        except ConfigEditError as e:
            err.print(str(e), markup=False, highlight=False)
            raise typer.Exit(EXIT_CONFIG) from None
    table = Table("result", "name", "kind", "tags", "url")
    for t in plan.tables:
        table.add_row("added", t["name"], t["kind"], ", ".join(t["tags"]), t["url"])
    for src, why in plan.skipped:
        table.add_row(f"skipped: {why}", src.title or "-", src.kind, ", ".join(src.tags), src.url)
    out.print(table)
    verb = "would add" if dry_run else "added"
    out.print(
        f"{verb} {len(plan.tables)} sources, skipped {len(plan.skipped)}",
        markup=False,
        highlight=False,
    )


@sources_app.command("export")
def sources_export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="opml.")] = "opml",
    out_file: Annotated[Path | None, typer.Option("--out", help="File [default: stdout].")] = None,
) -> None:
    """Write the configured sources as OPML 2.0, folders by first tag."""
    from monitor.sources.opml import export_opml

    if format != "opml":
        err.print(f"--format: expected opml, got {format!r}")
        raise typer.Exit(EXIT_CONFIG)
    data = export_opml(_globals(ctx).settings.sources, title="oic-monitor sources")
    if out_file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out_file.write_bytes(data)


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
    from monitor.store.repo import Store
    from monitor.web import server
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
        server.run(create_app(store, settings, token=token), settings.web, host, port)
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


# --- alerts -------------------------------------------------------------------


@alerts_app.command("test")
def alerts_test(ctx: typer.Context) -> None:
    """Send a test message through every alert channel now; exit 1 if any failed."""
    from rich.text import Text

    from monitor.alerts.dispatcher import send_test

    settings = _globals(ctx).settings
    if not settings.alerts:
        err.print("no alert channels configured")
        raise typer.Exit(EXIT_CONFIG)
    results = _run(send_test(settings))
    table = Table("channel", "ok", "detail")
    for label, ok, detail in results:
        table.add_row(label, "yes" if ok else "NO", Text(detail))
    out.print(table)
    if not all(ok for _, ok, _ in results):
        raise typer.Exit(EXIT_FAILED)


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
    except LexiconError as e:
        err.print(f"lexicon error: {e}", markup=False, highlight=False)
        sys.exit(EXIT_CONFIG)


def main() -> None:
    _guarded(lambda: app(standalone_mode=True))
