"""Precision and recall from analyst feedback, and the marked items as evaluation cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.classify.evaluate import load_eval_set
from monitor.fingerprint import content_hash
from monitor.report import build_report, eval_case, report_from_marks, write_eval
from monitor.store import marks, queries
from monitor.store.models import Item
from monitor.store.queries import ItemQuery
from monitor.store.repo import Store
from tests.test_cli import cli, config


def item(n: int, lang: str | None, source: str, tier: str | None) -> Item:
    text = f"article {n} in {lang} from {source}"
    return Item(
        id=n,
        url=f"https://{source}.example/{n}",
        source=source,
        title=f"title {n}",
        text=text,
        content_hash=content_hash(text),
        language=lang,
        tier=tier,
        relevance=None if tier is None else 0.9 if tier == "relevant" else 0.2,
    )


# (language, source, classifier tier, analyst label)
KNOWN = [
    ("ru", "a", "relevant", "relevant"),  # TP
    ("ru", "a", "relevant", "relevant"),  # TP
    ("ru", "b", "relevant", "not_relevant"),  # FP
    ("ru", "b", "mention", "relevant"),  # FN
    ("ru", "b", "none", "not_relevant"),  # TN
    ("kk", "a", "relevant", "relevant"),  # TP
    ("kk", "a", "none", "relevant"),  # FN
    ("kk", "a", None, "relevant"),  # FN: never classified
    ("ar", "c", "mention", "not_relevant"),  # TN
    ("ar", "c", "none", "not_relevant"),  # TN
]


def known_pairs() -> list[tuple[Item, str]]:
    return [(item(n, lang, src, tier), label) for n, (lang, src, tier, label) in enumerate(KNOWN)]


def test_report_numbers_on_a_known_set() -> None:
    report = build_report(known_pairs())
    overall = report.overall
    assert (overall.scores.tp, overall.scores.fp, overall.scores.fn, overall.scores.n) == (
        3,
        1,
        3,
        10,
    )
    assert overall.precision == pytest.approx(0.75)
    assert overall.recall == pytest.approx(0.5)
    assert overall.agree == 6
    langs = {r.key: r for r in report.by_language}
    assert list(langs) == ["ar", "kk", "ru"]
    assert langs["ru"].precision == pytest.approx(2 / 3)
    assert langs["ru"].recall == pytest.approx(2 / 3)
    assert langs["kk"].precision == pytest.approx(1.0)
    assert langs["kk"].recall == pytest.approx(1 / 3)
    # Nothing called relevant and nothing marked relevant: both undefined, not 100%.
    assert langs["ar"].precision is None and langs["ar"].recall is None
    sources = {r.key: r.to_dict() for r in report.by_source}
    assert sources["a"] == {
        "n": 5, "tp": 3, "fp": 0, "fn": 2, "agree": 3, "precision": 1.0, "recall": 0.6,
    }  # fmt: skip
    assert sources["b"]["precision"] == 0.0 and sources["b"]["recall"] == 0.0
    text = report.format()
    assert "overall" in text and "0.750" in text and "0.500" in text


def test_empty_report_says_how_to_start() -> None:
    assert "no feedback yet" in build_report([]).format()


def test_eval_cases_load_as_an_eval_set(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        assert write_eval(known_pairs(), fh) == len(KNOWN)
    cases = load_eval_set(path)
    assert [c.label for c in cases] == [
        "relevant" if label == "relevant" else "none" for *_, label in KNOWN
    ]
    assert {c.split for c in cases} == {"heldout"}
    # The classifier's false positive is kept as a hard negative.
    assert [c.hard for c in cases].count(True) == 1 and cases[2].hard
    assert cases[7].lang == "kk" and "classifier: unclassified" in cases[7].note
    raw = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert list(raw) == ["id", "lang", "title", "text", "label", "split", "note"]
    assert raw["id"].startswith("ru-fb-")


def test_eval_case_without_language() -> None:
    case = eval_case(item(1, None, "x", "relevant"), "relevant", "tune")
    assert case["lang"] == "und" and case["split"] == "tune"


def test_feedback_and_queries_on_each_backend(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        stored = []
        for pair in known_pairs():
            it = pair[0]
            it.id = None
            saved, _ = store.add_item(it, [it.url])
            stored.append((saved, pair[1]))
        for it, label in stored:
            assert marks.set_feedback(store, it.id or 0, label, "aigerim")
        assert not marks.set_feedback(store, 9999, "relevant", "aigerim")
        with pytest.raises(ValueError):
            marks.set_feedback(store, stored[0][0].id or 0, "maybe", "aigerim")
        report = report_from_marks(marks.marks(store))
        assert report.overall.precision == pytest.approx(0.75)
        # Changing a mark replaces it: one row per item and analyst.
        marks.set_feedback(store, stored[0][0].id or 0, "not_relevant", "aigerim")
        assert len(marks.labelled_items(store)) == len(KNOWN)
        assert build_report(marks.labelled_items(store)).overall.precision == pytest.approx(0.5)
        # A second analyst disagrees on one item: the latest mark is the item's label,
        # and each analyst is scored on their own marks.
        marks.set_feedback(store, stored[0][0].id or 0, "relevant", "dmitri")
        report = report_from_marks(marks.marks(store))
        assert report.overall.scores.n == len(KNOWN)
        assert report.overall.precision == pytest.approx(0.75)
        analysts = {r.key: r for r in report.by_analyst}
        assert analysts["aigerim"].scores.n == len(KNOWN)
        assert analysts["aigerim"].precision == pytest.approx(0.5)
        assert analysts["dmitri"].scores.n == 1 and analysts["dmitri"].precision == 1.0
        assert [m.analyst for m in marks.marks(store)][-1] == "dmitri"
        # Filters and text search run on this backend too.
        page = queries.list_stories(store, ItemQuery(languages=("ru",), text="ARTICLE", per_page=2))
        assert page.total == 5 and len(page.stories) == 2 and page.pages == 3
        assert queries.facets(store) == (["ar", "kk", "ru"], ["a", "b", "c"])
        stories = queries.relevant_stories(store, ItemQuery())
        assert len(stories) == 4 and all(i.tier == "relevant" for i, _ in stories)
        activity = {a.name: a for a in queries.source_activity(store, ["a", "z"], days=7)}
        assert activity["a"].items == 5 and sum(n for _, n in activity["a"].per_day) == 5
        assert activity["z"].items == 0 and activity["z"].state is None
    finally:
        store.close()


def test_report_command_prints_and_exports(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    for it, label in known_pairs():
        it.id = None
        saved, _ = store.add_item(it, [it.url])
        marks.set_feedback(store, saved.id or 0, label, "aigerim")
    marks.set_feedback(store, 5, "not_relevant", "dmitri")  # agrees: the figures stay
    store.close()
    out = tmp_path / "eval.jsonl"
    result = cli("--config", str(cfg), "report", "--format", "json", "--export", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["overall"]["precision"] == 0.75 and data["overall"]["recall"] == 0.5
    assert data["languages"]["ar"]["precision"] is None
    assert set(data["sources"]) == {"a", "b", "c"}
    assert data["analysts"]["dmitri"]["n"] == 1 and data["analysts"]["aigerim"]["n"] == 10
    assert len(load_eval_set(out)) == len(KNOWN)
    assert f"wrote {len(KNOWN)} evaluation cases" in result.stderr
    table = cli("--config", str(cfg), "report")
    assert table.returncode == 0 and "overall" in table.stdout
    assert "analyst   dmitri" in table.stdout
    bad = cli("--config", str(cfg), "report", "--split", "train")
    assert bad.returncode == 2
