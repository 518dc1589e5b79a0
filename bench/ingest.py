"""Vote ingestion: votes per second through the whole path — text parse → handler →
grouped commit with outbox → acknowledgement — on SQLite and PostgreSQL.

    python -m bench.ingest [--sqlite-only] [--pg-url URL] [--repeat N] [--quick]

Every vote goes through ``Governance.handle_text(room, account, "!vote N yes", sent_at)``,
which returns only after the vote's group has committed (``VoteWriter``). Set-up (members,
proposals) is not timed. Scenarios, each on SQLite and PostgreSQL:

1. burst, one proposal: 1,000 members vote at once on one proposal (after one room
   lookup, as in a room where chat has been flowing).
1b. the same burst landing straight after ``!propose``, with nothing in between.
2. burst, 100 proposals: 1,000 members each vote on 10 of 100 proposals (10,000 votes).
3. offered load: votes start open-loop at 1,000/s for a few seconds on fresh proposals;
   latency counts from each vote's *scheduled* start, so a stalled loop cannot hide
   queueing (no coordinated omission).
4. raw-driver ceiling: the rows of scenario 2 inserted with plain sqlite3 (executemany,
   one transaction, WAL) and asyncpg (executemany, and COPY, one transaction) into a
   scratch table of the ballots table's shape.

Each timed scenario runs ``--repeat`` times (fresh proposals each time); the table shows
medians. Every reply must be ok and the store must then hold exactly one ballot and one
``VoteCast`` outbox row per vote, or the benchmark stops with an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import random
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig
from bot.runner import settle_memory
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, ProposalNumber, RoomRef
from governance.domain.members import Role
from governance.service.clocks import SystemClock
from governance.store import tables as t
from governance.store.engine import make_engine

COMMUNITY = CommunityId("bench")
ROOM = RoomRef("bench", "room")
MEMBERS = 1000
CHOICES = ("yes", "no")
TARGET_RATE = 3000.0
TARGET_P99_MS = 50.0
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_PROPOSED = re.compile(r"Proposed as #(\d+)\.")

Vote = tuple[int, int, str]
"""(member index, proposal number, choice word)."""


class BenchError(Exception):
    """Set-up or a check went wrong: the figures would mean nothing."""


def _account(i: int) -> AccountRef:
    return AccountRef("bench", f"m{i}")


def _percentile(values: Sequence[float], q: int) -> float:
    """Nearest-rank percentile (q in 1..100): the smallest value with q % at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[rank - 1]


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class Run:
    """One timed repetition."""

    votes: int
    wall: float
    latencies: list[float]
    groups: int
    start_lag_p99: float | None = None
    """Open loop only: how late the generator started votes (p99, seconds)."""

    @property
    def rate(self) -> float:
        return self.votes / self.wall

    @property
    def p50_ms(self) -> float:
        return _percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return _percentile(self.latencies, 99) * 1000


@dataclass(slots=True)
class Row:
    scenario: str
    db: str
    runs: list[Run] = field(default_factory=list)
    raw_rates: list[float] = field(default_factory=list)
    offered: float | None = None

    def median(self, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in self.runs))


# --------------------------------------------------------------------------- backends


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


class SqliteBackend:
    name = "SQLite"

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="folkmoot-bench-")
        self._n = 0

    async def fresh_url(self) -> str:
        """A fresh database file for each scenario."""
        self._n += 1
        return f"sqlite:///{Path(self._dir.name) / f'scenario{self._n}.db'}"

    async def drop(self, url: str) -> None:
        _remove_sqlite(Path(make_url(url).database or ""))

    def raw_ceiling(self, rows: list[tuple[Any, ...]]) -> float:
        """rows/s for plain sqlite3: executemany in one transaction, WAL, synchronous=NORMAL."""
        path = Path(self._dir.name) / f"raw{secrets.token_hex(3)}.db"
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(
                "CREATE TABLE scratch_ballots (id INTEGER NOT NULL PRIMARY KEY,"
                " proposal_id INTEGER NOT NULL, voter_key VARCHAR(80) NOT NULL,"
                " member_id INTEGER, choice JSON NOT NULL, cast_at DATETIME,"
                " UNIQUE (proposal_id, voter_key))"
            )
            values = [
                (p, k, m, c, at.replace(tzinfo=None).isoformat(" ")) for p, k, m, c, at in rows
            ]
            start = time.perf_counter()
            con.execute("BEGIN IMMEDIATE")
            con.executemany(
                "INSERT INTO scratch_ballots (proposal_id, voter_key, member_id, choice, cast_at)"
                " VALUES (?, ?, ?, ?, ?)",
                values,
            )
            con.execute("COMMIT")
            elapsed = time.perf_counter() - start
            (count,) = con.execute("SELECT count(*) FROM scratch_ballots").fetchone()
            if count != len(rows):
                raise BenchError(f"sqlite3 scratch table holds {count} rows, not {len(rows)}")
        finally:
            con.close()
            _remove_sqlite(path)
        return len(rows) / elapsed

    async def close(self) -> None:
        self._dir.cleanup()


