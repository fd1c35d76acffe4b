"""Calls to the analysis workers, gathered into tasks: every caller gets its own answer."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from monitor.pool_calls import PoolCalls


class CountingPool(ProcessPoolExecutor):
    def __init__(self) -> None:
        super().__init__(2, mp_context=multiprocessing.get_context("spawn"))
        self.tasks = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.tasks += 1
        return super().submit(fn, *args, **kwargs)


def test_queued_calls_share_tasks_and_each_caller_gets_its_own_result_or_error() -> None:
    async def go(pool: CountingPool) -> list[object]:
        calls = PoolCalls(pool, slots=2, most=8)
        jobs = [calls.call(divmod, 100, n) for n in range(-10, 30)]  # divmod(100, 0) fails
        return await asyncio.gather(*jobs, return_exceptions=True)

    with CountingPool() as pool:
        results = asyncio.run(go(pool))
        tasks = pool.tasks
    for n, got in zip(range(-10, 30), results, strict=True):
        if n == 0:
            assert isinstance(got, ZeroDivisionError)
            assert "in the analysis worker" in "".join(getattr(got, "__notes__", []))
        else:
            assert got == divmod(100, n)
    assert tasks < 40 / 4  # two go alone, the other 38 wait and go eight to a task


def test_a_dead_worker_fails_its_callers_and_later_ones_instead_of_leaving_them_waiting() -> None:
    async def go(pool: CountingPool) -> tuple[list[object], object]:
        calls = PoolCalls(pool, slots=2)
        first = await asyncio.gather(
            calls.call(os._exit, 3), *(calls.call(abs, -n) for n in range(10)),
            return_exceptions=True,
        )  # fmt: skip
        later = await asyncio.gather(calls.call(abs, -1), return_exceptions=True)
        return first, later[0]

    with CountingPool() as pool:
        first, later = asyncio.run(go(pool))
    assert any(isinstance(r, BrokenProcessPool) for r in first)
    assert all(isinstance(r, (int, BrokenProcessPool)) for r in first)
    assert isinstance(later, BrokenProcessPool)


@pytest.mark.parametrize("slots", [1, 4])
def test_results_come_back_to_the_right_caller_whatever_the_slots(slots: int) -> None:
    async def go(pool: CountingPool) -> list[object]:
        calls = PoolCalls(pool, slots=slots, most=3)
        return await asyncio.gather(*(calls.call(str, n) for n in range(50)))

    with CountingPool() as pool:
        assert asyncio.run(go(pool)) == [str(n) for n in range(50)]
