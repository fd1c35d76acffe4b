"""backfill pages, gaps, feedback

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 03:13:11.143983
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "scope", "url", name="uq_crawl_page"),
    )
    with op.batch_alter_table("crawl_page", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crawl_page_source"), ["source"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_item_id"), ["item_id"], unique=True)

    op.create_table(
        "gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("items_found", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gap", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gap_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_gap_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gap", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gap_status"))
        batch_op.drop_index(batch_op.f("ix_gap_source"))

    op.drop_table("gap")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_item_id"))

    op.drop_table("feedback")
    with op.batch_alter_table("crawl_page", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_page_source"))

    op.drop_table("crawl_page")
