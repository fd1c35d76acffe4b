"""list validators per source and URL, a source's pending catch-up, channel state for
delivery after an outage

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "list_state",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("lastmod", sa.DateTime(timezone=True), nullable=True),
        sa.Column("children", sa.JSON(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "url"),
    )
    op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_probe_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("channel"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    # The validators of a source's own URL now live in list_state, with those of its other
    # lists; the first poll after the upgrade reads each list in full once.
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.drop_column("etag")
        batch_op.drop_column("last_modified")
        batch_op.add_column(sa.Column("catch_up_from", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.drop_column("catch_up_from")
        batch_op.add_column(sa.Column("last_modified", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("etag", sa.String(length=500), nullable=True))
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
    op.drop_table("channel_state")
    op.drop_table("list_state")
