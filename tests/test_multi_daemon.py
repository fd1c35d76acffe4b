"""Several daemons on one database: each source is polled by one daemon at a time, items and
alerts are stored once, and when a daemon dies the others take its sources over."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from sqlmodel import select

from monitor.config import Source
from monitor.scheduler import lease_ttl
from monitor.store.models import Alert
from monitor.store.repo import Store
from tests.daemon_support import (
    Hook,
    Site,
    SourceSpec,
    kill,
    log_text,
    oic_article,
    plain_article,
    start,
    stop,
    wait_for,
    write_config,
)
from tests.webserver import LocalWeb

INTERVAL = 2.0
SOURCES = 4
AGENTS = ("daemon-a", "daemon-b")


def _config(tmp: Path, db_url: str, sites: list[Site], hook: Hook, agent: str) -> Path:
    specs = [SourceSpec(f"s{i}", s.feed_url, f"{INTERVAL:g}s") for i, s in enumerate(sites)]
    return write_config(
        tmp / f"{agent}.toml",
        db_url,
        specs,
        hook_url=hook.url,
        fetch=f'user_agent = "{agent}/{{version}}"',
    )


def _agent(ua: str) -> str:
    return ua.split("/", 1)[0]


def _publish_round(sites: list[Site], n: int) -> int:
    """One relevant and one other article per site, plus one article two sites both list.

    Returns how many distinct relevant stories the round added.
    """
    for i, site in enumerate(sites):
        k = n * 100 + i
        site.publish(f"oic-{k}", *oic_article(k), "en")
        site.publish(f"plain-{k}", *plain_article(k), "en")
    shared = n * 100 + 99
    title, paragraphs = oic_article(shared)
    path = sites[0].publish(f"shared-{shared}", title, paragraphs, "en")
    sites[1].list(path, title)
    return len(sites) + 1


def test_two_daemons_share_sources_and_take_over_from_a_dead_one(
    web: LocalWeb, db_url: str, tmp_path: Path
) -> None:
    sites = [Site(web, f"/s{i}") for i in range(SOURCES)]
    hook = Hook(web)
    cfgs = {a: _config(tmp_path, db_url, sites, hook, a) for a in AGENTS}
    relevant = _publish_round(sites, 0)
    articles = 2 * SOURCES + 1
    store = Store.open(db_url)

    procs = {a: start(cfgs[a], tmp_path / f"{a}.log") for a in AGENTS}
    try:
        wait_for(lambda: store.count_items() == articles, "the first articles stored")
        # Both daemons poll for a while and the sites publish more meanwhile.
        both_from = time.monotonic()
        relevant += _publish_round(sites, 1)
        articles += 2 * SOURCES + 1
        wait_for(lambda: store.count_items() == articles, "the second round stored")
        wait_for(lambda: time.monotonic() - both_from > 4 * INTERVAL, "a few more polls")
        both_until = time.monotonic()
        for a, p in procs.items():
            assert p.poll() is None, f"{a} died:\n{log_text(tmp_path / f'{a}.log')}"

        # One source, one poller at a time: a second daemon only starts on a source after
        # the first one's lease lapsed, so polls by different daemons are never close.
        for i, site in enumerate(sites):
            polls = [p for p in site.polls if both_from <= p.at <= both_until]
            assert polls, f"s{i} was not polled"
            for prev, nxt in zip(polls, polls[1:], strict=False):
                if _agent(prev.agent) != _agent(nxt.agent):
                    assert nxt.at - prev.at >= INTERVAL, (i, prev, nxt)
            # About one poll per interval, not one per daemon and interval.
            assert len(polls) <= (both_until - both_from) / INTERVAL + 2, (i, len(polls))

        # Kill the daemon that polls the most sources; the other one takes them over.
        owners = {i: _agent(s.polls[-1].agent) for i, s in enumerate(sites)}
        victim = Counter(owners.values()).most_common(1)[0][0]
        survivor = next(a for a in AGENTS if a != victim)
        orphaned = [i for i, a in owners.items() if a == victim]
        kill(procs[victim])
        killed_at = time.monotonic()
        relevant += _publish_round(sites, 2)
        articles += 2 * SOURCES + 1

        def taken_over() -> bool:
            return all(
                any(p.at > killed_at and _agent(p.agent) == survivor for p in sites[i].polls)
                for i in orphaned
            )

        wait_for(taken_over, f"{survivor} taking over the sources of {victim}")
        ttl = lease_ttl_seconds()
        for i in orphaned:
            first = next(
                p.at for p in sites[i].polls if p.at > killed_at and _agent(p.agent) == survivor
            )
            # The lease lapses within one TTL; the survivor's next tick takes the source.
            assert first - killed_at <= ttl + 3 * INTERVAL + 5, (i, first - killed_at)
        wait_for(lambda: store.count_items() == articles, "the third round stored")
        wait_for(lambda: len(set(hook.keys)) >= relevant, "every relevant story delivered")
        time.sleep(1.0)  # a few more dispatch rounds: nothing may arrive twice
        assert stop(procs[survivor]) == 0
    finally:
        for p in procs.values():
            kill(p)

    items = store.items()
    assert len(items) == articles
    assert len({i.url for i in items}) == len({i.content_hash for i in items}) == articles
    with store.session() as s:
        alerts = list(s.exec(select(Alert)))
    assert len(alerts) == relevant
    assert {a.status for a in alerts} == {"sent"}
    assert len({(a.channel, a.story_key) for a in alerts}) == len(alerts)
    relevant_stories = {i.story_id for i in items if i.tier == "relevant"}
    assert len(relevant_stories) == relevant
    # At least once: a kill between the receiver's 200 and the daemon's record of it may
    # repeat a delivery, always with the same key; the receiver drops it by that key.
    assert sorted(set(hook.keys)) == sorted(str(s) for s in relevant_stories)
    assert hook.bad_signatures == 0
    store.close()


def lease_ttl_seconds() -> float:
    src = Source.model_validate({"name": "x", "url": "http://x.invalid/", "interval": INTERVAL})
    return lease_ttl(src).total_seconds()


def test_lease_ttl_covers_one_interval_and_a_grace() -> None:
    assert lease_ttl_seconds() == INTERVAL * 1.5
