"""analysts: marks per analyst, read state and stars per story, saved searches

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:00:00

Marks made before analysts had names belong to the shared analyst.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("analyst", sa.String(length=100), nullable=False, server_default="shared")
        )
        batch_op.drop_index("ix_feedback_item_id")
        batch_op.create_index("ix_feedback_item_id", ["item_id"], unique=False)
        batch_op.create_unique_constraint("uq_feedback_item_analyst", ["item_id", "analyst"])
    op.create_table(
        "story_state",
        sa.Column("analyst", sa.String(length=100), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("starred_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("analyst", "story_id"),
    )
    op.create_table(
        "saved_search",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analyst", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("analyst", "name", name="uq_saved_search_name"),
    )
    op.create_index("ix_saved_search_analyst", "saved_search", ["analyst"])


def downgrade() -> None:
    op.drop_index("ix_saved_search_analyst", table_name="saved_search")
    op.drop_table("saved_search")
    op.drop_table("story_state")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_constraint("uq_feedback_item_analyst", type_="unique")
        batch_op.drop_column("analyst")
        batch_op.drop_index("ix_feedback_item_id")
        batch_op.create_index("ix_feedback_item_id", ["item_id"], unique=True)
