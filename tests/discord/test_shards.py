"""Sharding: processes that split the guilds by shard, each shard set under its lease.

Discord sends a guild's events to the shard ``(guild_id >> 22) % shard_count`` only;
the loopback fake does the same (``Session.owns``). Posting is REST, so any process
can deliver to any channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import discord
import pytest
from pydantic import SecretStr

from adapters.discord.adapter import DiscordAdapter, DiscordSettings
from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig, DiscordConfig, FileConfig, Settings
from bot.runner import (
    DiscordConnection,
    _discord_settings,
    _keeper,
    _lease_names,
    _sole_holder,
    run_bot,
)
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.service.clocks import SystemClock
from governance.service.ports import Outlet
from governance.store.engine import make_engine
from governance.store.platform_state import PlatformState
from tests.chat import RecordingOutlet
from tests.discord.conftest import GUILD_READY_TIMEOUT, WITHIN, StartClient
from tests.discord.fake import FakeDiscord, FakeGuild

SHARDS = 2


def shard_of(guild: FakeGuild) -> int:
    return (guild.id >> 22) % SHARDS


def guild_on(fake: FakeDiscord, shard: int, name: str) -> FakeGuild:
    """A new guild on `shard`. A snowflake's shard is its millisecond (``id >> 22``)
    modulo the count, so this spins (a millisecond at most) until ids made now fall
    there. Should the millisecond turn between the check and the guild, that guild
    lands on another shard, harmlessly, and we go on."""
    while True:
        if (fake.new_id() >> 22) % SHARDS == shard:
            guild = fake.add_guild(name, channels=("governance",))
            if shard_of(guild) == shard:
                return guild


class Interactions:
    """The guild of every interaction a client was given, in the order given."""

    def __init__(self, client: discord.Client) -> None:
        self.guilds: list[int | None] = []
        self._news = asyncio.Event()
        self._bots_own = getattr(client, "on_interaction", None)
        """The client's own handler (the bot reads forms there): still called."""
        client.event(self.on_interaction)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.guilds.append(interaction.guild_id)
        self._news.set()
        if self._bots_own is not None:
            await self._bots_own(interaction)

    async def first(self, count: int) -> list[int | None]:
        """The guilds of the first `count` (and any more already in)."""
        async with asyncio.timeout(WITHIN):
            while len(self.guilds) < count:
                self._news.clear()
                await self._news.wait()
        return self.guilds


@dataclass
class Core:
    app: App
    outlets: dict[str, Outlet]
    """The mapping the dispatcher delivers through."""


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    """The processes' database and core (one here), with communities coop and fed."""
    outlets: dict[str, Outlet] = {}
    app = await bootstrap(
        engine=make_engine(f"sqlite:///{tmp_path / 'folkmoot.db'}"),
        clock=SystemClock(),
        outlets=outlets,
        communities=[CommunityConfig(name="coop"), CommunityConfig(name="fed")],
    )
    try:
        yield Core(app, outlets)
    finally:
        await app.close()


