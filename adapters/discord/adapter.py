"""The Discord adapter: one bot, through discord.py.

Members use slash commands (one per core command, its arguments as one text option)
and the vote buttons on each proposal card; with the optional message-content intent,
the same ``!`` text commands work too. Every interaction is deferred before anything
slow (Discord's three-second rule), answered ephemerally, and nothing the bot sends
pings anyone.

It is also the core's `Outlet` on Discord: cards as embeds with persistent vote
buttons (`DynamicItem`s registered in `setup_hook`, so they work after a restart),
deliberation threads, and direct messages; every send carries a nonce derived from
the delivery's key, so a retried delivery posts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import discord
from discord import app_commands, ui

from adapters.discord import render
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.service.app import Governance
from governance.service.ports import ChannelGone
from governance.text.grammar import is_command
from governance.text.messages import Audience, Message, Poll, Reply
from governance.text.usage import USAGE

log = logging.getLogger(__name__)

PLATFORM = "discord"
ACK = "✅"
READY_TIMEOUT = 30.0
CARD = "card"
MAX_BUTTONS = 25


class DiscordStartError(Exception):
    """Start-up cannot go on: the message says why (a bad token, no gateway)."""


class CardStore(Protocol):
    async def remember_poll(
        self, room_id: str, proposal: int, event_id: str, kind: str
    ) -> None: ...
    async def polls_of(self, room_id: str, proposal: int) -> list[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token: str = field(repr=False)
    guilds: tuple[int, ...] = ()
    """Guilds whose slash commands are synced at start (each at once, unlike global ones)."""
    role_names: Mapping[str, str] = field(default_factory=dict)
    """Discord role name → core role word, for members seen the first time."""
    message_content: bool = False
    """The privileged intent: only then do ``!`` text commands work in channels."""
    shard_count: int | None = None
    """How many shards the bot runs in all; None lets Discord say (``GET /gateway/bot``)."""
    shard_ids: tuple[int, ...] | None = None
    """The shards this process runs (of `shard_count`); None: all of them."""

    @property
    def shard_set(self) -> str:
        """The name of this process's shards, for the lease that keeps them to one
        process: ``all``, or ``0,1/4``."""
        if self.shard_ids is None:
            return "all"
        return f"{','.join(map(str, self.shard_ids))}/{self.shard_count}"


class VoteButton(
    ui.DynamicItem[ui.Button[Any]],
    template=r"folkmoot:vote:(?P<number>[0-9]{1,9}):(?P<answer>[A-Za-z]{1,8})",
):
    """A vote button on a card: ``!vote <number> <answer>`` when clicked, by whoever."""

    def __init__(self, number: int, answer: str, label: str | None = None) -> None:
        super().__init__(
            ui.Button(
                label=(label or answer)[:80],
                style=discord.ButtonStyle.secondary,
                custom_id=f"folkmoot:vote:{number}:{answer}",
            )
        )
        self.number = number
        self.answer = answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        label = item.label if isinstance(item, ui.Button) else None
        return cls(int(match["number"]), match["answer"], label)

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        assert isinstance(client, DiscordAdapter)
        await client.run_command(interaction, f"!vote {self.number} {self.answer}")


def vote_view(poll: Poll) -> ui.View:
    view = ui.View(timeout=None)
    for index, (answer, label) in enumerate(poll.answers[:MAX_BUTTONS]):
        button = VoteButton(
            poll.proposal, answer, f"{answer} {label}" if answer != label else label
        )
        button.item.row = index // 5
        view.add_item(button)
    return view


class DiscordAdapter(discord.AutoShardedClient):
    def __init__(self, settings: DiscordSettings, governance: Governance, cards: CardStore) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = settings.message_content
        shards: dict[str, Any] = {"shard_count": settings.shard_count}
        if settings.shard_ids is not None:
            shards["shard_ids"] = list(settings.shard_ids)
        super().__init__(intents=intents, allowed_mentions=render.NO_PINGS, **shards)
        self.settings = settings
        self._governance = governance
        self._cards = cards
        self.tree = app_commands.CommandTree(self)
        for name in USAGE:
            self.tree.add_command(_slash(name))
        self._runner: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton)
        for guild in self.settings.guilds:
            target = discord.Object(id=guild)
            self.tree.copy_global_to(guild=target)
            await self.tree.sync(guild=target)

    async def start_adapter(self) -> None:
        """Log in and connect; return once the gateway said READY."""
        try:
            await self.login(self.settings.token)
        except discord.LoginFailure:
            await self.close()
            raise DiscordStartError(
                "the Discord token was refused (FOLKMOOT_DISCORD_TOKEN)"
            ) from None
        except (OSError, discord.HTTPException) as error:
            await self.close()
            raise DiscordStartError(f"Discord is unreachable ({type(error).__name__})") from None
        self._runner = asyncio.create_task(self.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.ensure_future(self.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._runner}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            await self.stop_adapter()
            raise DiscordStartError("the Discord gateway did not become ready")

    async def stop_adapter(self) -> None:
        await self.close()
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._runner
            self._runner = None

    # ------------------------------------------------------------------ incoming

    async def run_command(self, interaction: discord.Interaction, text: str) -> None:
        """Defer at once (Discord's three seconds), then do the work and answer."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await self._handle(
            interaction.channel_id or 0, interaction.user, text, interaction.created_at
        )
        answer = reply.message if reply is not None else Message(None, ("Done.",))
        await interaction.followup.send(
            render.text(answer), ephemeral=True, allowed_mentions=render.NO_PINGS
        )

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or not is_command(message.content):
            return
        reply = await self._handle(
            message.channel.id, message.author, message.content, message.created_at
        )
        if reply is None:
            return
        if reply.audience is Audience.QUIET and reply.ok:
            await message.add_reaction(ACK)
        elif reply.audience is Audience.QUIET:
            with contextlib.suppress(discord.HTTPException):
                await message.author.send(
                    render.text(reply.message), allowed_mentions=render.NO_PINGS
                )
        else:
            await message.reply(render.text(reply.message), allowed_mentions=render.NO_PINGS)

    async def _handle(
        self, channel_id: int, user: discord.abc.User, text: str, sent_at: datetime
    ) -> Reply | None:
        room = RoomRef(PLATFORM, str(channel_id))
        actor = AccountRef(PLATFORM, str(user.id))
        community = await self._governance.community_of(room)
        if community is not None:
            await self._join(room, community, actor, _name(user), _roles(user))
        return await self._governance.handle_text(room, actor, text, sent_at.astimezone(UTC))

    async def _join(
        self, room: RoomRef, community: CommunityId, actor: AccountRef, name: str, roles: list[str]
    ) -> None:
        if await self._governance.member(community, actor) is not None:
            return
        granted = [
            Role.named(self.settings.role_names[r]) for r in roles if r in self.settings.role_names
        ]
        ctx = Context(actor, room, community, datetime.now(UTC))
        await self._governance.handle(Join(ctx, name[:80], role=max(granted, default=None)))

    # ------------------------------------------------------------------ outgoing (Outlet)

    async def _channel(self, channel_id: str) -> discord.abc.Messageable:
        try:
            channel = self.get_channel(int(channel_id)) or await self.fetch_channel(int(channel_id))
        except (discord.NotFound, discord.Forbidden) as error:
            raise ChannelGone(f"channel {channel_id}: {error.text or error.status}") from None
        if not isinstance(channel, discord.abc.Messageable):
            raise ChannelGone(f"channel {channel_id} takes no messages")
        return channel

    async def _send(
        self, channel_id: str, message: Message, key: str, view: ui.View | None = None
    ) -> discord.Message:
        channel = await self._channel(channel_id)
        try:
            if view is None:
                return await channel.send(
                    embed=render.embed(message),
                    nonce=render.nonce(key),
                    allowed_mentions=render.NO_PINGS,
                )
            return await channel.send(
                embed=render.embed(message),
                view=view,
                nonce=render.nonce(key),
                allowed_mentions=render.NO_PINGS,
            )
        except (discord.NotFound, discord.Forbidden) as error:
            raise ChannelGone(f"channel {channel_id}: {error.text or error.status}") from None

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        view = vote_view(message.poll) if message.poll is not None else None
        sent = await self._send(room.room_id, message, key, view)
        if message.poll is not None:
            await self._cards.remember_poll(room.room_id, message.poll.proposal, str(sent.id), CARD)
        if message.ends_poll is not None:
            await self._disable_buttons(room.room_id, message.ends_poll)

    async def _disable_buttons(self, channel_id: str, proposal: int) -> None:
        """At close: the card's buttons go (a click would only be refused)."""
        channel = await self._channel(channel_id)
        for message_id, _ in await self._cards.polls_of(channel_id, proposal):
            with contextlib.suppress(discord.HTTPException):
                card = channel.get_partial_message(int(message_id))  # type: ignore[attr-defined]
                await card.edit(view=None)

    async def open_thread(self, room: RoomRef, message: Message, *, key: str) -> str:
        sent = await self._send(room.room_id, message, key)
        thread = await sent.create_thread(name=(message.title or "Deliberation")[:100])
        return str(thread.id)

    async def post_in_thread(
        self, room: RoomRef, thread: str, message: Message, *, key: str
    ) -> None:
        await self._send(thread, message, f"{key}-thread")

    async def tell(self, account: AccountRef, message: Message, *, key: str) -> None:
        try:
            user = self.get_user(int(account.account_id)) or await self.fetch_user(
                int(account.account_id)
            )
            await user.send(
                render.text(message), nonce=render.nonce(key), allowed_mentions=render.NO_PINGS
            )
        except discord.Forbidden:
            raise ChannelGone(f"{account}: direct messages are closed") from None
        except discord.NotFound:
            raise ChannelGone(f"{account}: no such user") from None


def _name(user: discord.abc.User) -> str:
    return user.display_name or user.name


def _roles(user: discord.abc.User) -> list[str]:
    return [role.name for role in getattr(user, "roles", [])]


def _slash(name: str) -> app_commands.Command[Any, ..., None]:
    description = USAGE[name][1]

    async def command(interaction: discord.Interaction, args: str | None = None) -> None:
        client = interaction.client
        assert isinstance(client, DiscordAdapter)
        await client.run_command(interaction, f"!{name} {args or ''}".strip())

    return app_commands.Command(
        name=name,
        description=description[:100],
        callback=command,
    )
