"""platform events seen (dedupe across restarts), direct rooms with members, and the
native polls posted for proposals

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_events",
        sa.Column("platform", sa.String(length=16), primary_key=True),
        sa.Column("event_id", sa.String(length=255), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "direct_rooms",
        sa.Column("platform", sa.String(length=16), primary_key=True),
        sa.Column("account_id", sa.String(length=255), primary_key=True),
        sa.Column("room_id", sa.String(length=255), nullable=False),
    )
    op.create_table(
        "platform_polls",
        sa.Column("platform", sa.String(length=16), primary_key=True),
        sa.Column("event_id", sa.String(length=255), primary_key=True),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("proposal", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_platform_polls_room", "platform_polls", ["platform", "room_id", "proposal"])


def downgrade() -> None:
    op.drop_index("ix_platform_polls_room", table_name="platform_polls")
    op.drop_table("platform_polls")
    op.drop_table("direct_rooms")
    op.drop_table("platform_events")
