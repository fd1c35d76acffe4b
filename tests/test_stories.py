"""Republished copies of one story group together; separate reports of one event do not."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import select

from monitor.articles import Document, StoreOptions, ToStore
from monitor.config import Settings, settings_from_dict
from monitor.runtime import Runtime
from monitor.services.items import story_records
from monitor.store.models import Alert, Item
from tests.pages import seed_articles

# A second, independent report of the same CFM session as seed 001 (Abidjan, 2017), written
# for this test: same event, same people, its own words.
OWN_REPORT_001 = (
    "В Абиджане завершилась 44-я сессия Совета министров иностранных дел ОИС",
    "Делегацию Кыргызстана на встрече глав МИД исламских стран возглавила первый замминистра "
    "Динара Кемелова. Она провела переговоры с генсеком ОИС Юсефом Аль-Усеймином. Стороны "
    "договорились расширять гуманитарные программы в Центральной Азии. Кемелова также "
    "обсудила с коллегами из Египта и Катара торговлю и авиасообщение. Наблюдатели ОИС "
    "приглашены на президентские выборы в Кыргызстане осенью.",
)


def settings(tmp_path: Path) -> Settings:
    raw = {
        "storage": {"url": f"sqlite:///{tmp_path / 'm.db'}", "archive_dir": "archive"},
        "alert_window": "36500d",
        "sources": [
            {"name": n, "url": f"https://{n}.example/rss"} for n in ("mfa", "agency-a", "agency-b")
        ],
        "alerts": [{"name": "desk", "kind": "webhook", "url": "http://127.0.0.1:9/h"}],
    }
    return settings_from_dict(raw, tmp_path / "monitor.toml")


def variants(paragraphs: tuple[str, ...]) -> list[str]:
    """How agencies reprint a release: another title line, an added first sentence, the
    last paragraph dropped, their own furniture."""
    body = list(paragraphs)
    return [
        "\n".join(body),
        "Об этом сообщает пресс-служба МИД.\n" + "\n".join(body[:-1]),
        "\n".join(body[1:]) + "\nПодписывайтесь на наш канал в Telegram.",
    ]


def store_all(cfg: Settings, docs: list[tuple[str, str, str]]) -> list[Item]:
    async def go() -> list[Item]:
        async with Runtime(cfg) as rt:
            for source_name, title, text in docs:
                source = cfg.source(source_name)
                doc = Document(
                    url=f"https://{source_name}.example/{abs(hash(text))}",
                    source=source,
                    text=text,
                    title=title,
                    published=None,
                    language="ru",
                )
                rt.pipeline.articles.store_documents([ToStore(doc, StoreOptions())])
            with rt.store.session() as s:
                return list(s.exec(select(Item).order_by(Item.id)))  # type: ignore[arg-type]

    return asyncio.run(go())


def test_reprints_of_each_seed_join_one_story_and_alert_once(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    docs = []
    seeds = [s for s in seed_articles() if len(s.paragraphs) >= 3]
    for seed in seeds:
        for outlet, text in zip(
            ("mfa", "agency-a", "agency-b"), variants(seed.paragraphs), strict=True
        ):
            docs.append((outlet, f"{seed.title} ({outlet})", text))
    items = store_all(cfg, docs)
    assert len(items) == 3 * len(seeds)
    stories: dict[int | None, list[Item]] = {}
    for item in items:
        stories.setdefault(item.story_id, []).append(item)
    assert len(stories) == len(seeds)
    for copies in stories.values():
        assert {c.source for c in copies} == {"mfa", "agency-a", "agency-b"}
        first = copies[0]
        assert first.duplicate_of is None or first.duplicate_of == first.id
        assert all(c.duplicate_of == first.id for c in copies[1:])

    async def alerts() -> list[Alert]:
        async with Runtime(cfg) as rt:
            with rt.store.session() as s:
                return list(s.exec(select(Alert)))

    rows = asyncio.run(alerts())
    assert sorted(r.story_key for r in rows) == sorted(str(k) for k in stories)  # one each

    async def rows_by_story() -> list[dict[str, object]]:
        async with Runtime(cfg) as rt:
            return list(story_records(rt.store, rt.store.items()))

    table = asyncio.run(rows_by_story())
    assert len(table) == len(seeds)
    assert all(r["copies"] == 3 for r in table)


def test_two_outlets_own_reports_of_one_meeting_stay_apart(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    seed = next(s for s in seed_articles() if s.file.startswith("001"))
    items = store_all(
        cfg,
        [
            ("mfa", seed.title, "\n".join(seed.paragraphs)),
            ("agency-a", OWN_REPORT_001[0], OWN_REPORT_001[1]),
        ],
    )
    assert len(items) == 2
    assert items[0].story_id != items[1].story_id
    assert items[1].duplicate_of is None


def test_minhash_equals_datasketch_value_for_value() -> None:
    """Signatures already stored stay comparable: ours are datasketch 2's, exactly."""
    import json
    import zlib

    import numpy as np
    from datasketch import MinHash

    from monitor.fingerprint import NUM_PERM, shingles, signature

    eval_file = Path(__file__).parent / "data" / "eval" / "oic_eval.jsonl"
    texts = [json.loads(line)["text"] for line in eval_file.read_text("utf-8").splitlines()]
    texts += [s.title + " " + " ".join(s.paragraphs) for s in seed_articles()]
    texts += ["", "Один.", "one two three", "one two three four five"]
    for text in texts:
        reference = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32, scheme="affine32")
        reference.update_batch(list(shingles(text)))
        assert np.array_equal(signature(text), reference.hashvalues.astype(np.uint32)), text


