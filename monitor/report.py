"""How well the classifier does on live items, measured by the analysts' feedback.

A `relevant` mark is a positive, `not_relevant` a negative; the classifier's prediction is
positive when it put the item in the `relevant` tier (the one that raises alerts). When
several analysts marked one item, the latest mark is its label overall and per language and
source; the breakdown by analyst scores each analyst's own marks. The marked items also
export as evaluation cases in the shape of tests/data/eval/*.jsonl, so what analysts
correct today becomes part of the classifier's test set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from monitor.classify.evaluate import Scores
from monitor.display import item_title
from monitor.store.marks import Mark, verdicts
from monitor.store.models import Item

UNKNOWN_LANGUAGE = "und"


def precision(s: Scores) -> float | None:
    """None when the classifier called nothing relevant: there is nothing to be precise about."""
    return s.tp / (s.tp + s.fp) if s.tp + s.fp else None


def recall(s: Scores) -> float | None:
    """None when no marked item is relevant: there is nothing to recall."""
    return s.tp / (s.tp + s.fn) if s.tp + s.fn else None


@dataclass(frozen=True)
class ReportRow:
    key: str
    scores: Scores
    agree: int  # marked items where classifier and analyst say the same

    @property
    def precision(self) -> float | None:
        return precision(self.scores)

    @property
    def recall(self) -> float | None:
        return recall(self.scores)

    def to_dict(self) -> dict[str, Any]:
        s = self.scores
        p, r = self.precision, self.recall
        return {
            "n": s.n,
            "tp": s.tp,
            "fp": s.fp,
            "fn": s.fn,
            "agree": self.agree,
            "precision": None if p is None else round(p, 4),
            "recall": None if r is None else round(r, 4),
        }


@dataclass(frozen=True)
class FeedbackReport:
    overall: ReportRow
    by_language: list[ReportRow]
    by_source: list[ReportRow]
    by_analyst: list[ReportRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "languages": {r.key: r.to_dict() for r in self.by_language},
            "sources": {r.key: r.to_dict() for r in self.by_source},
            "analysts": {r.key: r.to_dict() for r in self.by_analyst},
        }

    def format(self) -> str:
        """A terminal table: overall, then per language, then per source."""
        if self.overall.scores.n == 0:
            return "no feedback yet: mark items relevant or not relevant on the dashboard"
        head = f"{'':<10}{'':<24}{'n':>5}{'TP':>5}{'FP':>5}{'FN':>5}{'P':>8}{'R':>8}"
        lines = [head, _line("overall", "", self.overall)]
        lines += [_line("language", r.key, r) for r in self.by_language]
        lines += [_line("source", r.key, r) for r in self.by_source]
        lines += [_line("analyst", r.key, r) for r in self.by_analyst]
        return "\n".join(lines)


def _line(kind: str, key: str, r: ReportRow) -> str:
    s = r.scores
    return (
        f"{kind:<10}{key[:23]:<24}{s.n:>5}{s.tp:>5}{s.fp:>5}{s.fn:>5}"
        f"{_pct(r.precision):>8}{_pct(r.recall):>8}"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row(key: str, pairs: list[tuple[Item, str]]) -> ReportRow:
    tp = fp = fn = agree = 0
    for item, label in pairs:
        predicted, gold = item.tier == "relevant", label == "relevant"
        tp += predicted and gold
        fp += predicted and not gold
        fn += gold and not predicted
        agree += predicted == gold
    return ReportRow(key, Scores(tp, fp, fn, len(pairs)), agree)


def build_report(
    pairs: Iterable[tuple[Item, str]], by_analyst: Iterable[tuple[Item, str, str]] = ()
) -> FeedbackReport:
    """Precision and recall of the `relevant` tier, overall and per language and source
    from `pairs` (one label per item), and per analyst from (item, label, analyst) marks."""
    pairs = list(pairs)
    analysts: dict[str, list[tuple[Item, str]]] = {}
    for item, label, analyst in by_analyst:
        analysts.setdefault(analyst, []).append((item, label))
    by_lang: dict[str, list[tuple[Item, str]]] = {}
    by_source: dict[str, list[tuple[Item, str]]] = {}
    for item, label in pairs:
        by_lang.setdefault(item.language or UNKNOWN_LANGUAGE, []).append((item, label))
        by_source.setdefault(item.source, []).append((item, label))
    return FeedbackReport(
        overall=_row("overall", pairs),
        by_language=[_row(k, v) for k, v in sorted(by_lang.items())],
        by_source=[_row(k, v) for k, v in sorted(by_source.items())],
        by_analyst=[_row(k, v) for k, v in sorted(analysts.items())],
    )


def report_from_marks(marks: Sequence[Mark]) -> FeedbackReport:
    """The report of every analyst's marks (see the module's note on several marks)."""
    return build_report(verdicts(marks), [(m.item, m.label, m.analyst) for m in marks])


def eval_case(item: Item, label: str, split: str = "heldout") -> dict[str, object]:
    """One marked item as an evaluation case (see monitor.classify.evaluate.load_eval_set).

    The analyst's mark is binary, so `not_relevant` becomes the `none` tier; an item the
    classifier had called relevant is flagged a hard negative.
    """
    lang = item.language or UNKNOWN_LANGUAGE
    said = item.tier or "unclassified"
    score = "" if item.relevance is None else f" {item.relevance:.2f}"
    case: dict[str, object] = {
        "id": f"{lang}-fb-{item.content_hash}",
        "lang": lang,
        "title": item_title(item.title, item.text),
        "text": item.text,
        "label": "relevant" if label == "relevant" else "none",
        "split": split,
        "note": f"analyst feedback on {item.source} item {item.id}; classifier: {said}{score}",
    }
    if label != "relevant" and item.tier == "relevant":
        case["hard"] = True
    return case


def write_eval(pairs: Iterable[tuple[Item, str]], out: IO[str], split: str = "heldout") -> int:
    """Write the marked items as JSONL evaluation cases; returns how many."""
    n = 0
    for item, label in pairs:
        out.write(json.dumps(eval_case(item, label, split), ensure_ascii=False) + "\n")
        n += 1
    return n
