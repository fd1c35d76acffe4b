"""Which daemon polls which source: an even split of the sources among the live daemons.

Every daemon computes the split itself from the same two sets (the daemons whose heartbeat
is current, the enabled sources), so they agree without talking to each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _rank(daemon: str, source: str) -> int:
    """How much `source` prefers `daemon`: stable across processes and restarts."""
    digest = hashlib.blake2b(f"{daemon}\n{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def split(daemons: Iterable[str], sources: Iterable[str]) -> dict[str, set[str]]:
    """Deal `sources` out to `daemons`: each gets len(sources) // N of them or one more.

    Each source goes to the daemon it ranks highest among those with room left (rendezvous
    hashing with a cap). Compared with dealing them out in turn, a daemon joining or
    leaving moves few sources between the daemons that stay: a move is a moment when
    two daemons disagree about a source.
    """
    names = sorted(set(daemons))
    if not names:
        return {}
    todo = sorted(set(sources), key=lambda s: (_rank("", s), s))
    base, extra = divmod(len(todo), len(names))
    room = {d: base + (i < extra) for i, d in enumerate(names)}
    out: dict[str, set[str]] = {d: set() for d in names}
    for source in todo:
        for daemon in sorted(names, key=lambda d: _rank(d, source), reverse=True):
            if room[daemon]:
                room[daemon] -= 1
                out[daemon].add(source)
                break
    return out
