"""deliveries per channel (order, retries, dead letters); reminder offsets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:00:00

An outbox row used to be delivered to every room at once and marked delivered when
all had taken it; now it is routed into one delivery per channel (a room, or a
member's account for private messages), each retried, ordered and given up on its
own. Rows still pending at upgrade are routed by the new dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(
            sa.Column("reminders", sa.String(length=200), nullable=False, server_default="24h,1h")
        )
    with op.batch_alter_table("due_work") as batch:
        batch.add_column(sa.Column("detail", sa.String(length=32)))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("routed_at", TS))
    op.execute("UPDATE outbox SET routed_at = delivered_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_pending")
        for name in ("delivered_at", "attempts", "next_attempt_at", "claimed_until", "last_error"):
            batch.drop_column(name)
        batch.create_index("ix_outbox_unrouted", ["routed_at", "id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer(), sa.ForeignKey("outbox.id"), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=300), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_until", TS),
        sa.Column("first_failed_at", TS),
        sa.Column("delivered_at", TS),
        sa.Column("dead_at", TS),
        sa.Column("last_error", sa.Text()),
        sa.UniqueConstraint("outbox_id", "channel", name="uq_deliveries_channel"),
    )
    op.create_index(
        "ix_deliveries_open",
        "deliveries",
        ["channel", "outbox_id"],
        sqlite_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
    )
    op.create_index("ix_deliveries_dead", "deliveries", ["dead_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_dead", table_name="deliveries")
    op.drop_index("ix_deliveries_open", table_name="deliveries")
    op.drop_table("deliveries")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_unrouted")
        batch.add_column(sa.Column("delivered_at", TS))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", TS))
        batch.add_column(sa.Column("claimed_until", TS))
        batch.add_column(sa.Column("last_error", sa.Text()))
    op.execute("UPDATE outbox SET delivered_at = routed_at, next_attempt_at = created_at")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("next_attempt_at", nullable=False)
        batch.drop_column("routed_at")
        batch.create_index("ix_outbox_pending", ["delivered_at", "next_attempt_at"])
    with op.batch_alter_table("due_work") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("reminders")
