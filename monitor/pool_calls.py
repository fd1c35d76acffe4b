"""Calls from the event loop to the analysis workers, several to a task when they queue up.

Apart from monitor.analysis, which the workers import: they need no event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from monitor.analysis import run_calls

R = TypeVar("R")


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
