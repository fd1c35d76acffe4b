"""OIC relevance: a score, a tier and the evidence behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Tier = Literal["relevant", "mention", "none"]


@dataclass(frozen=True)
class Evidence:
    term: str  # the text as it stood in the article
    concept: str  # lexicon entry it matched, e.g. "oic.name"
    where: Literal["title", "lead", "body"]
    snippet: str  # a few words either side
    weight: float
    tail: bool = False  # stood in a trailing "Most read"/related-news block


@dataclass(frozen=True)
class Classification:
    relevance: float  # 0..1
    tier: Tier
    evidence: list[Evidence] = field(default_factory=list)
    lexicon_version: str = ""  # short hash of the lexicon (and engine) that scored it
    notes: list[str] = field(default_factory=list)  # terms ignored, and why

    @property
    def relevant(self) -> bool:
        return self.tier == "relevant"


class Classifier(Protocol):
    def classify(
        self, title: str | None, text: str, language: str | None = None
    ) -> Classification: ...


# The engine imports the types above, so it is re-exported last.
from monitor.classify.engine import (  # noqa: E402
    LexiconClassifier,
    LexiconError,
    classification_to_dict,
    format_classification,
    load_classifier,
)

__all__ = [
    "Classification",
    "Classifier",
    "Evidence",
    "LexiconClassifier",
    "LexiconError",
    "Tier",
    "classification_to_dict",
    "format_classification",
    "load_classifier",
]
