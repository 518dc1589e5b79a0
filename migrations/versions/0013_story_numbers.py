"""story numbers never reused, and an index for listing a community's stories

A story's number was the community's highest + 1, so withdrawing the newest story let
the next one take its number (and a reference to "story #12" its meaning). Each
community's last story number is now kept; and a partial index serves listings.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 20:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_numbers",
        sa.Column("community_id", sa.String(length=64), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"]),
    )
    op.execute(
        "INSERT INTO story_numbers (community_id, last) "
        "SELECT community_id, MAX(number) FROM stories GROUP BY community_id"
    )
    op.create_index(
        "ix_stories_listed",
        "stories",
        ["community_id", "number"],
        sqlite_where=sa.text("hidden_reason IS NULL"),
        postgresql_where=sa.text("hidden_reason IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_stories_listed", table_name="stories")
    op.drop_table("story_numbers")
