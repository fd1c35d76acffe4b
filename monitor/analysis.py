"""The CPU-bound stages of one page, runnable in worker processes: extract, then hash,
MinHash and classify, and write the text ahead into the archive (store/archive.py). Plain
data in and out.

Kept apart from the pipeline so a worker imports only these stages (trafilatura, dates,
language, fingerprint, classifier), not the HTTP client, the database or the CLI. Pages are
fetched by the main process, whose requests wait on the network side by side, while the
workers only compute.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify import Classification, Classifier
from monitor.classify.normalize import search_text
from monitor.extracted import Extracted
from monitor.fingerprint import band_keys, hash_and_signature
from monitor.language import prepare_model
from monitor.store.archive import stage_text

PARENT_CHECK_SECONDS = 1.0
# Loads the language model, date tables and boilerplate lists before the first real page.
_WARM_UP_PAGE = (
    "<html><head><title>t</title></head><body><article><h1>t</h1><p>"
    + "The ministers met in Jeddah on 5 March 2024 and agreed on a plan. " * 5
    + "</p></article></body></html>"
)


@dataclass(frozen=True)
class Analysis:
    """What the pipeline computes from a document's text before storing it."""

    content_hash: str
    verdict: Classification | None
    signature: np.ndarray
    bands: list[int]
    document: str  # the search index's entry for the title and text
    # The text written ahead into the archive's staging folder (store/archive.py), for
    # storing to move under the item's name; None when not written.
    staged: str | None = None


def analyse(
    title: str | None,
    text: str,
    language: str | None,
    classifier: Classifier | None,
    stage_in: Path | None = None,
) -> Analysis:
    """``stage_in``: an archive folder to write the text ahead into."""
    digest, sig = hash_and_signature(text)
    verdict = classifier.classify(title, text, language) if classifier else None
    staged = stage_text(stage_in, digest, text) if stage_in is not None else None
    return Analysis(digest, verdict, sig, band_keys(sig), search_text(title, text), staged)


# The classifier of this worker process, loaded once by the pool initializer.
_classifier: Classifier | None = None


def _watch_parent(parent: int) -> None:
    # A SIGKILLed parent cannot stop its pool; leave as soon as it is gone.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _worker_init(parent: int, lexicon: Path | None, classify: bool) -> None:
    global _classifier
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if classify:
        from monitor.classify.engine import load_classifier

        _classifier = load_classifier(lexicon)
    extract_page(Page(_WARM_UP_PAGE.encode(), "utf-8", "http://warm-up.invalid/", None, None))


@dataclass(frozen=True)
class Page:
    """A fetched page, and what its listing said of it: what the analysis starts from."""

    content: bytes
    encoding: str | None
    url: str  # after redirects
    feed_date: datetime | None
    language_hint: str | None


def extract_page(page: Page) -> Extracted | None:
    """Decode (as FetchResult.text does) and extract one fetched page."""
    # Imported here: a process that only hands pages to workers never loads trafilatura.
    from monitor.extract import extract

    html = page.content.decode(page.encoding or "utf-8", errors="replace")
    return extract(html, page.url, feed_date=page.feed_date, language_hint=page.language_hint)


def analyse_in_worker(
    title: str | None, text: str, language: str | None, stage_in: Path | None = None
) -> Analysis:
    """``analyse`` in a pool worker, with the worker's own classifier."""
    return analyse(title, text, language, _classifier, stage_in)


def run_calls(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """Several calls in one task: (True, result) or (False, exception) for each."""
    out: list[tuple[bool, Any]] = []
    for fn, args in calls:
        try:
            out.append((True, fn(*args)))
        except Exception as e:
            e.add_note("in the analysis worker:\n" + traceback.format_exc().rstrip())
            out.append((False, e))
    return out


def ready() -> bool:
    """A no-op task: submitting one per worker starts and warms the pool early."""
    return True


def process_pool(
    workers: int,
    *,
    lexicon: Path | None = None,
    classify: bool = True,
) -> ProcessPoolExecutor:
    """Analysis workers. Spawned rather than forked: the parent runs an event loop and
    holds database connections, and a fresh process also keeps the workers small."""
    prepare_model()  # unpacked here once, not by each worker at the same time
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(), lexicon, classify),
    )
