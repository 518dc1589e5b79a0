"""receipts of secret ballots: one random code per counted ballot, no voter column

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-25 10:00:00

While a secret vote is open, ``holder`` is a keyed tag that finds a voter's receipt
again; at close it is cleared (see governance/domain/receipts.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=80)),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_receipts_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("proposal_id", "code", name=op.f("pk_receipts")),
        sa.UniqueConstraint("proposal_id", "holder", name="uq_receipts_holder"),
    )


def downgrade() -> None:
    op.drop_table("receipts")
