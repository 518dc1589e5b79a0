"""stakeholder classes: community defaults, frozen on the roll, carried by each ballot

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:40:00

Communities keep default class weights and quorums from the config; a class's quorum
needs its size on the frozen roll; a weighted result needs each
ballot's class, also for secret ballots, which carry no voter.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("weights", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("class_quorum", sa.String(length=1000), nullable=True))
    with op.batch_alter_table("roll") as batch:
        batch.add_column(sa.Column("stakeholder_class", sa.String(length=40), nullable=True))
    with op.batch_alter_table("ballots") as batch:
        batch.add_column(sa.Column("stakeholder_class", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ballots") as batch:
        batch.drop_column("stakeholder_class")
    with op.batch_alter_table("roll") as batch:
        batch.drop_column("stakeholder_class")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("class_quorum")
        batch.drop_column("weights")
