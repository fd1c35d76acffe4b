"""Full-text search over items: the index, what a search box query means, and its SQL.

The index holds each item's title and text *folded* by the classifier's `fold_term`
(lower case with Turkish/Azerbaijani İ, I, ı as one i, diacritics off, Kazakh and other
Cyrillic letters to their Russian look-alikes, Arabic letter variants unified) and cut into
words. A query goes through the same function, so `iət` finds `İƏT` and `ислам` finds
`Ислам`, whatever the database's own case rules are. The databases then only match words:

- SQLite: an FTS5 table `item_search` (tokenizer unicode61, remove_diacritics 2), its rowid
  the item's id;
- PostgreSQL: a table `item_search` of tsvectors under a GIN index, made with the text
  search configuration `oic_search` (`simple` plus `unaccent` where that extension could be
  created; `simple` alone otherwise, which the folding makes up for).

Rows are written with the item (`index_items`), and go when their item is deleted (a
trigger on SQLite, a cascading foreign key on PostgreSQL). Folding is part of what is
stored: a change to `fold_term` needs a migration that calls `rebuild` again.

Query syntax, as in web search boxes: words must all match; `"two words"` is a phrase;
`OR` between words or phrases gives alternatives; `word*` matches by prefix; `-word`
excludes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, bindparam, column, text
from sqlalchemy.sql.selectable import TextualSelect

from monitor.classify.normalize import folded_words, search_text

CONFIG = "oic_search"  # the PostgreSQL text search configuration
TABLE = "item_search"
# A quoted phrase, or a run of non-space characters.
_PIECE = re.compile(r'(-?)"([^"]*)"(\*?)|(\S+)')


def in_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: False for the index's tables (and FTS5's shadow tables,
    `item_search_data` and the like), which the migrations make outside the models."""
    return not (type_ == "table" and name is not None and name.startswith(TABLE))


# --- queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """Words that must stand together in this order (one word, or a phrase)."""

    words: tuple[str, ...]
    prefix: bool = False  # the last word may go on


@dataclass(frozen=True)
class Query:
    """All of `clauses` (each: any one of its terms), and none of `excluded`."""

    clauses: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.clauses or self.excluded)


def _term(raw: str, prefix: bool) -> Term | None:
    words = tuple(folded_words(raw))
    return Term(words, prefix) if words else None


def parse_query(q: str) -> Query:
    """A search box's text as a `Query`; what cannot be read is taken as plain words."""
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    for m in _PIECE.finditer(q.replace("\u201c", '"').replace("\u201d", '"')):
        negate, phrase, star, bare = m.groups()
        if bare is not None:
            if bare == "OR":
                join_next = bool(clauses)
                continue
            negate = "-" if bare.startswith("-") and len(bare) > 1 else ""
            star = "*" if bare.endswith("*") else ""
            phrase = bare[len(negate) : len(bare) - len(star)]
        term = _term(phrase, prefix=bool(star))
        if term is None:
            continue
        if negate:
            excluded.append(term)
        elif join_next:
            clauses[-1].append(term)
        else:
            clauses.append([term])
        join_next = False
    return Query(tuple(tuple(c) for c in clauses), tuple(excluded))


def _fts5(term: Term) -> str:
    # Each word is a quoted string, so nothing in it is read as FTS5 syntax.
    return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")


def _tsquery(term: Term) -> str:
    lexemes = [f"'{w}'" for w in term.words]  # words are letters and digits: no quoting needed
    if term.prefix:
        lexemes[-1] += ":*"
    joined = " <-> ".join(lexemes)
    return f"({joined})" if len(lexemes) > 1 else joined


def _any_of(terms: Iterable[Term], dialect: str) -> str:
    if dialect == "postgresql":
        return "(" + " | ".join(_tsquery(t) for t in terms) + ")"
    return "(" + " OR ".join(_fts5(t) for t in terms) + ")"


def _all_of(clauses: Sequence[Sequence[Term]], dialect: str) -> str:
    glue = " & " if dialect == "postgresql" else " AND "
    return glue.join(_any_of(c, dialect) for c in clauses)


def _matching(expression: str, dialect: str) -> TextualSelect:
    """SELECT of the ids of items whose index entry matches `expression`."""
    if dialect == "postgresql":
        sql = f"SELECT item_id FROM item_search WHERE document @@ to_tsquery('{CONFIG}', :fts)"
    else:
        sql = "SELECT rowid AS item_id FROM item_search WHERE item_search MATCH :fts"
    # A unique name: one statement may hold two of these (the wanted and the excluded).
    bound = text(sql).bindparams(bindparam("fts", expression, unique=True))
    return bound.columns(column("item_id", Integer))


def matches(id_column: Any, query: Query, dialect: str) -> list[ColumnElement[bool]]:
    """WHERE conditions on `id_column` (an item id) for `query`, on this SQL dialect."""
    conditions: list[ColumnElement[bool]] = []
    if query.clauses:
        found = _matching(_all_of(query.clauses, dialect), dialect)
        conditions.append(id_column.in_(found))
    if query.excluded:
        gone = _matching(_any_of(query.excluded, dialect), dialect)
        conditions.append(id_column.not_in(gone))
    return conditions


# --- the index ------------------------------------------------------------------------


def index_items(conn: Connection, rows: Iterable[tuple[int, str]]) -> None:
    """Add (or replace) the index entries of (item id, ``search_text`` of its title and
    text) rows."""
    batch = [{"id": i, "doc": document} for i, document in rows]
    if not batch:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "INSERT INTO item_search (item_id, document) "
                f"VALUES (:id, to_tsvector('{CONFIG}', :doc)) "
                "ON CONFLICT (item_id) DO UPDATE SET document = excluded.document"
            ),
            batch,
        )
    else:
        conn.execute(text("DELETE FROM item_search WHERE rowid = :id"), batch)
        conn.execute(text("INSERT INTO item_search (rowid, document) VALUES (:id, :doc)"), batch)


def rebuild(conn: Connection, batch: int = 500) -> int:
    """Index every item again, a batch at a time; how many were indexed."""
    conn.execute(text("DELETE FROM item_search"))
    last, n = 0, 0
    page = text("SELECT id, title, text FROM item WHERE id > :last ORDER BY id LIMIT :n")
    while rows := [tuple(r) for r in conn.execute(page, {"last": last, "n": batch})]:
        index_items(conn, [(i, search_text(title, body)) for i, title, body in rows])
        last, n = rows[-1][0], n + len(rows)
    return n
