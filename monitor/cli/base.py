"""What every command shares: the app and its groups, the global options, exit statuses,
options that mean the same in every command, and opening what a command needs.

Nothing heavy is imported here or at the top of any command module: `--help` and
`classify -` load only what they use.
"""

from __future__ import annotations

import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

import typer

from monitor import CONFIG_ENV, DEFAULT_CONFIG

if TYPE_CHECKING:
    from monitor.config import Settings, Source
    from monitor.store.repo import Store

# The exit statuses, as the README's table gives them.
EXIT_OK = 0
EXIT_FAILED = 1  # a runtime or database error: the database, the network, a port in use
EXIT_USAGE = 2  # bad arguments, config, lexicon, or an input or output path that cannot be used
EXIT_NOTHING_DONE = 3  # every source or file the command was given failed

T = TypeVar("T")

app = typer.Typer(
    help="Watch ministry and news-agency sources for articles about the OIC.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no markup to eat "[default: ...]", no type labels
)
sources_app = typer.Typer(
    help="List, check, add and exchange the configured sources.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(sources_app, name="sources")
alerts_app = typer.Typer(help="Alert channels.", invoke_without_command=True, rich_markup_mode=None)
app.add_typer(alerts_app, name="alerts")


@dataclass
class Globals:
    """The global options, and the settings read from the config once a command asks."""

    config: Path | None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from monitor.config import load_settings

            self._settings = load_settings(self.config)
        return self._settings

    @property
    def has_config(self) -> bool:
        """Whether there is a config to read: named (or in the environment), or at the default."""
        return self.config is not None or Path(DEFAULT_CONFIG).exists()


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="PATH",
            envvar=CONFIG_ENV,
            help=f"Config file, before or after the command [default: {DEFAULT_CONFIG}].",
        ),
    ] = None,
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"], typer.Option(help="What to log.")
    ] = "info",
    log_format: Annotated[Literal["text", "json"], typer.Option(help="How to log.")] = "text",
) -> None:
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(EXIT_OK)
    from monitor.logs import setup_logging

    setup_logging(log_level, log_format)
    ctx.obj = Globals(config)


@alerts_app.callback()
def alerts_group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


def globals_of(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    assert isinstance(obj, Globals)
    return obj


def settings_of(ctx: typer.Context) -> Settings:
    return globals_of(ctx).settings


# --- options that mean the same everywhere ---------------------------------------------


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date like 2024-03-05, got {value!r}") from None


def day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, datetime.min.time(), UTC) if day else None


def day_option(help: str) -> Any:
    """A --since or --until option taking a DATE; `help` says which date it compares."""
    return typer.Option(parser=parse_day, metavar="DATE", help=help)


# Stored items count by their publication date, and an undated one by when it was stored.
Since = Annotated[
    date | None, day_option("Published on or after DATE (undated items: when stored).")
]
Until = Annotated[
    date | None, day_option("Published on or before DATE (undated items: when stored).")
]
SourceNames = Annotated[
    list[str] | None,
    typer.Option("--source", metavar="NAME", help="Only this source (repeatable)."),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what it would do; change nothing.")]


# --- output -----------------------------------------------------------------------------


def say(message: str) -> None:
    """One line on standard output, as written (no markup)."""
    sys.stdout.write(message + "\n")


def warn(message: str) -> None:
    """One line on standard error, with any secret in a URL masked."""
    from monitor.redact import redact

    sys.stderr.write(redact(message) + "\n")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Say what was wrong on one line and end the command with `code`."""
    warn(message)
    raise typer.Exit(code)


def print_table(table: Any) -> None:
    """Draw a rich table on standard output; cells are plain text, never markup."""
    from rich.console import Console

    Console(soft_wrap=True, markup=False).print(table)


# --- opening what a command needs ---------------------------------------------------------


@contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    """The store, migrated, closed when the command is done with it."""
    from monitor.store.repo import Store

    with Store.open(settings.storage.url) as store:
        yield store


def chosen_sources(settings: Settings, names: list[str] | None) -> list[Source]:
    """The sources named (an unknown name is a config error), or every enabled one."""
    if names:
        return [settings.source(n) for n in names]
    return [s for s in settings.sources if s.enabled]


def run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio

    return asyncio.run(coro)
