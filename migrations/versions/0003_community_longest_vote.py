"""a community's longest vote, from the config

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(
            sa.Column("max_vote", sa.String(length=16), nullable=False, server_default="90d")
        )


def downgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("max_vote")
