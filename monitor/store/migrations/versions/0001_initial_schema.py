"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 02:40:08.301681
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("story_key", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "story_key", name="uq_alert_channel_story"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alert_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alert_status"), ["status"], unique=False)

    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=500), nullable=True),
        sa.Column("published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("content_hash", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("relevance", sa.Float(), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("classifier_version", sa.String(length=32), nullable=True),
        sa.Column("story_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("backfilled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_content_hash"), ["content_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_item_fetched_at"), ["fetched_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_published"), ["published"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_story_id"), ["story_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_tier"), ["tier"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_url"), ["url"], unique=True)

    op.create_table(
        "seen_url",
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )
    with op.batch_alter_table("seen_url", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_url_item_id"), ["item_id"], unique=False)

    op.create_table(
        "source_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_state_name"), ["name"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_state_name"))

    op.drop_table("source_state")
    with op.batch_alter_table("seen_url", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_url_item_id"))

    op.drop_table("seen_url")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_url"))
        batch_op.drop_index(batch_op.f("ix_item_tier"))
        batch_op.drop_index(batch_op.f("ix_item_story_id"))
        batch_op.drop_index(batch_op.f("ix_item_source"))
        batch_op.drop_index(batch_op.f("ix_item_published"))
        batch_op.drop_index(batch_op.f("ix_item_fetched_at"))
        batch_op.drop_index(batch_op.f("ix_item_content_hash"))

    op.drop_table("item")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_status"))
        batch_op.drop_index(batch_op.f("ix_alert_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_alert_item_id"))

    op.drop_table("alert")
