"""item list indexes: by date and story, and by language

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00

Lists walk items newest first by coalesce(published, fetched_at), the date an item counts
by, then by story; the language menu reads the distinct languages from an index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_language", "item", ["language"])
    op.create_index(
        "ix_item_when_story",
        "item",
        [sa.text("coalesce(published, fetched_at)"), sa.text("coalesce(story_id, id)")],
    )


def downgrade() -> None:
    op.drop_index("ix_item_when_story", table_name="item")
    op.drop_index("ix_item_language", table_name="item")
