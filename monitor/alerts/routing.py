"""Which channels an item goes to: tier, score, language and source filters."""

from __future__ import annotations

from monitor.classify import Classification
from monitor.config import AlertChannel

TIER_RANK = {"none": 0, "mention": 1, "relevant": 2}


def channel_wants(
    channel: AlertChannel, c: Classification, *, language: str | None, source: str
) -> bool:
    if not channel.stories:
        return False
    if TIER_RANK[c.tier] < TIER_RANK[channel.min_tier] or c.relevance < channel.min_score:
        return False
    if channel.languages and language not in channel.languages:
        return False
    return not channel.sources or source in channel.sources
