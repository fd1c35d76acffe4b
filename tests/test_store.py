from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect
from sqlmodel import SQLModel, select

from monitor.fingerprint import content_hash
from monitor.sources import SitemapRef, Validators
from monitor.store.db import alembic_config, make_engine, newest_revision
from monitor.store.models import Alert, Item
from monitor.store.polls import PollLease
from monitor.store.repo import Store
from monitor.store.search import in_models


def make_item(text: str, url: str, source: str = "s1") -> Item:
    return Item(url=url, source=source, title="t", text=text, content_hash=content_hash(text))


def test_migrations_create_the_schema_and_rerun_cleanly(db_url: str) -> None:
    Store.open(db_url).close()
    store = Store.open(db_url)  # second start: nothing to do, no error
    tables = set(inspect(store.engine).get_table_names())
    assert {"item", "seen_url", "source_state", "alert", "alembic_version"} <= tables


def test_an_up_to_date_database_opens_without_loading_alembic(db_url: str) -> None:
    # The shortcut trusts the numbered file names; Alembic's own head must agree.
    script = ScriptDirectory.from_config(alembic_config(make_engine(db_url)))
    assert script.get_current_head() == newest_revision()
    code = (
        "import sys\nfrom monitor.store.repo import Store\n"
        "Store.open(sys.argv[1]).close()\nprint('alembic' in sys.modules)"
    )
    opened = [
        subprocess.run(
            [sys.executable, "-c", code, db_url], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert opened == ["True", "False"]  # the first open migrates, the second has nothing to do


def test_migrations_build_exactly_the_schema_the_models_declare(db_url: str) -> None:
    with Store.open(db_url) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": in_models})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_equal_text_is_stored_once_and_both_urls_are_remembered(db_url: str) -> None:
    store = Store.open(db_url)
    first, created = store.add_item(make_item("Один текст.", "https://a.kz/1"), ["https://a.kz/1"])
    assert created
    again, created = store.add_item(
        make_item("Один   текст.", "https://b.kz/2"), ["https://b.kz/2"]
    )
    assert not created and again.id == first.id
    assert store.count_items() == 1
    assert store.unseen_urls(["https://a.kz/1", "https://b.kz/2", "https://c.kz/3"]) == [
        "https://c.kz/3"
    ]


def test_alert_rows_are_written_with_the_item_once_per_story_and_channel(db_url: str) -> None:
    store = Store.open(db_url)
    item, _ = store.add_item(
        make_item("Текст об ОИС.", "https://a.kz/1"),
        ["https://a.kz/1"],
        [Alert(channel="hook", story_key=""), Alert(channel="mail", story_key="")],
    )
    with store.session() as s:
        rows = list(s.exec(select(Alert)))
    assert sorted(r.channel for r in rows) == ["hook", "mail"]
    assert {r.story_key for r in rows} == {str(item.story_id)}
    assert all(r.item_id == item.id and r.status == "queued" for r in rows)


def test_poll_state_keeps_validators_per_list_and_counts_failures(db_url: str) -> None:
    store = Store.open(db_url)
    store.source_state("s1")
    index = Validators(
        etag='"abc"',
        children=(SitemapRef("https://a.kz/1.xml", datetime(2024, 3, 5, tzinfo=UTC)),),
    )
    feed = Validators(last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    store.record_poll("s1", error=None, window_hours=6.0, lists={"https://a.kz/s.xml": index})
    store.record_poll("s1", error=None, lists={"https://a.kz/rss": feed})
    store.record_poll("s1", error="timeout")
    state = store.record_poll("s1", error="timeout")
    assert state.consecutive_failures == 2 and state.polls == 4 and state.window_hours == 6.0
    state = store.record_poll("s1", error=None, lists={"https://a.kz/rss": Validators('"v2"')})
    assert state.consecutive_failures == 0
    assert store.poll_state("s1") == (state, {
        "https://a.kz/s.xml": index,
        "https://a.kz/rss": Validators('"v2"'),  # the newer answer replaced the older
    })  # fmt: skip
    new, lists = store.poll_state("s2")  # created at its first poll; lists are per source
    assert new.polls == 0 and lists == {}


def test_a_source_lease_has_one_holder_until_it_lapses_or_is_released(db_url: str) -> None:
    a, b = Store.open(db_url), Store.open(db_url)
    long, short = timedelta(minutes=5), timedelta(milliseconds=1)
    assert a.acquire_lease("kabar", "daemon-a", long)
    assert not b.acquire_lease("kabar", "daemon-b", long)
    assert a.acquire_lease("kabar", "daemon-a", short)  # the holder renews (here: shortens)
    time.sleep(0.01)
    assert b.acquire_lease("kabar", "daemon-b", long)  # lapsed: the other daemon takes it
    assert not a.acquire_lease("kabar", "daemon-a", long)
    b.release_leases("daemon-b")
    assert a.acquire_lease("kabar", "daemon-a", long)


def test_a_poll_under_a_lease_ends_in_one_transaction_that_renews_it(db_url: str) -> None:
    a, b = Store.open(db_url), Store.open(db_url)
    a.poll_state("kabar")
    assert a.acquire_lease("kabar", "daemon-a", timedelta(milliseconds=1))
    commits: list[object] = []
    event.listen(a.engine, "commit", commits.append)
    when = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    lease = PollLease("daemon-a", timedelta(minutes=5), next_poll=when, held=True)
    time.sleep(0.01)  # the lease taken above lapsed meanwhile: the write takes it back
    state = a.record_poll("kabar", error=None, lease=lease)
    assert len(commits) == 1 and lease.kept
    assert (state.polls, state.next_poll_at) == (1, when)
    assert not b.acquire_lease("kabar", "daemon-b", timedelta(minutes=5))  # renewed
    assert b.source_state("kabar") == state  # written through, not only cached


def test_the_write_ending_a_poll_leaves_a_lease_another_daemon_took(db_url: str) -> None:
    a, b = Store.open(db_url), Store.open(db_url)
    a.poll_state("kabar")
    assert a.acquire_lease("kabar", "daemon-a", timedelta(milliseconds=1))
    time.sleep(0.01)
    assert b.acquire_lease("kabar", "daemon-b", timedelta(minutes=5))
    lease = PollLease("daemon-a", timedelta(minutes=5), held=True)
    a.record_poll("kabar", error=None, lease=lease)
    assert not lease.kept
    assert not a.acquire_lease("kabar", "daemon-a", timedelta(minutes=5))


def test_cached_poll_state_is_the_last_write_and_the_database_stays_the_truth(
    db_url: str,
) -> None:
    a, b = Store.open(db_url), Store.open(db_url)
    a.poll_state("kabar")
    feed = {"https://kabar.kg/rss": Validators('"v1"')}
    failed = a.record_poll("kabar", error="timeout", lists=feed)
    reads: list[object] = []
    event.listen(a.engine, "begin", reads.append)
    assert a.poll_state("kabar", cached=True) == (failed, feed)
    assert reads == []  # from memory
    b.record_poll("kabar", error=None)  # another daemon polled it meanwhile
    assert a.poll_state("kabar")[0].polls == 2  # read again when not known to be current
    again = a.record_poll("kabar", error=None)
    assert (again.polls, again.consecutive_failures) == (3, 0)  # counted in the database
    restarted = Store.open(db_url)  # a new process starts from the database
    assert restarted.poll_state("kabar", cached=True) == (again, feed)


def test_concurrent_claims_give_the_lease_to_exactly_one_daemon(db_url: str) -> None:
    stores = [Store.open(db_url) for _ in range(4)]
    wins: list[str] = []
    barrier = threading.Barrier(len(stores))

    def claim(i: int) -> None:
        barrier.wait()
        if stores[i].acquire_lease("24-kg", f"daemon-{i}", timedelta(minutes=5)):
            wins.append(f"daemon-{i}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_daemons_started_together_on_a_new_postgresql_database_all_open_it(pg_url: str) -> None:
    # Several daemons started at once each migrate on start; on an empty database they
    # must not race to create the same tables.
    code = "import sys; from monitor.store.repo import Store; Store.open(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, pg_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with Store.open(pg_url) as store:
        assert "item" in inspect(store.engine).get_table_names()


def test_writes_held_back_in_a_transaction_are_seen_by_its_reads_and_kept_in_order(
    db_url: str,
) -> None:
    from monitor.store.models import SeenUrl
    from monitor.store.queries import ItemQuery, iter_items

    store = Store.open(db_url)
    try:
        with store.writing() as w:
            first = make_item("Саммит ОИС в Джидде.", "https://a.kz/1")
            first.signature = b"\x01" * 16
            w.insert_item(first, ["https://a.kz/1"], bands=[11, 12, 13])
            # The next article of the batch finds the first one as a story candidate ...
            [cand] = w.story_candidates([12, 99])
            assert (cand.item_id, cand.story_id) == (first.id, first.id)
            # ... and a later mark of the same URL does not replace its first outcome.
            w.mark_urls(["https://a.kz/1", "https://a.kz/2"], source="s1", outcome="duplicate",
                        item_id=first.id)  # fmt: skip
        with store.session() as s:
            outcomes = {u.url: u.outcome for u in s.exec(select(SeenUrl))}
        assert outcomes == {"https://a.kz/1": "stored", "https://a.kz/2": "duplicate"}
        assert [i.id for i in iter_items(store, ItemQuery(text="Джидде"))] == [first.id]
        assert store.item(first.id or 0).story_id == first.id  # type: ignore[union-attr]
    finally:
        store.close()
