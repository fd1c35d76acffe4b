"""The plain-text archive: one `NNN_<content_hash>.txt` file per stored item."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from monitor.store.models import Item


def archive_name(item: Item) -> str:
    return f"{item.id:03d}_{item.content_hash}.txt"


def write_text_file(folder: Path, item: Item) -> Path:
    """Write the item's text atomically; the file's content hashes to its name."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / archive_name(item)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(item.text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # no half-written file left behind
        raise
    return path
