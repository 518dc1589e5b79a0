"""stories, with full-text search (SQLite FTS5 kept by triggers; PostgreSQL GIN)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE stories_fts USING fts5("
    "text, content='stories', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER stories_fts_insert AFTER INSERT ON stories BEGIN "
    "INSERT INTO stories_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER stories_fts_delete AFTER DELETE ON stories BEGIN "
    "INSERT INTO stories_fts(stories_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER stories_fts_update AFTER UPDATE OF text ON stories BEGIN "
    "INSERT INTO stories_fts(stories_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO stories_fts(rowid, text) VALUES (new.id, new.text); END",
)


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("consent", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_tag", sa.String(length=64), nullable=True),
        sa.Column("prompt", sa.Integer(), nullable=True),
        sa.Column("proposal", sa.Integer(), nullable=True),
        sa.Column("tags", sa.String(length=400), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"]),
        sa.ForeignKeyConstraint(["author_id"], ["members.id"]),
        sa.UniqueConstraint("community_id", "number", name="uq_stories_number"),
    )
    op.create_index("ix_stories_prompt", "stories", ["community_id", "prompt"])
    op.create_index("ix_stories_proposal", "stories", ["community_id", "proposal"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute("CREATE INDEX ix_stories_fts ON stories USING GIN (to_tsvector('simple', text))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS stories_fts_{name}")
        op.execute("DROP TABLE IF EXISTS stories_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_stories_fts")
    op.drop_index("ix_stories_proposal", table_name="stories")
    op.drop_index("ix_stories_prompt", table_name="stories")
    op.drop_table("stories")
