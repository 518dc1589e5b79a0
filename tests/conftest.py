"""Shared fixtures: a real database per test (SQLite file, or a fresh PostgreSQL
database made and dropped by the test), the app composed through `bootstrap()` with a
simulated clock and a fake outlet that records what members would see."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig
from governance.domain.ids import CommunityId, RoomRef
from governance.service.clocks import SimulatedClock
from governance.store.engine import make_engine
from tests.chat import Chat, RecordingOutlet

PG_ADMIN_URL = os.environ.get(
    "FOLKMOOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
T = TypeVar("T")


def _backends() -> list[str]:
    if os.environ.get("FOLKMOOT_TEST_PG") == "skip":
        return ["sqlite"]
    return ["sqlite", "postgresql"]


POSTGRES_ONLY = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        os.environ.get("FOLKMOOT_TEST_PG") == "skip", reason="FOLKMOOT_TEST_PG=skip"
    ),
    pytest.mark.parametrize("backend", ["postgresql"]),
]
"""Marks of tests about what only PostgreSQL has (several hosts on one database): they
run on it alone (``pytestmark = POSTGRES_ONLY``, or ``@postgres_only``)."""


def postgres_only(test: T) -> T:
    for mark in POSTGRES_ONLY:
        test = mark(test)
    return test


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _pg_admin() -> asyncpg.Connection:
    url = make_url(PG_ADMIN_URL)
    try:
        return await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
        )
    except (OSError, asyncpg.PostgresError) as error:
        pytest.fail(
            f"PostgreSQL at {url.render_as_string(hide_password=True)} is not "
            f"reachable ({error!r}). Start it (see README: Tests), point "
            "FOLKMOOT_TEST_PG_URL at one, or set FOLKMOOT_TEST_PG=skip to run the "
            "SQLite half only."
        )


@contextlib.asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database named `prefix`_<random>, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on `backend`, dropped after the test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'folkmoot.db'}"
        return
    async with scratch_database("folkmoot_test") as url:
        yield url


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def outlet() -> RecordingOutlet:
    return RecordingOutlet()


COMMUNITIES = [
    CommunityConfig(
        name="demo", timezone="UTC", admins=["test:root"], bridge_patterns=["test:bridge_*"]
    ),
    CommunityConfig(name="coop", timezone="Europe/Berlin", default_vote="3d", quorum="2"),
    CommunityConfig(
        name="guild",
        weights={"workers": 60, "users": "40%"},
        class_quorum={"users": 1},
        max_vote="14d",
    ),
]
ROOM = RoomRef("test", "room-1")


@pytest.fixture
async def app(db_url: str, clock: SimulatedClock, outlet: RecordingOutlet) -> AsyncIterator[App]:
    engine = make_engine(db_url)
    built = await bootstrap(
        engine=engine, clock=clock, outlets={"test": outlet}, communities=COMMUNITIES
    )
    await ensure_binding(built, ROOM, CommunityId("demo"))
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def chat(app: App, clock: SimulatedClock, outlet: RecordingOutlet) -> Chat:
    """A room of the "demo" community with alice (admin), bob and carol in it."""
    room = Chat(app, clock, outlet, ROOM, CommunityId("demo"))
    await room.join("alice", admin=True)
    await room.join("bob")
    await room.join("carol")
    return room
