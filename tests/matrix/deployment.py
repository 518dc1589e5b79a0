"""folkmoot deployed on a real Synapse, as `folkmoot run` composes it, and what the
tests do with it: start and stop it, make rooms with it, say commands and await answers.

The bot runs the real `run_bot` in the test's process (SQLite, the Matrix adapter under
its lease, the scheduler, the outbox dispatcher); members are real clients (`Member`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import nio
from sqlalchemy import func, select, update

from bot.config import CommunityConfig, FileConfig, HttpConfig, MatrixConfig, Settings
from bot.runner import run_bot
from governance.store import tables as t
from governance.store.engine import make_engine
from tests.matrix.homeserver import Synapse, register
from tests.matrix.member import MakeMember, Member, content, relates_to
from tests.scrape import Said

WITHIN = 20.0


@dataclass
class Bot:
    """The bot, started and stopped like `folkmoot run` (a task of this process)."""

    synapse: Synapse
    data: Path
    admin: str
    user_id: str = ""
    password: str = ""
    invite_from: list[str] | None = None
    """Who may invite the bot; by default anyone on the test homeserver."""
    homeserver: str = ""
    """The URL the bot reaches the homeserver at; by default the Synapse's own."""
    http_port: int | None = None
    """Serve /healthz and /metrics on this port (0: any free one); None: off."""
    task: asyncio.Task[int] | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.user_id, self.password = register(self.synapse, f"{secrets.token_hex(3)}-folkmoot")

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.data / 'folkmoot.db'}"

    async def start(self) -> None:
        settings = Settings(
            data_dir=self.data,
            database_url=self.db_url,
            matrix_password=self.password,  # type: ignore[arg-type]
            due_poll_seconds=0.2,
            lease_retry_seconds=0.5,
        )
        config = FileConfig(
            communities=[CommunityConfig(name="coop", admins=[f"matrix:{self.admin}"])],
            matrix=MatrixConfig(
                homeserver=self.homeserver or self.synapse.url,
                user_id=self.user_id,
                invite_from=self.invite_from or [f":{self.synapse.server_name}"],
                power_levels={"moderator": 50},
            ),
            http=None if self.http_port is None else HttpConfig(port=self.http_port),
        )
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(run_bot(settings, config, self.stop_event))

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            assert await asyncio.wait_for(self.task, timeout=WITHIN) == 0
            self.task = None

    async def due_now(self, number: int) -> None:
        """Bring proposal `number`'s close (and its reminders) to a second from now."""
        engine = make_engine(self.db_url)
        try:
            async with engine.begin() as conn:
                pid = await conn.scalar(
                    select(t.proposals.c.id).where(t.proposals.c.number == number)
                )
                soon = datetime.now(UTC) + timedelta(seconds=1)
                await conn.execute(
                    update(t.proposals).where(t.proposals.c.id == pid).values(closes_at=soon)
                )
                await conn.execute(
                    update(t.due_work)
                    .where(t.due_work.c.proposal_id == pid, t.due_work.c.done_at.is_(None))
                    .values(due_at=soon)
                )
        finally:
            await engine.dispose()

    async def binding_encrypted(self, room_id: str, *, set_to: bool | None = None) -> bool:
        """Whether room `room_id`'s binding is recorded as encrypted; `set_to`: record
        that first (the bot stopped), as a database from before it was recorded did."""
        b = t.bindings
        where = (b.c.platform == "matrix", b.c.room_id == room_id)
        engine = make_engine(self.db_url)
        try:
            async with engine.begin() as conn:
                if set_to is not None:
                    assert self.task is None, "stop the bot first"
                    await conn.execute(update(b).where(*where).values(encrypted=set_to))
                return bool(await conn.scalar(select(b.c.encrypted).where(*where)))
        finally:
            await engine.dispose()

    def sync_token(self) -> str:
        """Where the bot's sync has got to (what it handled is before it)."""
        return (self.data / "matrix" / "sync-token").read_text(encoding="utf-8")

    def rewind(self, token: str) -> None:
        """Make the next start sync from `token` again (the bot stopped): whatever came
        after it is replayed, as after a crash before the position was saved."""
        assert self.task is None, "stop the bot first"
        (self.data / "matrix" / "sync-token").write_text(token, encoding="utf-8")

    async def deliveries(self, room_id: str) -> list[tuple[bool, bool, str | None]]:
        """(delivered, given up, last error) of each delivery to room `room_id`."""
        d = t.deliveries
        engine = make_engine(self.db_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(d.c.delivered_at, d.c.dead_at, d.c.last_error)
                    .where(d.c.channel == f"room:matrix:{room_id}")
                    .order_by(d.c.id)
                )
                return [
                    (r.delivered_at is not None, r.dead_at is not None, r.last_error) for r in rows
                ]
        finally:
            await engine.dispose()

    async def polls_as_before(self, room_id: str, number: int, stable_start: str) -> None:
        """Make proposal `number`'s rows in `room_id` what an earlier version left: two
        poll starts (the stable one, `stable_start`, beside the unstable one) and no
        card (it did not edit cards)."""
        p = t.platform_polls
        engine = make_engine(self.db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    p.delete().where(
                        p.c.room_id == room_id, p.c.proposal == number, p.c.kind == "m.room.message"
                    )
                )
                await conn.execute(
                    p.insert().values(
                        platform="matrix",
                        event_id=stable_start,
                        room_id=room_id,
                        proposal=number,
                        kind="m.poll.start",
                    )
                )
        finally:
            await engine.dispose()

    async def ballots(self, number: int) -> int:
        engine = make_engine(self.db_url)
        try:
            async with engine.connect() as conn:
                return int(
                    await conn.scalar(
                        select(func.count())
                        .select_from(t.ballots)
                        .join(t.proposals)
                        .where(t.proposals.c.number == number)
                    )
                    or 0
                )
        finally:
            await engine.dispose()


