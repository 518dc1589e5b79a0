"""Restarts, second instances and failing platforms lose nothing and repeat nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.bootstrap import bootstrap
from governance.domain.commands import Context, Join
from governance.domain.decision_log import verify_chain
from governance.domain.ids import RoomRef
from governance.service.clocks import SimulatedClock
from governance.store import tables as t
from governance.store.engine import make_engine
from tests.chat import Chat, RecordingOutlet
from tests.conftest import COMMUNITIES


async def test_a_close_missed_while_down_runs_at_start_exactly_once(
    chat: Chat, db_url: str
) -> None:
    await chat.ok("alice", "!propose Rent the hall vote=1d")
    await chat.ok("bob", "!vote 1 yes")
    # The bot is down for two days; two instances come back at once.
    later = SimulatedClock(chat.clock.now() + timedelta(days=2))
    outlets = [RecordingOutlet(), RecordingOutlet()]
    apps = [
        await bootstrap(
            engine=make_engine(db_url), clock=later, outlets={"test": o}, communities=COMMUNITIES
        )
        for o in outlets
    ]
    try:
        ran = await asyncio.gather(*(a.governance.run_due() for a in apps))
        # The 1h reminder and the close, each run by one instance; the reminder is
        # dropped, as its vote has ended.
        assert sum(ran) == 2
        await asyncio.gather(*(a.dispatcher.drain() for a in apps))
        delivered = [text for o in outlets for text in o.texts()]
        assert [text.splitlines()[1] for text in delivered if "voting closed" in text] == [
            "Passed — 1 yes, 0 no."
        ]
        assert [o.told for o in outlets] == [[], []]
    finally:
        for a in apps:
            await a.close()


async def test_an_announcement_committed_but_not_sent_goes_out_after_a_restart(
    chat: Chat, db_url: str
) -> None:
    # The vote is proposed, but the process dies before the outbox is read.
    reply = await chat.app.governance.handle_text(
        chat.room, chat.account("alice"), "!propose Fix the roof", chat.clock.now()
    )
    assert reply is not None and reply.ok
    assert chat.announced() == []
    outlet = RecordingOutlet()
    again = await bootstrap(
        engine=make_engine(db_url),
        clock=chat.clock,
        outlets={"test": outlet},
        communities=COMMUNITIES,
    )
    try:
        assert await again.dispatcher.drain() == 1
        assert outlet.texts()[0].startswith("#1 Fix the roof — voting open until")
        assert await again.dispatcher.drain() == 0
    finally:
        await again.close()


async def test_one_unreachable_room_does_not_block_the_others_and_is_retried(chat: Chat) -> None:
    second, broken = RoomRef("test", "room-2"), RoomRef("test", "room-3")
    for room in (second, broken):
        await chat.app.governance.handle_text(
            room, chat.account("alice"), "!bind demo", chat.clock.now()
        )
    chat.outlet.fail_rooms.add(broken)
    await chat.ok("alice", "!propose Share the van")
    rooms = [room for room, text, _ in chat.outlet.posts if "Share the van" in text]
    assert rooms == [chat.room, second]
    async with chat.app.engine.connect() as conn:
        row = (
            await conn.execute(
                select(t.deliveries)
                .join(t.outbox)
                .where(t.outbox.c.kind == "ProposalCreated", t.deliveries.c.delivered_at.is_(None))
            )
        ).one()
    assert row.attempts == 1 and "room-3" in row.last_error and row.channel == "room:test:room-3"

    chat.outlet.fail_rooms.clear()
    chat.clock.set(chat.clock.now() + timedelta(seconds=3))
    await chat.app.dispatcher.drain()
    deliveries = [(room, key) for room, text, key in chat.outlet.posts if "Share the van" in text]
    # Only the failed room is tried again, under the key it had the first time.
    assert [room for room, _ in deliveries] == [chat.room, second, broken]
    assert len({key for _, key in deliveries}) == 3


async def test_binding_needs_an_admin_and_a_room_belongs_to_one_community(chat: Chat) -> None:
    room = RoomRef("test", "room-9")

    async def say(name: str, text: str) -> str:
        reply = await chat.app.governance.handle_text(
            room, chat.account(name), text, chat.clock.now()
        )
        assert reply is not None
        return reply.message.plain()

    assert await say("bob", "!vote 1 yes") == (
        "This room is not bound to a community; an admin can !bind it."
    )
    assert await say("bob", "!bind demo") == "Only an admin of demo can bind a room to it."
    assert await say("alice", "!bind nowhere") == (
        "There is no community called “nowhere” in the config."
    )
    assert await say("alice", "!bind demo") == "This room is now bound to demo."
    assert await say("alice", "!bind demo") == "This room is already bound to demo."
    # test:root is a configured admin of "demo" though not yet a member.
    assert (await say("root", "!bind coop")).startswith("Only an admin of coop")
    await chat.ok("alice", "!propose Meet on Tuesdays")
    assert sum("Meet on Tuesdays" in text for text in chat.announced()) == 2


async def test_the_unique_ballot_key_holds_in_the_database(chat: Chat) -> None:
    await chat.ok("alice", "!propose One vote each")
    await chat.ok("bob", "!vote 1 yes")
    async with chat.app.engine.connect() as conn:
        (proposal_id,) = (await conn.execute(select(t.proposals.c.id))).one()
        try:
            await conn.execute(
                t.ballots.insert().values(
                    proposal_id=proposal_id, voter_key="m2", member_id=2, choice={"v": "no"}
                )
            )
        except Exception as error:  # the driver's IntegrityError
            assert "unique" in str(error).lower()
        else:
            raise AssertionError("a second ballot for the same voter was stored")
        await conn.rollback()
        assert await conn.scalar(select(func.count()).select_from(t.ballots)) == 1


async def test_two_instances_taking_the_same_member_s_votes_store_one_ballot(
    chat: Chat, db_url: str
) -> None:
    await chat.ok("alice", "!propose One ballot each, whatever the instance")
    other = await bootstrap(
        engine=make_engine(db_url), clock=chat.clock, outlets={}, communities=COMMUNITIES
    )
    try:
        apps = [chat.app, other]
        replies = await asyncio.gather(
            *(
                apps[i % 2].governance.handle_text(
                    chat.room,
                    chat.account("bob"),
                    f"!vote 1 {'yes' if i % 2 else 'no'}",
                    chat.clock.now(),
                )
                for i in range(20)
            )
        )
        texts = [r.message.plain() for r in replies if r is not None]
        assert len(texts) == 20 and all(r is not None and r.ok for r in replies), texts
    finally:
        await other.close()
    async with chat.app.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(t.ballots)) == 1
        history = await conn.scalar(select(func.count()).select_from(t.ballot_history))
    # Every vote that changed something is in the history, and only those.
    assert history == sum("nothing changed" not in text for text in texts)


async def test_a_close_that_fails_is_retried_later_and_does_not_hold_up_the_others(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!propose Broken one vote=1h")
    await chat.ok("alice", "!propose Healthy one vote=2h")
    async with chat.app.engine.begin() as conn:  # a row the code can no longer read
        await conn.execute(
            update(t.proposals).where(t.proposals.c.number == 1).values(method="lottery")
        )
    await chat.advance(hours=3)
    closed = [text.splitlines()[0] for text in chat.announced() if "voting closed" in text]
    assert closed == ["#2 Healthy one — voting closed"]
    async with chat.app.engine.connect() as conn:
        row = (await conn.execute(select(t.due_work).where(t.due_work.c.done_at.is_(None)))).one()
    assert row.attempts >= 1 and row.due_at > chat.clock.now()
    # Repaired, it closes at its next try.
    async with chat.app.engine.begin() as conn:
        await conn.execute(
            update(t.proposals).where(t.proposals.c.number == 1).values(method="majority")
        )
    await chat.advance(days=1)
    assert any(text.startswith("#1 Broken one — voting closed") for text in chat.announced())


async def test_concurrent_commands_in_one_community_all_succeed_and_keep_one_chain(
    chat: Chat, db_url: str
) -> None:
    other = await bootstrap(
        engine=make_engine(db_url), clock=chat.clock, outlets={}, communities=COMMUNITIES
    )
    try:
        apps = [chat.app, other]
        joins = [
            apps[i % 2].governance.handle(
                Join(
                    Context(chat.account(f"j{i}"), chat.room, chat.community, chat.clock.now()),
                    f"j{i}",
                )
            )
            for i in range(12)
        ]
        proposals = [
            apps[i % 2].governance.handle_text(
                chat.room, chat.account("alice"), f"!propose Idea {i}", chat.clock.now()
            )
            for i in range(8)
        ]
        replies = await asyncio.gather(*joins, *proposals)
        failed = [r.message.plain() for r in replies if r is None or not r.ok]
        assert failed == []
    finally:
        await other.close()
    numbers = sorted(
        int(r.message.plain().removeprefix("Proposed as #").rstrip("."))
        for r in replies[12:]
        if r is not None
    )
    assert numbers == list(range(1, 9))
    async with chat.app.uow() as uow:
        entries = await uow.log.entries(chat.community)
    assert verify_chain(entries) is None
    assert len(entries) == 3 + 12 + 8 * 2  # 3 joins, 12 more, each proposal and its opening


async def test_closes_due_together_run_in_one_batch_each_once_with_one_chain(chat: Chat) -> None:
    for i in range(5):
        await chat.ok("alice", f"!propose Batch {i} vote=1h")
    await chat.ok("bob", "!vote 2 yes")
    await chat.advance(hours=2)  # all five are due at the same instant
    closed = sorted(text.splitlines()[0] for text in chat.announced() if "voting closed" in text)
    assert closed == [f"#{i + 1} Batch {i} — voting closed" for i in range(5)]
    async with chat.app.uow() as uow:
        entries = await uow.log.entries(chat.community)
    assert verify_chain(entries) is None
    assert [e.proposal for e in entries if e.kind == "closed"] == [1, 2, 3, 4, 5]
    async with chat.app.engine.connect() as conn:
        assert (
            await conn.scalar(
                select(func.count())
                .select_from(t.outbox)
                .where(t.outbox.c.kind == "ProposalClosed")
            )
            == 5
        )
        assert (
            await conn.scalar(
                select(func.count()).select_from(t.due_work).where(t.due_work.c.done_at.is_(None))
            )
            == 0
        )


async def test_a_failing_close_in_a_batch_is_put_off_alone(chat: Chat) -> None:
    await chat.ok("alice", "!propose First vote=1h")
    await chat.ok("alice", "!propose Broken vote=1h")
    await chat.ok("alice", "!propose Third vote=1h")
    async with chat.app.engine.begin() as conn:  # a row the code can no longer read
        await conn.execute(
            update(t.proposals).where(t.proposals.c.number == 2).values(method="lottery")
        )
    await chat.advance(minutes=90)  # the three are due together: one batch, which fails
    closed = sorted(text.splitlines()[0] for text in chat.announced() if "voting closed" in text)
    assert closed == ["#1 First — voting closed", "#3 Third — voting closed"]
    async with chat.app.engine.connect() as conn:
        row = (await conn.execute(select(t.due_work).where(t.due_work.c.done_at.is_(None)))).one()
        statuses = dict(
            (await conn.execute(select(t.proposals.c.number, t.proposals.c.status))).all()
        )
    assert row.attempts >= 1 and row.due_at > chat.clock.now()  # retried with backoff
    assert statuses == {1: "closed", 2: "voting", 3: "closed"}