class PgBackend:
    """One database, folkmoot_bench_<hex>, made at start and dropped at the end; each
    scenario gets an empty public schema."""

    name = "PostgreSQL"

    def __init__(self, admin_url: str) -> None:
        self._admin_url = make_url(admin_url)
        self.database = f"folkmoot_bench_{secrets.token_hex(4)}"
        self._user: str | None = None

    async def _admin(self) -> asyncpg.Connection:
        url = self._admin_url
        users = [url.username] if url.username else []
        users += [u for u in ("postgres", "root") if u not in users]
        errors = []
        for user in users if self._user is None else [self._user]:
            try:
                conn = await asyncpg.connect(
                    host=url.host or "127.0.0.1",
                    port=url.port or 5432,
                    user=user,
                    password=url.password,
                    database=url.database or "postgres",
                )
            except (OSError, asyncpg.PostgresError) as error:
                errors.append(f"{user}: {error!r}")
                continue
            self._user = user
            return conn
        raise BenchError(f"cannot reach PostgreSQL at {url.host}:{url.port}: {'; '.join(errors)}")

    def _connect_kwargs(self) -> dict[str, Any]:
        url = self._admin_url
        return {
            "host": url.host or "127.0.0.1",
            "port": url.port or 5432,
            "user": self._user,
            "password": url.password,
            "database": self.database,
        }

    @property
    def url(self) -> str:
        url = self._admin_url.set(
            drivername="postgresql", username=self._user, database=self.database
        )
        return url.render_as_string(hide_password=False)

    async def start(self) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()

    async def fresh_url(self) -> str:
        conn = await asyncpg.connect(**self._connect_kwargs())
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
        return self.url

    async def drop(self, url: str) -> None:
        return None  # the next scenario empties the schema; close() drops the database

    async def raw_ceiling_both(self, rows: list[tuple[Any, ...]]) -> tuple[float, float]:
        """rows/s for asyncpg executemany and COPY, each all rows in one transaction."""
        conn = await asyncpg.connect(**self._connect_kwargs())
        try:
            rates = []
            for method in ("executemany", "copy"):
                await conn.execute("DROP TABLE IF EXISTS scratch_ballots")
                await conn.execute(
                    "CREATE TABLE scratch_ballots (id SERIAL PRIMARY KEY,"
                    " proposal_id INTEGER NOT NULL, voter_key VARCHAR(80) NOT NULL,"
                    " member_id INTEGER, choice JSON NOT NULL, cast_at TIMESTAMPTZ,"
                    " UNIQUE (proposal_id, voter_key))"
                )
                start = time.perf_counter()
                async with conn.transaction():
                    if method == "copy":
                        await conn.copy_records_to_table(
                            "scratch_ballots",
                            records=rows,
                            columns=["proposal_id", "voter_key", "member_id", "choice", "cast_at"],
                        )
                    else:
                        await conn.executemany(
                            "INSERT INTO scratch_ballots"
                            " (proposal_id, voter_key, member_id, choice, cast_at)"
                            " VALUES ($1, $2, $3, $4, $5)",
                            rows,
                        )
                elapsed = time.perf_counter() - start
                count = await conn.fetchval("SELECT count(*) FROM scratch_ballots")
                if count != len(rows):
                    raise BenchError(f"PG scratch table holds {count} rows, not {len(rows)}")
                rates.append(len(rows) / elapsed)
            await conn.execute("DROP TABLE IF EXISTS scratch_ballots")
        finally:
            await conn.close()
        return rates[0], rates[1]

    async def close(self) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        finally:
            await admin.close()


