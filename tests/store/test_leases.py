"""Platform leases: one holder at a time, taken over when the holder's session ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.store.engine import make_engine
from governance.store.lease import Lease, LeaseKeeper, lease_holder, lease_key, make_lease
from tests.conftest import postgres_only

TIMEOUT = 30
NAME = "record:/srv/folkmoot/deliveries.jsonl"


@pytest.fixture
async def engines(db_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two instances' engines on one database."""
    pair = (make_engine(db_url), make_engine(db_url))
    try:
        yield pair
    finally:
        for engine in pair:
            await engine.dispose()


def test_a_lease_key_is_stable_64_bits_of_its_name() -> None:
    assert lease_key(NAME) == lease_key(NAME) != lease_key("record:/elsewhere")
    assert -(2**63) <= lease_key(NAME) < 2**63
    assert lease_key("record:x") == 7606282641402268133  # the same in every process


async def test_a_lease_has_one_holder_at_a_time(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    a, b = make_lease(engines[0], NAME), make_lease(engines[1], NAME)
    other = make_lease(engines[1], "record:/another/file")
    try:
        assert await a.take()
        assert await a.take()  # taking what one holds is a no-op
        assert not await b.take() and not b.held
        assert await other.take()  # another platform connection is another lease
        assert await a.check()
        await a.release()
        assert not a.held
        assert await b.take()
        assert not await a.take()
    finally:
        for lease in (a, b, other):
            await lease.release()


@postgres_only
async def test_the_holder_is_visible_in_pg_locks(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    lease = make_lease(engines[0], NAME)
    assert await lease_holder(engines[1], NAME) is None
    try:
        assert await lease.take()
        pid = await lease_holder(engines[1], NAME)
        assert pid is not None and await lease_holder(engines[1], "record:/another") is None
    finally:
        await lease.release()
    assert await lease_holder(engines[1], NAME) is None


class Watch:
    """A keeper's lease-taken and lease-lost moments, as events to await."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.taken = asyncio.Event()
        self.lost = asyncio.Event()

        async def taken() -> None:
            self.taken.set()

        def make(on_drop: Callable[[], None]) -> Lease:
            return make_lease(engine, NAME, on_drop=on_drop)

        self.keeper = LeaseKeeper(make, retry=0.1, taken=taken, lost=self.lost.set)


@postgres_only
async def test_a_holder_whose_session_ends_stops_at_once_and_the_other_takes_over(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    first, second = Watch(engines[0]), Watch(engines[1])
    await first.keeper.attempt()
    await second.keeper.attempt()
    assert first.keeper.holding and not second.keeper.holding
    # Only the second keeps trying: the first learns of its loss from the driver alone.
    tasks = [asyncio.create_task(second.keeper.run())]
    try:
        # The holder's lease session ends (the network cut it, an operator terminated
        # it, the process died): PostgreSQL frees the lock with it.
        pid = await lease_holder(engines[1], NAME)
        async with engines[1].connect() as conn:
            assert await conn.scalar(select(func.pg_terminate_backend(pid)))
        await asyncio.wait_for(first.lost.wait(), timeout=TIMEOUT)
        assert not first.keeper.holding
        await asyncio.wait_for(second.taken.wait(), timeout=TIMEOUT)
        assert second.keeper.holding
        assert await lease_holder(engines[0], NAME) not in (None, pid)
        # The first goes back to trying, and gets nothing while the second holds it.
        await first.keeper.attempt()
        assert not first.keeper.holding
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for watch in (first, second):
            await watch.keeper.release()
