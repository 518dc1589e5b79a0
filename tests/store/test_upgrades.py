"""The upgrade path (issue 9, point 7): a database at every earlier revision, with data
in it, migrates to head and keeps that data, its decision log still verifying; and
head goes down one revision and up again. On SQLite and PostgreSQL.

The rows are written as they were valid at each revision: columns come from the
database as it stands at that revision (a column added later is simply not written
yet, one removed later still is), plus what only some ranges had (``rev >= "0005"``:
deliveries; ``>= "0007"``: stories; ``>= "0008"``: prompts).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, column, func, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.domain.decision_log import GENESIS, chain_hash, verify_chain
from governance.domain.ids import CommunityId, MemberId, ProposalId
from governance.domain.lifecycle import ClosedAs
from governance.domain.result import Result
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.migrate import alembic_config, current, head, upgrade
from governance.store.uow import uow_factory

AT = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
REVISIONS = [s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()][
    ::-1
]
"""Oldest first: 0001 … head."""


def _log_rows() -> list[dict[str, Any]]:
    rows, prev = [], GENESIS
    events = [
        ("propose", 1, 1, {"title": "Share the tools"}),
        ("open", 1, None, {"roll": 3}),
        ("close", 1, None, {"result": "passed", "ballots": 3}),
    ]
    for seq, (kind, proposal, actor, data) in enumerate(events, start=1):
        body = {
            "community": "demo",
            "seq": seq,
            "at": (AT + timedelta(minutes=seq)).isoformat(),
            "kind": kind,
            "proposal": proposal,
            "actor": actor,
            "data": data,
        }
        digest = chain_hash(body, prev)
        rows.append(
            {
                "community_id": "demo",
                "seq": seq,
                "at": body["at"],
                "kind": kind,
                "proposal": proposal,
                "actor": actor,
                "data": data,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


def _rows(rev: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every row to write at `rev`, by table, in foreign-key order; each with every
    column it has had at any revision (those the table lacks at `rev` are dropped)."""
    closed = AT + timedelta(days=7)
    members = [
        {
            "id": n,
            "community_id": "demo",
            "display_name": name,
            "role": 2 if n == 1 else 1,
            "stakeholder_class": None,
            "is_bot": False,
            "joined_at": AT,
        }
        for n, name in [(1, "ana"), (2, "ben"), (3, "cy")]
    ]
    rows: list[tuple[str, list[dict[str, Any]]]] = [
        (
            "communities",
            [
                {
                    "id": "demo",
                    "timezone": "Europe/Berlin",
                    "default_vote": "7d",
                    "quorum": "2",
                    "admins": ["test:ana"],
                    "bridge_patterns": [],
                    "max_vote": "30d",
                    "reminders": "24h",
                }
            ],
        ),
        ("members", members),
        (
            "accounts",
            [
                {
                    "id": n,
                    "community_id": "demo",
                    "platform": "test",
                    "account_id": m,
                    "member_id": n,
                }
                for n, m in [(1, "ana"), (2, "ben"), (3, "cy")]
            ],
        ),
        (
            "bindings",
            [{"platform": "test", "room_id": "room-1", "community_id": "demo", "bound_at": AT}],
        ),
        (
            "proposals",
            [
                {
                    "id": 1,
                    "community_id": "demo",
                    "number": 1,
                    "title": "Share the tools",
                    "body": "A shed for everyone's tools.",
                    "author_id": 1,
                    "method": "choice",
                    "options": ["Shed", "Garage"],
                    "policy": {},
                    "status": "closed",
                    "closed_as": "decided",
                    "vote_length": "7d",
                    "created_at": AT,
                    "opened_at": AT,
                    "closes_at": closed,
                    "closed_at": closed,
                    "roll_size": 3,
                    "result": Result(
                        closed_as=ClosedAs.DECIDED,
                        summary="Winner: Shed",
                        counts=(("Shed", 2), ("Garage", 1)),
                        ballots=3,
                        roll=3,
                        quorum_reached=True,
                        winners=("Shed",),
                    ).to_json(),
                }
            ],
        ),
        ("roll", [{"proposal_id": 1, "member_id": n} for n in (1, 2, 3)]),
        (
            "ballots",
            [
                {
                    "id": n,
                    "proposal_id": 1,
                    "voter_key": f"m{n}",
                    "member_id": n,
                    "choice": {"o": [choice]},
                    "cast_at": AT + timedelta(hours=n),
                }
                for n, choice in [(1, "Shed"), (2, "Shed"), (3, "Garage")]
            ],
        ),
        (
            "ballot_history",
            [
                {
                    "proposal_id": 1,
                    "member_id": n,
                    "choice": {"o": [c]},
                    "at": AT + timedelta(hours=n),
                }
                for n, c in [(1, "Shed"), (2, "Shed"), (3, "Garage")]
            ],
        ),
        (
            "outcomes",
            [{"proposal_id": 1, "statement": "Built.", "recorded_by": 1, "recorded_at": closed}],
        ),
        ("decision_log", _log_rows()),
        (
            "outbox",
            [
                {
                    "id": 1,
                    "community_id": "demo",
                    "kind": "ProposalClosed",
                    "payload": {},
                    "created_at": closed,
                    "routed_at": closed,  # from 0005
                    "delivered_at": closed,  # before 0005
                    "attempts": 1,
                    "next_attempt_at": closed,
                }
            ],
        ),
    ]
    if rev >= "0005":
        rows.append(
            (
                "deliveries",
                [
                    {
                        "outbox_id": 1,
                        "platform": "test",
                        "channel": "room:test:room-1",
                        "attempts": 1,
                        "next_attempt_at": closed,
                        "delivered_at": closed,
                    }
                ],
            )
        )
    if rev >= "0007":
        rows.append(
            (
                "stories",
                [
                    {
                        "id": 1,
                        "community_id": "demo",
                        "number": 1,
                        "text": "We built the shed in a day.",
                        "consent": "members",
                        "author_id": 2,
                        "proposal": 1,
                        "tags": "shed",
                        "told_at": closed,
                    }
                ],
            )
        )
    if rev >= "0008":
        rows.append(
            (
                "prompts",
                [
                    {
                        "id": 1,
                        "community_id": "demo",
                        "number": 1,
                        "question": "How is the shed?",
                        "kind": "once",
                        "status": "done",
                        "postings": 1,
                        "created_by": 1,
                        "created_at": closed,
                    }
                ],
            )
        )
    return rows