Backend = SqliteBackend | PgBackend


# --------------------------------------------------------------------------- the app


class Bench:
    """An app composed by ``bootstrap()`` on a fresh database, with 1,000 members."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.gov = app.governance
        self.clock = SystemClock()

    @classmethod
    async def create(cls, url: str, members: int) -> Bench:
        app = await bootstrap(
            engine=make_engine(url),
            clock=SystemClock(),
            outlets={},
            communities=[CommunityConfig(name=str(COMMUNITY))],
        )
        bench = cls(app)
        try:
            await ensure_binding(app, ROOM, COMMUNITY)
            for i in range(members):
                reply = await app.governance.handle(
                    Join(
                        Context(_account(i), ROOM, COMMUNITY, datetime.now(UTC)),
                        f"m{i}",
                        role=Role.ADMIN if i == 0 else None,
                    )
                )
                if not reply.ok:
                    raise BenchError(f"join of m{i} failed: {reply.message.plain()}")
            admin = await app.governance.member(COMMUNITY, _account(0))
            if admin is None or admin.role is not Role.ADMIN:
                raise BenchError(f"m0 should be an admin, found {admin}")
            count = await app.governance.member_count(COMMUNITY)
            if count != members:
                raise BenchError(f"{count} members after set-up, expected {members}")
            settle_memory()  # as `folkmoot run` does after start-up
        except BaseException:
            await app.close()
            raise
        return bench

    async def propose(self, how_many: int) -> list[int]:
        """Open `how_many` fresh proposals (majority votes, 30 days); their numbers."""
        numbers = []
        for _ in range(how_many):
            reply = await self.gov.handle_text(
                ROOM, _account(0), "!propose Bench proposal vote=30d", datetime.now(UTC)
            )
            text = "" if reply is None else reply.message.plain()
            found = _PROPOSED.fullmatch(text)
            if reply is None or not reply.ok or found is None:
                raise BenchError(f"!propose failed: {text!r}")
            numbers.append(int(found.group(1)))
        return numbers

    async def ballot_counts(self, numbers: Sequence[int]) -> dict[int, int]:
        counts = {}
        async with self.app.uow() as uow:
            for n in numbers:
                proposal = await uow.proposals.get(COMMUNITY, ProposalNumber(n))
                if proposal is None:
                    raise BenchError(f"proposal #{n} is missing")
                if proposal.roll_size != MEMBERS:
                    raise BenchError(f"#{n} has a roll of {proposal.roll_size}, not {MEMBERS}")
                counts[n] = await uow.ballots.count(proposal.id)
        return counts

    async def vote_events(self) -> int:
        async with self.app.engine.connect() as conn:
            value = await conn.scalar(
                select(func.count()).select_from(t.outbox).where(t.outbox.c.kind == "VoteCast")
            )
        return int(value or 0)

    async def check(self, votes: Sequence[Vote], events_before: int) -> None:
        """The store holds one ballot per vote, and one VoteCast outbox row per vote."""
        expected: dict[int, int] = {}
        for _, number, _ in votes:
            expected[number] = expected.get(number, 0) + 1
        counts = await self.ballot_counts(sorted(expected))
        if counts != expected:
            wrong = {n: (counts[n], expected[n]) for n in expected if counts[n] != expected[n]}
            raise BenchError(f"ballots (found, expected) per proposal differ: {wrong}")
        events = await self.vote_events() - events_before
        if events != len(votes):
            raise BenchError(f"{events} VoteCast outbox rows for {len(votes)} votes")

    async def status_says(self, number: int, expected: str) -> None:
        reply = await self.gov.handle_text(
            ROOM, _account(0), f"!status {number}", datetime.now(UTC)
        )
        text = "" if reply is None else reply.message.plain()
        if reply is None or not reply.ok or expected not in text:
            raise BenchError(f"!status {number} does not say {expected!r}:\n{text}")

    async def close(self) -> None:
        await self.app.close()


def _check_replies(replies: Sequence[Any], votes: Sequence[Vote]) -> None:
    bad = [
        (v, None if r is None else r.message.plain())
        for v, r in zip(votes, replies, strict=True)
        if r is None or not r.ok or not r.message.plain().startswith("Your vote on")
    ]
    if bad:
        raise BenchError(f"{len(bad)} of {len(votes)} votes were not acknowledged ok: {bad[:3]}")


# --------------------------------------------------------------------------- workloads


async def burst(bench: Bench, votes: Sequence[Vote], *, settled: bool = True) -> Run:
    """Every vote at once (asyncio.gather); latency from call to reply.

    `settled`: one room lookup first, as in a room where chat has been flowing. Without
    it the burst lands straight after ``!propose``, with nothing in between: until
    8648ffc that emptied the core's room → community cache, and all 1,000 votes looked
    the room up at once (~800 votes/s on SQLite).
    """
    gov = bench.gov
    if settled:
        await gov.community_of(ROOM)
    calls = [(_account(m), f"!vote {n} {c}") for m, n, c in votes]
    latencies = [0.0] * len(calls)
    groups = gov.votes.groups
    events = await bench.vote_events()
    now = datetime.now

    async def one(k: int, account: AccountRef, text: str) -> Any:
        start = time.perf_counter()
        reply = await gov.handle_text(ROOM, account, text, now(UTC))
        latencies[k] = time.perf_counter() - start
        return reply

    start = time.perf_counter()
    replies = await asyncio.gather(*(one(k, a, text) for k, (a, text) in enumerate(calls)))
    wall = time.perf_counter() - start
    _check_replies(replies, votes)
    await bench.check(votes, events)
    return Run(len(votes), wall, latencies, gov.votes.groups - groups)


async def offered_load(bench: Bench, votes: Sequence[Vote], rate: float) -> Run:
    """Open loop: vote k starts at t0 + k/rate (loop.call_at), whatever the earlier ones
    are doing. Latency counts from the scheduled start to the reply."""
    gov = bench.gov
    loop = asyncio.get_running_loop()
    await gov.community_of(ROOM)
    calls = [(_account(m), f"!vote {n} {c}") for m, n, c in votes]
    n = len(calls)
    latencies = [0.0] * n
    lags = [0.0] * n
    replies: list[Any] = [None] * n
    tasks: set[asyncio.Task[None]] = set()
    finished: asyncio.Future[None] = loop.create_future()
    remaining = n
    groups = gov.votes.groups
    events = await bench.vote_events()
    now = datetime.now
    t0 = loop.time() + 0.1
    last_done = t0

    async def one(k: int, due: float) -> None:
        nonlocal remaining, last_done
        lags[k] = loop.time() - due
        account, text = calls[k]
        try:
            replies[k] = await gov.handle_text(ROOM, account, text, now(UTC))
        finally:
            last_done = loop.time()
            latencies[k] = last_done - due
            remaining -= 1
            if remaining == 0 and not finished.done():
                finished.set_result(None)

    def fire(k: int, due: float) -> None:
        task = loop.create_task(one(k, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for k in range(n):
        due = t0 + k / rate
        loop.call_at(due, fire, k, due)
    await finished
    _check_replies(replies, votes)
    await bench.check(votes, events)
    return Run(n, last_done - t0, latencies, gov.votes.groups - groups, _percentile(lags, 99))


# --------------------------------------------------------------------------- scenarios


@dataclass(slots=True)
class Plan:
    repeat: int
    votes_per_member: int
    proposals_s2: int
    offered_rate: float
    offered_seconds: float
    offered_proposals: int


async def _scenario(
    backend: Backend,
    plan: Plan,
    label: str,
    proposals_per_run: int,
    make_votes: Callable[[list[int], random.Random], list[Vote]],
    drive: Callable[[Bench, list[Vote]], Awaitable[Run]],
    after: Callable[[Bench, list[int]], Awaitable[None]] | None = None,
) -> tuple[Row, list[Vote]]:
    row = Row(label, backend.name)
    url = await backend.fresh_url()
    progress(f"  {backend.name}: {label}: set-up ({MEMBERS} members) …")
    setup_start = time.perf_counter()
    bench = await Bench.create(url, MEMBERS)
    last_votes: list[Vote] = []
    try:
        progress(f" {time.perf_counter() - setup_start:.1f}s; runs:")
        rng = random.Random(f"{label}/{backend.name}")
        for _ in range(plan.repeat):
            numbers = await bench.propose(proposals_per_run)
            votes = make_votes(numbers, rng)
            run = await drive(bench, votes)
            if after is not None:
                await after(bench, numbers)
            row.runs.append(run)
            last_votes = votes
            progress(f" {run.rate:,.0f}/s p99 {run.p99_ms:.0f}ms;")
    finally:
        await bench.close()
        await backend.drop(url)
    progress("\n")
    return row, last_votes


def _one_proposal(numbers: list[int], rng: random.Random) -> list[Vote]:
    (number,) = numbers
    return [(m, number, rng.choice(CHOICES)) for m in range(MEMBERS)]


def _spread(per_member: int) -> Callable[[list[int], random.Random], list[Vote]]:
    def votes(numbers: list[int], rng: random.Random) -> list[Vote]:
        out = [
            (m, n, rng.choice(CHOICES))
            for m in range(MEMBERS)
            for n in rng.sample(numbers, per_member)
        ]
        rng.shuffle(out)
        return out

    return votes


def _open_loop_votes(total: int) -> Callable[[list[int], random.Random], list[Vote]]:
    def votes(numbers: list[int], rng: random.Random) -> list[Vote]:
        pairs = rng.sample([(m, n) for n in numbers for m in range(MEMBERS)], total)
        return [(m, n, rng.choice(CHOICES)) for m, n in pairs]

    return votes


async def run_backend(backend: Backend, plan: Plan) -> list[Row]:
    rows = []
    progress(f"{backend.name}\n")

    async def status_check(bench: Bench, numbers: list[int]) -> None:
        await bench.status_says(numbers[0], f"Ballots so far: {MEMBERS} of {MEMBERS}.")

    row1, _ = await _scenario(
        backend,
        plan,
        f"1 burst, 1 proposal ({MEMBERS:,} votes)",
        1,
        _one_proposal,
        burst,
        status_check,
    )
    row1b, _ = await _scenario(
        backend,
        plan,
        "1b same, straight after !propose",
        1,
        _one_proposal,
        lambda bench, votes: burst(bench, votes, settled=False),
        status_check,
    )
    s2_votes = MEMBERS * plan.votes_per_member
    row2, votes2 = await _scenario(
        backend,
        plan,
        f"2 burst, {plan.proposals_s2} proposals ({s2_votes:,} votes)",
        plan.proposals_s2,
        _spread(plan.votes_per_member),
        burst,
    )
    total = round(plan.offered_rate * plan.offered_seconds)
    row3, _ = await _scenario(
        backend,
        plan,
        f"3 offered {plan.offered_rate:,.0f}/s for {plan.offered_seconds:g}s ({total:,} votes)",
        plan.offered_proposals,
        _open_loop_votes(total),
        lambda bench, votes: offered_load(bench, votes, plan.offered_rate),
    )
    row3.offered = plan.offered_rate
    rows += [row1, row1b, row2, row3]

    # 4: the raw-driver ceiling, for the rows scenario 2 wrote.
    at = datetime.now(UTC)
    raw = [(n, f"m{m + 1}", m + 1, json.dumps({"v": c}), at) for m, n, c in votes2]
    progress(f"  {backend.name}: 4 raw-driver ceiling ({len(raw):,} rows):")
    if isinstance(backend, SqliteBackend):
        row = Row(f"4 raw sqlite3 executemany, 1 tx ({len(raw):,} rows)", backend.name)
        for _ in range(plan.repeat):
            row.raw_rates.append(backend.raw_ceiling(raw))
            progress(f" {row.raw_rates[-1]:,.0f}/s;")
        rows.append(row)
    else:
        many = Row(f"4 raw asyncpg executemany, 1 tx ({len(raw):,} rows)", backend.name)
        copy = Row(f"4 raw asyncpg COPY, 1 tx ({len(raw):,} rows)", backend.name)
        for _ in range(plan.repeat):
            a, b = await backend.raw_ceiling_both(raw)
            many.raw_rates.append(a)
            copy.raw_rates.append(b)
            progress(f" {a:,.0f}/s, COPY {b:,.0f}/s;")
        rows += [many, copy]
    progress("\n")
    return rows


# --------------------------------------------------------------------------- report


def progress(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def render(rows: list[Row], plan: Plan, started: datetime, elapsed: float) -> str:
    lines = []
    lines.append(
        f"folkmoot vote ingestion — {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {MEMBERS:,} members, "
        f"median of {plan.repeat} run{'s' if plan.repeat != 1 else ''}"
    )
    lines.append("")
    header = (
        f"{'scenario':<46} {'db':<10} {'votes/s':>9} {'(min–max)':>17} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'groups':>6} {'vs raw':>7}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    ceilings: dict[str, float] = {}
    for row in rows:
        if row.raw_rates and row.db not in ceilings:
            ceilings[row.db] = statistics.median(row.raw_rates)  # the first raw row per db
    for row in rows:
        if row.raw_rates:
            rates = row.raw_rates
            lines.append(
                f"{row.scenario:<46} {row.db:<10} {_fmt_rate(statistics.median(rates)):>9} "
                f"{_fmt_rate(min(rates)) + '–' + _fmt_rate(max(rates)):>17} "
                f"{'':>7} {'':>7} {'':>6} {'':>7}"
            )
            continue
        rates = [r.rate for r in row.runs]
        median_rate = statistics.median(rates)
        ratio = ""
        if row.offered is None and row.db in ceilings:
            ratio = f"{median_rate / ceilings[row.db]:.1%}"
        groups = statistics.median(r.groups for r in row.runs)
        lines.append(
            f"{row.scenario:<46} {row.db:<10} {_fmt_rate(median_rate):>9} "
            f"{_fmt_rate(min(rates)) + '–' + _fmt_rate(max(rates)):>17} "
            f"{row.median('p50_ms'):>7.1f} {row.median('p99_ms'):>7.1f} {groups:>6g} {ratio:>7}"
        )
    lines.append("")
    lines.append(
        "votes/s: votes ÷ wall time (scenario 3: votes ÷ time from the first scheduled start "
        "to the last reply). Latency: call → reply (scenario 3: scheduled start → reply). "
        "groups: VoteWriter transactions per run. vs raw: our votes/s ÷ the first raw-driver "
        "row of the same database (executemany)."
    )
    offered = [r for r in rows if r.offered is not None]
    for row in offered:
        lags = statistics.median(r.start_lag_p99 or 0.0 for r in row.runs) * 1000
        lines.append(f"Scenario 3 on {row.db}: generator start lag p99 {lags:.1f} ms.")
    lines.append("")
    lines.append(
        f"Targets: ≥ {TARGET_RATE:,.0f} votes/s in a burst, each vote acknowledged only after "
        f"its commit; p99 ≤ {TARGET_P99_MS:g} ms at {plan.offered_rate:,.0f} votes/s offered"
    )
    for row in rows:
        if not row.runs:
            continue
        name = row.scenario.split(" (")[0]
        if row.offered is None:
            value = row.median("rate")
            verdict = "met" if value >= TARGET_RATE else "NOT met"
            shown = f"{_fmt_rate(value)} votes/s"
        else:
            value = row.median("p99_ms")
            verdict = "met" if value <= TARGET_P99_MS else "NOT met"
            shown = f"p99 {value:.1f} ms"
        lines.append(f"  {row.db:<10} {name:<40} {shown:>16}  {verdict}")
    lines.append(f"\nTotal time {elapsed:.0f} s.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Votes per second through parse → handler → grouped commit → ack.",
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="admin connection used to create and drop the bench database "
        f"(default {DEFAULT_PG_URL}; user root is tried if that user fails)",
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per scenario (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run each, 3 votes per member in scenario 2, 1 s of offered load",
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    plan = Plan(
        repeat=args.repeat or (1 if args.quick else 3),
        votes_per_member=3 if args.quick else 10,
        proposals_s2=100,
        offered_rate=1000.0,
        offered_seconds=1.0 if args.quick else 3.0,
        offered_proposals=10,
    )
    started = datetime.now(UTC)
    clock = time.perf_counter()
    backends: list[Backend] = [SqliteBackend()]
    if not args.sqlite_only:
        backends.append(PgBackend(args.pg_url))
    rows: list[Row] = []
    try:
        for backend in backends:
            if isinstance(backend, PgBackend):
                await backend.start()
                progress(f"(PostgreSQL database {backend.database}, user {backend._user})\n")
            rows += await run_backend(backend, plan)
    except BenchError as error:
        progress(f"\nbenchmark failed: {error}\n")
        return 1
    finally:
        for backend in backends:
            try:
                await backend.close()
            except BenchError:
                pass
            except Exception as error:  # never leave a database behind silently
                progress(f"cleanup of {backend.name} failed: {error!r}\n")
    print(render(rows, plan, started, time.perf_counter() - clock))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
