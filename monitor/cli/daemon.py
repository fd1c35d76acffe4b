"""The commands that poll and serve: run, poll, serve, demo, alerts test."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.base import (
    EXIT_FAILED,
    EXIT_NOTHING_DONE,
    EXIT_USAGE,
    SourceNames,
    alerts_app,
    app,
    chosen_sources,
    fail,
    open_store,
    print_table,
    run,
    say,
    settings_of,
)
from monitor.cli.render import items_table, poll_table, table
from monitor.display import counted


@app.command("run")
def run_daemon(
    ctx: typer.Context,
    http: Annotated[
        str | None,
        typer.Option(metavar="HOST:PORT", help="Serve the dashboard, /healthz and /metrics there."),
    ] = None,
) -> None:
    """The daemon: poll on schedule and deliver alerts until stopped.

    Every enabled source is polled on its interval; SIGHUP re-reads the config, SIGTERM or
    SIGINT stops it cleanly.
    """
    from monitor.scheduler import Daemon
    from monitor.web.server import parse_bind

    if http:
        try:
            parse_bind(http)
        except ValueError as e:
            fail(str(e), EXIT_USAGE)
    settings = settings_of(ctx)
    try:
        run(Daemon(settings, http=http).run())
    except OSError as e:  # the --http port is taken or cannot be bound
        fail(str(e), EXIT_FAILED)


@app.command()
def poll(
    ctx: typer.Context,
    source: SourceNames = None,
    no_deliver: Annotated[
        bool, typer.Option("--no-deliver", help="Leave the alerts queued for a daemon to send.")
    ] = False,
) -> None:
    """One whole daemon cycle, then exit: poll, catch up, deliver.

    Every enabled source is polled once (read further back when it published more than it
    shows), gaps are filled and the alerts that are due are sent. Exit status 3 when no
    source could be polled.
    """
    from monitor.cycle import run_poll_cycle

    settings = settings_of(ctx)
    chosen = chosen_sources(settings, source)
    result = run(run_poll_cycle(settings, chosen, deliver=not no_deliver))
    poll_table(result.reports)
    say(result.summary())
    if result.nothing_done:
        raise typer.Exit(EXIT_NOTHING_DONE)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(metavar="HOST", help="Address to listen on [default: [web] host, 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, metavar="PORT", help="Port [default: [web] port, 8080]."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN",
            help="Shared access token; beyond loopback it or [web] users are needed "
            "[default: the variable [web] token_env names].",
        ),
    ] = None,
) -> None:
    """The web dashboard and its Atom and JSON feeds.

    Stories, search, sources, coverage, the analysts' marks and the report, on
    127.0.0.1:8080 unless configured otherwise; a port already in use is exit status 1.
    """
    from monitor.web import server
    from monitor.web.app import WebConfigError, create_app, require_token_for
    from monitor.web.security import analyst_tokens

    settings = settings_of(ctx)
    host = host or settings.web.host
    port = port or settings.web.port
    token = token or settings.web.resolved_token()
    try:
        require_token_for(host, next(iter(analyst_tokens(settings.web, token)), None))
    except WebConfigError as e:
        fail(str(e), EXIT_USAGE)
    shown = f"[{host}]" if ":" in host else host
    try:
        sock = server.listen(f"{shown}:{port}")  # a taken port fails here, before anything is said
    except OSError as e:
        fail(str(e), EXIT_FAILED)
    with open_store(settings) as store:
        say(f"dashboard on http://{shown}:{port}/")
        server.run(create_app(store, settings, token=token), settings.web, sock)


@app.command()
def demo() -> None:
    """Run the real pipeline on a small bundled news site.

    The site is served on 127.0.0.1; what is stored goes to a new temporary folder.
    """
    from monitor.demo.run import run_demo

    say("Serving the demo site on 127.0.0.1 and polling its feed, sitemap and listing…")
    reports, stored, folder = run(run_demo())
    poll_table(reports)
    items_table(stored)
    where = f"{folder / 'demo.db'}; texts in {folder / 'archive'}"
    say(f"Stored {counted(len(stored), 'item')} in {where}.")


@alerts_app.command("test")
def alerts_test(ctx: typer.Context) -> None:
    """Send a test message through every alert channel now.

    The exit status is 1 if any channel failed.
    """
    from monitor.alerts.dispatcher import send_test

    settings = settings_of(ctx)
    if not settings.alerts:
        fail("no alert channels configured", EXIT_USAGE)
    results = run(send_test(settings))
    t = table("channel", "ok", "detail")
    for label, ok, detail in results:
        t.add_row(label, "yes" if ok else "NO", detail)
    print_table(t)
    if not all(ok for _, ok, _ in results):
        raise typer.Exit(EXIT_FAILED)
