"""Two real `folkmoot run` processes on one PostgreSQL database, one killed mid-run:
every close happens once, every announcement goes out, and the survivor takes over
the platform's lease."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bootstrap import App, bootstrap
from governance.domain.commands import Context, Join
from governance.domain.decision_log import verify_chain
from governance.domain.events import EVENT_TYPES
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.service.clocks import SystemClock
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.lease import lease_holder
from governance.store.uow import SqlUnitOfWork
from governance.text.render import render_event
from tests.cli.test_cli import TIMEOUT, spawn
from tests.conftest import COMMUNITIES, POSTGRES_ONLY

pytestmark = POSTGRES_ONLY

PROPOSALS = 40
ROOMS = ("hall", "porch")
REMINDED_BEFORE = timedelta(seconds=1.5)
DEMO = CommunityId("demo")


class Instance:
    """A running `folkmoot run`, its log read as it is written."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.lines: list[str] = []
        self.ended = False
        self._news = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := (await self.process.stderr.readline()).decode():
            self.lines.append(line)
            self._news.set()
        self.ended = True
        self._news.set()

    async def said(self, text: str) -> str:
        """The first log line holding `text`, waiting for it to be written."""

        async def first() -> str:
            while True:
                self._news.clear()
                for line in self.lines:
                    if text in line:
                        return line
                if self.ended:
                    raise AssertionError(f"{self.name} ended before saying {text!r}")
                await self._news.wait()

        try:
            return await asyncio.wait_for(first(), timeout=TIMEOUT)
        except BaseException:
            print(f"--- {self.name} log ---\n{''.join(self.lines)}")
            raise

    def log(self) -> str:
        return "".join(self.lines)

    async def stop(self, sig: signal.Signals) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), timeout=TIMEOUT)
        await asyncio.wait_for(self._reader, timeout=TIMEOUT)
        return code


