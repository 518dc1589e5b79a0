"""The schema comes only from Alembic, and the code's table definitions agree with it."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from governance.store.engine import make_engine
from governance.store.migrate import alembic_config, current, head, upgrade
from governance.store.tables import metadata


def test_the_migrations_have_exactly_one_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


async def test_migrating_an_empty_database_gives_the_schema_the_code_expects(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert await current(engine) is None
        await upgrade(engine)
        await upgrade(engine)  # a second run is a no-op
        assert await current(engine) == head()

        def diff(connection: Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            return list(compare_metadata(context, metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
