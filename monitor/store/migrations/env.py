"""Alembic environment: the engine is handed over by monitor.store.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import monitor.store.models  # noqa: F401  (registers the tables)
from monitor.store.search import in_models

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_name=in_models,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
