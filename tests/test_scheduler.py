"""The scheduling policy: adaptive intervals stay in bounds and follow the feed window."""

from __future__ import annotations

from datetime import timedelta

from monitor.config import Source
from monitor.scheduler import (
    LEASE_CHECK_SECONDS,
    first_delay,
    jitter_for,
    lease_margin,
    lease_ttl,
    next_interval,
)

MIN, MAX = timedelta(minutes=5), timedelta(hours=2)


def source(interval: str = "15m") -> Source:
    return Source(
        name="s", url="https://a.kz/rss", interval=interval, min_interval=MIN, max_interval=MAX
    )


def test_news_shortens_and_silence_lengthens_within_bounds() -> None:
    s = source()
    current = s.interval
    for _ in range(20):
        current = next_interval(s, current, new_items=3, window_hours=None)
    assert current == MIN
    for _ in range(40):
        current = next_interval(s, current, new_items=0, window_hours=None)
    assert current == MAX


def test_a_short_feed_window_forces_three_polls_inside_it() -> None:
    s = source("1h")
    # The feed shows only 45 minutes of publishing: poll at least every 15 minutes.
    nxt = next_interval(s, s.interval, new_items=0, window_hours=0.75)
    assert nxt == timedelta(minutes=15)
    # Never below the configured floor, however short the window.
    assert next_interval(s, s.interval, new_items=0, window_hours=0.05) == MIN


def test_lease_outlives_one_interval_and_jitter_stays_small() -> None:
    s = source("15m")
    assert s.interval < lease_ttl(s) <= s.interval + timedelta(minutes=2)
    assert jitter_for(timedelta(seconds=10)) == 1
    assert jitter_for(timedelta(hours=2)) == 60


def test_a_lease_renewed_at_the_end_of_a_poll_still_runs_at_the_next_tick() -> None:
    # The next poll starts on it without asking the database when it has the margin left
    # even after the longest jitter; the lease check renews it from then on.
    for interval in ("2s", "10s", "1m", "15m", "2h"):
        s = Source(name="s", url="https://a.kz/rss", interval=interval)
        left = lease_ttl(s) - s.interval - timedelta(seconds=jitter_for(s.interval))
        assert left.total_seconds() >= lease_margin(lease_ttl(s)) >= 2 * LEASE_CHECK_SECONDS


def test_first_polls_of_many_sources_spread_over_the_interval() -> None:
    few = [first_delay(timedelta(minutes=15), 200) for _ in range(500)]
    assert max(few) <= timedelta(seconds=30)  # a small config gets going at once
    many = [first_delay(timedelta(minutes=15), 10_000) for _ in range(500)]
    # 10,000 sources start over the whole interval (about 11 a second), not in a burst
    # that repeats every interval.
    assert max(many) > timedelta(minutes=12)
    assert max(many) <= timedelta(minutes=15)
