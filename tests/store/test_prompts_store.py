"""The prompts repository and prompt due work, on SQLite and PostgreSQL alike, on the
schema `alembic upgrade head` makes (and migration 0008 undone and done again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from governance.domain.ids import (
    CommunityId,
    MemberId,
    PromptId,
    PromptNumber,
    ProposalNumber,
    RoomRef,
)
from governance.domain.prompts import Prompt, PromptKind, PromptStatus
from governance.service.ports import ConflictError
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.migrate import current, downgrade, head, upgrade
from governance.store.uow import SqlUnitOfWorkFactory, uow_factory

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEMO, COOP = CommunityId("demo"), CommunityId("coop")
ROOM = RoomRef("matrix", "!room:example.org")


def draft(community: CommunityId = DEMO, **changes: object) -> Prompt:
    prompt = Prompt(
        id=PromptId(0),
        community=community,
        number=PromptNumber(0),
        question="What changed for you?",
        kind=PromptKind.CUSTOM,
        status=PromptStatus.ACTIVE,
        rule="every mon 10:00",
        proposal=None,
        next_at=AT + timedelta(hours=1),
        created_at=AT,
        created_by=MemberId(1),
    )
    return replace(prompt, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    engine = make_engine(db_url)
    await upgrade(engine)
    async with engine.begin() as conn:
        for name in (DEMO, COOP):
            await conn.execute(
                insert(t.communities).values(
                    id=name, timezone="UTC", default_vote="7d", admins=[], bridge_patterns=[]
                )
            )
        await conn.execute(
            insert(t.members).values(
                id=1, community_id=DEMO, display_name="ana", role=2, is_bot=False, joined_at=AT
            )
        )
        await conn.execute(
            insert(t.proposals).values(
                id=7,
                community_id=DEMO,
                number=3,
                title="Share the tools",
                body="",
                author_id=1,
                method="majority",
                options=[],
                policy={},
                status="closed",
                vote_length="7d",
                created_at=AT,
                roll_size=0,
            )
        )
    try:
        yield uow_factory(engine)
    finally:
        await engine.dispose()


async def test_prompts_are_numbered_per_community_and_read_back_whole(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        first = await uow.prompts.add(draft())
        second = await uow.prompts.add(draft(proposal=ProposalNumber(3), rule=None))
        other = await uow.prompts.add(draft(COOP, created_by=None))
        await uow.commit()
    assert (first.number, second.number, other.number) == (1, 2, 1)
    async with factory(read_only=True) as uow:
        assert await uow.prompts.get(DEMO, PromptNumber(1)) == first
        assert await uow.prompts.get_by_id(second.id) == second
        assert (await uow.prompts.get(COOP, PromptNumber(1))) == other
        assert await uow.prompts.get(COOP, PromptNumber(2)) is None
    assert second.proposal == 3
    assert first.next_at == AT + timedelta(hours=1) and first.next_at.tzinfo is not None


async def test_an_update_applies_only_to_the_prompt_as_it_was_read(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        prompt = await uow.prompts.add(draft())
        await uow.commit()
    posted = prompt.posted(at=AT, next_at=AT + timedelta(days=7))
    async with factory() as uow:
        assert await uow.prompts.update(posted, expect=prompt)
        # A second runner that read it before the first posting finds it changed.
        assert not await uow.prompts.update(posted, expect=prompt)
        paused = posted.paused()
        assert await uow.prompts.update(paused, expect=posted)
        await uow.commit()
    async with factory(read_only=True) as uow:
        stored = await uow.prompts.get_by_id(prompt.id, lock=True)
    assert stored == paused
    assert stored is not None and stored.postings == 1 and stored.last_posted_at == AT


async def test_listing_leaves_ended_prompts_out_unless_asked(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        for _ in range(3):
            await uow.prompts.add(draft())
        ended = await uow.prompts.get(DEMO, PromptNumber(2))
        assert ended is not None
        assert await uow.prompts.update(ended.ended(), expect=ended)
        await uow.commit()
    async with factory(read_only=True) as uow:
        assert [p.number for p in await uow.prompts.listed(DEMO, limit=10)] == [1, 3]
        assert [p.number for p in await uow.prompts.listed(DEMO, ended=True, limit=2)] == [1, 2]
        assert await uow.prompts.count(DEMO) == 3
        assert await uow.prompts.count(DEMO, "ended") == 1


async def test_a_community_has_one_welcome_prompt(factory: SqlUnitOfWorkFactory) -> None:
    welcome = draft(kind=PromptKind.WELCOME, rule=None, next_at=None, created_by=None)
    async with factory() as uow:
        assert await uow.prompts.welcome(DEMO) is None
        made = await uow.prompts.add(welcome)
        await uow.prompts.add(replace(welcome, community=COOP))
        await uow.commit()
    with pytest.raises(ConflictError):
        async with factory() as uow:
            await uow.prompts.add(welcome)
    async with factory(read_only=True) as uow:
        assert await uow.prompts.welcome(DEMO) == made


async def test_threads_map_back_to_their_prompt_latest_posting_first(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        prompt = await uow.prompts.add(draft())
        other = await uow.prompts.add(draft())
        assert await uow.prompts.record_thread(prompt.id, 1, ROOM, "$t1", at=AT)
        assert not await uow.prompts.record_thread(prompt.id, 1, ROOM, "$t1", at=AT)
        assert await uow.prompts.record_thread(prompt.id, 2, ROOM, "$t2", at=AT)
        discord = RoomRef("discord", "4441")
        assert await uow.prompts.record_thread(other.id, 1, discord, "$t1", at=AT)
        await uow.commit()
    async with factory(read_only=True) as uow:
        found = await uow.prompts.by_thread(ROOM, "$t2")
        assert found is not None and found.number == prompt.number
        mapped = await uow.prompts.by_thread(discord, "$t1")
        assert mapped is not None and mapped.number == other.number
        assert await uow.prompts.by_thread(ROOM, "$nothing") is None
        assert await uow.prompts.by_thread(RoomRef("discord", "other"), "$t1") is None
        threads = await uow.prompts.threads(prompt.id)
    assert [(th.posting, th.thread_id, th.room) for th in threads] == [
        (2, "$t2", ROOM),
        (1, "$t1", ROOM),
    ]


async def test_a_prompts_due_work_is_claimed_with_it_and_dropped_with_it(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        prompt = await uow.prompts.add(draft())
        await uow.due.add_prompt("post prompt", prompt.id, AT)
        await uow.due.add_prompt("post prompt", prompt.id, AT + timedelta(days=7))
        assert uow.due.scheduled == [AT, AT + timedelta(days=7)]
        await uow.commit()
    async with factory() as uow:
        [item] = await uow.due.claim_batch(AT, limit=10)
        assert (item.kind, item.prompt, item.proposal) == ("post prompt", prompt.id, None)
        await uow.due.done(item.id, at=AT)
        await uow.due.drop_prompt(prompt.id)
        await uow.commit()
    async with factory(read_only=True) as uow:
        assert await uow.due.next_due() is None
        # The one that ran stays, as the record that it did.
        done = list(await uow.connection.scalars(select(t.due_work.c.done_at)))
    assert done == [AT] or [d.replace(tzinfo=UTC) for d in done] == [AT]


async def test_migration_0008_can_be_undone_and_done_again(
    factory: SqlUnitOfWorkFactory, db_url: str
) -> None:
    async with factory() as uow:
        prompt = await uow.prompts.add(draft())
        await uow.due.add_prompt("post prompt", prompt.id, AT)
        await uow.commit()
    engine = make_engine(db_url)
    try:
        await downgrade(engine, "0007")
        assert await current(engine) == "0007"
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(t.due_work)) == 0
        await upgrade(engine)
        assert await current(engine) == head()
    finally:
        await engine.dispose()
