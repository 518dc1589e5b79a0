"""Several instances on one database: who delivers where, and whose clock decides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.bootstrap import App, bootstrap, ensure_binding
from governance.domain.ids import CommunityId
from governance.service.clocks import SimulatedClock
from governance.service.ports import Clock
from governance.store import tables as t
from governance.store.clock import DatabaseClock
from governance.store.engine import make_engine
from tests.chat import Chat, RecordingOutlet
from tests.conftest import COMMUNITIES, ROOM, postgres_only


@asynccontextmanager
async def instance(
    db_url: str,
    clock: Clock | None = None,
    outlet: RecordingOutlet | None = None,
    *,
    host_clock: Clock | None = None,
) -> AsyncIterator[App]:
    """Another instance on the database; by default on the database's clock as read
    from a host whose own clock is `host_clock`."""
    engine = make_engine(db_url)
    if clock is None:
        clock = DatabaseClock(engine, local=host_clock)
    app = await bootstrap(
        engine=engine,
        clock=clock,
        outlets={} if outlet is None else {"test": outlet},
        communities=COMMUNITIES,
    )
    try:
        yield app
    finally:
        await app.close()


async def test_an_instance_not_holding_a_platform_leaves_its_announcements_to_the_holder(
    chat: Chat, db_url: str
) -> None:
    chat.app.dispatcher.pause("test")  # another instance holds the "test" platform
    await chat.ok("alice", "!propose Paint the door")
    assert not any("Paint the door" in text for text in chat.announced())
    async with chat.app.engine.connect() as conn:
        row = (
            await conn.execute(
                select(t.deliveries).join(t.outbox).where(t.outbox.c.kind == "ProposalCreated")
            )
        ).one()
    # Not delivered, not claimed, not counted as a failure: simply left for the holder.
    assert (row.delivered_at, row.claimed_until, row.attempts) == (None, None, 0)

    holder = RecordingOutlet()
    async with instance(db_url, chat.clock, holder) as other:
        assert await other.dispatcher.drain() == 1
    assert [text.splitlines()[0] for text in holder.texts()] == [
        "#1 Paint the door — voting open until 2026-11-30 09:00 UTC"
    ]
    # Once this instance holds the platform again it delivers, and nothing twice.
    chat.app.dispatcher.resume("test")
    assert await chat.app.dispatcher.drain() == 0
    await chat.ok("alice", "!propose Oil the hinges")
    assert any("Oil the hinges" in text for text in chat.announced())


async def test_rows_with_nothing_to_announce_are_settled_by_any_instance(chat: Chat) -> None:
    await chat.ok("alice", "!propose Paint the door")
    chat.app.dispatcher.pause("test")
    await chat.ok("bob", "!vote 1 yes")  # in the outbox, announced nowhere
    async with chat.app.engine.connect() as conn:
        rows = (await conn.execute(select(t.outbox.c.kind, t.outbox.c.routed_at))).all()
    assert "VoteCast" in [kind for kind, _ in rows]
    assert all(routed is not None for _, routed in rows)


@postgres_only
async def test_instances_whose_clocks_disagree_close_a_vote_once_when_the_database_says(
    db_url: str,
) -> None:
    real = datetime.now(UTC)
    async with instance(db_url, SimulatedClock(real)) as seeding:
        await ensure_binding(seeding, ROOM, CommunityId("demo"))
        chat = Chat(seeding, SimulatedClock(real), RecordingOutlet(), ROOM, CommunityId("demo"))
        await chat.join("alice", admin=True)
        await chat.join("bob")
        await chat.ok("alice", "!propose Paint the shed vote=1h")
        await chat.ok("bob", "!vote 1 yes")

    # One host's clock is an hour fast (by it, the vote is due now), the other's an hour
    # slow. Both read the database's clock.
    fast = SimulatedClock(real + timedelta(hours=1, seconds=1))
    slow = SimulatedClock(real - timedelta(hours=1))
    async with (
        instance(db_url, host_clock=fast) as a,
        instance(db_url, host_clock=slow) as b,
    ):
        for app in (a, b):
            clock = app.deps.clock
            assert isinstance(clock, DatabaseClock)
            await clock.sync()
            async with app.engine.connect() as conn:
                database_now = await conn.scalar(select(func.clock_timestamp()))
            # Never ahead of the database; behind it by no more than a round trip.
            assert database_now - timedelta(seconds=5) < clock.now() <= database_now
        assert await a.governance.run_due() == 0
        assert await b.governance.run_due() == 0

        # The database's clock reaches the deadline: both try at once, one closes.
        async with a.engine.begin() as conn:
            await conn.execute(update(t.due_work).values(due_at=func.now() - timedelta(seconds=1)))
        ran = await asyncio.gather(a.governance.run_due(), b.governance.run_due())
        assert sorted(ran) == [0, 1]
        async with a.engine.connect() as conn:
            closed = await conn.scalar(
                select(func.count())
                .select_from(t.decision_log)
                .where(t.decision_log.c.kind == "closed")
            )
            announced = await conn.scalar(
                select(func.count())
                .select_from(t.outbox)
                .where(t.outbox.c.kind == "ProposalClosed")
            )
            status = await conn.scalar(select(t.proposals.c.status))
        assert (closed, announced, status) == (1, 1, "closed")
