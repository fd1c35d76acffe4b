"""The scheduling policy: adaptive intervals stay in bounds and follow the feed window."""

from __future__ import annotations

from datetime import timedelta

from monitor.config import Source
from monitor.scheduler import jitter_for, lease_ttl, next_interval

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
