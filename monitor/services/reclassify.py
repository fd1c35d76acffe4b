"""`reclassify`: re-score stored items with the current lexicon, sending no alerts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from monitor.articles import evidence_dict
from monitor.classify import Classifier
from monitor.store.repo import Store


@dataclass
class Reclassified:
    version: str
    scored: int = 0
    moved: Counter[tuple[str, str]] = field(default_factory=Counter)  # (old, new) tier

    @property
    def changed(self) -> int:
        return sum(n for (old, new), n in self.moved.items() if old != new)


def reclassify(store: Store, classifier: Classifier, since: datetime | None = None) -> Reclassified:
    """Re-score every item published (or, undated, fetched) since `since`."""
    result = Reclassified(getattr(classifier, "version", ""))
    for item in store.iter_items():
        when = item.published or item.fetched_at
        if since and when < since:
            continue
        verdict = classifier.classify(item.title, item.text, item.language)
        store.update_classification(
            item.id or 0,
            relevance=round(verdict.relevance, 4),
            tier=verdict.tier,
            evidence=[evidence_dict(e) for e in verdict.evidence],
            version=result.version,
        )
        result.moved[(item.tier or "unscored", verdict.tier)] += 1
        result.scored += 1
    return result
