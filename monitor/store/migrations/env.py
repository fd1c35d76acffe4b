"""Alembic environment: the engine is handed over by monitor.store.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

import monitor.store.models  # noqa: F401  (registers the tables)
from monitor.store.search import in_models

config = context.config
engine = config.attributes["engine"]

# Any fixed number, the same in every daemon: the key of the lock that lets one migrate.
MIGRATION_LOCK = 0x6F6963

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        # Daemons started together on a new database would race to create the same tables;
        # the lock is held to the end of this transaction, so the others wait, then find
        # the schema at head. (SQLite serialises writers on its own.)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_name=in_models,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