def test_content_hashes_stay_those_already_stored() -> None:
    """Items are named and deduplicated by their hash: every whitespace character that the
    regex \\s knows still collapses as it did, in any run, and both fingerprints of one
    text agree with their one-at-a-time forms."""
    import re
    import sys
    import unicodedata

    import numpy as np

    from monitor.fingerprint import content_hash, hash_and_signature, normalize_text, signature

    def as_before(text: str) -> str:
        return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))]
    assert "\u2028" in spaces and "\x1c" in spaces and "\u200b" not in spaces
    for space in spaces:
        text = f"{space}ОИС{space}{space}e\u0301 و{space}"
        assert normalize_text(text) == as_before(text) == "ОИС é و"
    assert normalize_text("a\u200bb  c") == "a\u200bb c"  # a zero-width space is no space
    seed = next(iter(seed_articles()))
    text = "\n\n".join([seed.title, *seed.paragraphs]).replace(" ", "\u00a0 ", 3)
    digest, sig = hash_and_signature(text)
    assert digest == content_hash(text) == content_hash(as_before(text))
    assert np.array_equal(sig, signature(text))


def test_a_batch_waiting_on_the_database_does_not_hold_up_the_event_loop(
    tmp_path: Path,
) -> None:
    """Articles are written off the event loop: while one batch waits for a lock another
    process holds, the daemon's other work (here, what releases that lock) goes on."""
    import sqlite3
    import threading

    cfg = settings(tmp_path)
    source = cfg.source("mfa")
    text = "\n".join(next(s for s in seed_articles() if len(s.paragraphs) >= 3).paragraphs)
    doc = Document(url="https://mfa.example/1", source=source, text=text, title="Визит",
                   published=None, language="ru")  # fmt: skip
    loop_ran = threading.Event()

    def other_process_holds_the_write_lock(locked: threading.Event) -> None:
        other = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        loop_ran.wait(60)  # released once the event loop has run on meanwhile
        other.execute("ROLLBACK")
        other.close()

    async def go() -> tuple[str, int]:
        async with Runtime(cfg) as rt:
            locked = threading.Event()
            holder = threading.Thread(target=other_process_holds_the_write_lock, args=(locked,))
            holder.start()
            await asyncio.to_thread(locked.wait)
            storing = asyncio.create_task(rt.pipeline.articles._store(ToStore(doc, StoreOptions())))
            await asyncio.sleep(0.5)  # the batch is given to the store by now, and waits
            loop_ran.set()
            outcome = await storing
            holder.join()
            return outcome.status, rt.store.count_items()

    assert asyncio.run(go()) == ("stored", 1)