class MakeBot(Protocol):
    def __call__(self, admin: Member) -> Bot: ...


def body(event: nio.Event) -> str:
    return str(content(event).get("body", ""))


def from_bot(bot: Bot, text: str) -> Callable[[nio.Event], bool]:
    return lambda e: e.sender == bot.user_id and text in body(e)


async def room_with_bot(
    admin: Member, others: list[Member], bot: Bot, *, encrypted: bool = False
) -> str:
    room = await admin.create_room(
        invite=[bot.user_id, *(m.user_id for m in others)], encrypted=encrypted
    )
    for member in others:
        await member.wait_for_invite(room)
        await member.join(room)
    await admin.wait_for_membership(room, bot.user_id)  # the bot accepted the invite
    return room


async def bound_room(
    members: MakeMember, bot: MakeBot, *names: str
) -> tuple[Bot, str, list[Member]]:
    """The bot started, a room of `names` (the first is the admin) with it, bound to coop."""
    people = [await members(name) for name in names]
    folkmoot = bot(people[0])
    await folkmoot.start()
    room = await room_with_bot(people[0], people[1:], folkmoot)
    _, reply = await said(people[0], room, "!bind coop")
    assert body(reply) == "This room is now bound to coop."
    return folkmoot, room, people


async def said(member: Member, room: str, text: str) -> tuple[str, nio.Event]:
    """Send a command; the bot's reply to it (an m.in_reply_to) or its reaction."""
    event_id = await member.send_text(room, text)

    def answers(e: nio.Event) -> bool:
        rel = relates_to(e)
        return rel.get("event_id") == event_id or (
            rel.get("m.in_reply_to", {}).get("event_id") == event_id
        )

    return event_id, await member.wait_for(room, answers, within=WITHIN)


async def next_invite(member: Member, seen: int | None = None) -> str:
    """The room of the next invitation `member` receives (a direct room the bot opens);
    `seen`: the number of invitations they had before (by default, now)."""
    seen = len(member.invites) if seen is None else seen
    async with asyncio.timeout(WITHIN), member._arrived:
        await member._arrived.wait_for(lambda: len(member.invites) > seen)
    return member.invites[seen]


@contextlib.asynccontextmanager
async def watching(*names: str, level: int = logging.INFO) -> AsyncIterator[Said]:
    """What the loggers `names` (and their children) log at `level` or above, while the
    block runs, to await or read."""
    said = Said(WITHIN)
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addHandler(said)
        logger.setLevel(level)
    try:
        yield said
    finally:
        for logger in loggers:
            logger.removeHandler(said)
            logger.setLevel(logging.NOTSET)
