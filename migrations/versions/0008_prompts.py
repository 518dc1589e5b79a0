"""narrative prompts: prompts, the threads their postings opened, prompt postings as
due work, and the built-in prompts' settings per community

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 10:00:00

A due-work row is now a proposal's or a prompt's: proposal_id may be NULL when
prompt_id is set.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("welcome_prompt", sa.String(length=300)))
        batch.add_column(sa.Column("outcome_prompt_after", sa.String(length=16)))
    op.create_table(
        "prompts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=200)),
        sa.Column("proposal_id", sa.Integer()),
        sa.Column("next_at", TS),
        sa.Column("postings", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_posted_at", TS),
        sa.Column("created_by", sa.Integer()),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_prompts_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_prompts_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["members.id"], name=op.f("fk_prompts_created_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts")),
        sa.UniqueConstraint("community_id", "number", name="uq_prompts_number"),
    )
    op.create_index(
        "uq_prompts_welcome",
        "prompts",
        ["community_id"],
        unique=True,
        sqlite_where=sa.text("kind = 'welcome'"),
        postgresql_where=sa.text("kind = 'welcome'"),
    )
    op.create_index(
        "uq_prompts_outcome",
        "prompts",
        ["proposal_id"],
        unique=True,
        sqlite_where=sa.text("kind = 'outcome'"),
        postgresql_where=sa.text("kind = 'outcome'"),
    )
    op.create_table(
        "prompt_threads",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("thread_id", sa.String(length=255), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("posting", sa.Integer(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"], ["prompts.id"], name=op.f("fk_prompt_threads_prompt_id_prompts")
        ),
        sa.PrimaryKeyConstraint("platform", "room_id", "thread_id", name=op.f("pk_prompt_threads")),
    )
    op.create_index("ix_prompt_threads_prompt_id", "prompt_threads", ["prompt_id"])
    with op.batch_alter_table("due_work") as batch:
        batch.alter_column("proposal_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("prompt_id", sa.Integer()))
        batch.create_foreign_key(
            batch.f("fk_due_work_prompt_id_prompts"), "prompts", ["prompt_id"], ["id"]
        )
        batch.create_index("ix_due_work_prompt_id", ["prompt_id"])


def downgrade() -> None:
    op.execute("DELETE FROM due_work WHERE proposal_id IS NULL")
    with op.batch_alter_table("due_work") as batch:
        batch.drop_index("ix_due_work_prompt_id")
        batch.drop_constraint("fk_due_work_prompt_id_prompts", type_="foreignkey")
        batch.drop_column("prompt_id")
        batch.alter_column("proposal_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_prompt_threads_prompt_id", table_name="prompt_threads")
    op.drop_table("prompt_threads")
    op.drop_index("uq_prompts_outcome", table_name="prompts")
    op.drop_index("uq_prompts_welcome", table_name="prompts")
    op.drop_table("prompts")
    # Not in batch mode: SQLite (3.35 on) drops a plain column in place, where a copy of
    # the table could not replace one that other tables refer to.
    op.drop_column("communities", "outcome_prompt_after")
    op.drop_column("communities", "welcome_prompt")
