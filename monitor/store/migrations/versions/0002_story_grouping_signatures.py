"""story grouping signatures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 02:45:44.084472
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_band",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "item_id"),
    )
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("signature")

    op.drop_table("story_band")
