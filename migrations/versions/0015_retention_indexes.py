"""an index for retention's scan of handled platform events (by seen_at)

Retention removes the ids of platform events handled long ago, oldest first
(``seen_at < cut-off ORDER BY seen_at LIMIT n``); without an index on ``seen_at`` each
batch read the whole table and sorted it. The outbox needs no new index: retention's
scan there (``routed_at < cut-off``, oldest first) walks ``ix_outbox_unrouted``
(``routed_at, id``), which the dispatcher already has.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_platform_events_seen_at", "platform_events", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_platform_events_seen_at", table_name="platform_events")
