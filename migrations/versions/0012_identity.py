"""identity: linked accounts (one-time link codes, kept as keyed hashes, and the tries
made with wrong ones) and members merged into another or erased

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 10:00:00

A member whose accounts were linked into another member's keeps its row (closed votes'
ballots and rolls, proposals and outcomes still refer to it) with ``merged_into`` set;
an erased member keeps only its id and ``erased_at``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): other tables refer to members.
    op.add_column("members", sa.Column("merged_into", sa.Integer()))
    op.add_column("members", sa.Column("erased_at", TS))
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_link_codes_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_link_codes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("code_hash", name="uq_link_codes_code_hash"),
    )
    op.create_index("ix_link_codes_member_id", "link_codes", ["member_id"])
    op.create_table(
        "link_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_attempts")),
    )
    op.create_index("ix_link_attempts_account", "link_attempts", ["platform", "account_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_link_attempts_account", table_name="link_attempts")
    op.drop_table("link_attempts")
    op.drop_index("ix_link_codes_member_id", table_name="link_codes")
    op.drop_table("link_codes")
    # Not in batch mode: SQLite (3.35 on) drops a plain column in place.
    op.drop_column("members", "erased_at")
    op.drop_column("members", "merged_into")
