"""Items out (jsonl, json, csv, table, txt archive) and text files in."""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from monitor.config import Source
from monitor.dates import find_date_in_text
from monitor.language import detect
from monitor.pipeline import Document, Pipeline, PollReport
from monitor.store.archive import archive_name
from monitor.store.models import Item
from monitor.store.repo import Store

log = logging.getLogger("monitor.export")

CSV_FIELDS = [
    "id", "url", "source", "title", "published", "language", "content_hash",
    "relevance", "tier", "relevant", "story_id", "duplicate_of", "alerted",
]  # fmt: skip


def item_record(item: Item, *, alerted: bool) -> dict[str, object]:
    """The stable JSON shape of an item, as `items --format jsonl` prints it."""
    return {
        "id": item.id,
        "url": item.url,
        "source": item.source,
        "title": item.title,
        "published": item.published.isoformat() if item.published else None,
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
        "archive_file": archive_name(item),
        "text": item.text,
    }


def records(store: Store, items: list[Item]) -> Iterator[dict[str, object]]:
    alerted = store.alerted_items([i.id for i in items if i.id is not None])
    for item in items:
        yield item_record(item, alerted=item.id in alerted)


def story_records(store: Store, items: list[Item]) -> Iterator[dict[str, object]]:
    """One row per story, in the order its first copy was stored, listing every outlet."""
    stories: dict[int, list[Item]] = {}
    for item in items:
        stories.setdefault(item.story_id or item.id or 0, []).append(item)
    alerted = store.alerted_items([i.id for i in items if i.id is not None])
    for story_id, copies in stories.items():
        first = copies[0]
        best = max(copies, key=lambda i: i.relevance or 0.0)
        yield {
            "story_id": story_id,
            "title": first.title,
            "published": first.published.isoformat() if first.published else None,
            "tier": best.tier,
            "relevance": best.relevance,
            "relevant": best.tier == "relevant" if best.tier is not None else None,
            "copies": len(copies),
            "sources": list(dict.fromkeys(i.source for i in copies)),
            "items": [i.id for i in copies],
            "urls": [i.url for i in copies],
            "alerted": any(i.id in alerted for i in copies),
        }


def write_records(rows: Iterable[dict[str, object]], fmt: str, out: IO[str]) -> int:
    n = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    elif fmt == "json":
        data = list(rows)
        json.dump(data, out, ensure_ascii=False, indent=2)
        out.write("\n")
        n = len(data)
    elif fmt == "csv":
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            if writer is None:
                fields = CSV_FIELDS if "content_hash" in row else list(row)
                writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
                writer.writeheader()
            writer.writerow(row)
            n += 1
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return n


def export_txt(store: Store, out_dir: Path) -> int:
    """Write every item as NNN_<content_hash>.txt; the text hashes to the name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    for item in store.iter_items():
        (out_dir / archive_name(item)).write_text(item.text, encoding="utf-8")
        n += 1
    return n


def export_jsonl(store: Store, out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    with (out_dir / "items.jsonl").open("w", encoding="utf-8") as out:
        batch: list[Item] = []
        for item in store.iter_items():
            batch.append(item)
            if len(batch) == 500:
                n += write_records(records(store, batch), "jsonl", out)
                batch = []
        n += write_records(records(store, batch), "jsonl", out)
    return n


_LETTERS = re.compile(r"[^\W\d_]{2,}")


def guess_title(text: str) -> str | None:
    """First short line that reads like words (not a date or a counter)."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if len(line) <= 200 and len(_LETTERS.findall(line)) >= 3:
            return line
        if len(line) > 200:
            return None
    return None


def import_dir(pipeline: Pipeline, folder: Path, source: Source) -> PollReport:
    """Store every *.txt file of `folder` as an item: the offline backfill."""
    report = PollReport(source.name)
    for path in sorted(folder.glob("*.txt")):
        report.discovered += 1
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            report.errors["decode"] += 1
            log.warning("%s: skipped, not UTF-8 text (%s at byte %d)", path, e.reason, e.start)
            continue
        if not text.strip():
            report.no_text += 1
            continue
        language = detect(text, hint=source.language)
        doc = Document(
            url=path.resolve().as_uri(),
            source=source,
            text=text,
            title=guess_title(text),
            published=find_date_in_text(text, language),
            language=language,
            urls=(path.resolve().as_uri(),),
        )
        pipeline.store_document(doc, report, allow_alerts=False, backfilled=True)
    return report