async def until(condition: Callable[[], object], what: str) -> None:
    """Poll a condition that no event announces (a file, another process's rows),
    with short pauses, for at most TIMEOUT seconds."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                result = condition()
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"after {TIMEOUT} s: {what}") from None


def deliveries(record: Path) -> list[dict[str, str]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


async def count(engine: AsyncEngine, table: t.Table, *where: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def due_work_by_kind(engine: AsyncEngine) -> dict[str, Counter[str]]:
    """For each kind of due work, how many rows are done and how many still pending
    (a close's row goes with its vote: a closed vote has none left)."""
    kinds: dict[str, Counter[str]] = {}
    async with engine.connect() as conn:
        for kind, done in await conn.execute(select(t.due_work.c.kind, t.due_work.c.done_at)):
            kinds.setdefault(kind, Counter())["pending" if done is None else "done"] += 1
    return kinds


async def seed(app: App) -> None:
    """Members and PROPOSALS two-hour votes (so each has its 1 h reminder), some with
    ballots, said in the hall."""
    hall = RoomRef("record", "hall")

    async def say(name: str, text: str) -> None:
        reply = await app.governance.handle_text(
            hall, AccountRef("record", name), text, app.deps.clock.now()
        )
        assert reply is not None and reply.ok, text

    for name in ("alice", "bob", "carol"):
        ctx = Context(AccountRef("record", name), hall, DEMO, app.deps.clock.now())
        reply = await app.governance.handle(
            Join(ctx, name, role=Role.ADMIN if name == "alice" else None)
        )
        assert reply.ok
    for i in range(1, PROPOSALS + 1):
        await say("alice", f"!propose Idea {i} vote=2h")
        if i % 3:
            await say("bob", f"!vote {i} yes")
        if i % 4 == 0:
            await say("carol", f"!vote {i} no")


async def test_two_instances_one_killed_close_every_vote_once_and_announce_every_event(
    db_url: str, tmp_path: Path
) -> None:
    record = tmp_path / "deliveries.jsonl"
    lease = f"record:{record.resolve()}"
    config = tmp_path / "folkmoot.toml"
    bound = json.dumps([f"demo={room}" for room in ROOMS])
    config.write_text(
        f'[[communities]]\nname = "demo"\n\n[record]\npath = "{record}"\nrooms = {bound}\n'
    )
    env = {
        "FOLKMOOT_DATABASE_URL": db_url,
        "FOLKMOOT_CONFIG": str(config),
        "FOLKMOOT_DATA_DIR": str(tmp_path),
        "FOLKMOOT_LOG_LEVEL": "INFO",
        "FOLKMOOT_LEASE_RETRY_SECONDS": "0.2",
        "FOLKMOOT_DUE_POLL_SECONDS": "0.2",
    }
    engine = make_engine(db_url)
    instances: list[Instance] = []
    try:
        a = Instance("A", await spawn("run", env=env, cwd=tmp_path))
        instances.append(a)
        await a.said(f"lease {lease} taken")
        await a.said("folkmoot running")
        b = Instance("B", await spawn("run", env=env, cwd=tmp_path))
        instances.append(b)
        await b.said(f"lease {lease} is held by another instance")
        await b.said("folkmoot running")

        # Votes proposed beside them (a third instance, the test), closing over four
        # seconds of the database's time from two seconds on.
        app = await bootstrap(
            engine=make_engine(db_url), clock=SystemClock(), outlets={}, communities=COMMUNITIES
        )
        try:
            await seed(app)
        finally:
            await app.close()
        async with engine.begin() as conn:
            now = await conn.scalar(select(func.now()))
            ids = (await conn.execute(select(t.proposals.c.id).order_by(t.proposals.c.id))).all()
            for i, (proposal,) in enumerate(ids):
                due = now + timedelta(seconds=2 + i * 0.1)
                for kind, at in (("close", due), ("remind", due - REMINDED_BEFORE)):
                    await conn.execute(
                        update(t.due_work)
                        .where(t.due_work.c.proposal_id == proposal, t.due_work.c.kind == kind)
                        .values(due_at=at)
                    )
                await conn.execute(
                    update(t.proposals).where(t.proposals.c.id == proposal).values(closes_at=due)
                )

        # A holds the lease and announces the first closes; then it dies mid-run.
        await until(
            lambda: any("voting closed" in d["text"] for d in deliveries(record)),
            "A announced no close",
        )
        await a.stop(signal.SIGKILL)
        closed_at_kill = await count(engine, t.proposals, t.proposals.c.status == "closed")
        assert closed_at_kill < PROPOSALS, "A closed everything before it was killed"

        # B takes the lease over and finishes: every vote closed, every row delivered.
        await b.said(f"lease {lease} taken")

        async def finished() -> bool:
            return (
                await count(engine, t.proposals, t.proposals.c.status == "closed") == PROPOSALS
                and not await count(engine, t.outbox, t.outbox.c.routed_at.is_(None))
                and not await count(
                    engine,
                    t.deliveries,
                    t.deliveries.c.delivered_at.is_(None),
                    t.deliveries.c.dead_at.is_(None),
                )
            )

        await until(finished, "not every vote closed and announced")
        assert await lease_holder(engine, lease) is not None
        assert await b.stop(signal.SIGTERM) == 0
        assert await lease_holder(engine, lease) is None
        await check(engine, record)
        assert f"lease {lease} taken" in a.log() and "Traceback" not in b.log()
    finally:
        for instance in instances:
            await instance.stop(signal.SIGKILL)
        await engine.dispose()


async def check(engine: AsyncEngine, record: Path) -> None:
    # Every close happened exactly once in the database.
    async with engine.connect() as conn:
        log = await conn.execute(
            select(t.decision_log.c.proposal).where(t.decision_log.c.kind == "closed")
        )
        closes = Counter(number for (number,) in log)
        rows = (await conn.execute(select(t.outbox).order_by(t.outbox.c.id))).all()
    assert closes == Counter(range(1, PROPOSALS + 1))
    events = {row.id: EVENT_TYPES[row.kind].from_json(row.payload) for row in rows}
    closed_rows = Counter(
        getattr(event, "number", None)
        for event in events.values()
        if type(event).__name__ == "ProposalClosed"
    )
    assert closed_rows == Counter(range(1, PROPOSALS + 1))
    due = await due_work_by_kind(engine)
    assert due.get("close", Counter())["pending"] == 0
    # Every reminder ran exactly once: one done row per vote, and at most one reminder
    # event each (none if it ran after its vote had ended, as it then makes no sense).
    assert due["remind"] == Counter(done=PROPOSALS)
    reminders = Counter(
        getattr(event, "number", None)
        for event in events.values()
        if type(event).__name__ == "ReminderDue"
    )
    assert reminders and max(reminders.values()) == 1
    async with SqlUnitOfWork(engine) as uow:
        assert verify_chain(await uow.log.entries(DEMO)) is None

    # Every announced row reached every room at least once, always under its own key.
    rooms = [f"room:record:{room}" for room in ROOMS]
    expected = {
        f"folkmoot-{row_id}-{room}": render_event(event)
        for row_id, event in events.items()
        if event.announce and render_event(event) is not None
        for room in rooms
    }
    delivered = [d for d in deliveries(record) if "room" in d]
    keys = Counter(d["key"] for d in delivered)
    assert set(keys) == set(expected)
    keys_per_text: dict[tuple[str, str], set[str]] = {}
    for d in delivered:
        keys_per_text.setdefault((d["room"], d["text"]), set()).add(d["key"])
        message = expected[d["key"]]
        assert message is not None and d["text"] == message.plain()
        assert d["key"].endswith(f"-room:{d['room']}")
    assert all(len(k) == 1 for k in keys_per_text.values())
    closes_announced = [d for d in delivered if "voting closed" in d["text"]]
    assert len({d["key"] for d in closes_announced}) == PROPOSALS * len(ROOMS)

    # Each reminder reached alice (who never votes) privately, under one key per row;
    # bob, who voted on every proposal whose number is not a multiple of 3, got none of those.
    told = [d for d in deliveries(record) if "to" in d]
    assert all(d["text"].startswith("Reminder: ") for d in told)
    reminder_rows = {i for i, e in events.items() if type(e).__name__ == "ReminderDue"}
    to_alice = {d["key"]: d for d in told if d["to"] == "record:alice"}
    assert {int(key.split("-")[1]) for key in to_alice} == reminder_rows
    keys_per_text = {}
    for d in told:
        keys_per_text.setdefault((d["to"], d["text"]), set()).add(d["key"])
    assert all(len(k) == 1 for k in keys_per_text.values())
    for d in told:
        if d["to"] == "record:bob":
            number = events[int(d["key"].split("-")[1])].number  # type: ignore[attr-defined]
            assert number % 3 == 0
