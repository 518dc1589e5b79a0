"""federations: the parts a federation proposal opens in its member communities

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 10:00:00

(It follows 0008 for now; at merge it is rebased after 0009 and 0010.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_parts",
        sa.Column("federation_proposal_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("part_proposal_id", sa.Integer(), nullable=False),
        sa.Column("roll", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["federation_proposal_id"],
            ["proposals.id"],
            name=op.f("fk_federation_parts_federation_proposal_id_proposals"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_federation_parts_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["part_proposal_id"],
            ["proposals.id"],
            name=op.f("fk_federation_parts_part_proposal_id_proposals"),
        ),
        sa.PrimaryKeyConstraint(
            "federation_proposal_id", "community_id", name=op.f("pk_federation_parts")
        ),
        sa.UniqueConstraint("part_proposal_id", name="uq_federation_parts_part_proposal_id"),
    )


def downgrade() -> None:
    op.drop_table("federation_parts")
