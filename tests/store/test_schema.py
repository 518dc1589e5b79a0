"""The schema comes only from Alembic, and the code's table definitions agree with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from governance.store import tables as t
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
            def mirrored(
                obj: Any, name: str | None, kind: str, reflected: bool, other: Any
            ) -> bool:
                return not (name or "").startswith(t.UNMIRRORED)

            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "include_object": mirrored}
            )
            return list(compare_metadata(context, metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_migration_0004_gives_existing_proposals_their_first_version(db_url: str) -> None:
    engine = make_engine(db_url)
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    try:
        await upgrade(engine, "0003")
        async with engine.connect() as conn:
            await conn.execute(
                insert(t.communities).values(
                    id="demo", timezone="UTC", default_vote="7d", admins=[], bridge_patterns=[]
                )
            )
            await conn.execute(
                insert(t.members).values(
                    id=1,
                    community_id="demo",
                    display_name="ana",
                    role=1,
                    is_bot=False,
                    joined_at=at,
                )
            )
            await conn.execute(
                insert(t.proposals).values(
                    id=1,
                    community_id="demo",
                    number=1,
                    title="Share the tools",
                    body="A shed.",
                    author_id=1,
                    method="choice",
                    options=["Shed", "Garage"],
                    policy={},
                    status="deliberation",
                    vote_length="7d",
                    created_at=at,
                    roll_size=0,
                )
            )
            await conn.commit()
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(t.proposal_versions))).all()
        assert [tuple(r) for r in rows] == [
            (1, 1, "Share the tools", "A shed.", ["Shed", "Garage"], 1, at)
        ]
    finally:
        await engine.dispose()
