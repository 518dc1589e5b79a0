"""encrypted rooms: which bound rooms are end-to-end encrypted, and which proposals,
stories and prompts began in one, so what began there is said in encrypted rooms only

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("bindings", "encrypted"),
    ("proposals", "encrypted_origin"),
    ("stories", "encrypted_origin"),
    ("prompts", "encrypted_origin"),
)


def upgrade() -> None:
    # Nothing was known of encryption before: every room and everything in it starts as
    # unencrypted. The Matrix adapter reports an encrypted room when it next hears from it.
    # Plain ALTER TABLE (SQLite has it for adding and dropping a column): a batch
    # operation would copy the stories table and lose its full-text triggers.
    for table, column in COLUMNS:
        op.add_column(
            table, sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    for table, column in COLUMNS:
        op.drop_column(table, column)
