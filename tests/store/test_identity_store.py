"""The identity repository (link codes, tries, merging, splitting, erasing) on SQLite
and PostgreSQL alike, on the schema `alembic upgrade head` makes (and migration 0009
undone and done again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from governance.domain.ballot import Choice
from governance.domain.ids import AccountRef, CommunityId, MemberId, ProposalId
from governance.domain.members import Role
from governance.domain.stories import Consent, Story
from governance.service.ports import BallotWrite, ConflictError
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.migrate import current, head, upgrade
from governance.store.uow import SqlUnitOfWorkFactory, uow_factory
from tests.store.test_prompts_store import downgrade

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEMO = CommunityId("demo")
ANA, BEN = MemberId(101), MemberId(102)
ANA_M, ANA_D, BEN_M = (
    AccountRef("matrix", "@ana:example.org"),
    AccountRef("discord", "4441"),
    AccountRef("matrix", "@ben:example.org"),
)
P = ProposalId(7)


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    engine = make_engine(db_url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(t.communities).values(
                id=DEMO, timezone="UTC", default_vote="7d", admins=[], bridge_patterns=[]
            )
        )
        for member, name, account in ((ANA, "ana", ANA_M), (BEN, "ben", BEN_M)):
            await conn.execute(
                insert(t.members).values(
                    id=member,
                    community_id=DEMO,
                    display_name=name,
                    role=int(Role.MEMBER),
                    is_bot=False,
                    joined_at=AT,
                )
            )
            await conn.execute(
                insert(t.accounts).values(
                    community_id=DEMO,
                    platform=account.platform,
                    account_id=account.account_id,
                    member_id=member,
                )
            )
        await conn.execute(
            insert(t.proposals).values(
                id=P,
                community_id=DEMO,
                number=1,
                title="Share the tools",
                body="",
                author_id=BEN,
                method="majority",
                options=[],
                policy={},
                status="voting",
                vote_length="7d",
                created_at=AT,
                roll_size=2,
            )
        )
        await conn.execute(insert(t.roll), [{"proposal_id": P, "member_id": m} for m in (ANA, BEN)])
    try:
        yield uow_factory(engine)
    finally:
        await engine.dispose()


async def test_a_code_is_found_by_its_hash_used_once_and_replaced_by_the_next(
    factory: SqlUnitOfWorkFactory,
) -> None:
    expires = AT + timedelta(minutes=10)
    async with factory() as uow:
        await uow.identity.add_code(
            DEMO, ANA, "h1", at=AT, expires_at=expires, keep_after=AT - timedelta(days=1)
        )
        await uow.commit()
    async with factory() as uow:
        code = await uow.identity.code("h1")
        assert code is not None and (code.member, code.expires_at, code.used_at) == (
            ANA,
            expires,
            None,
        )
        assert await uow.identity.use_code(code.id, at=AT)
        assert not await uow.identity.use_code(code.id, at=AT)  # single use
        await uow.commit()
    async with factory() as uow:
        used = await uow.identity.code("h1")
        assert used is not None and used.used_at == AT
        # A new code drops the member's unused ones, and old used ones after a day.
        await uow.identity.add_code(
            DEMO, ANA, "h2", at=AT, expires_at=expires, keep_after=AT - timedelta(days=1)
        )
        await uow.identity.add_code(
            DEMO, ANA, "h3", at=AT, expires_at=expires, keep_after=AT - timedelta(days=1)
        )
        assert await uow.identity.code("h2") is None
        assert await uow.identity.code("h1") is not None
        later = AT + timedelta(days=2)
        await uow.identity.add_code(
            DEMO, BEN, "h4", at=later, expires_at=later, keep_after=later - timedelta(days=1)
        )
        assert await uow.identity.code("h1") is None and await uow.identity.code("h3") is None
        await uow.commit()
    with pytest.raises(ConflictError):  # a hash names one code
        async with factory() as uow:
            await uow.identity.add_code(DEMO, ANA, "h4", at=AT, expires_at=AT, keep_after=AT)


async def test_refused_tries_are_counted_per_account_within_the_window(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        for minutes in (0, 10, 20):
            at = AT + timedelta(minutes=minutes)
            await uow.identity.refused(ANA_D, at=at, keep_after=at - timedelta(hours=1))
        await uow.identity.refused(BEN_M, at=AT, keep_after=AT - timedelta(hours=1))
        await uow.commit()
    async with factory() as uow:
        assert len(await uow.identity.tries(ANA_D, since=AT - timedelta(hours=1))) == 3
        assert await uow.identity.tries(ANA_D, since=AT + timedelta(minutes=5)) == [
            AT + timedelta(minutes=10),
            AT + timedelta(minutes=20),
        ]
        later = AT + timedelta(hours=2)
        await uow.identity.refused(ANA_D, at=later, keep_after=later - timedelta(hours=1))
        await uow.commit()
        rows = await uow.connection.scalar(select(func.count()).select_from(t.link_attempts))
    assert rows == 2  # ana's old tries are forgotten, ben's stay until his next


async def test_merging_moves_accounts_roll_ballots_history_and_stories(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        await uow.ballots.write(
            [BallotWrite(P, f"m{ANA}", ANA, Choice("yes"), AT, False)], history=True
        )
        await uow.ballots.write(
            [BallotWrite(P, f"m{BEN}", BEN, Choice("no"), AT + timedelta(minutes=1), False)],
            history=True,
        )
        story = Story(
            0, DEMO, 0, "Our shed", Consent.ANONYMOUS, None, "tag-ben", None, None, (), AT
        )
        await uow.stories.add(story)
        await uow.commit()
    async with factory() as uow:
        [open_vote] = await uow.identity.open_votes(DEMO)
        assert open_vote.id == P
        found = await uow.identity.ballots(P, [f"m{ANA}", f"m{BEN}"])
        assert found[f"m{BEN}"].cast_at == AT + timedelta(minutes=1)
        assert found[f"m{BEN}"].choice == Choice("no")
        await uow.identity.drop_ballot(P, f"m{ANA}")
        await uow.identity.rekey(P, f"m{BEN}", f"m{ANA}", ANA, None)
        await uow.identity.drop_from_roll(P, BEN)
        await uow.identity.move_history([P], BEN, ANA)
        await uow.identity.move_accounts(BEN, ANA)
        await uow.identity.mark_merged(BEN, ANA)
        assert await uow.identity.move_stories(DEMO, BEN, ANA, ("tag-ben", "tag-ana")) == 1
        await uow.commit()
    async with factory() as uow:
        assert await uow.ballots.roll(P) == [ANA]
        proposal = await uow.proposals.get_by_id(P)
        assert proposal is not None and proposal.roll_size == 1
        assert await uow.ballots.current([(P, f"m{ANA}")]) == {(P, f"m{ANA}"): Choice("no")}
        assert [c.verdict if c else None for c in await uow.ballots.history(P, ANA)] == [
            "yes",
            "no",
        ]
        member = await uow.members.by_account(DEMO, BEN_M)
        assert member is not None and member.id == ANA
        assert await uow.members.voters(DEMO) == [ANA]
        assert await uow.members.find(DEMO, "ben") == []
        assert await uow.members.count(DEMO) == 1
        assert [m.id for m in await uow.identity.absorbed(ANA)] == [BEN]
        [moved] = await uow.identity.stories_by(DEMO, ANA, "tag-ana")
        assert moved.text == "Our shed"


async def test_splitting_and_erasing(factory: SqlUnitOfWorkFactory) -> None:
    async with factory() as uow:
        await uow.identity.attach(DEMO, ANA_D, ANA)
        await uow.identity.add_code(DEMO, ANA, "h", at=AT, expires_at=AT, keep_after=AT)
        await uow.identity.refused(ANA_D, at=AT, keep_after=AT)
        await uow.connection.execute(
            insert(t.direct_rooms).values(
                platform="discord", account_id=ANA_D.account_id, room_id="dm-1"
            )
        )
        await uow.commit()
    async with factory() as uow:
        accounts = await uow.members.accounts([ANA])
        assert accounts[ANA] == [ANA_M, ANA_D]
        split = await uow.identity.split(DEMO, ANA_D, "ana (discord)", at=AT)
        assert split.role is Role.MEMBER and split.stakeholder_class is None
        assert await uow.members.by_account(DEMO, ANA_D) == split
        await uow.identity.attach(DEMO, ANA_D, ANA)  # and back
        await uow.commit()
    async with factory() as uow:
        gone = await uow.identity.erase(ANA, "erased member 101", at=AT)
        assert sorted(map(str, gone)) == sorted(map(str, [ANA_M, ANA_D]))
        await uow.commit()
    async with factory() as uow:
        erased = await uow.members.get(ANA)
        assert erased is not None and erased.display_name == "erased member 101"
        assert erased.role is Role.OBSERVER
        assert await uow.members.by_account(DEMO, ANA_D) is None
        assert ANA not in await uow.members.voters(DEMO)
        for table in (t.link_codes, t.link_attempts, t.direct_rooms):
            n = await uow.connection.scalar(select(func.count()).select_from(table))
            assert n == 0, table.name


async def test_migration_0009_can_be_undone_and_done_again(
    factory: SqlUnitOfWorkFactory, db_url: str
) -> None:
    async with factory() as uow:
        await uow.identity.add_code(DEMO, ANA, "h", at=AT, expires_at=AT, keep_after=AT)
        await uow.identity.mark_merged(BEN, ANA)
        await uow.commit()
    engine = make_engine(db_url)
    try:
        await downgrade(engine, "0011")
        assert await current(engine) == "0011"
        await upgrade(engine)
        assert await current(engine) == head()
    finally:
        await engine.dispose()
