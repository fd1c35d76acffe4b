"""Score an article against a topic lexicon and explain the score.

How a score is made (all numbers come from the lexicon's [scoring] table):

1. Title and text are folded (normalize.py) and every term is found in one pass
   (matcher.py). A match inside a longer match is dropped ("ОИС" inside "СМИД ОИС"), and an
   abbreviation right beside a full name ("Организации исламского сотрудничества (ОИС)")
   is part of that name, not a second mention.
2. Each match stands somewhere: title, lead (first `lead_chars` of the text), body, or a
   trailing "Most read" block (layout.py). Its points are the concept's weight times the
   weight of that place, so a passing mention in the body is worth far less than a title.
3. Ambiguous concepts (ОИС, ОИК, OIC, OCI, a bare "Council of Foreign Ministers") count
   only when something else outside the tail supports the topic: a core or weak concept,
   a context term (Muslim, Islamic, Jeddah; other intergovernmental bodies, abbreviated or
   in full: UN, United Nations, African Union; a foreign-ministry setting), or a second,
   different ambiguous concept. A concept's `supported_by` narrows which context concepts
   count for it (a bare "Council of Foreign Ministers" needs Islamic context, since the
   UN or a foreign minister is as much the setting of the CIS or EU councils). They are
   voided when their other meaning's counter terms (intellectual property, election
   commission, officer in charge, Oracle, CIS, SCO...) occur at least as often as the
   core terms, whatever supports them.
4. Repetition has diminishing returns: the k-th match of a concept counts `repeat_decay`**k.
5. Core and counted ambiguous points add up; weak points (related institutions such as the
   Islamic Development Bank, names of former secretaries-general) can lift the total to a
   mention but never across the relevant threshold on their own.
6. relevance = 1 - 0.5 ** (points / relevant_points): 0.5 exactly at the relevant
   threshold, approaching 1 as evidence piles up. Tiers: relevant at `relevant_points`,
   mention at `mention_points`, else none.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NamedTuple

from monitor.classify import Classification, Evidence, Tier
from monitor.classify.layout import compile_markers, tail_start
from monitor.classify.lexicon import (
    Concept,
    Lexicon,
    LexiconError,
    load_lexicon,
    parse_lexicon,
)
from monitor.classify.matcher import Match, TermMatcher
from monitor.classify.normalize import Folded, fold

__all__ = [
    "LexiconClassifier",
    "LexiconError",
    "classification_to_dict",
    "format_classification",
    "load_classifier",
]

Where = Literal["title", "lead", "body"]
_SNIPPET_CHARS = 60
_EXPANSION_GAP = re.compile(r"[\s(\[\",\-]{0,4}$")  # in folded text: its only quote is '"'
_SPACES = re.compile(r"\s+")
_TOPICAL = ("core", "weak", "ambiguous")  # roles whose terms can raise a score


class _Hit(NamedTuple):
    match: Match
    concept: Concept
    folded: Folded
    where: Where
    tail: bool


class LexiconClassifier:
    """A `Classifier` built from one lexicon; picklable (it rebuilds from the source)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.version = lexicon.version
        self.topic = lexicon.topic
        self._matcher = TermMatcher(lexicon)
        self._markers = compile_markers(lexicon.tail_markers)
        scoring = lexicon.scoring
        self._place = {"title": scoring.title, "lead": scoring.lead, "body": scoring.body}

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (_rebuild, (self.lexicon.source, self.lexicon.path))

    def classify(self, title: str | None, text: str, language: str | None = None) -> Classification:
        """Score one article. `language` is accepted but not needed: every language's terms
        are matched, so a Russian report quoting an English name is still found."""
        fields: list[tuple[Folded, int]] = []  # folded text, offset where its tail starts
        if title and title.strip():
            fields.append((fold(title), -1))
        folded = fold(text or "")
        fields.append((folded, tail_start(folded.text, self._markers)))
        found = [self._matcher.find(f) for f, _ in fields]
        if any(self._concept(m).role == "ambiguous" for ms in found for m in ms):
            for ms, (f, _) in zip(found, fields, strict=True):
                ms += self._matcher.find(f, context=True)
        lead_chars = self.lexicon.scoring.lead_chars
        hits: list[_Hit] = []
        notes: list[str] = []
        for ms, (f, tail_from) in zip(found, fields, strict=True):
            kept, inside = self._resolve(ms, f.text)
            for m in kept:
                if tail_from < 0:
                    hits.append(_Hit(m, self._concept(m), f, "title", False))
                else:
                    where: Where = "lead" if m.start < lead_chars else "body"
                    hits.append(_Hit(m, self._concept(m), f, where, m.start >= tail_from))
            notes += self._inside_notes(inside, f)
        return self._score(hits, notes)

    def _concept(self, m: Match) -> Concept:
        return self.lexicon.concepts[m.concept]

    def _resolve(
        self, matches: list[Match], text: str
    ) -> tuple[list[Match], list[tuple[Match, Match]]]:
        """Drop matches inside longer ones, and abbreviations that expand a full name.

        Returns the matches kept and (dropped, longer match it stood in) pairs.
        """
        matches.sort(key=lambda m: (m.start, m.start - m.end))
        kept: list[Match] = []
        inside: list[tuple[Match, Match]] = []
        cover: Match | None = None  # the kept match reaching furthest right so far
        for m in matches:
            if (
                cover is not None
                and m.end <= cover.end
                and (cover.end - cover.start > m.end - m.start or cover.concept == m.concept)
            ):
                inside.append((m, cover))
                continue
            kept.append(m)
            if cover is None or m.end > cover.end:
                cover = m
        names = [m for m in kept if not m.term.exact_case and len(m.term.words) > 1]
        if not names:
            return kept, inside
        result = []
        for m in kept:
            if (
                m.term.exact_case
                and self._concept(m).role in ("core", "ambiguous")
                and any(self._beside(n, m, text) for n in names)
            ):
                continue
            result.append(m)
        return result, inside

    def _inside_notes(self, inside: list[tuple[Match, Match]], f: Folded) -> list[str]:
        """Why a topic term found inside a longer phrase that means something else (a
        context or counter phrase: "OIC of the unit") did not count."""
        notes = []
        for m, cover in inside:
            concept, outer = self._concept(m), self._concept(cover)
            if concept.role in _TOPICAL and outer.role in ("context", "counter"):
                meaning = "its other meaning" if outer.role == "counter" else "a context phrase"
                notes.append(
                    f"«{_text_of(f, m)}» ({concept.id}) not counted: it stands inside "
                    f"«{_text_of(f, cover)}», {meaning} ({outer.id})"
                )
        return list(dict.fromkeys(notes))

    def _beside(self, name: Match, abbr: Match, text: str) -> bool:
        if self._concept(name).role != "core":
            return False
        if name.end <= abbr.start:
            gap = text[name.end : abbr.start]
        elif abbr.end <= name.start:
            gap = text[abbr.end : name.start]
        else:
            return False
        return len(gap) <= 4 and _EXPANSION_GAP.match(gap) is not None

    def _score(self, hits: list[_Hit], notes: list[str]) -> Classification:
        scoring = self.lexicon.scoring
        anchors = sum(1 for h in hits if h.concept.role == "core" and not h.tail)
        topical = any(h.concept.role in ("core", "weak") and not h.tail for h in hits)
        contexts = {h.concept.id for h in hits if h.concept.role == "context" and not h.tail}
        counters = Counter(h.concept.id for h in hits if h.concept.role == "counter")

        def found(cids: Iterable[str]) -> str:
            """The distinct words in the text that matched these concepts (three at most)."""
            return ", ".join(sorted({_original(h) for h in hits if h.concept.id in cids})[:3])

        voided: set[str] = set()
        ambiguous = {h.concept.id: h.concept for h in hits if h.concept.role == "ambiguous"}
        for cid, concept in ambiguous.items():
            against = sum(counters[v] for v in concept.voided_by)
            if against and against >= anchors:
                voided.add(cid)
                notes.append(
                    f"«{found([cid])}» ({cid}) not counted: its other meaning is in the text "
                    f"({found(concept.voided_by)})"
                )
        live_ambiguous = {
            h.concept.id for h in hits if h.concept.id in ambiguous and not h.tail
        } - voided
        supported: set[str] = set()
        for cid, concept in ambiguous.items():
            allowed = (
                contexts.intersection(concept.supported_by) if concept.supported_by else contexts
            )
            if topical or allowed or len(live_ambiguous) >= 2:
                supported.add(cid)
        for cid in sorted(set(ambiguous) - voided - supported):
            notes.append(
                f"«{found([cid])}» ({cid}) not counted: ambiguous, and nothing else supports it"
            )

        def counts(h: _Hit) -> bool:
            role = h.concept.role
            if role in ("core", "weak"):
                return True
            return role == "ambiguous" and h.concept.id in supported and h.concept.id not in voided

        by_concept: dict[str, list[tuple[float, _Hit]]] = defaultdict(list)
        for h in hits:
            if counts(h) and h.concept.weight > 0:
                place = scoring.tail if h.tail else self._place[h.where]
                by_concept[h.concept.id].append((h.concept.weight * place, h))

        core_points = weak_points = 0.0
        credited: list[tuple[float, _Hit]] = []
        for items in by_concept.values():
            items.sort(key=lambda item: -item[0])
            for k, (points, h) in enumerate(items):
                points *= scoring.repeat_decay**k
                credited.append((points, h))
                if h.concept.role == "weak":
                    weak_points += points
                else:
                    core_points += points

        total = core_points + weak_points
        if core_points < scoring.relevant_points:
            total = min(total, scoring.relevant_points * scoring.weak_ceiling)
        tier: Tier = "none"
        if total >= scoring.relevant_points:
            tier = "relevant"
        elif total >= scoring.mention_points:
            tier = "mention"
        relevance = round(1 - 0.5 ** (total / scoring.relevant_points), 4)

        order = {"title": 0, "lead": 1, "body": 1}
        credited.sort(key=lambda item: (order[item[1].where], item[1].match.start))
        evidence = [
            Evidence(
                term=_original(h),
                concept=h.concept.id,
                where=h.where,
                snippet=_snippet(h),
                weight=round(points, 3),
                tail=h.tail,
            )
            for points, h in credited
        ]
        return Classification(relevance, tier, evidence, self.version, notes)


