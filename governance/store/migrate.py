"""Applying the Alembic migrations in `migrations/` (one head, always)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# The migrations package sits beside `governance`, in a checkout and when installed.
SCRIPT_LOCATION = str(Path(__file__).resolve().parents[2] / "migrations")


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have one head, found {heads}")
    return heads[0]


class NewerSchema(Exception):
    """The database was migrated by a newer folkmoot: never touched, never migrated down."""

    def __init__(self, revision: str) -> None:
        super().__init__(
            f"the database is at revision {revision}, which this folkmoot does not know: "
            "it was written by a newer version; run that version (or restore a backup "
            "made by this one)"
        )
        self.revision = revision


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate up to `revision`; `NewerSchema` if a newer folkmoot migrated it already."""
    await _run(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Undo migrations down to `revision` (still applied). What a migration added is
    dropped with its data; only `folkmoot migrate --to REV --down` asks for this."""
    await _run(engine, command.downgrade, revision)


async def _run(engine: AsyncEngine, step: Callable[[Config, str], None], revision: str) -> None:
    def _step(connection: Connection) -> None:
        now = MigrationContext.configure(connection).get_current_revision()
        if now is not None and now not in revisions():
            raise NewerSchema(now)
        config = alembic_config()
        config.attributes["connection"] = connection
        step(config, revision)

    async with engine.connect() as conn:
        await conn.run_sync(_step)
        await conn.commit()


def revisions() -> list[str]:
    """Every revision, oldest first."""
    walked = ScriptDirectory.from_config(alembic_config()).walk_revisions()
    return [script.revision for script in walked][::-1]


async def current(engine: AsyncEngine) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)
