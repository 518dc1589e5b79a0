"""Fixtures for tests against a real Synapse homeserver.

``synapse`` is one homeserver for the whole session (skipped only when
``FOLKMOOT_TEST_MATRIX=skip``); ``members`` makes logged-in, syncing members on it whose
names carry a prefix unique to the test, and closes them after it; ``bot`` makes the
bot (`tests.matrix.deployment.Bot`) and stops it after the test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.matrix.deployment import Bot, MakeBot
from tests.matrix.homeserver import Synapse, SynapseUnavailable, register, start_synapse
from tests.matrix.member import MakeMember, Member

__all__ = ["MakeMember", "bot", "members", "synapse"]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    if os.environ.get("FOLKMOOT_TEST_MATRIX") == "skip":
        pytest.skip("FOLKMOOT_TEST_MATRIX=skip")
    try:
        server = start_synapse(tmp_path_factory.mktemp("synapse"))
    except SynapseUnavailable as error:
        unavailable = str(error)
    else:
        unavailable = ""
    if unavailable:
        pytest.fail(f"no Synapse homeserver for the Matrix tests: {unavailable}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def members(synapse: Synapse, tmp_path: Path) -> AsyncIterator[MakeMember]:
    """``await members("alice")``: register ``<token>-alice``, log in, start syncing."""
    prefix = secrets.token_hex(3)
    made: list[Member] = []

    async def make(name: str, *, encrypted: bool = False) -> Member:
        user_id, password = register(synapse, f"{prefix}-{name}")
        store = tmp_path / f"store-{name}" if encrypted else None
        member = Member(synapse.url, user_id, password, store_dir=store)
        made.append(member)
        await member.start()
        return member

    yield make
    for member in made:
        await member.close()


@pytest.fixture
async def bot(synapse: Synapse, tmp_path: Path) -> AsyncIterator[MakeBot]:
    """``bot(alice)``: folkmoot on the homeserver, with `alice` as its admin (not started)."""
    made: list[Bot] = []

    def make(admin: Member) -> Bot:
        made.append(Bot(synapse, tmp_path / "bot", admin.user_id))
        return made[-1]

    yield make
    for one in made:
        await one.stop()
