"""The `oic-monitor` command line: parse, call a service, print, close what was opened.

One module per command group; importing one registers its commands on `app`. Heavy modules
(the pipeline, the database, the HTTP client) are imported inside the commands that use
them, so that `--help` and `classify` start fast.
"""

from importlib import import_module

from monitor.cli.base import app
from monitor.cli.main import main

# In the order --help lists their commands.
for _group in ("daemon", "backfill", "items", "classify", "sources"):
    import_module(f"monitor.cli.{_group}")

__all__ = ["app", "main"]
