"""The archive's text files: written ahead where the text is analysed, moved under the
item's name when stored, and nothing left behind for texts that were not stored as such."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from monitor import articles
from monitor.articles import Document, StoreOptions, ToStore
from monitor.config import Settings, Source
from monitor.fingerprint import content_hash
from monitor.pipeline import Pipeline
from monitor.store.archive import STAGING
from monitor.store.repo import Store

SOURCE = Source(name="kt-kaz", url="https://kt.example/kaz/rss/", kind="feed", language="kk")
MENU = "Редакция ұсынады"  # a line every page of the source carries


def _pipeline(db_url: str, archive: Path) -> Pipeline:
    settings = Settings.model_validate({"storage": {"url": db_url, "archive_dir": str(archive)}})
    return Pipeline(settings, Store.open(db_url), None, None)  # type: ignore[arg-type]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def pipeline(db_url: str, archive: Path) -> Iterator[Pipeline]:
    made = _pipeline(db_url, archive)
    try:
        yield made
    finally:
        made.store.close()


def _doc(n: int, *lines: str, url: str | None = None) -> Document:
    url = url or f"https://kt.example/kaz/news/{n}"
    return Document(
        url=url, source=SOURCE, text="\n".join(lines), title=f"Кездесу {n}",
        published=datetime(2026, 1, n, tzinfo=UTC), language="kk", urls=(url,),
    )  # fmt: skip


def _own(n: int) -> str:
    return f"Министр {n}-ші кездесуде ынтымақтастықтың жаңа бағыттарын атап өтті, деп хабарлады."


def _analysed(pipeline: Pipeline, doc: Document) -> ToStore:
    """As the article path has it just before storing: analysed, its text written ahead."""
    analysed = asyncio.run(pipeline.articles._analyse(doc, None))
    return ToStore(doc, StoreOptions(alerts=False), analysed)


def _archive_matches(pipeline: Pipeline, archive: Path) -> None:
    items = pipeline.store.items()
    assert {it.archive_file for it in items} == {p.name for p in archive.glob("*.txt")}
    for it in items:
        text = (archive / (it.archive_file or "")).read_text(encoding="utf-8")
        assert text == it.text and content_hash(text) == it.content_hash


def test_texts_written_ahead_become_the_archive_files_and_duplicates_leave_none(
    pipeline: Pipeline, archive: Path
) -> None:
    batch = [
        _analysed(pipeline, _doc(1, _own(1))),
        _analysed(pipeline, _doc(2, _own(1), url="https://kt.example/kaz/copy/1")),  # same text
        _analysed(pipeline, _doc(3, _own(3))),
    ]
    assert len(list((archive / STAGING).iterdir())) == 3  # written before any is stored
    outcomes = pipeline.articles.store_documents(batch)
    assert [o.status for o in outcomes] == ["stored", "duplicate", "stored"]
    _archive_matches(pipeline, archive)
    assert list((archive / STAGING).iterdir()) == []


def test_a_text_shortened_after_it_was_written_ahead_is_archived_as_stored(
    pipeline: Pipeline, archive: Path
) -> None:
    # Analysed while its source's menu line is not known yet ...
    late = _analysed(pipeline, _doc(9, _own(9), MENU))
    # ... then three pages carrying that line are stored, and it is known.
    for n in range(1, 4):
        pipeline.articles.store_documents([_analysed(pipeline, _doc(n, _own(n), MENU))])
    [outcome] = pipeline.articles.store_documents([late])
    item = pipeline.store.item(outcome.item_id or 0)
    assert item is not None and item.text == _own(9)  # the menu line left out
    _archive_matches(pipeline, archive)
    assert list((archive / STAGING).iterdir()) == []


def test_a_batch_the_database_refused_leaves_no_text_behind(
    pipeline: Pipeline, archive: Path
) -> None:
    batch = [_analysed(pipeline, _doc(n, _own(n))) for n in (1, 2)]
    with pipeline.store.engine.begin() as conn:  # the next insert fails
        conn.exec_driver_sql("ALTER TABLE item RENAME TO item_gone")
    with pytest.raises(DBAPIError):
        pipeline.articles.store_documents(batch)
    assert list((archive / STAGING).iterdir()) == []
    assert list(archive.glob("*.txt")) == []


def test_texts_left_written_ahead_by_a_stopped_process_are_removed_when_old(
    db_url: str, tmp_path: Path
) -> None:
    staging = tmp_path / "archive" / STAGING
    staging.mkdir(parents=True)
    old, young = staging / "old.txt", staging / "young.txt"
    old.write_text("a text whose process was killed")
    young.write_text("a text another process is about to store")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    _pipeline(db_url, tmp_path / "archive").store.close()
    assert sorted(p.name for p in staging.iterdir()) == ["young.txt"]


def test_an_archive_folder_that_cannot_be_written_still_stores_the_item(
    db_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the archive folder should be")
    pipeline = _pipeline(db_url, blocker / "archive")
    one = _analysed(pipeline, _doc(1, _own(1)))
    assert one.analysed is not None and one.analysed[1].staged is None
    [outcome] = pipeline.articles.store_documents([one])
    assert (outcome.status, outcome.reason) == ("stored", "archive")
    pipeline.store.close()


def test_a_text_written_ahead_that_went_missing_is_written_when_stored(
    pipeline: Pipeline, archive: Path
) -> None:
    one = _analysed(pipeline, _doc(1, _own(1)))
    for staged in (archive / STAGING).iterdir():
        staged.unlink()  # as if swept meanwhile
    [outcome] = pipeline.articles.store_documents([one])
    assert (outcome.status, outcome.reason) == ("stored", None)
    _archive_matches(pipeline, archive)


def test_a_running_process_removes_texts_its_cancelled_articles_left(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(articles, "SWEEP_AFTER", 0.0)  # as if each batch came an hour later
    archive = tmp_path / "archive"
    pipeline = _pipeline(db_url, archive)
    left = archive / STAGING / "cancelled.txt"  # analysed, then its article was cancelled
    left.parent.mkdir(parents=True)
    left.write_text("a text nobody will store")
    two_hours_ago = time.time() - 7200
    os.utime(left, (two_hours_ago, two_hours_ago))
    pipeline.articles.store_documents([_analysed(pipeline, _doc(1, _own(1)))])
    assert list((archive / STAGING).iterdir()) == []
    _archive_matches(pipeline, archive)
    pipeline.store.close()
