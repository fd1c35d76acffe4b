"""What a source repeats from page to page, and its items' titles, are learnt as its items
are stored and kept out of the texts stored after; stock sentences of its own stay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.articles import Document, StoreOptions, ToStore
from monitor.config import Settings, Source
from monitor.fingerprint import content_hash
from monitor.pipeline import Pipeline
from monitor.runtime import Runtime
from monitor.source_lines import line_key
from monitor.store.models import Item
from monitor.store.repo import Store
from tests.news_site import LINKLESS, Site, fold
from tests.webserver import LocalWeb

SOURCE = Source(name="kt-kaz", url="https://kt.example/kaz/rss/", kind="feed", language="kk")
STOCK = "Кездесу достық ахуалда өтті."
HEADING = "Редакция ұсынады"


def _settings(db_url: str, tmp_path: Path, sources: list[dict[str, str]] | None = None) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": db_url, "archive_dir": str(tmp_path / "archive")},
            "fetch": {"per_host_delay": "1ms", "retries": 0},
            "sources": sources or [],
        }
    )


def _store(pipeline: Pipeline, n: int, title: str, lines: list[str]) -> Item:
    doc = Document(
        url=f"https://kt.example/kaz/news/{n}",
        source=SOURCE,
        text="\n".join(lines),
        title=title,
        published=datetime(2026, 1, n, tzinfo=UTC),
        language="kk",
        urls=(f"https://kt.example/kaz/news/{n}",),
    )
    return _stored(pipeline, doc)


def _stored(pipeline: Pipeline, doc: Document) -> Item:
    [outcome] = pipeline.articles.store_documents([ToStore(doc, StoreOptions(alerts=False))])
    item = pipeline.store.item(outcome.item_id or 0)
    assert outcome.status == "stored" and item is not None
    return item


def _own(n: int) -> str:
    return f"Министр {n}-ші кездесуде ынтымақтастықтың жаңа бағыттарын атап өтті, деп хабарлады."


def test_recurring_lines_and_other_items_titles_go_but_stock_sentences_stay(
    db_url: str, tmp_path: Path
) -> None:
    store = Store.open(db_url)
    pipeline = Pipeline(_settings(db_url, tmp_path), store, None, None)  # type: ignore[arg-type]
    first_title = "Жидда кездесуінде не келісілді?"
    for n in range(1, 4):
        title = first_title if n == 1 else f"Министр {n}-ші кездесуге қатысты"
        item = _store(pipeline, n, title, [_own(n), STOCK, HEADING])
        assert HEADING in item.text.splitlines()  # seen on fewer than three earlier items
    fourth = _store(pipeline, 4, "Төртінші кездесу өтті", [_own(4), STOCK, HEADING, first_title])
    assert fourth.text.splitlines() == [_own(4), STOCK]
    assert fourth.content_hash == content_hash(fourth.text)
    # Memory is per source: another source's pages start from nothing.
    other = Document(
        url="https://other.example/1", source=Source(name="other", url="https://other.example/"),
        text="\n".join([_own(5), HEADING]), title="Басқа сайт", published=None, language="kk",
        urls=("https://other.example/1",),
    )  # fmt: skip
    assert HEADING in _stored(pipeline, other).text
    store.close()


def test_polls_learn_a_sites_lists_that_carry_no_links(web: LocalWeb, tmp_path: Path) -> None:
    """A feed publishing one article at a time; its pages list headlines without links
    (a "most read" list the same on every page, "latest" entries that are the titles of
    items stored before): what the page's structure cannot tell, the memory does."""
    site = Site("kk", "scripted", 3, size=10, templates=LINKLESS)
    settings = _settings(
        f"sqlite:///{tmp_path / 'monitor.db'}",
        tmp_path,
        [{"name": "kk-site", "url": web.url("/rss.xml"), "kind": "feed"}],
    )
    texts: dict[str, str] = {}

    async def run() -> None:
        async with Runtime(settings) as rt:
            for n in range(len(site.articles)):
                page = site.page(n)
                web.add(site.articles[n].path, page.html)
                newest = site.articles[max(0, n - 2) : n + 1]
                entries = "".join(
                    f"<item><title>{a.title}</title><link>{web.url(a.path)}</link></item>"
                    for a in newest
                )
                web.add("/rss.xml", f'<rss version="2.0"><channel>{entries}</channel></rss>')
                report = await rt.pipeline.poll(settings.sources[0])
                assert report.stored == 1, report
                stored = rt.store.item(report.stored_ids[0])
                assert stored is not None
                texts[page.url.removeprefix(site.base)] = stored.text

    asyncio.run(run())
    shown: dict[str, int] = {}  # headline -> items stored so far whose text carried it
    for n, article in enumerate(site.articles):
        page = site.page(n)
        text = texts[article.path]
        assert page.paragraphs_found(text) == len(article.paragraphs), article.path
        earlier = {fold(a.title) for a in site.articles[:n]}
        for line in page.leaked(text):
            headline = fold(line).lstrip("- ")
            assert headline not in earlier, (article.path, line)
            assert shown.get(headline, 0) < 3, (article.path, line)
        for line in {fold(line).lstrip("- ") for line in text.splitlines()}:
            shown[line] = shown.get(line, 0) + 1
    # Without the memory, every page's lists reach its text (trafilatura keeps them).
    kept = listed = 0
    for n, article in enumerate(site.articles):
        lines = {fold(line).lstrip("- ") for line in texts[article.path].splitlines()}
        listed += len(site.page(n).listed)
        kept += sum(fold(h) in lines for h in site.page(n).listed)
    assert kept < listed / 2, (kept, listed)


