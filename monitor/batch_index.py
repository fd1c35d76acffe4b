"""The duplicate and story look-ups of a batch of articles stored in one transaction, read
with three queries for the whole batch instead of three for each article.

Read before the batch's first insert, from the analyses the worker processes made; the
items the batch stores meanwhile are added as they go, so that each article sees what an
article-by-article look-up would have seen. An article whose text changed on the way (its
source's furniture lines removed) asks the database itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from monitor.analysis import Analysis
from monitor.store.repo import Candidate, Writer

STORY_CANDIDATES = 50  # as Writer.story_candidates: those sharing the most band keys


class BatchIndex:
    def __init__(self, w: Writer, analyses: Sequence[Analysis], urls: Sequence[str]) -> None:
        """``analyses`` and ``urls``: of the batch's articles, in the same order."""
        self.w = w
        self._hashes: dict[str, int] = {}
        self._urls: dict[str, int] = {}
        for item_id, content_hash, url in w.items_matching(
            [a.content_hash for a in analyses], list(urls)
        ):
            self._hashes.setdefault(content_hash, item_id)
            self._urls.setdefault(url, item_id)
        self._bands: defaultdict[int, list[int]] = defaultdict(list)
        for key, item_id in w.band_hits([k for a in analyses for k in a.bands]):
            self._bands[key].append(item_id)
        self._known: dict[int, Candidate] = {}
        # The candidates each article would be offered by the stored items alone; those the
        # batch adds can only push some of them out, never bring another stored one in.
        ranked = [self._ranked(a) for a in analyses]
        for cand in w.candidates([i for ids in ranked for i in ids]):
            self._known[cand.item_id] = cand
        self._prefetched = {id(a) for a in analyses}
        self._analyses = list(analyses)  # kept alive: their id() marks them as prefetched

    def covers(self, found: Analysis) -> bool:
        """Whether ``found`` is one of the analyses read ahead for."""
        return id(found) in self._prefetched

    def matching_item(self, found: Analysis, url: str) -> int | None:
        """As Writer.matching_item: an item with the same text first, else the same URL."""
        if not self.covers(found):
            return self.w.matching_item(found.content_hash, url)
        return self._hashes.get(found.content_hash, self._urls.get(url))

    def story_candidates(self, found: Analysis) -> list[Candidate]:
        """As Writer.story_candidates."""
        if not self.covers(found):
            return self.w.story_candidates(found.bands)
        return [self._known[i] for i in self._ranked(found) if i in self._known]

    def _ranked(self, found: Analysis) -> list[int]:
        """The ids of the items sharing the most band keys with ``found``, most first."""
        hits = Counter(i for key in dict.fromkeys(found.bands) for i in self._bands.get(key, ()))
        return [i for i, _ in hits.most_common(STORY_CANDIDATES)]

    def add(self, item_id: int, story_id: int, found: Analysis, url: str, sig: bytes) -> None:
        """An item this batch stored."""
        self._hashes.setdefault(found.content_hash, item_id)
        self._urls.setdefault(url, item_id)
        for key in dict.fromkeys(found.bands):
            self._bands[key].append(item_id)
        self._known[item_id] = Candidate(item_id, story_id, sig)


def best_story(sig: np.ndarray, candidates: Sequence[Candidate]) -> tuple[float, int | None]:
    """(similarity, story) of the most similar candidate, compared all at once."""
    if not candidates:
        return 0.0, None
    others = np.frombuffer(b"".join(c.signature for c in candidates), dtype="<u4")
    same = (others.reshape(len(candidates), -1) == sig).sum(axis=1)
    best = int(same.argmax())
    if not same[best]:
        return 0.0, None
    return float(same[best]) / len(sig), candidates[best].story_id
