"""The entry point: global options anywhere, and every failure as one line and an exit status."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import typer

from monitor.cli.base import EXIT_FAILED, EXIT_OK, EXIT_USAGE, app, warn
from monitor.errors import DatabaseError, InputError

log = logging.getLogger("monitor.cli")

PROG = "oic-monitor"
# Options of the whole program, accepted after the command too (`items --config x.toml`).
GLOBAL_OPTIONS = ("--config", "--log-level", "--log-format")


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options given after the command to the front, where the parser takes
    them; everything else keeps its order. `--` ends the options."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name, eq, _ = arg.partition("=")
        if name in GLOBAL_OPTIONS:
            step = 1 if eq else 2
            front.extend(args[i : i + step])
            i += step
            continue
        rest.append(arg)
        i += 1
    return front + rest


def run_cli(args: Sequence[str]) -> int:
    """Run one command; its exit status. Nothing but a line of text reaches the user."""
    from typer.main import get_command

    try:
        status = get_command(app).main(
            args=hoist_global_options(args), prog_name=PROG, standalone_mode=False
        )
    except typer.TyperException as e:  # bad arguments, as the parser found them
        ctx = getattr(e, "ctx", None)
        warn(f"{ctx.command_path if ctx else PROG}: {e.format_message()}")
        return e.exit_code
    except InputError as e:
        warn(f"{e.label}: {e}" if e.label else str(e))
        return EXIT_USAGE
    except DatabaseError as e:
        warn(f"database error: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        warn("interrupted")
        return 130
    except typer.Abort:
        warn("aborted")
        return EXIT_FAILED
    except OSError as e:
        warn(f"error: {e}")
        return EXIT_FAILED
    except Exception as e:  # noqa: BLE001 - a bug: one line here, the traceback in the log
        log.debug("unexpected error", exc_info=True)
        warn(f"internal error: {type(e).__name__}: {e} (--log-level debug shows where)")
        return EXIT_FAILED
    return status if isinstance(status, int) else EXIT_OK


def main() -> None:
    sys.exit(run_cli(sys.argv[1:]))
