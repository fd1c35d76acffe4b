"""Reading an item's stored evidence: its strongest snippet, and the terms by concept.

Evidence is stored as the classifier gave it: a list of {term, concept, where, snippet,
weight, tail} dicts, one per match. Alerts, the dashboard and CSV exports all show it
through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from monitor.display import cut_at_word

SNIPPET_CHARS = 300  # the lead of the text shown when no evidence snippet exists
WHERE_ORDER = ("title", "lead", "body")

Evidence = Sequence[Mapping[str, object]]


def weight(e: Mapping[str, object]) -> float:
    w = e.get("weight")
    return float(w) if isinstance(w, (int, float)) else 0.0


def strongest_snippet(evidence: Evidence | None) -> str:
    """The strongest snippet from the article itself; a title match only when that is all."""
    ranked = sorted(
        evidence or (), key=lambda e: (e.get("where") != "title", weight(e)), reverse=True
    )
    for e in ranked:
        snippet = e.get("snippet")
        if isinstance(snippet, str) and snippet.strip():
            return " ".join(snippet.split())
    return ""


def lead(text: str, chars: int = SNIPPET_CHARS) -> str:
    """The start of `text` on one line, cut at a word."""
    return cut_at_word(text, chars)


def snippet(evidence: Evidence | None, text: str) -> str:
    """What to show of an article beside its title: the strongest evidence, or its lead."""
    return strongest_snippet(evidence) or lead(text)


def terms(evidence: Evidence | None) -> list[str]:
    """Distinct matched terms, strongest first."""
    ranked = sorted(evidence or (), key=weight, reverse=True)
    return list(dict.fromkeys(str(e["term"]) for e in ranked if e.get("term")))


@dataclass
class ConceptHits:
    """All matches of one lexicon concept in an item."""

    concept: str
    terms: list[str] = field(default_factory=list)  # distinct, in order of appearance
    count: int = 0
    where: list[str] = field(default_factory=list)  # title, lead, body: where it stood
    weight: float = 0.0


def by_concept(evidence: Evidence | None) -> list[ConceptHits]:
    """The matches grouped by concept, strongest concept first."""
    groups: dict[str, ConceptHits] = {}
    for e in evidence or ():
        concept = str(e.get("concept") or "?")
        g = groups.setdefault(concept, ConceptHits(concept))
        term = str(e.get("term") or "")
        if term and term not in g.terms:
            g.terms.append(term)
        g.count += 1
        where = str(e.get("where") or "")
        if where and where not in g.where:
            g.where.append(where)
        g.weight += weight(e)
    for g in groups.values():
        g.where.sort(key=lambda w: WHERE_ORDER.index(w) if w in WHERE_ORDER else len(WHERE_ORDER))
    return sorted(groups.values(), key=lambda g: (-g.weight, g.concept))


def summary(evidence: Evidence | None) -> str:
    """One line for a spreadsheet cell: `concept: term, term ×count (where); ...`."""
    return "; ".join(
        f"{g.concept}: {', '.join(g.terms)} ×{g.count} ({', '.join(g.where)})"
        for g in by_concept(evidence)
    )
