"""Fixtures for tests against a real Synapse homeserver.

``synapse`` is one homeserver for the whole session (skipped only when
``FOLKMOOT_TEST_MATRIX=skip``); ``members`` makes logged-in, syncing members on it whose
names carry a prefix unique to the test, and closes them after it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from tests.matrix.homeserver import Synapse, SynapseUnavailable, register, start_synapse
from tests.matrix.member import Member


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


class MakeMember(Protocol):
    async def __call__(self, name: str, *, encrypted: bool = False) -> Member: ...


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
