"""archive file recorded per item

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for items stored before: whether their files were written is not known here.
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archive_file", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("archive_file")
