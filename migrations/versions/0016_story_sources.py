"""story sources: which chat message a story told in a prompt's thread came from, so
an edit of that message edits the story and its deletion withdraws it

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-22 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_sources",
        sa.Column("story_id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("platform", "message_id", name="uq_story_sources_message"),
    )


def downgrade() -> None:
    op.drop_table("story_sources")
