"""Fixtures for tests over the wire against the loopback Discord fake.

``discord_fake`` starts a :class:`FakeDiscord` for the test and points discord.py at it
(``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``, restored after).
``start_client`` starts a real ``discord.Client`` (or ``commands.Bot``) against it,
returns once ``on_ready`` has fired, and closes it after the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from sqlalchemy import update

from adapters.discord.adapter import DiscordAdapter, DiscordSettings
from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig
from governance.domain.ids import CommunityId, RoomRef
from governance.service.clocks import SystemClock
from governance.service.ports import Outlet
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.platform_state import PlatformState
from tests.discord.fake import Call, FakeChannel, FakeDiscord, FakeUser

GUILD_READY_TIMEOUT = 0.05
"""For clients made in tests: discord.py waits this long after the last GUILD_CREATE
before ``on_ready`` (2 s by default)."""

ClientT = TypeVar("ClientT", bound=discord.Client)


@pytest.fixture
async def discord_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.base_url)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    try:
        yield fake
    finally:
        await fake.close()


class StartClient(Protocol):
    async def __call__(
        self, client: ClientT, *, within: float = 5.0, identify_wait: bool = False
    ) -> ClientT: ...


async def _no_identify_wait(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s before every IDENTIFY but the first (Discord's identify rate
    limit); against the fake that only slows INVALID_SESSION tests down."""


@pytest.fixture
async def start_client(discord_fake: FakeDiscord) -> AsyncIterator[StartClient]:
    """``await start_client(client)``: log in with the fake's token, connect, and return
    once ready (``AssertionError`` after ``within`` seconds). Made clients should pass
    ``guild_ready_timeout=GUILD_READY_TIMEOUT``. Unless ``identify_wait``, the client
    re-identifies at once after INVALID_SESSION (discord.py waits 5 s)."""
    clients: list[discord.Client] = []
    tasks: list[asyncio.Task[None]] = []

    async def start(
        client: ClientT, *, within: float = 5.0, identify_wait: bool = False
    ) -> ClientT:
        clients.append(client)
        if not identify_wait:
            client.before_identify_hook = _no_identify_wait  # type: ignore[method-assign]
        await asyncio.wait_for(client.login(discord_fake.token), within)
        task = asyncio.create_task(client.connect(), name="discord-client")
        tasks.append(task)
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=within, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()  # raises what stopped the client
            raise AssertionError(f"the client was not ready within {within} s")
        return client

    yield start
    for client in clients:
        await client.close()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5.0)


WITHIN = 5.0


@dataclass
class Deployment:
    fake: FakeDiscord
    app: App
    bot: DiscordAdapter
    outlets: dict[str, Outlet]

    async def deliver(self) -> None:
        await self.app.dispatcher.drain()

    async def propose(
        self,
        member: FakeUser,
        channel: FakeChannel,
        title: str,
        *,
        body: str = "",
        options: str = "",
        **settings: str,
    ) -> Call:
        """``/propose`` with `settings` as its options (method, vote, deliberate,
        settings), then the modal filled in; returns the bot's ephemeral answer."""
        ix = await self.fake.slash(member, "propose", settings, channel=channel)
        shown = await self.fake.interaction_response(ix, within=WITHIN)
        assert shown.json["type"] == 9, shown.json  # a modal, as the first answer
        submit = await self.fake.modal_submit(
            member, self.fake.modal_id(ix), {"title": title, "body": body, "options": options}
        )
        return await self.fake.next_call("POST", submit.webhook_path, within=WITHIN)

    async def second_channel(self) -> FakeChannel:
        """#general bound to coop as well, with the server's owner named its admin (as
        an operator would in the config)."""
        general = self.fake.channel("general")
        await ensure_binding(self.app, RoomRef("discord", str(general.id)), CommunityId("coop"))
        async with self.app.engine.begin() as conn:
            await conn.execute(
                update(t.communities)
                .where(t.communities.c.id == "coop")
                .values(admins=[f"discord:{self.fake.owner.id}"])
            )
        return general

    @contextlib.asynccontextmanager
    async def restarted(self, **changes: Any) -> AsyncIterator[DiscordAdapter]:
        """The bot stopped, then started again with these settings changed."""
        await self.bot.stop_adapter()
        bot = DiscordAdapter(
            replace(self.bot.settings, **changes),
            self.app.governance,
            PlatformState(self.app.factory, "discord"),
        )
        bot.before_identify_hook = _no_identify_wait  # type: ignore[method-assign]
        self.outlets["discord"] = bot
        await bot.start_adapter()
        try:
            yield bot
        finally:
            await bot.stop_adapter()

    async def card(self, channel: FakeChannel) -> Call:
        """Deliver what is pending; the next message the bot posts in `channel`."""
        await self.deliver()
        return await self.fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)


@pytest.fixture
async def deployed(discord_fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Deployment]:
    outlets: dict[str, Outlet] = {}
    app = await bootstrap(
        engine=make_engine(f"sqlite:///{tmp_path / 'folkmoot.db'}"),
        clock=SystemClock(),
        outlets=outlets,
        communities=[CommunityConfig(name="coop")],
    )
    bot = DiscordAdapter(
        DiscordSettings(
            token=discord_fake.token,
            guilds=(discord_fake.guild.id,),
            role_names={"Stewards": "moderator"},
            guild_ready_timeout=GUILD_READY_TIMEOUT,
        ),
        app.governance,
        PlatformState(app.factory, "discord"),
    )
    bot.before_identify_hook = _no_identify_wait  # type: ignore[method-assign]
    outlets["discord"] = bot
    channel = discord_fake.channel("governance")
    await ensure_binding(app, RoomRef("discord", str(channel.id)), CommunityId("coop"))
    await bot.start_adapter()
    try:
        yield Deployment(discord_fake, app, bot, outlets)
    finally:
        await bot.stop_adapter()
        await app.close()
