"""The federation parts store, on the real schema `alembic upgrade head` makes (and
migration 0011 undone and done again), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from governance.domain.ids import CommunityId, ProposalId, ProposalNumber
from governance.service.ports import ConflictError, FederatedIn, PartRef
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.migrate import current, head, upgrade
from governance.store.uow import SqlUnitOfWorkFactory, uow_factory
from tests.store.test_prompts_store import downgrade

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FED, BAKERY, DAIRY = CommunityId("fed"), CommunityId("bakery"), CommunityId("dairy")
PROPOSALS = [  # id, community, number
    (1, FED, 1),
    (2, BAKERY, 1),
    (3, DAIRY, 1),
    (4, BAKERY, 2),
    (5, FED, 2),
    (6, BAKERY, 3),
]


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    engine = make_engine(db_url)
    await upgrade(engine)
    async with engine.begin() as conn:
        for name in (FED, BAKERY, DAIRY):
            await conn.execute(
                insert(t.communities).values(
                    id=name, timezone="UTC", default_vote="7d", admins=[], bridge_patterns=[]
                )
            )
            await conn.execute(
                insert(t.members).values(
                    community_id=name, display_name="ana", role=2, is_bot=False, joined_at=AT
                )
            )
        authors = {
            row.community_id: row.id
            for row in await conn.execute(select(t.members.c.id, t.members.c.community_id))
        }
        for id_, community, number in PROPOSALS:
            await conn.execute(
                insert(t.proposals).values(
                    id=id_,
                    community_id=community,
                    number=number,
                    title="t",
                    body="",
                    author_id=authors[community],
                    method="majority",
                    options=[],
                    policy={},
                    status="voting",
                    vote_length="7d",
                    created_at=AT,
                    roll_size=0,
                )
            )
    try:
        yield uow_factory(engine)
    finally:
        await engine.dispose()


async def test_parts_are_found_from_either_side(factory: SqlUnitOfWorkFactory) -> None:
    async with factory() as uow:
        await uow.federation.add_part(ProposalId(1), DAIRY, ProposalId(3), roll=2, weight=2)
        await uow.federation.add_part(ProposalId(1), BAKERY, ProposalId(2), roll=3, weight=3)
        await uow.federation.add_part(ProposalId(5), BAKERY, ProposalId(6), roll=3, weight=1)
        await uow.commit()
    async with factory(read_only=True) as uow:
        assert await uow.federation.parts(ProposalId(1)) == [
            PartRef(BAKERY, ProposalId(2), ProposalNumber(1), 3, 3),
            PartRef(DAIRY, ProposalId(3), ProposalNumber(1), 2, 2),
        ]
        assert await uow.federation.parts(ProposalId(2)) == []
        assert await uow.federation.federation_of(ProposalId(6)) == FederatedIn(
            ProposalId(5), FED, ProposalNumber(2)
        )
        assert await uow.federation.federation_of(ProposalId(4)) is None
        assert await uow.federation.parts_numbered(BAKERY, ProposalNumber(2)) == [
            (FED, ProposalNumber(3))
        ]
        assert await uow.federation.parts_numbered(DAIRY, ProposalNumber(2)) == []


async def test_a_community_has_one_part_per_federation_proposal(
    factory: SqlUnitOfWorkFactory,
) -> None:
    async with factory() as uow:
        await uow.federation.add_part(ProposalId(1), BAKERY, ProposalId(2), roll=3, weight=1)
        await uow.commit()
    with pytest.raises(ConflictError):
        async with factory() as uow:
            await uow.federation.add_part(ProposalId(1), BAKERY, ProposalId(4), roll=3, weight=1)
            await uow.commit()
    with pytest.raises(ConflictError):  # and a proposal is a part of one federation proposal
        async with factory() as uow:
            await uow.federation.add_part(ProposalId(5), BAKERY, ProposalId(2), roll=3, weight=1)
            await uow.commit()


async def test_migration_0011_can_be_undone_and_done_again(
    factory: SqlUnitOfWorkFactory, db_url: str
) -> None:
    async with factory() as uow:
        await uow.federation.add_part(ProposalId(1), BAKERY, ProposalId(2), roll=3, weight=1)
        await uow.commit()
    engine = make_engine(db_url)
    try:
        await downgrade(engine, "0010")
        assert await current(engine) == "0010"
        await upgrade(engine)
        assert await current(engine) == head()
        async with engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(t.federation_parts))
            assert count == 0
    finally:
        await engine.dispose()