async def test_each_shard_set_gets_only_its_guilds_events_and_either_posts_anywhere(
    discord_fake: FakeDiscord, start_client: StartClient, core: Core
) -> None:
    fake, app = discord_fake, core.app
    guilds = {shard_of(fake.guild): fake.guild}
    other = 1 - shard_of(fake.guild)
    guilds[other] = guild_on(fake, other, "Federation")
    rooms = {shard: fake.channel("governance", guild=guild) for shard, guild in guilds.items()}
    await ensure_binding(app, RoomRef("discord", str(rooms[0].id)), CommunityId("coop"))
    await ensure_binding(app, RoomRef("discord", str(rooms[1].id)), CommunityId("fed"))
    # Two processes' bots: shard 0 of 2, and shard 1 of 2.
    bots = {
        shard: DiscordAdapter(
            DiscordSettings(
                token=fake.token,
                guilds=(guilds[0].id, guilds[1].id),
                shard_count=SHARDS,
                shard_ids=(shard,),
                guild_ready_timeout=GUILD_READY_TIMEOUT,
            ),
            app.governance,
            PlatformState(app.factory, "discord"),
        )
        for shard in (0, 1)
    }
    seen = {shard: Interactions(bot) for shard, bot in bots.items()}
    await asyncio.gather(*(start_client(bot) for bot in bots.values()))
    assert {s.shard for s in fake.sessions} == {(0, SHARDS), (1, SHARDS)}
    for shard, bot in bots.items():
        mine = {g.id for g in fake.guilds.values() if shard_of(g) == shard}
        assert {g.id for g in bot.guilds} == mine and guilds[shard].id in mine
        assert bot.shard_count == SHARDS and list(bot.shards) == [shard]

    # A slash command in the guild on shard 1: the second bot answers it.
    ana, bob = (fake.add_member(name, guild=guilds[1]) for name in ("ana", "bob"))
    for member in (ana, bob):  # each answers first, so both are members when voting opens
        ix = await fake.slash(member, "status", {}, channel=rooms[1])
        await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    ix = await fake.slash(ana, "propose", {}, channel=rooms[1])
    assert (await fake.interaction_response(ix, within=WITHIN)).json["type"] == 9  # the modal
    ix = await fake.modal_submit(ana, fake.modal_id(ix), {"title": "Share the van"})
    assert (await fake.interaction_response(ix, within=WITHIN)).json["type"] == 5
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert answer.json["content"] == "Proposed as #1."

    # The first bot delivers the card to that guild, which it never saw: by REST alone.
    assert bots[0].get_channel(rooms[1].id) is None
    core.outlets["discord"] = bots[0]
    await app.dispatcher.drain()
    card = await fake.next_call("POST", rf"/channels/{rooms[1].id}/messages", within=WITHIN)
    assert card.json["embeds"][0]["title"].startswith("#1 Share the van")

    # A click on its button is the second bot's again.
    click = await fake.click(bob, int(card.response["id"]), "folkmoot:vote:1:yes")
    receipt = await fake.next_call("POST", click.webhook_path, within=WITHIN)
    assert receipt.json["content"] == "Your vote on #1 is recorded: yes."
    assert await seen[1].first(5) == [guilds[1].id] * 5

    # A command in the guild on shard 0 is the first bot's: the first it was given, so
    # none of the others before it came its way (one socket keeps its order).
    carol = fake.add_member("carol", guild=guilds[0])
    ix = await fake.slash(carol, "status", {}, channel=rooms[0])
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert "#1" not in answer.json["content"]  # coop has no proposals: fed's is fed's
    assert await seen[0].first(1) == [guilds[0].id]
    assert seen[1].guilds == [guilds[1].id] * 5


def test_the_discord_lease_is_named_by_the_shard_set() -> None:
    settings = Settings(discord_token=SecretStr("token"))
    for discord_config, name in [
        (DiscordConfig(), "discord:shards:all"),
        (DiscordConfig(shard_count=4), "discord:shards:all"),
        (DiscordConfig(shard_count=4, shard_ids=[3, 1]), "discord:shards:1,3/4"),
    ]:
        config = FileConfig(discord=discord_config)
        assert _lease_names(config, _discord_settings(settings, config)) == {"discord": name}


async def test_a_shard_holder_leaves_other_holders_claims_alone(core: Core) -> None:
    """Whoever takes the one lease of all shards frees the claims its dead predecessor
    left; a holder of some shards must not: another live holder may be sending those."""
    app = core.app
    core.outlets["discord"] = RecordingOutlet()
    room, ana = RoomRef("discord", "4242"), AccountRef("discord", "1")
    await ensure_binding(app, room, CommunityId("coop"))
    ctx = Context(ana, room, CommunityId("coop"), app.deps.clock.now())
    assert (await app.governance.handle(Join(ctx, "ana", role=Role.ADMIN))).ok
    said = await app.governance.handle_text(room, ana, "!propose Share the van", ctx.sent_at)
    assert said is not None and said.ok
    await app.dispatcher.route()

    async def claimed() -> int:
        async with app.uow() as uow:
            open_ = await uow.outbox.open_deliveries(platforms=["discord"], limit=100)
        assert open_
        return sum(not d.ready(app.deps.clock.now()) for d in open_)

    # The holder of shard 0 of 2 is sending them.
    now = app.deps.clock.now()
    async with app.uow() as uow:
        open_ = await uow.outbox.open_deliveries(platforms=["discord"], limit=100)
        assert await uow.outbox.claim(
            [d.id for d in open_], now=now, until=now + timedelta(minutes=2)
        )
        await uow.commit()
    total = await claimed()
    keepers = [
        _keeper(
            app.engine,
            app.dispatcher,
            "discord",
            f"discord:shards:{shards.shard_set}",
            0.1,
            sole=_sole_holder("discord", shards),
        )
        for shards in (
            DiscordSettings(token="token", shard_count=2, shard_ids=(1,)),
            DiscordSettings(token="token"),
        )
    ]
    try:
        await keepers[0].attempt()  # shard 1's holder starts
        assert keepers[0].holding and await claimed() == total
        await keepers[1].attempt()  # the sole holder of every shard starts
        assert keepers[1].holding and await claimed() == 0
    finally:
        for keeper in keepers:
            await keeper.release()


