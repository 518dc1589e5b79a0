"""deliberation: proposal versions, summaries and thread bindings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00

Every proposal gets its version 1 from the text it holds now (by its author, when
it was proposed), so the history of proposals made before this migration starts
where theirs did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposal_versions",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("edited_by", sa.Integer(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_versions_proposal_id_proposals"),
        ),
        sa.ForeignKeyConstraint(
            ["edited_by"], ["members.id"], name=op.f("fk_proposal_versions_edited_by_members")
        ),
        sa.PrimaryKeyConstraint("proposal_id", "version", name=op.f("pk_proposal_versions")),
    )
    op.create_table(
        "summaries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_by", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_summaries_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["written_by"], ["members.id"], name=op.f("fk_summaries_written_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summaries")),
    )
    with op.batch_alter_table("summaries") as batch:
        batch.create_index(batch.f("ix_summaries_proposal_id"), ["proposal_id"], unique=False)
    op.create_table(
        "threads",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("thread_id", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_threads_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("proposal_id", "platform", "room_id", name=op.f("pk_threads")),
    )
    op.execute(
        "INSERT INTO proposal_versions "
        "(proposal_id, version, title, body, options, edited_by, edited_at) "
        "SELECT id, 1, title, body, options, author_id, created_at FROM proposals"
    )


def downgrade() -> None:
    op.drop_table("threads")
    with op.batch_alter_table("summaries") as batch:
        batch.drop_index(batch.f("ix_summaries_proposal_id"))
    op.drop_table("summaries")
    op.drop_table("proposal_versions")
