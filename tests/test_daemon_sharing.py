"""Three real daemons on PostgreSQL share the sources evenly, one that joins later takes its
part, and when one is killed outright the other two poll its sources."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections import Counter
from pathlib import Path

from monitor.store import daemons
from monitor.store.repo import Store
from tests.daemon_support import (
    Site,
    SourceSpec,
    kill,
    log_text,
    plain_article,
    start,
    stop,
    wait_for,
    write_config,
)
from tests.webserver import LocalWeb

INTERVAL = 3.0
SOURCES = 12
AGENTS = ("daemon-a", "daemon-b", "daemon-c")
LATE, VICTIM = "daemon-c", "daemon-c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def polls_since(sites: list[Site], since: float) -> list[tuple[int, str]]:
    """(source number, daemon) of every feed request after `since`."""
    return [
        (i, p.agent.split("/", 1)[0]) for i, s in enumerate(sites) for p in s.polls if p.at > since
    ]


def shares(polls: list[tuple[int, str]]) -> dict[str, float]:
    counts = Counter(agent for _, agent in polls)
    return {agent: n / len(polls) for agent, n in counts.items()}


def even(polls: list[tuple[int, str]], agents: tuple[str, ...]) -> bool:
    """Every source polled, and each daemon made 1/N ± 10 % of the polls."""
    got = shares(polls)
    return {i for i, _ in polls} == set(range(SOURCES)) and all(
        abs(got.get(a, 0.0) - 1 / len(agents)) <= 0.10 for a in agents
    )


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return float(next(ln.split()[-1] for ln in text.splitlines() if ln.startswith(name + " ")))


def test_three_daemons_split_the_sources_and_survivors_take_a_killed_ones_part(
    web: LocalWeb, pg_url: str, tmp_path: Path
) -> None:
    sites = [Site(web, f"/s{i}") for i in range(SOURCES)]
    for i, site in enumerate(sites):
        site.publish(i, *plain_article(i), "en")
    specs = [SourceSpec(f"s{i}", s.feed_url, f"{INTERVAL:g}s") for i, s in enumerate(sites)]
    cfgs = {
        a: write_config(tmp_path / f"{a}.toml", pg_url, specs, fetch=f'user_agent = "{a}/1"')
        for a in AGENTS
    }
    ports = {a: free_port() for a in AGENTS}
    logs = {a: tmp_path / f"{a}.log" for a in AGENTS}
    store = Store.open(pg_url)
    procs = {}

    def launch(agent: str) -> None:
        procs[agent] = start(cfgs[agent], logs[agent], "--http", f"127.0.0.1:{ports[agent]}")

    try:
        for agent in AGENTS[:2]:
            launch(agent)
        wait_for(lambda: len(daemons.live(store)) == 2, "two heartbeats")
        two_from = time.monotonic()
        wait_for(
            lambda: even(polls_since(sites, two_from), AGENTS[:2]), "two daemons sharing evenly"
        )

        launch(LATE)
        wait_for(lambda: len(daemons.live(store)) == 3, "the third daemon's heartbeat")
        joined = time.monotonic()
        # Settled: over the last one and a half intervals, an even three-way split.
        wait_for(
            lambda: (
                time.monotonic() - joined > 1.5 * INTERVAL
                and even(polls_since(sites, time.monotonic() - 1.5 * INTERVAL), AGENTS)
            ),
            "an even split among three daemons",
        )
        settled = time.monotonic()
        wait_for(lambda: time.monotonic() - settled > 3 * INTERVAL, "three more intervals")
        three = polls_since(sites, settled)
        for agent, share in shares(three).items():
            assert abs(share - 1 / 3) <= 0.10, (agent, shares(three))
        assert {i for i, _ in three} == set(range(SOURCES)), "a source went unpolled"
        for agent in AGENTS:
            assert procs[agent].poll() is None, log_text(logs[agent])
            assert metric(ports[agent], "oic_daemons_live") == 3
            assert metric(ports[agent], "oic_sources_owned") == SOURCES / 3

        orphans = {i for i, agent in three if agent == VICTIM}
        kill(procs[VICTIM])
        killed = time.monotonic()
        survivors = tuple(a for a in AGENTS if a != VICTIM)

        def taken_over() -> bool:
            return orphans <= {i for i, a in polls_since(sites, killed) if a in survivors}

        wait_for(taken_over, f"the sources of {VICTIM} polled by the others")
        after = time.monotonic()
        wait_for(lambda: time.monotonic() - after > 3 * INTERVAL, "three more intervals")
        two = polls_since(sites, after)
        assert {a for _, a in two} == set(survivors)
        assert {i for i, _ in two} == set(range(SOURCES)), "a source went unpolled"
        for agent, share in shares(two).items():
            assert abs(share - 1 / 2) <= 0.10, (agent, shares(two))
        for agent in survivors:
            assert metric(ports[agent], "oic_daemons_live") == 2
            assert metric(ports[agent], "oic_sources_owned") == SOURCES / 2
        for agent in survivors:
            assert stop(procs[agent]) == 0
        assert daemons.live(store) == []  # a clean stop leaves at once
    finally:
        for p in procs.values():
            kill(p)
        store.close()
    for agent in AGENTS:
        assert "Traceback" not in log_text(logs[agent]), agent