def _rebuild(source: str, path: str) -> LexiconClassifier:
    return LexiconClassifier(parse_lexicon(source, path))


def _original(h: _Hit) -> str:
    return _text_of(h.folded, h.match)


def _text_of(f: Folded, m: Match) -> str:
    """A match as it stands in the original text."""
    start, end = f.original_span(m.start, m.end)
    return f.original[start:end]


def _snippet(h: _Hit) -> str:
    original = h.folded.original
    start, end = h.folded.original_span(h.match.start, h.match.end)
    left = original[max(0, start - _SNIPPET_CHARS) : start]
    right = original[end : end + _SNIPPET_CHARS]
    if start > _SNIPPET_CHARS and " " in left:
        left = "…" + left[left.index(" ") + 1 :]
    if end + _SNIPPET_CHARS < len(original) and " " in right:
        right = right[: right.rindex(" ")] + "…"
    return _SPACES.sub(" ", left + original[start:end] + right).strip()


def load_classifier(lexicon_path: Path | None = None) -> LexiconClassifier:
    """Build a classifier from a lexicon file; the shipped OIC lexicon when None.

    Raises LexiconError naming the file and the bad entry.
    """
    return LexiconClassifier(load_lexicon(lexicon_path))


def classification_to_dict(c: Classification) -> dict[str, object]:
    """Plain JSON-ready data (for `classify --json`, storage and webhooks)."""
    return {
        "tier": c.tier,
        "relevance": c.relevance,
        "relevant": c.relevant,
        "lexicon_version": c.lexicon_version,
        "evidence": [
            {
                "term": e.term,
                "concept": e.concept,
                "where": e.where,
                "tail": e.tail,
                "weight": e.weight,
                "snippet": e.snippet,
            }
            for e in c.evidence
        ],
        "notes": list(c.notes),
    }


def format_classification(c: Classification) -> str:
    """Human-readable tier, score and evidence lines (where, term, snippet)."""
    head = f"{c.tier}  relevance {c.relevance:.2f}"
    if c.lexicon_version:
        head += f"  (lexicon {c.lexicon_version})"
    lines = [head]
    for e in c.evidence:
        where = f"{e.where}/tail" if e.tail else e.where
        lines.append(f"  {where:<10} {e.weight:>5.2f}  {e.concept:<22} «{e.term}»")
        lines.append(f"  {'':<10} {'':>5}  {e.snippet}")
    for note in c.notes:
        lines.append(f"  note: {note}")
    if not c.evidence and not c.notes:
        lines.append("  no topic terms found")
    return "\n".join(lines)
