"""`import DIR`: text files (such as `export --format txt` writes) stored as items, without
alerts; the offline backfill. Each file is stored as it is, dated by the first date near
its top (a month alone kept as that month) or undated, and titled from its text."""

from __future__ import annotations

import logging
from pathlib import Path

from monitor.articles import Document, StoreOptions, ToStore
from monitor.config import Source
from monitor.dates import date_near_top
from monitor.display import title_from_text
from monitor.errors import InputError
from monitor.files import read_text
from monitor.language import detect
from monitor.pipeline import Pipeline, PollReport

log = logging.getLogger("monitor.import")


def import_dir(pipeline: Pipeline, folder: Path, source: Source) -> PollReport:
    """Store every *.txt file of `folder` as an item; a file that is not text is counted
    as an error and skipped."""
    report = PollReport(source.name)
    options = StoreOptions(alerts=False, backfilled=True)
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
        report.new += 1  # taken through the article path, as a poll counts its new entries
        language = detect(text, hint=source.language)
        found = date_near_top(text, language)
        doc = Document(
            url=path.resolve().as_uri(),
            source=source,
            text=text,
            title=title_from_text(text),
            published=found.value if found else None,
            published_precision="month" if found and found.precision == "month" else None,
            language=language,
            urls=(path.resolve().as_uri(),),
            verbatim=True,
        )
        for outcome in pipeline.articles.store_documents([ToStore(doc, options, fetched=False)]):
            report.add(outcome)
    return report
