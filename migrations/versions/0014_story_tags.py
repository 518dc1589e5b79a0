"""story tags in a table of their own, so a tag filter reads an index instead of
matching every story's tags

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_tags",
        sa.Column("story_id", sa.Integer(), primary_key=True),
        sa.Column("tag", sa.String(length=30), primary_key=True),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_story_tags_tag", "story_tags", ["community_id", "tag", "story_id"])
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, community_id, tags FROM stories")).all()
    values = [
        {"story_id": row.id, "tag": tag, "community_id": row.community_id}
        for row in rows
        for tag in sorted(set(row.tags.split()))
    ]
    if values:
        op.bulk_insert(
            sa.table(
                "story_tags",
                sa.column("story_id", sa.Integer()),
                sa.column("tag", sa.String()),
                sa.column("community_id", sa.String()),
            ),
            values,
        )


def downgrade() -> None:
    op.drop_index("ix_story_tags_tag", table_name="story_tags")
    op.drop_table("story_tags")
