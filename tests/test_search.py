"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector): case folding in the
languages the monitor reads, phrases, OR, prefixes, exclusions and multi-value filters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, text

from monitor.fingerprint import content_hash
from monitor.store import search
from monitor.store.db import alembic_config, make_engine
from monitor.store.models import Item, utcnow
from monitor.store.queries import ItemQuery, iter_items
from monitor.store.repo import Store

ARTICLES = {
    "ru": (
        "mfa-ru",
        "Заседание Организации исламского сотрудничества",
        "Министр принял участие в заседании Совета министров иностранных дел ОИС в Джидде.",
    ),
    "kk": (
        "akorda-kk",
        "Ислам ынтымақтастығы ұйымының саммиті",
        "ИЫҰ Бас хатшысы Астанада Мемлекет басшысымен кездесті. Қазақстан ұйымға 1995 жылы кірді.",
    ),
    "az": (
        "mfa-az",
        "İƏT-in Xarici İşlər Nazirləri Şurasının iclası",
        "İslam Əməkdaşlıq Təşkilatının (İƏT) nazirləri Bakıda görüşdü. IŞIQ prospekti bağlandı.",
    ),
    "ar": (
        "oic-ar",
        "اجتماع منظمة التعاون الإسلامي",
        "عقد مجلس وزراء الخارجية لمنظمة التعاون الإسلامي دورته في جدة برئاسة الأمين العام.",
    ),
    "en": (
        "oic-en",
        "OIC Council of Foreign Ministers",
        "The Organisation of Islamic Cooperation met in Jeddah; the OIC Secretary General spoke.",
    ),
    "tr": (
        "aa-tr",
        "İslam İşbirliği Teşkilatı toplantısı",
        "Dışişleri Bakanı, İİT Genel Sekreteri ile Cidde'de görüştü. ISPARTA'dan heyet katıldı.",
    ),
}


def store_articles(store: Store) -> dict[str, int]:
    ids = {}
    for lang, (source, title, body) in ARTICLES.items():
        text_ = f"{title}\n\n{body}"
        item = Item(
            url=f"https://{source}.example/1",
            source=source,
            title=title,
            text=text_,
            content_hash=content_hash(text_),
            language=lang,
            tier="relevant",
        )
        stored, _ = store.add_item(item, [item.url])
        assert stored.id is not None
        ids[lang] = stored.id
    return ids


@pytest.fixture
def stored(db_url: str) -> Iterator[tuple[Store, dict[str, int]]]:
    store = Store.open(db_url)
    try:
        yield store, store_articles(store)
    finally:
        store.close()


def found(store: Store, q: str, **filters: tuple[str, ...]) -> set[str]:
    items = iter_items(store, ItemQuery(text=q, **filters))  # type: ignore[arg-type]
    return {i.language or "" for i in items}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Russian: any case, any word form of the index's words, prefixes.
        ("сотрудничества", {"ru"}),
        ("СОТРУДНИЧЕСТВА", {"ru"}),
        ("сотруд*", {"ru"}),
        ("ОИС", {"ru"}),
        # Kazakh: its own letters in either case, and as sites without them write them.
        ("ЫНТЫМАҚТАСТЫҒЫ", {"kk"}),
        ("ынтымактастыгы", {"kk"}),
        ("иыұ", {"kk"}),
        ("Қазақстан", {"kk"}),
        ("ұйым*", {"kk"}),
        # Azerbaijani and Turkish: İ, I, ı and i are one letter; Ə as ə.
        ("iət", {"az"}),
        ("İƏT", {"az"}),
        ("ışıq", {"az"}),
        ("isparta", {"tr"}),
        ("iit", {"tr"}),
        ("işbirliği", {"tr"}),
        ("ISBIRLIGI", {"tr"}),
        # Arabic: with or without hamza and harakat.
        ("الاسلامي", {"ar"}),
        ("مُنَظَّمَةِ", {"ar"}),
        ("لمنظمة", {"ar"}),  # the article glued on: only this form is in the body
        ("منظمات", set()),
        ("مَجْلِس", {"ar"}),
        ('"منظمة التعاون"', {"ar"}),
        # Phrases keep their order; OR gives alternatives; - excludes.
        ('"Organisation of Islamic Cooperation"', {"en"}),
        ('"Cooperation Islamic"', set()),
        ("OIC OR ОИС", {"en", "ru"}),
        ("OIC OR ОИС OR İƏT OR ИЫҰ", {"en", "ru", "az", "kk"}),
        ("Jeddah OR Джидде OR جدة OR Cidde", {"en", "ru", "ar", "tr"}),
        ("islam* -iit", {"az", "en"}),
        ("-jeddah -джидде", {"kk", "az", "ar", "tr"}),
        # Words may come in any order and any field; all must match.
        ("министров ОИС", {"ru"}),
        ("министров OIC", set()),
    ],
)
def test_search(stored: tuple[Store, dict[str, int]], query: str, expected: set[str]) -> None:
    store, _ = stored
    assert found(store, query) == expected


