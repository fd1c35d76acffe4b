"""Stored items out: filtered and paged queries, their records, the formats they are
written in (jsonl, json, csv), and the folder exports (`NNN_<hash>.txt` files, items.jsonl).

`items` on the command line and the dashboard's lists and downloads read through here, so a
filter or a field means the same in both.

CSV is written for spreadsheets: a UTF-8 byte-order mark first, so Excel reads Cyrillic and
Arabic right; a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
leading `'`, so an article title can never run as a formula (OWASP's advice on CSV
injection); lists are joined with "; ", and the evidence is one readable cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO

from monitor import evidence
from monitor.display import item_title, precision_of
from monitor.errors import InputError
from monitor.files import os_reason, output_folder
from monitor.store.archive import archive_name, write_text_file
from monitor.store.models import Item
from monitor.store.queries import ItemQuery, StoryPage, iter_items, list_stories
from monitor.store.repo import Store

FORMATS = ("jsonl", "json", "csv")
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_FIELDS = [
    "id", "url", "source", "title", "published", "language", "content_hash",
    "relevance", "tier", "relevant", "story_id", "duplicate_of", "alerted",
    "published_precision", "snippet", "evidence",
]  # fmt: skip
_BATCH = 500


def page(store: Store, q: ItemQuery) -> StoryPage:
    """One page of the stories with items matching `q`, newest first."""
    return list_stories(store, q)


def matching(store: Store, q: ItemQuery, limit: int | None = None) -> Iterator[Item]:
    """Every item matching `q` (or the first `limit`), oldest first, read in batches."""
    return islice(iter_items(store, q), limit)


def item_record(item: Item, *, alerted: bool) -> dict[str, object]:
    """The stable JSON shape of an item, as `items --format jsonl` prints it."""
    return {
        "id": item.id,
        "url": item.url,
        "source": item.source,
        "title": item_title(item.title, item.text),
        "published": item.published.isoformat() if item.published else None,
        "published_precision": precision_of(item.published, item.published_precision),
        "fetched_at": item.fetched_at.isoformat() if item.fetched_at else None,
        "language": item.language,
        "content_hash": item.content_hash,
        "relevance": item.relevance,
        "tier": item.tier,
        "relevant": (item.tier == "relevant") if item.tier is not None else None,
        "evidence": item.evidence,
        "classifier_version": item.classifier_version,
        "story_id": item.story_id,
        "duplicate_of": item.duplicate_of,
        "alerted": alerted,
        "archive_file": item.archive_file,
        "snippet": evidence.snippet(item.evidence, item.text),
        "text": item.text,
    }


def records(store: Store, items: Iterable[Item]) -> Iterator[dict[str, object]]:
    """The record of each item, looking up delivered alerts a batch at a time."""
    for chunk in _chunks(items):
        alerted = store.alerted_items([i.id for i in chunk if i.id is not None])
        for item in chunk:
            yield item_record(item, alerted=item.id in alerted)


def story_records(store: Store, items: Iterable[Item]) -> Iterator[dict[str, object]]:
    """One row per story, in the order its first copy was stored, listing every outlet."""
    stories: dict[int, list[Item]] = {}
    for item in items:
        stories.setdefault(item.story_id or item.id or 0, []).append(item)
    ids = [i.id for copies in stories.values() for i in copies if i.id is not None]
    alerted = store.alerted_items(ids)
    for story_id, copies in stories.items():
        first = copies[0]
        best = max(copies, key=lambda i: i.relevance or 0.0)
        yield {
            "story_id": story_id,
            "title": item_title(first.title, first.text),
            "published": first.published.isoformat() if first.published else None,
            "published_precision": precision_of(first.published, first.published_precision),
            "tier": best.tier,
            "relevance": best.relevance,
            "relevant": best.tier == "relevant" if best.tier is not None else None,
            "copies": len(copies),
            "sources": list(dict.fromkeys(i.source for i in copies)),
            "items": [i.id for i in copies],
            "urls": [i.url for i in copies],
            "alerted": any(i.id in alerted for i in copies),
        }


def neutralise(value: object) -> object:
    """A spreadsheet cell that cannot run: text starting like a formula gets a leading '."""
    if isinstance(value, (list, tuple)):
        value = "; ".join("" if v is None else str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_row(row: dict[str, object]) -> dict[str, object]:
    if "content_hash" in row:  # an item: its evidence as one readable cell
        ev = row.get("evidence")
        row = {**row, "evidence": evidence.summary(ev if isinstance(ev, list) else None)}
    return {k: neutralise(v) for k, v in row.items()}


def stream(rows: Iterable[dict[str, object]], fmt: str) -> Iterator[str]:
    """The records as text in `fmt`, a piece at a time (one line, or one CSV row)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"
    elif fmt == "json":
        yield json.dumps(list(rows), ensure_ascii=False, indent=2) + "\n"
    else:
        buf = io.StringIO()
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            if writer is None:
                fields = CSV_FIELDS if "content_hash" in row else list(row)
                writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
                buf.write(BOM)
                writer.writeheader()
            writer.writerow(_csv_row(row))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        if writer is None:  # no rows: still a file a spreadsheet opens, with its header
            buf.write(BOM)
            csv.DictWriter(buf, fieldnames=CSV_FIELDS).writeheader()
            yield buf.getvalue()


def render(rows: Iterable[dict[str, object]], fmt: str, out: IO[str]) -> int:
    """Write records to `out` as jsonl, json or csv; the number written."""
    n = 0

    def counted() -> Iterator[dict[str, object]]:
        nonlocal n
        for row in rows:
            n += 1
            yield row

    for piece in stream(counted(), fmt):
        out.write(piece)
    return n


def _chunks(items: Iterable[Item], size: int = _BATCH) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass(frozen=True)
class Exported:
    items: int
    folder: Path


def export_txt(store: Store, out_dir: Path, *, archive_dir: Path) -> Exported:
    """Write every item as NNN_<content_hash>.txt (the text hashes to the name).

    Written into the configured archive folder, this rebuilds the archive, and each item
    records its file.
    """
    folder = output_folder(out_dir)
    is_archive = folder.resolve() == Path(archive_dir).resolve()
    n = 0
    for chunk in _chunks(store.iter_items()):
        names = {item.id or 0: _write_text_file(folder, item) for item in chunk}
        if is_archive:
            store.set_archive_files(names)
        n += len(names)
    return Exported(n, folder)


def export_jsonl(store: Store, out_dir: Path) -> Exported:
    """Write every item's record to items.jsonl in `out_dir`."""
    folder = output_folder(out_dir)
    path = folder / "items.jsonl"
    try:
        out = path.open("w", encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot write: {os_reason(e)}") from None
    with out:
        n = render(records(store, store.iter_items()), "jsonl", out)
    return Exported(n, folder)


def _write_text_file(folder: Path, item: Item) -> str:
    """The name of the item's file, written into `folder`; InputError naming it if it
    cannot be (a folder of that name, a file that may not be replaced)."""
    try:
        return write_text_file(folder, item).name
    except OSError as e:
        raise InputError(f"{folder / archive_name(item)}: cannot write: {os_reason(e)}") from None
