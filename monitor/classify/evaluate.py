"""Evaluate a classifier on a labelled set: precision, recall and F1 per language and split.

The set is JSONL, one case a line: {"id", "lang", "title", "text", "label", "split", "note"}
with label relevant|mention|none and any split name (tune, heldout, blind...; "tune" when
absent; optional "hard": true marks a hard negative). Every split present is reported, in
the order it first appears, followed by "all". The main measure is detection of `relevant`
(what raises an alert); `mention+` treats mention and relevant together as positive. A plain
keyword regex (one case-insensitive alternation of the lexicon's names and abbreviations) is
scored beside the classifier as a baseline.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.classify import Classification, Classifier, Tier
from monitor.classify.engine import LexiconClassifier
from monitor.classify.lexicon import Lexicon

TIERS: tuple[Tier, ...] = ("relevant", "mention", "none")
ALL = "all"
_BASELINE_CONCEPTS = ("core", "ambiguous")


@dataclass(frozen=True)
class EvalCase:
    id: str
    lang: str
    title: str
    text: str
    label: Tier
    split: str = "tune"
    note: str = ""
    hard: bool = False


@dataclass(frozen=True)
class Scores:
    tp: int
    fp: int
    fn: int
    n: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        if self.tp + self.fp + self.fn == 0:
            return 1.0
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)


@dataclass(frozen=True)
class Prediction:
    case: EvalCase
    tier: Tier
    relevance: float
    baseline: Tier | None = None


@dataclass
class EvalReport:
    predictions: list[Prediction]
    lexicon_version: str = ""
    languages: list[str] = field(default_factory=list)

    @property
    def splits(self) -> list[str]:
        """The splits present, in the order they first appear, then "all"."""
        seen = dict.fromkeys(p.case.split for p in self.predictions)
        seen.pop(ALL, None)
        return [*seen, ALL]

    def _select(self, split: str, lang: str | None) -> list[Prediction]:
        return [
            p
            for p in self.predictions
            if (split == ALL or p.case.split == split) and (lang is None or p.case.lang == lang)
        ]

    def scores(
        self,
        split: str = ALL,
        lang: str | None = None,
        *,
        positive: str = "relevant",
        baseline: bool = False,
    ) -> Scores:
        """Counts for one split and language; `positive` is "relevant" or "mention+"."""
        pos: tuple[Tier, ...] = ("relevant",) if positive == "relevant" else ("relevant", "mention")
        tp = fp = fn = 0
        chosen = self._select(split, lang)
        for p in chosen:
            predicted = p.baseline if baseline else p.tier
            gold_pos, pred_pos = p.case.label in pos, predicted in pos
            tp += gold_pos and pred_pos
            fp += pred_pos and not gold_pos
            fn += gold_pos and not pred_pos
        return Scores(tp, fp, fn, len(chosen))

    def f1(self, split: str = ALL, lang: str | None = None) -> float:
        """F1 of the `relevant` tier."""
        return self.scores(split, lang).f1

    def confusion(self, split: str = ALL) -> dict[str, dict[str, int]]:
        """gold tier -> predicted tier -> count."""
        counts = Counter((p.case.label, p.tier) for p in self._select(split, None))
        return {g: {t: counts[(g, t)] for t in TIERS} for g in TIERS}

    def errors(self, split: str = ALL) -> list[Prediction]:
        return [p for p in self._select(split, None) if p.tier != p.case.label]

    @property
    def has_baseline(self) -> bool:
        return any(p.baseline is not None for p in self.predictions)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lexicon_version": self.lexicon_version, "splits": {}}
        for split in self.splits:
            rows = {}
            for lang in [*self.languages, None]:
                s = self.scores(split, lang)
                row: dict[str, Any] = {
                    "n": s.n,
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "mention_plus_f1": round(self.scores(split, lang, positive="mention+").f1, 4),
                }
                if self.has_baseline:
                    row["baseline_f1"] = round(self.scores(split, lang, baseline=True).f1, 4)
                rows[lang or "overall"] = row
            out["splits"][split] = {
                "relevant": rows,
                "confusion": self.confusion(split),
                "errors": [
                    {
                        "id": p.case.id,
                        "label": p.case.label,
                        "predicted": p.tier,
                        "relevance": p.relevance,
                    }
                    for p in self.errors(split)
                ],
            }
        return out

    def format(self, show_errors: bool = False) -> str:
        """A terminal table: per split and language, then the confusion between tiers."""
        lines = []
        if self.lexicon_version:
            lines.append(f"lexicon {self.lexicon_version}; `relevant` tier, P/R/F1 per language")
        head = f"{'split':<8}{'lang':<9}{'n':>4}{'P':>7}{'R':>7}{'F1':>7}{'ment+F1':>9}"
        if self.has_baseline:
            head += f"{'regex F1':>10}"
        for split in self.splits:
            lines += ["", head]
            for lang in [*self.languages, None]:
                s = self.scores(split, lang)
                if s.n == 0:
                    continue
                m = self.scores(split, lang, positive="mention+")
                row = (
                    f"{split:<8}{lang or 'OVERALL':<9}{s.n:>4}{s.precision:>7.3f}"
                    f"{s.recall:>7.3f}{s.f1:>7.3f}{m.f1:>9.3f}"
                )
                if self.has_baseline:
                    row += f"{self.scores(split, lang, baseline=True).f1:>10.3f}"
                lines.append(row)
        for split in self.splits:
            matrix = self.confusion(split)
            lines += ["", f"confusion, {split} (rows: label, columns: predicted)"]
            lines.append(f"{'':<10}" + "".join(f"{t:>10}" for t in TIERS))
            for gold in TIERS:
                lines.append(f"{gold:<10}" + "".join(f"{matrix[gold][t]:>10}" for t in TIERS))
        if show_errors:
            lines += ["", "misclassified:"]
            for p in self.errors(ALL):
                lines.append(
                    f"  {p.case.id:<24} {p.case.split:<8} label {p.case.label:<9} "
                    f"got {p.tier:<9} {p.relevance:.2f}  {p.case.note}"
                )
        return "\n".join(lines)


def load_eval_set(path: Path) -> list[EvalCase]:
    """Read a JSONL evaluation set; a bad line raises ValueError naming it."""
    return parse_eval_set(Path(path).read_text(encoding="utf-8"), str(path))


def parse_eval_set(text: str, name: str) -> list[EvalCase]:
    """The cases of a JSONL evaluation set; a bad line raises ValueError naming `name` and
    the line."""
    cases = []
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON may hold U+2028
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            label = raw["label"]
            if label not in TIERS:
                raise ValueError(f"label {label!r} is not one of {TIERS}")
            split = raw.get("split", "tune")
            if not isinstance(split, str) or not split.strip() or split == ALL:
                raise ValueError(f"split {split!r} must be a name other than {ALL!r}")
            cases.append(
                EvalCase(
                    id=str(raw["id"]),
                    lang=str(raw["lang"]),
                    title=str(raw.get("title") or ""),
                    text=str(raw["text"]),
                    label=label,
                    split=split,
                    note=str(raw.get("note", "")),
                    hard=bool(raw.get("hard", False)),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            problem = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{name}:{number}: {problem}") from exc
    return cases


class KeywordBaseline:
    """The naive alternative: relevant when any name or abbreviation appears anywhere."""

    def __init__(self, lexicon: Lexicon) -> None:
        patterns = set()
        for concept in lexicon.concepts:
            if concept.role not in _BASELINE_CONCEPTS or not concept.id.startswith(lexicon.topic):
                continue
            for term in concept.terms:
                words = [w.rstrip("*") for w in term.text.split() if not w.startswith("[")]
                patterns.add(r"\s+".join(re.escape(w) for w in words))
        self._regex = re.compile("|".join(sorted(patterns, key=len, reverse=True)), re.IGNORECASE)

    def classify(self, title: str | None, text: str, language: str | None = None) -> Classification:
        found = self._regex.search(f"{title or ''}\n{text}")
        return Classification(1.0 if found else 0.0, "relevant" if found else "none")


def evaluate(
    cases: list[EvalCase], classifier: Classifier, baseline: Classifier | None = None
) -> EvalReport:
    """Classify every case; with a LexiconClassifier the keyword baseline is scored too."""
    if baseline is None and isinstance(classifier, LexiconClassifier):
        baseline = KeywordBaseline(classifier.lexicon)
    predictions = []
    for case in cases:
        result = classifier.classify(case.title, case.text, case.lang)
        base = baseline.classify(case.title, case.text, case.lang).tier if baseline else None
        predictions.append(Prediction(case, result.tier, result.relevance, base))
    return EvalReport(
        predictions,
        lexicon_version=getattr(classifier, "version", ""),
        languages=sorted({c.lang for c in cases}),
    )