def test_filters_take_several_values(stored: tuple[Store, dict[str, int]]) -> None:
    store, _ = stored
    assert found(store, "", languages=("ru", "kk")) == {"ru", "kk"}
    assert found(store, "OIC OR ОИС OR ИЫҰ", languages=("ru", "kk")) == {"ru", "kk"}
    assert found(store, "", sources=("oic-ar", "oic-en", "aa-tr")) == {"ar", "en", "tr"}
    assert found(store, "ОИС", languages=("kk", "ar")) == set()


@pytest.mark.parametrize(
    "query",
    ['"', "*", "OR", "-", "- OR *", 'NEAR("a" "b")', "'; DROP TABLE item; --", "a:* & !b",
     "(ОИС", "\\", "^ОИС", "ОИС AND", "::", '"unclosed phrase'],
)  # fmt: skip
def test_any_text_in_the_box_is_a_search_not_an_error(
    stored: tuple[Store, dict[str, int]], query: str
) -> None:
    store, _ = stored
    assert found(store, query) <= set(ARTICLES)
    assert store.count_items() == len(ARTICLES)


def test_the_index_follows_deletes(stored: tuple[Store, dict[str, int]]) -> None:
    store, ids = stored
    with store.engine.begin() as conn:
        conn.execute(delete(Item).where(Item.id == ids["ru"]))  # type: ignore[arg-type]
        rows = conn.execute(text("SELECT count(*) FROM item_search")).scalar()
    assert rows == len(ARTICLES) - 1
    assert found(store, "ОИС OR OIC") == {"en"}


def test_rebuild_indexes_every_item_once(stored: tuple[Store, dict[str, int]]) -> None:
    store, _ = stored
    with store.engine.begin() as conn:
        assert search.rebuild(conn, batch=2) == len(ARTICLES)
        rows = conn.execute(text("SELECT count(*) FROM item_search")).scalar()
    assert rows == len(ARTICLES)
    assert found(store, "iət") == {"az"}


def test_upgrading_indexes_the_items_already_stored(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0009")
    body = "Заседание ОИС в Баку. İƏT nazirləri."
    with engine.begin() as conn:
        conn.execute(
            insert(Item.__table__),  # type: ignore[attr-defined]
            {
                "url": "https://old.example/1", "source": "old", "title": "Старое", "text": body,
                "content_hash": content_hash(body), "backfilled": False,
                "fetched_at": utcnow(),
            },
        )  # fmt: skip
    engine.dispose()
    store = Store.open(db_url)
    try:
        assert [i.source for i in iter_items(store, ItemQuery(text="iət ОИС"))] == ["old"]
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(text("item_search"))).scalar()
    finally:
        store.close()


def test_a_huge_text_is_stored_and_its_start_searchable(db_url: str, tmp_path: Path) -> None:
    store = Store.open(db_url)
    words = " ".join(f"слово{n} word{n} كلمة{n}" for n in range(60_000))  # ~1.3 MB
    body = "Начало текста про ОИС. " + words
    item = Item(
        url="https://big.example/1", source="big", title="Большой", text=body,
        content_hash=content_hash(body), language="ru",
    )  # fmt: skip
    stored, created = store.add_item(item, [item.url])
    assert created and stored.id
    assert found(store, "ОИС начало") == {"ru"}
    store.close()


def test_folding_query_and_text_is_one_function() -> None:
    assert search.search_text("İƏT-in", "IŞIQ") == search.search_text("iət-İN ışıq")
    assert search.search_text("ҚАЗАҚСТАН") == search.search_text("қазақстан") == "казакстан"
    assert search.search_text("الإسلامي") == search.search_text("الاسلامي")
    q = search.parse_query('"Ислам ынтымақтастығы" OR İİT* -ЕАЭС')
    assert q == search.Query(
        clauses=(
            (
                search.Term(("ислам", "ынтымактастыгы")),
                search.Term(("iit",), prefix=True),
            ),
        ),
        excluded=(search.Term(("еаэс",)),),
    )
