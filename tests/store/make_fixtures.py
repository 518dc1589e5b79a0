"""Make the upgrade test's fixture databases: one per released migration, on SQLite and
on PostgreSQL, each holding rows valid at that revision.

Run it once, when a new migration is released (merged), naming the new revision::

    .venv/bin/python -m tests.store.make_fixtures 0017

and commit what it writes:

- ``tests/store/fixtures/sqlite/<rev>.sqlite``: the SQLite database file;
- ``tests/store/fixtures/postgresql/<rev>.sql``: a plain-SQL ``pg_dump --no-owner
  --no-privileges --column-inserts`` (no psql commands in it, so the test runs it as one
  script through asyncpg; ``psql -f`` loads it too).

Each is built from an empty database migrated to that revision by the migrations as
they are at that moment, then seeded by `rows`. From then on it is what databases at
that revision hold: it is never made again, so when an old migration file is edited
later the upgrade test still starts from the schema users have, not from the edited
history. This script refuses to write over an existing fixture (remove one by hand only
if it was never released).

Needs the PostgreSQL server of the tests (``FOLKMOOT_TEST_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``) and ``pg_dump`` on ``PATH``, of
PostgreSQL 15 (what CI runs): a newer ``pg_dump`` may write settings an older server
refuses. A migration that adds a table or column worth carrying data through upgrades
extends `rows` (under ``if rev >= "00NN"``) and ``_check`` in ``test_upgrades.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, MetaData, column, table
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.domain.decision_log import GENESIS, chain_hash
from governance.domain.lifecycle import ClosedAs
from governance.domain.result import Result
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.migrate import current, head, revisions, upgrade
from tests.conftest import scratch_database

FIXTURES = Path(__file__).resolve().parent / "fixtures"
AT = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def sqlite_fixture(rev: str) -> Path:
    return FIXTURES / "sqlite" / f"{rev}.sqlite"


def postgresql_fixture(rev: str) -> Path:
    return FIXTURES / "postgresql" / f"{rev}.sql"


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


def rows(rev: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every row to write at `rev`, by table, in foreign-key order; each with every
    column it has had at any revision (those the table lacks at `rev` are dropped): a
    column added later is simply not written yet, one removed later still is."""
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
    written: list[tuple[str, list[dict[str, Any]]]] = [
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
            [
                {
                    "platform": "test",
                    "room_id": "room-1",
                    "community_id": "demo",
                    "bound_at": AT,
                    "encrypted": True,  # from 0017
                }
            ],
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
                    "encrypted_origin": True,  # from 0017
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
        written.append(
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
    if rev >= "0006":
        written.append(
            (
                "platform_events",
                [{"platform": "test", "event_id": "$vote-1", "seen_at": AT + timedelta(hours=1)}],
            )
        )
    if rev >= "0007":
        written.append(
            (
                "stories",
                [
                    {
                        "id": 1,
                        "community_id": "demo",
                        "number": 1,
                        "text": "We built the shed in a day.",
                        "consent": "community",
                        "author_id": 2,
                        "proposal": 1,
                        "tags": " shed tools ",
                        "told_at": closed,
                        "encrypted_origin": True,  # from 0017
                    }
                ],
            )
        )
    if rev >= "0013":
        written.append(("story_numbers", [{"community_id": "demo", "last": 1}]))
    if rev >= "0014":
        written.append(
            (
                "story_tags",
                [{"story_id": 1, "tag": tag, "community_id": "demo"} for tag in ("shed", "tools")],
            )
        )
    if rev >= "0016":
        written.append(
            ("story_sources", [{"story_id": 1, "platform": "test", "message_id": "$story-1"}])
        )
    if rev >= "0008":
        written.append(
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
                        "encrypted_origin": True,  # from 0017
                    }
                ],
            )
        )
    return written


async def seed(engine: AsyncEngine, rev: str) -> None:
    """Write `rows(rev)` into a database at `rev`."""

    def write(conn: Connection) -> None:
        present = MetaData()
        present.reflect(conn)
        for name, table_rows in rows(rev):
            assert name in present.tables, f"{name} missing at {rev}"
            have = set(present.tables[name].columns.keys())
            # Typed as the code types them (timestamps, JSON), or, for a column the code
            # no longer has, as the code typed timestamps then.
            code = t.metadata.tables[name].c
            target = table(
                name,
                *(
                    column(c, code[c].type if c in code else t.TS if c.endswith("_at") else None)
                    for c in sorted(have)
                ),
            )
            for row in table_rows:
                conn.execute(target.insert().values({k: v for k, v in row.items() if k in have}))
            ids = present.tables[name].c.get("id")
            serial = ids is not None and isinstance(ids.type, Integer)
            if conn.dialect.name == "postgresql" and serial:
                # Ids were given: move the table's sequence (if it has one) past them.
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name}"
                )

    async with engine.begin() as conn:
        await conn.run_sync(write)


async def _build(url: str, rev: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine, rev)
        await seed(engine, rev)
        assert await current(engine) == rev
    finally:
        await engine.dispose()


async def make_sqlite(rev: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fixture.sqlite"
        await _build(f"sqlite:///{path}", rev)
        # Out of WAL, the smallest pages, no free ones: one file of a few dozen KB.
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA page_size=512")
            db.execute("VACUUM")
        target = sqlite_fixture(rev)
        target.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as source, target.open("xb") as out:
            shutil.copyfileobj(source, out)


def _dump(url: str) -> str:
    parsed = make_url(url)
    env = {
        **os.environ,
        "PGHOST": parsed.host or "",
        "PGPORT": str(parsed.port or 5432),
        "PGUSER": parsed.username or "",
        "PGDATABASE": parsed.database or "",
    }
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    dumped = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", "--column-inserts"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # pg_dump 15.14 and later wrap the dump in \restrict ... \unrestrict (psql
    # commands, with a random key); the test runs the SQL without psql.
    return "".join(line for line in dumped.splitlines(keepends=True) if not line.startswith("\\"))


async def make_postgresql(rev: str) -> None:
    async with scratch_database("folkmoot_fixture") as url:
        await _build(url, rev)
        dump = _dump(url)
    target = postgresql_fixture(rev)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("x", encoding="utf-8") as out:
        out.write(dump)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.store.make_fixtures",
        description="Write the upgrade test's fixture databases for released revisions "
        "(never over existing ones).",
    )
    parser.add_argument("revision", nargs="*", help="revisions to make (default: the newest)")
    args = parser.parse_args(argv)
    wanted = args.revision or [head()]
    known = revisions()
    unknown = [rev for rev in wanted if rev not in known]
    if unknown:
        print(f"no such revision: {', '.join(unknown)}", file=sys.stderr)
        return 2
    there = [
        path
        for rev in wanted
        for path in (sqlite_fixture(rev), postgresql_fixture(rev))
        if path.exists()
    ]
    if there:
        for path in there:
            print(
                f"{path.relative_to(FIXTURES.parents[2])} exists: a released fixture is "
                "frozen, nothing written",
                file=sys.stderr,
            )
        return 1
    if shutil.which("pg_dump") is None:
        print("pg_dump is not on PATH (PostgreSQL 15 client tools)", file=sys.stderr)
        return 2
    for rev in wanted:
        asyncio.run(make_sqlite(rev))
        asyncio.run(make_postgresql(rev))
        print(f"{rev}: {sqlite_fixture(rev).name}, {postgresql_fixture(rev).name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
