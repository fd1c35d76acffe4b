"""full-text search index of items

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00

SQLite: an FTS5 table. PostgreSQL: a tsvector table with a GIN index, under a text search
configuration that is `simple` plus `unaccent` when the extension can be created here.
Existing items are indexed (see monitor.store.search).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from monitor.store.search import CONFIG, rebuild

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

log = logging.getLogger("monitor.store")


def _unaccent(conn: sa.Connection) -> bool:
    """Create the unaccent extension if allowed; False when the database refuses."""
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS unaccent"))
        return True
    except sa.exc.DBAPIError as e:
        reason = " ".join(str(e.orig or e).split())[:200]
        log.warning(
            "full-text search without the unaccent extension (%s); diacritics are still "
            "folded before indexing",
            reason,
        )
        return False


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = simple)")
        if _unaccent(conn):
            op.execute(
                f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR "
                "asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, "
                "hword_part, hword_numpart WITH unaccent, simple"
            )
        op.create_table(
            "item_search",
            sa.Column(
                "item_id",
                sa.Integer(),
                sa.ForeignKey("item.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("document", TSVECTOR(), nullable=False),
        )
        op.create_index(
            "ix_item_search_document", "item_search", ["document"], postgresql_using="gin"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE item_search USING fts5("
            "document, tokenize = 'unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER item_search_delete AFTER DELETE ON item BEGIN "
            "DELETE FROM item_search WHERE rowid = old.id; END"
        )
    n = rebuild(conn)
    if n:
        log.info("indexed %d stored items for full-text search", n)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.drop_table("item_search")
        op.execute(f"DROP TEXT SEARCH CONFIGURATION {CONFIG}")
    else:
        op.execute("DROP TRIGGER item_search_delete")
        op.execute("DROP TABLE item_search")