async def test_a_shard_set_lost_and_taken_again_connects_again(
    discord_fake: FakeDiscord, core: Core
) -> None:
    """A closed discord.py client does not connect again: each take connects a new one."""
    shards = DiscordSettings(token=discord_fake.token, shard_count=SHARDS, shard_ids=(0,))
    link = DiscordConnection(DiscordConfig(), shards, core.app, core.outlets)
    keeper = _keeper(
        core.app.engine,
        core.app.dispatcher,
        "discord",
        f"discord:shards:{shards.shard_set}",
        0.1,
        (link.connect, link.disconnect),
        sole=False,
    )
    try:
        await keeper.attempt()
        first = link.bot
        assert keeper.holding and first.is_ready() and core.outlets["discord"] is first
        await keeper.release()  # as when the lease is lost: the client is closed
        await keeper.attempt()
        assert keeper.holding and keeper.failure is None
        assert link.bot is not first and core.outlets["discord"] is link.bot
        assert link.bot.is_ready() and first.is_closed()
        await discord_fake.ready(identifies=2, shard_id=0, within=WITHIN)
    finally:
        await keeper.release()
        await link.disconnect()


class LeaseLog(logging.Handler):
    """What the lease keepers log, awaitable: ``await log.said("…taken", times=2)``."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._news = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self._news.set()

    async def said(self, text: str, *, times: int = 1) -> None:
        try:
            async with asyncio.timeout(WITHIN):
                while sum(text in line for line in self.lines) < times:
                    self._news.clear()
                    await self._news.wait()
        except TimeoutError:
            raise AssertionError(f"{text!r} not logged {times}x: {self.lines}") from None


@pytest.fixture
def lease_log() -> Iterator[LeaseLog]:
    logger = logging.getLogger("governance.store.lease")
    handler, level = LeaseLog(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@dataclass
class Instance:
    """A `folkmoot run` in this process."""

    task: asyncio.Task[int]
    stop: asyncio.Event

    async def stopped(self) -> int:
        self.stop.set()
        return await asyncio.wait_for(self.task, WITHIN)


async def test_one_process_per_shard_set_connects_and_another_waits_for_it(
    discord_fake: FakeDiscord, lease_log: LeaseLog, db_url: str, tmp_path: Path
) -> None:
    fake = discord_fake
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        discord_token=SecretStr(fake.token),
        lease_retry_seconds=0.1,
    )
    instances: list[Instance] = []

    def start(shard: int) -> Instance:
        config = FileConfig(
            communities=[CommunityConfig(name="coop")],
            discord=DiscordConfig(shard_count=SHARDS, shard_ids=[shard]),
        )
        stop = asyncio.Event()
        instance = Instance(asyncio.create_task(run_bot(settings, config, stop)), stop)
        instances.append(instance)
        return instance

    try:
        first = start(0)
        await lease_log.said("lease discord:shards:0/2 taken")
        start(1)  # another shard set: another lease, connected too
        await lease_log.said("lease discord:shards:1/2 taken")
        start(0)  # the first one's set again: it waits
        await lease_log.said("lease discord:shards:0/2 is held by another instance")
        assert [s.shard for s in fake.sessions] == [(0, SHARDS), (1, SHARDS)]

        # The first stops; the waiting one takes its shard over. Shard 1 is left alone.
        assert await first.stopped() == 0
        await lease_log.said("lease discord:shards:0/2 taken", times=2)
        await fake.ready(identifies=2, shard_id=0, within=WITHIN)
        assert [s.shard for s in fake.sessions] == [(0, SHARDS), (1, SHARDS), (0, SHARDS)]
        assert fake.session(1).identifies == 1 and fake.session(1).socket is not None
    finally:
        for instance in instances:
            with contextlib.suppress(Exception):
                await instance.stopped()
