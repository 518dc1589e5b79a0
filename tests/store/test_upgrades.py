"""The upgrade path (issue 9, point 7): a database at every earlier revision, with data
in it, migrates to head and keeps that data, its decision log still verifying; and
head goes down one revision and up again. On SQLite and PostgreSQL.

Each revision's database is a committed fixture (``fixtures/sqlite/<rev>.sqlite``,
``fixtures/postgresql/<rev>.sql``), made once by ``make_fixtures.py`` when that
migration was released and never again: so an old migration edited later is tested
against the schema users have, not against the edited history.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.domain.decision_log import verify_chain
from governance.domain.ids import CommunityId, MemberId, ProposalId, RoomRef
from governance.domain.stories import Consent, Story
from governance.service.ports import PlatformEvent, StoryQuery
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.migrate import current, downgrade, head, revisions, upgrade
from governance.store.uow import uow_factory
from tests.store import make_fixtures
from tests.store.make_fixtures import AT, FIXTURES, postgresql_fixture, sqlite_fixture

REVISIONS = revisions()
"""Oldest first: 0001 … head."""
DEMO = CommunityId("demo")


async def _load(backend: str, db_url: str, rev: str) -> None:
    """Make the empty database at `db_url` the fixture of `rev`."""
    if backend == "sqlite":
        database = make_url(db_url).database
        assert database is not None
        shutil.copyfile(sqlite_fixture(rev), database)
        return
    connection = await asyncpg.connect(db_url)
    try:
        await connection.execute(postgresql_fixture(rev).read_text(encoding="utf-8"))
    finally:
        await connection.close()


async def _check(
    engine: AsyncEngine, rev: str, *, sources_kept: bool = True, encryption_kept: bool = True
) -> None:
    """Everything the fixture of `rev` holds is there at head, read through the store's
    own code, and the store goes on from it. Without `sources_kept` (after a downgrade
    past 0016), a story no longer knows the message it was told as, and stays. Without
    `encryption_kept` (past 0017), nothing is known to be encrypted until reported."""
    factory = uow_factory(engine)
    async with factory(read_only=True) as uow:
        entries = await uow.log.entries(DEMO)
        assert [e.kind for e in entries] == ["propose", "open", "close"]
        assert verify_chain(entries) is None
        community = await uow.communities.get(DEMO)
        assert community is not None and community.timezone == "Europe/Berlin"
        ana = await uow.members.get(MemberId(1))
        assert ana is not None and ana.display_name == "ana"
        proposal = await uow.proposals.get_by_id(ProposalId(1))
        assert proposal is not None and proposal.title == "Share the tools"
        # 0017 knows which rooms are encrypted and what began in one; before, none was.
        encrypted = rev >= "0017" and encryption_kept
        assert await uow.bindings.is_encrypted(RoomRef("test", "room-1")) is encrypted
        assert proposal.encrypted_origin is encrypted
        choices = await uow.ballots.choices(ProposalId(1))
        assert sorted(c.options for c in choices) == [("Garage",), ("Shed",), ("Shed",)]
        assert await uow.ballots.count(ProposalId(1)) == 3
        assert await uow.ballots.roll(ProposalId(1)) == [1, 2, 3]
        assert await uow.proposals.outcome(ProposalId(1)) == "Built."
        conn = uow.connection
        assert await conn.scalar(select(func.count()).select_from(t.ballot_history)) == 3
        assert await conn.scalar(select(t.outbox.c.routed_at)) is not None
        assert await conn.scalar(select(func.count()).select_from(t.members)) == 3
        prompts = await conn.scalar(select(func.count()).select_from(t.prompts))
        assert prompts == (1 if rev >= "0008" else 0)
        if rev >= "0008":  # (the fixture's prompt has a kind of old: read as a row)
            prompt_origin = await conn.scalar(select(t.prompts.c.encrypted_origin))
            assert prompt_origin is encrypted
        sent = await conn.scalar(
            select(func.count()).where(t.deliveries.c.delivered_at.is_not(None))
        )
        assert sent == (1 if rev >= "0005" else 0)
        if rev < "0004":  # 0004 gave the proposal its first version
            versions = await conn.scalar(select(func.count()).select_from(t.proposal_versions))
            assert versions == 1
        if rev >= "0007":  # the story is found by its tag and by its words
            by_tag = (await uow.stories.find(DEMO, StoryQuery(tags=("shed",)), limit=5)).stories
            by_words = (await uow.stories.find(DEMO, StoryQuery(words="built"), limit=5)).stories
            assert [s.number for s in by_tag] == [s.number for s in by_words] == [1]
            assert by_tag[0].tags == ("shed", "tools")
            assert by_tag[0].encrypted_origin is encrypted
            told_as = await uow.stories.by_source("test", "$story-1")
            if rev >= "0016" and sources_kept:  # told as a chat message: it follows it
                assert told_as is not None and told_as.number == 1
            else:
                assert told_as is None
        else:
            assert await conn.scalar(select(func.count()).select_from(t.stories)) == 0
    if rev >= "0006":  # an event handled before the upgrade is not handled again
        async with factory() as uow:
            again = PlatformEvent("test", "$vote-1", AT + timedelta(days=30))
            assert not await uow.handled.mark([again])
    async with factory() as uow:  # a new story takes the next number, and a new id
        told = await uow.stories.add(
            Story(
                id=0,
                community=DEMO,
                number=0,
                text="The shed has a roof now.",
                consent=Consent.COMMUNITY,
                author=MemberId(3),
                author_tag=None,
                prompt=None,
                proposal=1,
                tags=("shed",),
                told_at=AT + timedelta(days=30),
            )
        )
        await uow.commit()
    expected = 2 if rev >= "0007" else 1
    assert (told.number, told.id) == (expected, expected)


@pytest.mark.parametrize("rev", REVISIONS)
async def test_every_released_revision_upgrades_to_head_with_its_data(
    backend: str, db_url: str, rev: str
) -> None:
    await _load(backend, db_url, rev)
    engine = make_engine(db_url)
    try:
        assert await current(engine) == rev
        await upgrade(engine)
        assert await current(engine) == head()
        await _check(engine, rev)
    finally:
        await engine.dispose()


async def test_head_goes_down_one_revision_and_up_again(backend: str, db_url: str) -> None:
    newest, previous = REVISIONS[-1], REVISIONS[-2]
    await _load(backend, db_url, newest)
    engine = make_engine(db_url)
    try:
        await downgrade(engine, previous)
        assert await current(engine) == previous
        await upgrade(engine)
        assert await current(engine) == head()
        await _check(
            engine,
            newest,
            sources_kept=previous >= "0016",
            encryption_kept=previous >= "0017",
        )
    finally:
        await engine.dispose()


def test_every_revision_has_its_fixtures_and_no_other_revision_has_one() -> None:
    made = {
        "sqlite": sorted(p.stem for p in (FIXTURES / "sqlite").glob("*.sqlite")),
        "postgresql": sorted(p.stem for p in (FIXTURES / "postgresql").glob("*.sql")),
    }
    assert made == {"sqlite": REVISIONS, "postgresql": REVISIONS}, (
        "a new migration needs its fixtures: python -m tests.store.make_fixtures <revision>"
    )
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == head()


def test_the_fixture_maker_never_writes_over_a_released_fixture(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = sqlite_fixture("0001").read_bytes(), postgresql_fixture("0001").read_bytes()
    assert make_fixtures.main(["0001"]) == 1
    after = sqlite_fixture("0001").read_bytes(), postgresql_fixture("0001").read_bytes()
    assert after == before
    assert "0001.sqlite exists: a released fixture is frozen" in capsys.readouterr().err
