"""`import DIR`: text files (such as `export --format txt` writes) stored as items, without
alerts; the offline backfill."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from monitor.config import Source
from monitor.dates import find_date_in_text
from monitor.errors import InputError
from monitor.files import read_text
from monitor.language import detect
from monitor.pipeline import Document, Pipeline, PollReport

log = logging.getLogger("monitor.import")

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
    """Store every *.txt file of `folder` as an item; a file that is not text is counted
    as an error and skipped."""
    report = PollReport(source.name)
    for path in sorted(folder.glob("*.txt")):
        report.discovered += 1
        try:
            text = read_text(path)
        except InputError as e:
            report.errors["unreadable"] += 1
            log.warning("skipped %s", e)
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