def test_lines_seen_once_are_forgotten_after_a_while_titles_and_repeats_are_not(
    db_url: str,
) -> None:
    store = Store.open(db_url)
    with store.writing() as w:
        w.learn_lines("s", [1, 2], title=3)
        w.learn_lines("s", [2], title=None)
    with store.writing() as w:
        w.learn_lines("s", [], title=None, forget_before=datetime.now(UTC) + timedelta(days=1))
        assert w.known_lines("s", [1, 2, 3]) == {2: (2, False), 3: (0, True)}
    store.close()


def test_a_batch_stored_in_one_transaction_learns_as_one_stored_at_a_time(
    db_url: str, tmp_path: Path
) -> None:
    """Lines learnt from the first items of a batch are furniture for its later ones, as
    if each item had had its own transaction, and are all counted once it is written."""
    store = Store.open(db_url)
    pipeline = Pipeline(_settings(db_url, tmp_path), store, None, None)  # type: ignore[arg-type]
    first_title = "Жидда кездесуінде не келісілді?"
    docs = [
        Document(
            url=f"https://kt.example/kaz/news/{n}",
            source=SOURCE,
            text="\n".join([_own(n), STOCK, HEADING] + ([first_title] if n == 5 else [])),
            title=first_title if n == 1 else f"Министр {n}-ші кездесуге қатысты",
            published=datetime(2026, 1, n, tzinfo=UTC),
            language="kk",
            urls=(f"https://kt.example/kaz/news/{n}",),
        )
        for n in range(1, 6)
    ]
    outcomes = pipeline.articles.store_documents(
        [ToStore(d, StoreOptions(alerts=False)) for d in docs]
    )
    texts = [store.item(o.item_id or 0).text.splitlines() for o in outcomes]  # type: ignore[union-attr]
    assert [HEADING in t for t in texts] == [True, True, True, False, False]
    assert texts[4] == [_own(5), STOCK]  # another item's title goes too
    with store.writing() as w:
        assert w.known_lines(SOURCE.name, [line_key(HEADING)]) == {line_key(HEADING): (5, False)}
        assert w.known_lines(SOURCE.name, [line_key(first_title)])[line_key(first_title)][1]
    store.close()


def test_lines_learnt_in_a_transaction_are_known_before_it_writes_them(db_url: str) -> None:
    store = Store.open(db_url)
    with store.writing() as w:
        w.learn_lines("s", [1, 2], title=3)
    with store.writing() as w:
        w.learn_lines("s", [2, 4], title=1)
        assert w.known_lines("s", [1, 2, 3, 4, 5]) == {
            1: (1, True), 2: (2, False), 3: (0, True), 4: (1, False),
        }  # fmt: skip
        assert w.known_lines("other", [1, 2]) == {}
    with store.writing() as w:
        assert w.known_lines("s", [1, 2, 3, 4]) == {
            1: (1, True), 2: (2, False), 3: (0, True), 4: (1, False),
        }  # fmt: skip
    store.close()


def test_texts_looked_up_together_each_lose_only_their_own_sources_lines(
    db_url: str, tmp_path: Path
) -> None:
    """The look-ups made before analysis go to the database together when they queue up;
    each text still loses only what its own source is known to repeat."""
    store = Store.open(db_url)
    pipeline = Pipeline(_settings(db_url, tmp_path), store, None, None)  # type: ignore[arg-type]
    for n in range(1, 4):
        _store(pipeline, n, f"Министр {n}-ші кездесуге қатысты", [_own(n), HEADING])
    other = Source(name="other", url="https://other.example/")

    def doc(n: int, source: Source) -> Document:
        return Document(
            url=f"https://{source.name}.example/{n}", source=source,
            text="\n".join([_own(n), STOCK, HEADING]), title=f"Тақырып {n}", published=None,
            language="kk",
        )  # fmt: skip

    async def recall_all() -> list[str]:
        docs = [doc(n, SOURCE if n % 2 else other) for n in range(10, 20)]
        found = await asyncio.gather(*(pipeline.articles._recall(d) for d in docs))
        return [r.text for r in found]

    texts = asyncio.run(recall_all())
    for n, text in zip(range(10, 20), texts, strict=True):
        expected = [_own(n), STOCK] if n % 2 else [_own(n), STOCK, HEADING]
        assert text.splitlines() == expected, n
    pipeline.articles.close()
    store.close()
