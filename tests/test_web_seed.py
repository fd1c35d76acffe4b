"""A small, real database for the web tests: eval-set articles run through the classifier.

Russian, Kazakh and Arabic articles from tests/data/eval, classified by the shipped lexicon
and stored with Store.add_item (with their archive files); one story carried by two outlets,
one alert sent, source states with a success and a failure, and a little analyst feedback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.classify import classification_to_dict, load_classifier
from monitor.config import SHARED_ANALYST, Settings, settings_from_dict
from monitor.fingerprint import content_hash
from monitor.store import marks
from monitor.store.archive import write_text_file
from monitor.store.models import Alert, Item, utcnow
from monitor.store.repo import Store

EVAL_SET = Path(__file__).resolve().parent / "data" / "eval" / "oic_eval.jsonl"
SOURCES = {"ru": "kazinform-ru", "kk": "akorda-kk", "ar": "oic-ar"}
PER_LABEL = {"relevant": 3, "mention": 2, "none": 2}
PAGE_SIZE = 5


@dataclass
class Seeded:
    store: Store
    settings: Settings
    items: list[Item] = field(default_factory=list)
    story_copy: Item | None = None  # the second outlet's copy of the first story

    def by(self, **attrs: object) -> list[Item]:
        return [i for i in self.items if all(getattr(i, k) == v for k, v in attrs.items())]


def settings_for(
    tmp_path: Path, url: str, page_size: int = PAGE_SIZE, users: Sequence[dict[str, str]] = ()
) -> Settings:
    raw = {
        "storage": {"url": url, "archive_dir": str(tmp_path / "archive")},
        "web": {"page_size": page_size, "users": list(users)},
        "sources": [
            {"name": name, "url": f"https://{name}.example/rss", "language": lang}
            for lang, name in SOURCES.items()
        ]
        + [{"name": "mfa-tm", "url": "https://mfa-tm.example/rss", "enabled": False}],
    }
    return settings_from_dict(raw, tmp_path / "monitor.toml")


def seed(tmp_path: Path, url: str | None = None, page_size: int = PAGE_SIZE) -> Seeded:
    url = url or f"sqlite:///{tmp_path / 'web.db'}"
    store = Store.open(url)
    out = Seeded(store, settings_for(tmp_path, url, page_size))
    classifier = load_classifier()
    taken = {(lang, label): 0 for lang in SOURCES for label in PER_LABEL}
    cases = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]
    base = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    now = utcnow()
    for case in cases:
        key = (case["lang"], case["label"])
        if key not in taken or taken[key] >= PER_LABEL[case["label"]]:
            continue
        taken[key] += 1
        n = len(out.items)
        result = classification_to_dict(classifier.classify(case["title"], case["text"], key[0]))
        text = f"{case['title']}\n\n{case['text']}"
        item = Item(
            url=f"https://{SOURCES[key[0]]}.example/news/{case['id']}",
            source=SOURCES[key[0]],
            title=case["title"],
            text=text,
            content_hash=content_hash(text),
            language=key[0],
            published=base + timedelta(days=n),
            fetched_at=now - timedelta(days=n % 9, hours=1),
            relevance=float(result["relevance"]),  # type: ignore[arg-type]
            tier=str(result["tier"]),
            evidence=result["evidence"],  # type: ignore[arg-type]
            classifier_version=str(result["lexicon_version"]),
        )
        alerts = []
        if not out.items:  # the first story has been alerted
            alerts = [
                Alert(channel="analysts", story_key="", status="sent", attempts=1, sent_at=now)
            ]
        stored, created = store.add_item(item, [item.url], alerts)
        assert created
        out.items.append(stored)
    # Their archive files, as the pipeline writes them; the copy below has none.
    archive = Path(out.settings.storage.archive_dir)
    store.set_archive_files({i.id or 0: write_text_file(archive, i).name for i in out.items})
    first = out.items[0]
    copy_text = first.text + "\n\nSource: the first outlet."
    other = next(name for name in SOURCES.values() if name != first.source)
    copy = Item(
        url=f"https://{other}.example/news/copy-of-first",
        source=other,
        title=first.title,
        text=copy_text,
        content_hash=content_hash(copy_text),
        language=first.language,
        published=first.published,
        fetched_at=now,
        relevance=first.relevance,
        tier=first.tier,
        evidence=first.evidence,
        story_id=first.story_id,
        duplicate_of=first.id,
    )
    out.story_copy, _ = store.add_item(copy, [copy.url])
    out.items.append(out.story_copy)

    store.source_state("kazinform-ru")
    store.record_poll("kazinform-ru", error=None)
    store.source_state("oic-ar")
    store.record_poll("oic-ar", error="HTTP 503 from https://oic-ar.example/rss")
    return out


def add_feedback(seeded: Seeded) -> None:
    """One analyst agreement and one disagreement per language."""
    for lang in SOURCES:
        relevant = seeded.by(language=lang, tier="relevant")
        none = seeded.by(language=lang, tier="none")
        marks.set_feedback(seeded.store, relevant[0].id or 0, "relevant", SHARED_ANALYST)
        marks.set_feedback(seeded.store, none[0].id or 0, "relevant", SHARED_ANALYST)


def test_seed_has_each_language_and_tier(tmp_path: Path) -> None:
    seeded = seed(tmp_path)
    for lang in SOURCES:
        assert seeded.by(language=lang, tier="relevant"), lang
        assert seeded.by(language=lang, tier="none"), lang
        assert all(i.evidence for i in seeded.by(language=lang, tier="relevant"))
    assert seeded.store.count_items() == len(seeded.items) == 22
