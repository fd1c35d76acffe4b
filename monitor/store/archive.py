"""The plain-text archive: one `NNN_<content_hash>.txt` file per stored item."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from monitor.store.models import Item


def archive_name(item: Item) -> str:
    return f"{item.id:03d}_{item.content_hash}.txt"


def write_text_file(folder: Path, item: Item) -> Path:
    """Write the item's text atomically; the file's content hashes to its name. The folder
    is made when it is missing."""
    path = folder / archive_name(item)
    data = item.text.encode("utf-8")
    try:
        _write_atomically(str(path), data)
    except FileNotFoundError:  # asked only then: a stored item writes one file of many
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(str(path), data)
    return path


def _write_atomically(path: str, data: bytes) -> None:
    # Plain descriptors: open() in text mode would also stat the file and ask whether it
    # is a terminal, for each of the thousands of files a backfill writes.
    tmp = os.path.splitext(path)[0] + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # no half-written file left behind
        raise
