"""The plain-text archive: one `NNN_<content_hash>.txt` file per stored item.

A text can be written ahead, where it is analysed (``stage_text``), and moved under its
item's name once stored (``place_staged``): creating a file costs far more than renaming
one (0.8-1 ms of kernel time against 15 us on an ext4 disk of a virtual machine), and the
analysis runs in several processes while storing runs in one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # analysis workers stage texts here without loading the database layer
    from monitor.store.models import Item


def archive_name(item: Item) -> str:
    return f"{item.id:03d}_{item.content_hash}.txt"


def write_text_file(folder: Path, item: Item) -> Path:
    """Write the item's text atomically; the file's content hashes to its name. The folder
    is made when it is missing."""
    path = folder / archive_name(item)
    _in_folder(folder, _write_atomically, str(path), item.text.encode("utf-8"))
    return path


def _in_folder(
    folder: Path | str, write: Callable[[str, bytes], None], path: str, data: bytes
) -> None:
    """``write(path, data)``, making ``folder`` first when it is missing: asked only then,
    as nearly every file goes into a folder that is there."""
    try:
        write(path, data)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        write(path, data)


STAGING = ".incoming"  # where texts written ahead wait, inside the archive folder
_staged = itertools.count()


def stage_text(folder: Path, content_hash: str, text: str) -> str | None:
    """Write ``text`` ahead into the archive's staging folder, under a name no other
    process or text uses; its path, or None when it could not be written (the text is then
    written when stored, and the trouble reported there)."""
    path = f"{folder}/{STAGING}/{content_hash}-{os.getpid()}-{next(_staged)}.txt"
    try:
        _in_folder(f"{folder}/{STAGING}", _write, path, text.encode("utf-8"))
    except (OSError, ValueError):
        return None
    return path


def place_staged(staged: str, folder: Path, item: Item) -> Path:
    """Move a text written ahead to its item's name in the archive (atomic)."""
    path = folder / archive_name(item)
    os.replace(staged, path)
    return path


def discard_staged(staged: str | None) -> None:
    """Remove a text written ahead that is not needed (a duplicate, or a text that changed)."""
    if staged is not None:
        with contextlib.suppress(OSError):
            os.unlink(staged)


SWEEP_AFTER = 3600.0  # seconds: a text written ahead older than this was never stored


def sweep_staging(folder: Path, older_than: float = SWEEP_AFTER) -> int:
    """Remove texts written ahead that were never stored (their article was cancelled, or
    their process stopped in between), once they are ``older_than`` seconds: younger ones
    may still be on their way to the store. How many were removed."""
    cutoff = time.time() - older_than
    removed = 0
    try:
        entries = list(os.scandir(f"{folder}/{STAGING}"))
    except OSError:
        return 0
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed


def _write(path: str, data: bytes, flags: int = os.O_EXCL) -> None:
    """Write a new file; none is left behind half-written."""
    # Plain descriptors: open() in text mode would also stat the file and ask whether it
    # is a terminal, for each of the thousands of files a backfill writes.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _write_atomically(path: str, data: bytes) -> None:
    tmp = os.path.splitext(path)[0] + ".tmp"
    _write(tmp, data, os.O_TRUNC)
    try:
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