async def _seed(engine: AsyncEngine, rev: str) -> None:
    def write(conn: Connection) -> None:
        present = MetaData()
        present.reflect(conn)
        for name, rows in _rows(rev):
            assert name in present.tables, f"{name} missing at {rev}"
            have = set(present.tables[name].columns.keys())
            # Typed as the code types them (timestamps, JSON), or, for a column the code
            # no longer has, as the code typed timestamps then.
            code = t.metadata.tables[name].c
            target = table(
                name,
                *(
                    column(c, code[c].type if c in code else t.TS if c.endswith("_at") else None)
                    for c in have
                ),
            )
            for row in rows:
                conn.execute(target.insert().values({k: v for k, v in row.items() if k in have}))

    async with engine.begin() as conn:
        await conn.run_sync(write)
    if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        async with engine.begin() as conn:
            for name in (
                "members",
                "accounts",
                "proposals",
                "ballots",
                "outbox",
                "stories",
                "prompts",
            ):
                if (rev < "0007" and name == "stories") or (rev < "0008" and name == "prompts"):
                    continue
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )


async def _check(engine: AsyncEngine, rev: str) -> None:
    """Everything written at `rev` is there at head, read through the store's own code."""
    factory = uow_factory(engine)
    async with factory(read_only=True) as uow:
        entries = await uow.log.entries(CommunityId("demo"))
        assert [e.kind for e in entries] == ["propose", "open", "close"]
        assert verify_chain(entries) is None
        community = await uow.communities.get(CommunityId("demo"))
        assert community is not None and community.timezone == "Europe/Berlin"
        ana = await uow.members.get(MemberId(1))
        assert ana is not None and ana.display_name == "ana"
        proposal = await uow.proposals.get_by_id(ProposalId(1))
        assert proposal is not None and proposal.title == "Share the tools"
        choices = await uow.ballots.choices(ProposalId(1))
        assert sorted(c.options for c in choices) == [("Garage",), ("Shed",), ("Shed",)]
        assert await uow.ballots.count(ProposalId(1)) == 3
        assert await uow.ballots.roll(ProposalId(1)) == [1, 2, 3]
        assert await uow.proposals.outcome(ProposalId(1)) == "Built."
        conn = uow.connection
        assert await conn.scalar(select(func.count()).select_from(t.ballot_history)) == 3
        assert await conn.scalar(select(t.outbox.c.routed_at)) is not None
        assert await conn.scalar(select(func.count()).select_from(t.members)) == 3
        stories = await conn.scalar(select(func.count()).select_from(t.stories))
        assert stories == (1 if rev >= "0007" else 0)
        prompts = await conn.scalar(select(func.count()).select_from(t.prompts))
        assert prompts == (1 if rev >= "0008" else 0)
        sent = await conn.scalar(
            select(func.count()).where(t.deliveries.c.delivered_at.is_not(None))
        )
        assert sent == (1 if rev >= "0005" else 0)
        if rev < "0004":  # 0004 gave the proposal its first version
            versions = await conn.scalar(select(func.count()).select_from(t.proposal_versions))
            assert versions == 1


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def down(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.connect() as conn:
        await conn.run_sync(down)
        await conn.commit()


@pytest.mark.parametrize("rev", REVISIONS)
async def test_every_revision_upgrades_to_head_with_its_data(db_url: str, rev: str) -> None:
    engine = make_engine(db_url)
    try:
        await upgrade(engine, rev)
        assert await current(engine) == rev
        await _seed(engine, rev)
        await upgrade(engine)
        assert await current(engine) == head()
        await _check(engine, rev)
    finally:
        await engine.dispose()


async def test_head_goes_down_one_revision_and_up_again(db_url: str) -> None:
    previous = REVISIONS[-2]
    engine = make_engine(db_url)
    try:
        await upgrade(engine)
        await _seed(engine, head())
        await _downgrade(engine, previous)
        assert await current(engine) == previous
        await upgrade(engine)
        assert await current(engine) == head()
        await _check(engine, head())
    finally:
        await engine.dispose()


def test_the_revisions_run_from_0001_to_head() -> None:
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == head()
