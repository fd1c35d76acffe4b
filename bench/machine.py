"""How fast this machine runs plain Python at the moment: the CPU time of a fixed workload.

The targets given in CPU time (ms per article, CPU-seconds per 1,000 polls) depend on the
machine, and a virtual machine's speed changes from day to day. The benches print this
figure beside their own, so that runs made on different days can be compared: a figure
divided by the reference time of its run.

The workload does what the project's hot paths do most (attribute look-ups, small dicts,
string formatting and splitting, calls), and nothing that waits. The best of several
rounds is taken, as timeit does: the slower rounds measure the neighbours, not the code.
"""

from __future__ import annotations

import time


class _Row:
    __slots__ = ("key", "size", "parts")

    def __init__(self, key: str, size: int, parts: list[str]) -> None:
        self.key = key
        self.size = size
        self.parts = parts


def _row(i: int) -> _Row:
    line = f"/news/{i % 97}/item-{i}.html?lang=ru&page={i % 7}"
    path, _, query = line.partition("?")
    return _Row(path.rsplit("/", 1)[-1], len(line), query.split("&"))


def _workload(n: int = 40_000) -> int:
    seen: dict[str, int] = {}
    total = 0
    for i in range(n):
        row = _row(i)
        seen[row.key[:6]] = seen.get(row.key[:6], 0) + row.size
        total += len(row.parts) + sum(len(p) for p in row.parts)
    return total + len(sorted(seen.items(), key=lambda kv: kv[1]))


def reference_ms(rounds: int = 7) -> float:
    """The workload's CPU time in milliseconds, best of ``rounds``."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        _workload()
        best = min(best, time.process_time() - start)
    return best * 1000


def describe(ms: float) -> str:
    return f"reference workload {ms:.0f} ms of CPU (bench/machine.py; lower is a faster machine)"


if __name__ == "__main__":
    print(describe(reference_ms()))
