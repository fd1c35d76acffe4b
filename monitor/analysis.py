"""The CPU-bound stages of one page, runnable in worker processes: extract, then hash,
MinHash and classify. Plain data in and out.

Kept apart from the pipeline so a worker imports only these stages (trafilatura, dates,
language, fingerprint, classifier), not the HTTP client, the database or the CLI. Pages are
fetched by the main process, whose requests wait on the network side by side, while the
workers only compute.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from monitor.classify import Classification, Classifier
from monitor.extracted import Extracted
from monitor.fingerprint import band_keys, content_hash, signature
from monitor.language import prepare_model

R = TypeVar("R")

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


def analyse(
    title: str | None, text: str, language: str | None, classifier: Classifier | None
) -> Analysis:
    sig = signature(text)
    verdict = classifier.classify(title, text, language) if classifier else None
    return Analysis(content_hash(text), verdict, sig, band_keys(sig))


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


def analyse_in_worker(title: str | None, text: str, language: str | None) -> Analysis:
    """``analyse`` in a pool worker, with the worker's own classifier."""
    return analyse(title, text, language, _classifier)


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


class PoolCalls:
    """Calls to a process pool from the event loop, several to a task when they queue up.

    Handing one call to a worker costs the main process 0.2-0.3 ms of CPU (pickling, a pipe
    write, the pool's thread waking, the result's way back to the loop); four calls in one
    task cost about a quarter of that each. A call goes at once while fewer than ``slots``
    tasks are out; calls made meanwhile wait for the next task to come back and go
    together, at most ``most`` to a task.
    """

    def __init__(self, pool: Executor, slots: int, most: int = 8) -> None:
        self.pool = pool
        self.slots = slots
        self.most = most
        self._waiting: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._out = 0

    async def call(self, fn: Callable[..., R], *args: Any) -> R:
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((fn, args, done))
        self._send()
        return await done

    def _send(self) -> None:
        while self._waiting and self._out < self.slots:
            batch, self._waiting = self._waiting[: self.most], self._waiting[self.most :]
            try:
                sent = self.pool.submit(run_calls, [(fn, args) for fn, args, _ in batch])
            except Exception as e:  # the pool is broken or shut down: each caller hears it
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(e)
                continue
            self._out += 1
            asyncio.wrap_future(sent).add_done_callback(functools.partial(self._back, batch))

    def _back(
        self, batch: list[tuple[Any, Any, asyncio.Future[Any]]], task: asyncio.Future[Any]
    ) -> None:
        self._out -= 1
        results: list[tuple[bool, Any]]
        if task.cancelled():
            results = [(False, asyncio.CancelledError())] * len(batch)
        elif task.exception() is not None:  # the pool itself failed (a worker died)
            results = [(False, task.exception())] * len(batch)
        else:
            results = task.result()
        for (ok, value), (_, _, done) in zip(results, batch, strict=True):
            if done.done():  # its caller was cancelled
                continue
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)
        self._send()


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
