"""After something was deleted for good is committed (a secret vote's key and tags at
its seal, a story's words at its withdrawal): make the database drop its own old copies.

SQLite: deleted rows are zeroed in place (``secure_delete``, set on every connection),
but the WAL still holds the pages as they were: fold it into the database and empty it
(``wal_checkpoint(TRUNCATE)``). PostgreSQL: a delete leaves the old row versions in the
table's pages until VACUUM, which cannot run inside a transaction: vacuum the tables
that held them — a plain VACUUM, which blocks no vote (``VACUUM FULL`` would lock every
ballot out while it rewrites the tables); the bytes of dead index entries can stay in
index pages until those are reused, which the README says, with what an operator can
run. What stays outside the bot's reach (PostgreSQL's WAL segments and archives,
physical backups) the README lists too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.store import tables as t
from governance.store.engine import BUSY_TIMEOUT_MS

SCRUBBED = (
    t.proposal_keys,
    t.ballots,
    t.ballot_history,
    t.receipts,
    t.stories,
    t.story_tags,
    t.story_sources,
)
"""The tables whose deleted rows held what must go: keys, tags, old ballots, words."""

CHECKPOINT_PATIENCE_MS = 100
"""How long SQLite's checkpoint waits for readers (it blocks writers meanwhile)."""
LOCK_TIMEOUT_MS = 2000
"""How long PostgreSQL's vacuum waits for a table's lock."""


async def scrub(engine: AsyncEngine) -> None:
    """Raises if a reader blocked it (SQLite); the next scrub does it all again."""
    if engine.dialect.name == "sqlite":
        await _checkpoint(engine)
    else:
        await _vacuum(engine)


async def _checkpoint(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        # On the driver's connection itself: a checkpoint cannot run inside the
        # transaction SQLAlchemy would begin.
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        # A TRUNCATE checkpoint holds the write lock while it waits for readers: with
        # the connections' usual patience (30 s) a long reader (a backup, verify-log)
        # would hold every vote that long. It waits a moment only, and is retried.
        await driver.execute(f"PRAGMA busy_timeout={CHECKPOINT_PATIENCE_MS}")
        try:
            cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = await cursor.fetchone()
            await cursor.close()
        finally:
            await driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if busy:
            raise RuntimeError("the WAL checkpoint was blocked by a reader")


async def _vacuum(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        # VACUUM's lock conflicts with no vote, only with another vacuum or a schema
        # change: never wait long behind one (the scrub is retried).
        await conn.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
        names = ", ".join(table.name for table in SCRUBBED)
        await conn.execute(text(f"VACUUM {names}"))
