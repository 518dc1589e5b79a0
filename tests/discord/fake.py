"""A loopback fake of Discord that discord.py connects to for real.

It serves the REST routes a bot uses (``/api/v10/...``) and a websocket gateway from one
aiohttp application on ``127.0.0.1`` and a free port. Payloads are built from
discord.py's own ``discord.types`` TypedDicts so that they drift less from the real API.

What a test gets:

- a guild model (roles, text channels with their permission overwrites, members,
  threads, DM channels, messages with snowflake ids whose timestamps are now) that REST
  calls read and change, so a PATCH, a GET and the gateway events that follow agree
  with each other;
- every REST call recorded (:class:`Call`: method, path, query, JSON body, headers,
  status, response) and awaitable: ``await fake.next_call("PATCH", pattern)``;
- members acting: ``member_message``, ``slash``, ``autocomplete``, ``click``,
  ``select``, ``modal_submit``, ``react`` inject gateway dispatches as Discord would;
- the gateway's hard cases: ``reconnect()`` (op 7), ``invalidate_session()`` (op 9),
  replay of missed events on RESUME, and ``rate_limit_once()`` (HTTP 429 with
  ``retry_after``) on a chosen route;
- races in a chosen order: ``hold()`` keeps a call unanswered until the test releases
  it, and ``bucket_size`` answers with rate-limit headers that let discord.py send
  several calls on one route at once, as Discord does.

Real Discord's rules it keeps: an interaction must be answered within
``interaction_deadline`` seconds (3 s) and only once; follow-ups need an answer first;
the first follow-up after a "thinking" defer fills the deferred message; a ``nonce``
with ``enforce_nonce`` posts once; without the message-content intent, guild messages
from others arrive without content unless they mention the bot; closed DMs answer
403/50007; a deleted channel answers 404/10003.

Nothing waits by sleeping: the waiting helpers wait on an :class:`asyncio.Condition`
that every recorded call and gateway frame notifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    # Types only: several discord.types modules import each other in a circle at run time.
    from discord.types.appinfo import AppInfo, GatewayAppInfo
    from discord.types.channel import (
        DMChannel,
        PermissionOverwrite,
        TextChannel,
        ThreadChannel,
    )
    from discord.types.gateway import (
        GuildMembersChunkEvent,
        MessageDeleteEvent,
        MessageReactionAddEvent,
        ReadyEvent,
    )
    from discord.types.guild import Guild
    from discord.types.interactions import (
        ApplicationCommandInteraction,
        ApplicationCommandInteractionDataOption,
        InteractionCallback,
        MessageComponentInteraction,
        ModalSubmitComponentInteractionData,
        ModalSubmitInteraction,
        PartialInteractionGuild,
    )
    from discord.types.member import Member, MemberWithUser, UserWithMember
    from discord.types.message import Message
    from discord.types.role import Role
    from discord.types.threads import Thread
    from discord.types.user import User

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
JSON = "application/json"
"""Exactly this: discord.py compares the whole Content-Type header."""

EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5

INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

OptionValue = str | int | float | bool
T = TypeVar("T")


# ------------------------------------------------------------------ small helpers


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def snowflake_time(snowflake: int) -> datetime:
    """When a snowflake was made (its top 42 bits are milliseconds since 2015)."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


class ApiError(Exception):
    """Answered as Discord answers errors: ``{"message": ..., "code": ...}``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message


def json_response(
    payload: object, status: int = 200, headers: Mapping[str, str] = {}
) -> web.Response:
    """``web.json_response`` would say ``application/json; charset=utf-8``: login fails."""
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={"Content-Type": JSON, **headers},
    )


# ------------------------------------------------------------------ the model


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    dms_open: bool = True

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> User:
        user: User = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "avatar": None,
            "global_name": self.username.capitalize(),
        }
        if self.bot:
            user["bot"] = True
        return user


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 1

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> Role:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": True,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    """A guild text channel (type 0), a thread (11 public, 12 private) or a DM (1)."""

    id: int
    name: str
    type: int
    guild_id: int | None = None
    parent_id: int | None = None
    owner_id: int | None = None
    recipient: FakeUser | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: Literal[60, 1440, 4320, 10080] = 1440
    deleted: bool = False
    position: int = 0
    last_message_id: int | None = None
    message_count: int = 0
    overwrites: list[PermissionOverwrite] = field(default_factory=list)
    """The channel's permission overwrites (``overwrite`` sets one)."""

    @property
    def is_thread(self) -> bool:
        return self.type in (10, 11, 12)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def text_payload(self) -> TextChannel:
        assert self.guild_id is not None and not self.is_thread
        return {
            "id": str(self.id),
            "type": 0,
            "name": self.name,
            "guild_id": str(self.guild_id),
            "position": self.position,
            "permission_overwrites": copy.deepcopy(self.overwrites),
            "nsfw": False,
            "parent_id": None,
            "topic": "",
            "last_message_id": _opt_str(self.last_message_id),
            "rate_limit_per_user": 0,
        }

    def thread_payload(self) -> Thread:
        assert self.guild_id is not None and self.parent_id is not None
        thread_type: Literal[10, 11, 12] = 12 if self.type == 12 else 11
        return {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "owner_id": str(self.owner_id or 0),
            "name": self.name,
            "type": thread_type,
            "member_count": 1,
            "message_count": self.message_count,
            "total_message_sent": self.message_count,
            "rate_limit_per_user": 0,
            "last_message_id": _opt_str(self.last_message_id),
            "flags": 0,
            "thread_metadata": {
                "archived": self.archived,
                "locked": self.locked,
                "auto_archive_duration": self.auto_archive_duration,
                "archive_timestamp": now_iso(),
                "create_timestamp": snowflake_time(self.id).isoformat(),
            },
        }

    def dm_payload(self) -> DMChannel:
        assert self.recipient is not None
        return {
            "id": str(self.id),
            "type": 1,
            "name": "",
            "last_message_id": _opt_str(self.last_message_id),
            "recipients": [self.recipient.payload()],
        }

    def payload(self) -> TextChannel | Thread | DMChannel:
        if self.type == 1:
            return self.dm_payload()
        if self.is_thread:
            return self.thread_payload()
        return self.text_payload()


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)
    """user id -> role ids (besides @everyone)."""
    joined_at: str = field(default_factory=now_iso)

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]


@dataclass
class Call:
    """One REST request as the fake received it, and what it answered."""

    index: int
    method: str
    path: str
    """Without the ``/api/v10`` prefix, ids and ``@me`` as sent."""
    query: dict[str, str]
    json: Any
    """The JSON body (``payload_json`` of a multipart body), or ``None``."""
    headers: dict[str, str]
    at: float
    """``loop.time()`` when it arrived."""
    status: int = 0
    response: Any = None
    files: dict[str, bytes] = field(default_factory=dict)
    """Files uploaded with a multipart body, by file name."""

    @property
    def nonce(self) -> str | int | None:
        body: dict[str, Any] = self.json if isinstance(self.json, dict) else {}
        data = body.get("data")
        nonce = (data if isinstance(data, dict) else body).get("nonce")
        return cast("str | int | None", nonce)

    @property
    def enforce_nonce(self) -> bool:
        return bool(isinstance(self.json, dict) and self.json.get("enforce_nonce"))

    def matches(self, method: str | None, pattern: str | None) -> bool:
        return (method is None or self.method == method.upper()) and (
            pattern is None or re.fullmatch(pattern, self.path) is not None
        )

    def __str__(self) -> str:
        return f"#{self.index} {self.method} {self.path} -> {self.status}"


CALL = web.RequestKey("call", Call)


@dataclass
class FakeInteraction:
    """An interaction the fake dispatched: how to find what the bot answered."""

    id: int
    token: str
    type: int
    user: FakeUser
    channel_id: int
    guild_id: int | None
    application_id: int
    sent_at: float
    message_id: int | None = None
    """The message a component sits on (type 3)."""
    callback: Call | None = None
    response_type: int | None = None
    original_id: int | None = None
    """The message ``@original`` names: created by types 4/5, the component's for 6/7."""
    loading: bool = False
    modal: dict[str, Any] | None = None

    @property
    def callback_path(self) -> str:
        return f"/interactions/{self.id}/{self.token}/callback"

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.application_id}/{self.token}"

    @property
    def original_path(self) -> str:
        return f"{self.webhook_path}/messages/@original"


@dataclass
class GatewayFrame:
    """A frame the bot sent on the gateway."""

    index: int
    session: Session | None
    op: int
    d: Any


@dataclass
class Session:
    """A gateway session (one per shard): its sequence, its log for RESUME, its socket."""

    id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    socket: web.WebSocketResponse | None = None
    invalid: bool = False
    identifies: int = 1
    resumes: int = 0
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def owns(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id

    def has(self, intent: int) -> bool:
        return bool(self.intents & intent)


@dataclass
class _RateLimit:
    method: str
    pattern: str
    retry_after: float
    is_global: bool
    remaining: int


@dataclass
class Held:
    """A call the fake keeps unanswered until ``release()`` (``FakeDiscord.hold``): a
    test makes a race happen in the order it wants."""

    method: str
    pattern: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the held call came (it is recorded, not yet answered)."""
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    call: Call | None = None

    def release(self) -> None:
        self._released.set()

    async def reached(self, *, within: float = 2.0) -> Call:
        """The held call, once it came (AssertionError after ``within`` seconds)."""
        try:
            await asyncio.wait_for(self.arrived.wait(), within)
        except TimeoutError:
            raise AssertionError(f"no {self.method} {self.pattern} within {within} s") from None
        assert self.call is not None
        return self.call


@dataclass
class _Failure:
    method: str
    pattern: str
    status: int
    code: int
    remaining: int


_GATEWAY_ONLY_GUILD_FIELDS = (
    "joined_at",
    "large",
    "member_count",
    "members",
    "channels",
    "threads",
    "voice_states",
    "presences",
    "unavailable",
    "stage_instances",
    "guild_scheduled_events",
)


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


# ------------------------------------------------------------------ the fake


class FakeDiscord:
    """Discord on loopback. ``await fake.start()``; point discord.py at ``base_url`` and
    ``gateway_url``; ``await fake.close()``. See the module docstring for the API."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        guild_name: str = "Co-op",
        channels: Sequence[str] = ("general", "governance"),
        heartbeat_interval_ms: int = 41_250,
        interaction_deadline: float = 3.0,
        privileged_intents: int = INTENT_GUILD_MEMBERS | INTENT_MESSAGE_CONTENT,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline = interaction_deadline
        self.privileged_intents = privileged_intents
        """Privileged intents "enabled in the developer portal"; asking others closes 4014."""
        self._increment = itertools.count(1)

        self.owner = FakeUser(self.new_id(), "owner")
        self.bot = FakeUser(self.new_id(), "folkmoot", bot=True)
        self.application_id = self.bot.id
        self.users: dict[int, FakeUser] = {self.owner.id: self.owner, self.bot.id: self.bot}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, Message] = {}
        self._nonces_from = 0
        """Messages with a smaller id have nonces Discord no longer remembers."""
        self.dm_channels: dict[int, FakeChannel] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.commands: dict[int | None, dict[str, dict[str, Any]]] = {}
        """Synced application commands by guild id (``None``: global), then by name."""
        self.calls: list[Call] = []
        self.frames: list[GatewayFrame] = []
        self.sessions: list[Session] = []
        self.unhandled: list[Call] = []
        """Calls to routes the fake does not serve (answered 404): add them here."""
        self._consumed: set[int] = set()
        self._consumed_frames: set[int] = set()
        self._rate_limits: list[_RateLimit] = []
        self._failures: list[_Failure] = []
        self._holds: list[Held] = []
        self.bucket_size: int | None = None
        """When set, every answer carries Discord's rate-limit headers for a bucket of
        this many requests (never exhausted): discord.py then sends that many on one
        route at once, as it does on Discord (five message edits per channel), where
        without them it sends one at a time."""
        self._condition = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog: list[tuple[str, Any, int | None, int | None]] = []
        self._flush_lock = asyncio.Lock()
        self.port = 0

        self.guild = self.add_guild(guild_name, channels=channels)

    # ----------------------------------------------------------- ids and the model

    def new_id(self) -> int:
        """A snowflake made now (worker 1), unique and increasing within this fake."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (1 << 17) | (next(self._increment) & 0x1FFFF)

    def add_guild(self, name: str, *, channels: Sequence[str] = ("general",)) -> FakeGuild:
        guild = FakeGuild(self.new_id(), name, owner_id=self.owner.id)
        guild.roles[guild.id] = FakeRole(
            guild.id, "@everyone", permissions=0x6_4004_0C41, position=0
        )
        self.guilds[guild.id] = guild
        guild.members[self.owner.id] = []
        guild.members[self.bot.id] = []
        for channel in channels:
            self.add_channel(channel, guild=guild)
        return guild

    def add_role(
        self, name: str, *, permissions: int = 0, guild: FakeGuild | None = None
    ) -> FakeRole:
        guild = guild or self.guild
        role = FakeRole(self.new_id(), name, permissions=permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        if self._live:
            self._queue(
                "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}, guild.id
            )
        return role

    def add_channel(self, name: str, *, guild: FakeGuild | None = None) -> FakeChannel:
        guild = guild or self.guild
        channel = FakeChannel(
            self.new_id(), name, type=0, guild_id=guild.id, position=len(guild.channels)
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        if self._live:
            self._queue("CHANNEL_CREATE", channel.text_payload(), guild.id)
        return channel

    def add_member(
        self,
        username: str,
        *,
        roles: Iterable[FakeRole] = (),
        guild: FakeGuild | None = None,
        user: FakeUser | None = None,
    ) -> FakeUser:
        """A member (a new user unless ``user`` is given); dispatches GUILD_MEMBER_ADD when
        the bot is connected (with the members intent)."""
        guild = guild or self.guild
        if user is None:
            user = FakeUser(self.new_id(), username)
            self.users[user.id] = user
        guild.members[user.id] = [role.id for role in roles]
        if self._live:
            event = {**self.member_payload(guild, user), "guild_id": str(guild.id)}
            self._queue("GUILD_MEMBER_ADD", event, guild.id, intent=INTENT_GUILD_MEMBERS)
        return user

    def set_roles(
        self, user: FakeUser, roles: Iterable[FakeRole], *, guild: FakeGuild | None = None
    ) -> None:
        guild = guild or self.guild
        guild.members[user.id] = [role.id for role in roles]
        event = {
            "guild_id": str(guild.id),
            "roles": [str(r) for r in guild.members[user.id]],
            "user": user.payload(),
            "joined_at": guild.joined_at,
            "flags": 0,
        }
        if self._live:
            self._queue("GUILD_MEMBER_UPDATE", event, guild.id, intent=INTENT_GUILD_MEMBERS)

    def channel(self, name: str, *, guild: FakeGuild | None = None) -> FakeChannel:
        guild = guild or self.guild
        for channel in guild.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"no channel #{name} in {guild.name}")

    async def delete_channel(self, channel: FakeChannel) -> None:
        """The channel disappears: CHANNEL_DELETE, and REST on it answers 404/10003."""
        channel.deleted = True
        assert channel.guild_id is not None
        await self.dispatch("CHANNEL_DELETE", channel.text_payload(), channel.guild_id)

    def overwrite(
        self,
        channel: FakeChannel,
        target: FakeRole | FakeUser,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """Set the channel's permission overwrite for a role (the guild's id for
        @everyone) or a member, as Edit Channel, Permissions does (no event is sent)."""
        kind: Literal[0, 1] = 0 if isinstance(target, FakeRole) else 1
        channel.overwrites = [o for o in channel.overwrites if o["id"] != str(target.id)]
        channel.overwrites.append(
            {"id": str(target.id), "type": kind, "allow": str(allow), "deny": str(deny)}
        )

    def close_dms(self, user: FakeUser) -> None:
        """The member allows no DMs from server members: sends answer 403/50007."""
        user.dms_open = False

    def member_payload(self, guild: FakeGuild, user: FakeUser) -> MemberWithUser:
        return {
            "user": user.payload(),
            "roles": [str(r) for r in guild.members.get(user.id, [])],
            "joined_at": guild.joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
        }

    def partial_member(self, guild: FakeGuild, user: FakeUser) -> Member:
        """The member without its user, as in messages and ``resolved``."""
        return {
            "roles": [str(r) for r in guild.members.get(user.id, [])],
            "joined_at": guild.joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
        }

    def guild_payload(self, guild: FakeGuild) -> Guild:
        texts: list[Any] = [
            c.text_payload() for c in guild.channels.values() if not c.deleted and not c.is_thread
        ]
        threads = [
            c.thread_payload() for c in guild.channels.values() if c.is_thread and not c.deleted
        ]
        members: list[Any] = [self.member_payload(guild, self.users[uid]) for uid in guild.members]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "emojis": [],
            "stickers": [],
            "features": [],
            "description": None,
            "incidents_data": None,
            "owner_id": str(guild.owner_id),
            "region": "",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [role.payload() for role in guild.roles.values()],
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": guild.joined_at,
            "large": False,
            "member_count": len(guild.members),
            "members": members,
            "channels": texts,
            "threads": threads,
            "voice_states": [],
            "presences": [],
            "unavailable": False,
        }

    def message(self, message_id: int) -> Message:
        try:
            return self.messages[message_id]
        except KeyError:
            raise KeyError(f"no message {message_id}") from None

    def forget_nonces(self) -> None:
        """Forget the nonces of every message so far, as Discord does after a few
        minutes: a send with one of them posts a new message."""
        self._nonces_from = max(self.messages, default=0) + 1

    def channel_messages(self, channel: FakeChannel | int) -> list[Message]:
        """The channel's messages, oldest first (ephemeral ones included: check flags)."""
        channel_id = channel if isinstance(channel, int) else channel.id
        return [m for m in self.messages.values() if int(m["channel_id"]) == channel_id]

    # ----------------------------------------------------------- serving

    @property
    def base_url(self) -> str:
        """What ``discord.http.Route.BASE`` should be."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` should be (a ``yarl.URL`` of it)."""
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    @property
    def _live(self) -> bool:
        """The bot has identified: model changes are dispatched (or logged for RESUME)."""
        return bool(self.sessions)

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/resume", self._gateway)
        routes: list[tuple[str, str, Callable[[web.Request, Any], Any]]] = [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("GET", "/applications/{app}/commands", self._get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands),
            ("GET", "/channels/{channel}", self._get_channel),
            ("PATCH", "/channels/{channel}", self._patch_channel),
            ("POST", "/channels/{channel}/typing", self._typing),
            ("GET", "/channels/{channel}/messages", self._list_messages),
            ("POST", "/channels/{channel}/messages", self._post_message),
            ("GET", "/channels/{channel}/messages/{message}", self._get_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self._patch_message),
            ("DELETE", "/channels/{channel}/messages/{message}", self._delete_message),
            ("POST", "/channels/{channel}/messages/{message}/threads", self._thread_from_message),
            ("POST", "/channels/{channel}/threads", self._thread_without_message),
            ("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._react),
            (
                "DELETE",
                "/channels/{channel}/messages/{message}/reactions/{emoji}/@me",
                self._unreact,
            ),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/guilds/{guild}", self._get_guild),
            ("GET", "/guilds/{guild}/members/{user}", self._get_member),
            ("POST", "/interactions/{interaction}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("GET", "/webhooks/{app}/{token}/messages/{message}", self._get_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{message}", self._edit_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{message}", self._delete_webhook_message),
            ("GET", "/users/{user}", self._get_user),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, self._handler(handler))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        self.port = int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------- waiting

    async def _wait_for(self, predicate: Callable[[], T | None], within: float, what: str) -> T:
        found: T | None = None

        def check() -> bool:
            nonlocal found
            found = predicate()
            return found is not None

        async with self._condition:
            try:
                await asyncio.wait_for(self._condition.wait_for(check), within)
            except TimeoutError:
                recent = "\n  ".join(str(c) for c in self.calls[-15:]) or "(none)"
                raise AssertionError(
                    f"waited {within} s for {what}; the last REST calls:\n  {recent}"
                ) from None
        assert found is not None
        return found

    async def _notify(self) -> None:
        async with self._condition:
            self._condition.notify_all()

    async def next_call(self, method: str, pattern: str, *, within: float = 2.0) -> Call:
        """The earliest call matching ``method`` and the regular expression ``pattern``
        (matched against the whole path) that no ``next_call`` has returned yet; waits
        for it (at most ``within`` seconds, then AssertionError)."""

        def find() -> Call | None:
            for call in self.calls:
                if call.index not in self._consumed and call.matches(method, pattern):
                    self._consumed.add(call.index)
                    return call
            return None

        return await self._wait_for(find, within, f"{method} {pattern}")

    def calls_to(self, method: str | None = None, pattern: str | None = None) -> list[Call]:
        """The calls so far matching (None: anything), consumed or not."""
        return [c for c in self.calls if c.matches(method, pattern)]

    async def interaction_response(
        self, interaction: FakeInteraction | int, *, within: float = 2.0
    ) -> Call:
        """The bot's callback to the interaction (``POST .../callback``), once it came."""
        ix = self._interaction(interaction)
        return await self._wait_for(
            lambda: ix.callback, within, f"the callback to interaction {ix.id}"
        )

    async def next_frame(self, op: int, *, within: float = 2.0) -> GatewayFrame:
        """The earliest not yet returned gateway frame with ``op`` the bot sent (1
        heartbeat, 2 IDENTIFY, 6 RESUME, 8 REQUEST_GUILD_MEMBERS...)."""

        def find() -> GatewayFrame | None:
            for frame in self.frames:
                if frame.index not in self._consumed_frames and frame.op == op:
                    self._consumed_frames.add(frame.index)
                    return frame
            return None

        return await self._wait_for(find, within, f"gateway op {op} from the bot")

    async def wait_until(
        self, predicate: Callable[[], bool], *, within: float = 2.0, what: str = "a condition"
    ) -> None:
        """Until ``predicate()`` holds, checked after every call and frame."""
        await self._wait_for(lambda: True if predicate() else None, within, what)

    # ----------------------------------------------------------- members acting

    async def member_message(
        self, channel: FakeChannel, user: FakeUser, content: str, *, reply_to: int | None = None
    ) -> Message:
        """A member posts in a channel, thread or DM: MESSAGE_CREATE (content hidden from
        a bot without the message-content intent unless it is mentioned or in a DM)."""
        message = self._new_message(channel, user, content=content)
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reply_to),
                "channel_id": str(channel.id),
            }
            message["referenced_message"] = copy.deepcopy(self.message(reply_to))
        await self._dispatch_message("MESSAGE_CREATE", message)
        return message

    async def member_edit(self, message: Message, content: str) -> Message:
        """Its author edits a member's message: MESSAGE_UPDATE (the content hidden, as on
        MESSAGE_CREATE, from a bot without the message-content intent)."""
        self._edit(message, {"content": content})
        await self._dispatch_message("MESSAGE_UPDATE", message)
        return message

    async def member_delete(self, message: Message) -> None:
        """A member's message deleted (by its author, or by someone with Manage
        Messages: MESSAGE_DELETE does not say which)."""
        await self._deleted(self.channels[int(message["channel_id"])], message)

    async def slash(
        self,
        user: FakeUser,
        name: str,
        options: Mapping[str, OptionValue | FakeUser] | None = None,
        *,
        channel: FakeChannel | None = None,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """A member runs ``/name`` (INTERACTION_CREATE type 2). The command must have been
        synced (as on Discord); option types come from its synced definition."""
        return await self._command_interaction(2, user, name, options, channel, subcommand, None)

    async def autocomplete(
        self,
        user: FakeUser,
        name: str,
        options: Mapping[str, OptionValue | FakeUser] | None,
        focused: str,
        *,
        channel: FakeChannel | None = None,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """A member types into option ``focused`` of ``/name`` (type 4); the bot answers
        with callback type 8 (``choices``)."""
        return await self._command_interaction(4, user, name, options, channel, subcommand, focused)

    async def click(
        self, user: FakeUser, message: Message | int, custom_id: str
    ) -> FakeInteraction:
        """A member clicks an enabled button on the message (type 3, component_type 2)."""
        found = self._component(message, custom_id, types=(2,))
        return await self._component_interaction(
            user, found[0], {"custom_id": custom_id, "component_type": 2}
        )

    async def select(
        self, user: FakeUser, message: Message | int, custom_id: str, values: Sequence[str]
    ) -> FakeInteraction:
        """A member picks ``values`` in a string select on the message (component_type 3)."""
        found, component = self._component(message, custom_id, types=(3,))
        allowed = {option["value"] for option in component.get("options", [])}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"select {custom_id} has no option(s) {sorted(unknown)}")
        data = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        return await self._component_interaction(user, found, data)

    async def modal_submit(
        self, user: FakeUser, custom_id: str, fields: Mapping[str, str]
    ) -> FakeInteraction:
        """A member submits the modal the bot showed them (type 5). ``fields`` maps text
        input custom ids to values; the shape (action rows or labels) mirrors the modal."""
        shown = next(
            (
                ix
                for ix in reversed(self.interactions.values())
                if ix.modal is not None
                and ix.modal.get("custom_id") == custom_id
                and ix.user is user
            ),
            None,
        )
        if shown is None:
            raise LookupError(f"the bot showed {user.username} no modal {custom_id!r}")
        assert shown.modal is not None
        components: list[ModalSubmitComponentInteractionData] = []
        seen: set[str] = set()
        for top in shown.modal.get("components", []):
            if top.get("type") == 1:
                inputs = [c for c in top.get("components", []) if c.get("type") == 4]
                components.append(
                    {
                        "type": 1,
                        "components": [
                            {
                                "type": 4,
                                "custom_id": c["custom_id"],
                                "value": fields.get(c["custom_id"], ""),
                            }
                            for c in inputs
                        ],
                    }
                )
                seen.update(c["custom_id"] for c in inputs)
            elif top.get("type") == 18 and top.get("component", {}).get("type") == 4:
                inner = top["component"]
                components.append(
                    cast(
                        "ModalSubmitComponentInteractionData",
                        {
                            "type": 18,
                            "component": {
                                "type": 4,
                                "custom_id": inner["custom_id"],
                                "value": fields.get(inner["custom_id"], ""),
                            },
                        },
                    )
                )
                seen.add(inner["custom_id"])
        unknown = set(fields) - seen
        if unknown:
            raise ValueError(f"modal {custom_id!r} has no text input(s) {sorted(unknown)}")
        channel = self.channels[shown.channel_id]
        ix = self._interaction_record(5, user, channel)
        payload: ModalSubmitInteraction = {
            **self._interaction_base(ix, channel),  # type: ignore[typeddict-item]
            "type": 5,
            "data": {"custom_id": custom_id, "components": components},
        }
        if shown.message_id is not None:
            ix.message_id = shown.message_id
            payload["message"] = copy.deepcopy(self.message(shown.message_id))  # type: ignore[typeddict-unknown-key]
        await self._send_interaction(ix, payload)
        return ix

    def modal_id(self, interaction: FakeInteraction | int) -> str:
        """The custom id of the modal the bot answered `interaction` with."""
        modal = self._interaction(interaction).modal
        if modal is None:
            raise LookupError("the bot answered that interaction with no modal")
        return str(modal["custom_id"])

    async def stale_modal_submit(
        self, user: FakeUser, custom_id: str, fields: Mapping[str, str], *, channel: FakeChannel
    ) -> FakeInteraction:
        """A member submits a modal this fake never saw the bot show: one an older
        release of the bot opened, with its custom id format (one action row per field)."""
        components: list[ModalSubmitComponentInteractionData] = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ]
        ix = self._interaction_record(5, user, channel)
        payload: ModalSubmitInteraction = {
            **self._interaction_base(ix, channel),  # type: ignore[typeddict-item]
            "type": 5,
            "data": {"custom_id": custom_id, "components": components},
        }
        await self._send_interaction(ix, payload)
        return ix

    async def stale_click(
        self, user: FakeUser, message: Message | int, custom_id: str
    ) -> FakeInteraction:
        """A member clicks a button whose custom id is `custom_id`, on `message`, as if
        an older release of the bot had put it there (the message itself is unchanged)."""
        msg = copy.deepcopy(self._message_of(message))
        button = {"type": 2, "style": 1, "label": "Yes", "custom_id": custom_id}
        msg["components"] = cast(Any, [{"type": 1, "components": [button]}])
        return await self._component_interaction(
            user, msg, {"custom_id": custom_id, "component_type": 2}
        )

    async def react(self, user: FakeUser, message: Message | int, emoji: str) -> None:
        """A member adds a unicode reaction: MESSAGE_REACTION_ADD."""
        msg = self._message_of(message)
        event: MessageReactionAddEvent = {
            "type": 0,
            "user_id": str(user.id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "emoji": {"id": None, "name": emoji},
            "burst": False,
        }
        guild_id = int(msg["guild_id"]) if "guild_id" in msg else None
        if guild_id is not None:
            event["guild_id"] = str(guild_id)
            guild = self.guilds[guild_id]
            event["member"] = self.member_payload(guild, user)
        self._add_reaction(msg, emoji, me=False)
        await self.dispatch(
            "MESSAGE_REACTION_ADD", event, guild_id, intent=INTENT_GUILD_MESSAGE_REACTIONS
        )

    # ----------------------------------------------------------- gateway control

    def session(self, shard_id: int = 0) -> Session:
        """The latest session of the shard."""
        for s in reversed(self.sessions):
            if s.shard[0] == shard_id:
                return s
        raise LookupError(f"no session for shard {shard_id}: the bot has not identified")

    async def ready(
        self, *, identifies: int = 1, within: float = 5.0, shard_id: int = 0
    ) -> Session:
        """Until the shard has sent IDENTIFY ``identifies`` times in all and got READY."""

        def find() -> Session | None:
            sessions = [s for s in self.sessions if s.shard[0] == shard_id]
            if len(sessions) >= identifies and sessions[-1].socket is not None:
                return sessions[-1]
            return None

        return await self._wait_for(find, within, f"IDENTIFY #{identifies} of shard {shard_id}")

    async def reconnect(self, shard_id: int = 0) -> None:
        """Send op 7 RECONNECT: the bot should reconnect to ``resume_gateway_url`` and
        RESUME; events dispatched meanwhile are replayed then."""
        session = self.session(shard_id)
        await self._send_op(session, {"op": 7, "d": None})

    async def invalidate_session(self, *, resumable: bool = False, shard_id: int = 0) -> None:
        """Send op 9 INVALID_SESSION. Not resumable: the session is gone (its unsent
        events with it) and the bot must IDENTIFY again."""
        session = self.session(shard_id)
        if not resumable:
            session.invalid = True
        await self._send_op(session, {"op": 9, "d": resumable})

    async def drop_connection(self, shard_id: int = 0, code: int = 4000) -> None:
        """Close the socket as a network failure would; the bot may RESUME."""
        session = self.session(shard_id)
        if session.socket is not None:
            await session.socket.close(code=code)

    def rate_limit_once(
        self,
        method: str,
        pattern: str,
        *,
        retry_after: float = 0.25,
        is_global: bool = False,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls matching answer HTTP 429 with ``retry_after`` (and the
        ``Via`` header: without it discord.py takes a 429 for a Cloudflare ban)."""
        self._rate_limits.append(_RateLimit(method.upper(), pattern, retry_after, is_global, times))

    def fail_once(
        self, method: str, pattern: str, *, status: int = 503, code: int = 0, times: int = 1
    ) -> None:
        """The next ``times`` calls matching answer ``status`` with the JSON error ``code``
        (503 by default: discord.py raises it at once, where it retries 500, 502 and 504
        itself after sleeping)."""
        self._failures.append(_Failure(method.upper(), pattern, status, code, times))

    def hold(self, method: str, pattern: str) -> Held:
        """The next call matching is recorded, then left unanswered until the returned
        `Held` is released (its other calls go on meanwhile)."""
        held = Held(method.upper(), pattern)
        self._holds.append(held)
        return held

    async def dispatch(
        self, event: str, data: Any, guild_id: int | None, *, intent: int | None = None
    ) -> None:
        """Send op 0 ``event`` to the session owning ``guild_id`` (shard 0 for DMs), to be
        replayed on RESUME if it is not connected now. ``intent``: only if identified
        with it. Dispatches keep the order in which they were asked for, also those
        queued by the model's synchronous methods (``add_member``...)."""
        self._enqueue(event, data, guild_id, intent)
        await self._flush()

    def _enqueue(self, event: str, data: Any, guild_id: int | None, intent: int | None) -> None:
        self._backlog.append((event, copy.deepcopy(data), guild_id, intent))

    def _queue(
        self, event: str, data: Any, guild_id: int | None, *, intent: int | None = None
    ) -> None:
        """Dispatch from synchronous code: queued now, sent by the next flush."""
        self._enqueue(event, data, guild_id, intent)
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        async with self._flush_lock:
            while self._backlog:
                event, data, guild_id, intent = self._backlog.pop(0)
                if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and intent is None:
                    await self._dispatch_message_now(event, data)
                    continue
                for session in self._live_sessions():
                    if session.owns(guild_id) and (intent is None or session.has(intent)):
                        await self._dispatch_to(session, event, data)

    # ----------------------------------------------------------- gateway internals

    def _live_sessions(self) -> list[Session]:
        latest: dict[int, Session] = {}
        for session in self.sessions:
            if not session.invalid:
                latest[session.shard[0]] = session
        return list(latest.values())

    async def _dispatch_to(self, session: Session, event: str, data: Any) -> None:
        async with session.send_lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.log.append(frame)
            if session.socket is not None and not session.socket.closed:
                with contextlib.suppress(ConnectionError):
                    await session.socket.send_str(json.dumps(frame))

    async def _send_op(self, session: Session, frame: Mapping[str, Any]) -> None:
        async with session.send_lock:
            if session.socket is None:
                raise RuntimeError(f"session {session.id} is not connected")
            await session.socket.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        session: Session | None = None
        try:
            await ws.send_str(
                json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    session = await self._identify(ws, d)
                elif op == 6:
                    session = await self._resume(ws, d)
                elif op == 8 and session is not None:
                    await self._chunk(session, d)
                self.frames.append(GatewayFrame(len(self.frames), session, op, d))
                await self._notify()
        finally:
            self._sockets.discard(ws)
            if session is not None and session.socket is ws:
                session.socket = None
            await self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, d: Mapping[str, Any]) -> Session | None:
        if d.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(d.get("intents", 0))
        privileged = intents & (INTENT_GUILD_MEMBERS | INTENT_MESSAGE_CONTENT | (1 << 8))
        if privileged & ~self.privileged_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = d.get("shard") or [0, 1]
        session = Session(secrets.token_hex(16), (int(shard[0]), int(shard[1])), intents)
        previous = [s for s in self.sessions if s.shard[0] == session.shard[0]]
        session.identifies = len(previous) + 1
        for old in previous:
            old.invalid = True
        guilds = [g for g in self.guilds.values() if session.owns(g.id)]
        ready: ReadyEvent = {
            "v": 10,
            "user": self.bot.payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "resume_gateway_url": self.resume_gateway_url,
            "shard": [session.shard[0], session.shard[1]],
            "application": self._gateway_app(),
        }
        self.sessions.append(session)
        session.socket = ws
        await self._dispatch_to(session, "READY", ready)
        for guild in guilds:
            await self._dispatch_to(session, "GUILD_CREATE", self.guild_payload(guild))
        return session

    async def _resume(self, ws: web.WebSocketResponse, d: Mapping[str, Any]) -> Session | None:
        session = next((s for s in self.sessions if s.id == d.get("session_id")), None)
        if session is None or session.invalid or d.get("token") != self.token:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        seq = int(d.get("seq") or 0)
        async with session.send_lock:
            session.socket = ws
            session.resumes += 1
            for frame in session.log:
                if frame["s"] > seq:
                    await ws.send_str(json.dumps(frame))
        await self._dispatch_to(session, "RESUMED", {})  # discord.py indexes d: not null
        return session

    async def _chunk(self, session: Session, d: Mapping[str, Any]) -> None:
        """Answer REQUEST_GUILD_MEMBERS (discord.py chunks at start-up with the members
        intent and no presences: without an answer READY waits for a timeout)."""
        guild = self.guilds.get(int(d["guild_id"]))
        if guild is None:
            return
        user_ids = {int(u) for u in d.get("user_ids") or []}
        query = d.get("query") or ""
        members = [
            self.member_payload(guild, self.users[uid])
            for uid in guild.members
            if (not user_ids or uid in user_ids) and self.users[uid].username.startswith(query)
        ]
        chunk: GuildMembersChunkEvent = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _gateway_app(self) -> GatewayAppInfo:
        return {"id": str(self.application_id), "flags": 0}

    async def _dispatch_message(self, event: str, message: Message) -> None:
        """MESSAGE_CREATE/UPDATE as each session may see it (intents, message content)."""
        guild_id = int(message["guild_id"]) if "guild_id" in message else None
        self._enqueue(event, message, guild_id, None)
        await self._flush()

    async def _dispatch_message_now(self, event: str, message: Message) -> None:
        guild_id = int(message["guild_id"]) if "guild_id" in message else None
        intent = INTENT_GUILD_MESSAGES if guild_id is not None else INTENT_DIRECT_MESSAGES
        for session in self._live_sessions():
            if not session.owns(guild_id) or not session.has(intent):
                continue
            payload = copy.deepcopy(message)
            if guild_id is not None and not session.has(INTENT_MESSAGE_CONTENT):
                author = int(message["author"]["id"])
                mentioned = any(int(m["id"]) == self.bot.id for m in message["mentions"])
                if author != self.bot.id and not mentioned:
                    payload["content"] = ""
                    payload["embeds"] = []
                    payload["attachments"] = []
                    payload["components"] = []
            await self._dispatch_to(session, event, payload)

    # ----------------------------------------------------------- interactions

    def _interaction(self, interaction: FakeInteraction | int) -> FakeInteraction:
        if isinstance(interaction, FakeInteraction):
            return interaction
        return self.interactions[interaction]

    def _interaction_record(
        self, type_: int, user: FakeUser, channel: FakeChannel
    ) -> FakeInteraction:
        ix = FakeInteraction(
            id=self.new_id(),
            token="aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48),
            type=type_,
            user=user,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            application_id=self.application_id,
            sent_at=time.monotonic(),
        )
        self.interactions[ix.id] = ix
        return ix

    def _interaction_base(self, ix: FakeInteraction, channel: FakeChannel) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": str(ix.id),
            "application_id": str(self.application_id),
            "token": ix.token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "app_permissions": str(0x7_FFFF_FFFF_FFFF),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            member = self.partial_member(guild, ix.user)
            member["user"] = ix.user.payload()
            member["permissions"] = str(self._permissions(guild, ix.user))
            partial_guild: PartialInteractionGuild = {
                "id": str(guild.id),
                "locale": "en-US",
                "features": [],
            }
            base.update(
                guild_id=str(guild.id),
                guild=partial_guild,
                guild_locale="en-US",
                member=member,
                context=0,
                authorizing_integration_owners={"0": str(guild.id)},
            )
        else:
            base.update(
                user=ix.user.payload(),
                context=1,
                authorizing_integration_owners={"1": str(ix.user.id)},
            )
        return base

    def _permissions(self, guild: FakeGuild, user: FakeUser) -> int:
        if user.id == guild.owner_id:
            return 0x7_FFFF_FFFF_FFFF
        perms = guild.everyone.permissions
        for role_id in guild.members.get(user.id, []):
            perms |= guild.roles[role_id].permissions
        return perms

    async def _send_interaction(self, ix: FakeInteraction, payload: Any) -> None:
        ix.sent_at = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload, ix.guild_id)

    def _find_command(self, name: str, guild_id: int | None) -> tuple[dict[str, Any], int | None]:
        if guild_id is not None and name in self.commands.get(guild_id, {}):
            return self.commands[guild_id][name], guild_id
        if name in self.commands.get(None, {}):
            return self.commands[None][name], None
        synced = {g: sorted(c) for g, c in self.commands.items()}
        raise LookupError(
            f"/{name} was never synced (synced: {synced}): Discord would not offer it"
        )

    async def _command_interaction(
        self,
        type_: Literal[2, 4],
        user: FakeUser,
        name: str,
        options: Mapping[str, OptionValue | FakeUser] | None,
        channel: FakeChannel | None,
        subcommand: str | None,
        focused: str | None,
    ) -> FakeInteraction:
        channel = channel or self.channel("general")
        command, command_guild = self._find_command(name, channel.guild_id)
        schema: list[dict[str, Any]] = command.get("options", [])
        if subcommand is not None:
            sub = next((o for o in schema if o["name"] == subcommand and o["type"] == 1), None)
            if sub is None:
                raise LookupError(f"/{name} has no subcommand {subcommand}")
            schema = sub.get("options", [])
        resolved: dict[str, Any] = {}
        built: list[ApplicationCommandInteractionDataOption] = []
        for key, value in (options or {}).items():
            spec = next((o for o in schema if o["name"] == key), None)
            if spec is None:
                raise LookupError(f"/{name} has no option {key!r}")
            option: dict[str, Any] = {"name": key, "type": spec["type"]}
            if isinstance(value, FakeUser):
                option["value"] = str(value.id)
                resolved.setdefault("users", {})[str(value.id)] = value.payload()
                if (
                    channel.guild_id is not None
                    and value.id in self.guilds[channel.guild_id].members
                ):
                    member = self.partial_member(self.guilds[channel.guild_id], value)
                    resolved.setdefault("members", {})[str(value.id)] = member
            else:
                option["value"] = value
            if focused == key:
                option["focused"] = True
            built.append(cast("ApplicationCommandInteractionDataOption", option))
        if focused is not None and focused not in (options or {}):
            raise ValueError(f"the focused option {focused!r} needs a (partial) value in options")
        if subcommand is not None:
            built = [
                cast(
                    "ApplicationCommandInteractionDataOption",
                    {"name": subcommand, "type": 1, "options": built},
                )
            ]
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": built}
        if command_guild is not None:
            data["guild_id"] = str(command_guild)
        if resolved:
            data["resolved"] = resolved
        ix = self._interaction_record(type_, user, channel)
        payload: ApplicationCommandInteraction = {
            **self._interaction_base(ix, channel),  # type: ignore[typeddict-item]
            "type": type_,
            "data": data,
        }
        await self._send_interaction(ix, payload)
        return ix

    def _message_of(self, message: Message | int) -> Message:
        message_id = message if isinstance(message, int) else int(message["id"])
        return self.message(message_id)

    def _component(
        self, message: Message | int, custom_id: str, *, types: tuple[int, ...]
    ) -> tuple[Message, dict[str, Any]]:
        msg = self._message_of(message)

        def walk(components: Iterable[Any]) -> Iterable[dict[str, Any]]:
            for component in components:
                yield component
                yield from walk(component.get("components", []))
                if isinstance(component.get("accessory"), dict):
                    yield component["accessory"]

        for component in walk(msg.get("components", [])):
            if component.get("custom_id") == custom_id and component.get("type") in types:
                if component.get("disabled"):
                    raise ValueError(
                        f"{custom_id!r} is disabled on message {msg['id']}: it cannot be used"
                    )
                return msg, component
        ids = [c.get("custom_id") for c in walk(msg.get("components", [])) if c.get("custom_id")]
        raise LookupError(f"message {msg['id']} has no component {custom_id!r} (it has {ids})")

    async def _component_interaction(
        self, user: FakeUser, message: Message, data: dict[str, Any]
    ) -> FakeInteraction:
        channel = self.channels[int(message["channel_id"])]
        ix = self._interaction_record(3, user, channel)
        ix.message_id = int(message["id"])
        payload: MessageComponentInteraction = {
            **self._interaction_base(ix, channel),  # type: ignore[typeddict-item]
            "type": 3,
            "data": cast(Any, data),
            "message": copy.deepcopy(message),
        }
        await self._send_interaction(ix, payload)
        return ix

    # ----------------------------------------------------------- REST plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            response: web.StreamResponse = await handler(request)
            return response
        body: Any = None
        files: dict[str, bytes] = {}
        if request.can_read_body:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                raw = form.get("payload_json")
                body = json.loads(str(raw)) if raw is not None else None
                for value in form.values():
                    if isinstance(value, web.FileField):
                        files[value.filename] = value.file.read()
            else:
                text = await request.text()
                body = json.loads(text) if text else None
        call = Call(
            index=len(self.calls),
            method=request.method,
            path=request.path[len(API_PREFIX) :],
            query=dict(request.query),
            json=body,
            headers=dict(request.headers),
            at=asyncio.get_running_loop().time(),
            files=files,
        )
        self.calls.append(call)
        request[CALL] = call
        held = next((h for h in self._holds if call.matches(h.method, h.pattern)), None)
        if held is not None:
            self._holds.remove(held)
            held.call = call
            held.arrived.set()
            await self._notify()
            await held._released.wait()
        try:
            limited = self._rate_limited(call)
            if limited is not None:
                response = limited
            else:
                response = await handler(request)
        except web.HTTPNotFound:
            self.unhandled.append(call)
            response = json_response({"message": "404: Not Found", "code": 0}, 404)
        except web.HTTPMethodNotAllowed:
            self.unhandled.append(call)
            response = json_response({"message": "405: Method Not Allowed", "code": 0}, 405)
        answered = (
            json.loads(response.body)
            if isinstance(response, web.Response)
            and isinstance(response.body, bytes)
            and response.body
            else None
        )
        call.status = response.status
        call.response = answered
        if self.bucket_size is not None and response.status != 429:
            route = request.match_info.route.resource
            template = route.canonical if route is not None else request.path
            response.headers.update(
                {
                    "X-RateLimit-Bucket": hashlib.sha256(
                        f"{request.method} {template}".encode()
                    ).hexdigest()[:16],
                    "X-RateLimit-Limit": str(self.bucket_size),
                    "X-RateLimit-Remaining": str(self.bucket_size - 1),
                    "X-RateLimit-Reset-After": "1.0",
                }
            )
        await self._notify()
        return response

    def _rate_limited(self, call: Call) -> web.Response | None:
        for failure in self._failures:
            if failure.remaining > 0 and call.matches(failure.method, failure.pattern):
                failure.remaining -= 1
                message = f"{failure.status}: injected failure"
                return json_response({"message": message, "code": failure.code}, failure.status)
        for limit in self._rate_limits:
            if limit.remaining > 0 and call.matches(limit.method, limit.pattern):
                limit.remaining -= 1
                return json_response(
                    {
                        "message": "You are being rate limited.",
                        "retry_after": limit.retry_after,
                        "global": limit.is_global,
                    },
                    429,
                    {
                        "Via": "1.1 google",
                        "Retry-After": str(max(1, round(limit.retry_after))),
                        "X-RateLimit-Scope": "global" if limit.is_global else "user",
                    },
                )
        return None

    def _handler(self, handler: Callable[[web.Request, Any], Any]) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            path = request.path[len(API_PREFIX) :]
            needs_bot_token = not path.startswith(("/interactions/", "/webhooks/"))
            if needs_bot_token and request.headers.get("Authorization") != f"Bot {self.token}":
                return json_response({"message": "401: Unauthorized", "code": 0}, 401)
            try:
                result = await handler(request, request[CALL].json)
            except ApiError as error:
                return json_response({"message": error.message, "code": error.code}, error.status)
            if result is None:
                return web.Response(status=204)
            return json_response(result)

        return handle

    def _channel_of(self, request: web.Request) -> FakeChannel:
        channel = self.channels.get(int(request.match_info["channel"]))
        if channel is None or channel.deleted:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _message_in(self, request: web.Request, channel: FakeChannel) -> Message:
        message = self.messages.get(int(request.match_info["message"]))
        if message is None or int(message["channel_id"]) != channel.id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _new_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        *,
        content: str = "",
        body: Mapping[str, Any] | None = None,
    ) -> Message:
        body = body or {}
        content = str(body.get("content") or content)
        message_id = self.new_id()
        message: Message = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": content,
            "timestamp": snowflake_time(message_id).isoformat(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": "@everyone" in content or "@here" in content,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": list(body.get("embeds") or []),
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
            "components": list(body.get("components") or []),
        }
        if "nonce" in body:
            message["nonce"] = body["nonce"]
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            message["guild_id"] = str(channel.guild_id)
            if author.id in guild.members:
                message["member"] = self.partial_member(guild, author)
            for uid in re.findall(r"<@!?(\d+)>", content):
                if int(uid) in self.users:
                    message["mentions"].append(
                        cast("UserWithMember", self.users[int(uid)].payload())
                    )
            message["mention_roles"] = [
                r for r in re.findall(r"<@&(\d+)>", content) if int(r) in guild.roles
            ]
        self.messages[message_id] = message
        channel.last_message_id = message_id
        channel.message_count += 1
        return message

    def _edit(self, message: Message, body: Mapping[str, Any]) -> Message:
        if "content" in body:
            message["content"] = body["content"] or ""
        if body.get("embeds") is not None:
            message["embeds"] = body["embeds"]
        if body.get("components") is not None:
            message["components"] = body["components"]
        if body.get("flags") is not None:
            message["flags"] = int(body["flags"])
        message["edited_timestamp"] = now_iso()
        return message

    def _add_reaction(self, message: Message, emoji: str, *, me: bool) -> None:
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["emoji"].get("name") == emoji:
                reaction["count"] += 1
                reaction["count_details"]["normal"] += 1
                reaction["me"] = reaction["me"] or me
                return
        reactions.append(
            {
                "count": 1,
                "me": me,
                "emoji": {"id": None, "name": emoji},
                "me_burst": False,
                "count_details": {"burst": 0, "normal": 1},
                "burst_colors": [],
            }
        )

    # ----------------------------------------------------------- REST routes

    async def _get_me(self, request: web.Request, body: Any) -> User:
        return self.bot.payload()

    async def _get_application(self, request: web.Request, body: Any) -> AppInfo:
        return {
            "id": str(self.application_id),
            "name": self.bot.username,
            "verify_key": "0" * 64,
            "icon": None,
            "summary": "",
            "description": "A chat-native governance bot (fake).",
            "flags": 0,
            "owner": self.owner.payload(),
            "bot_public": True,
            "bot_require_code_grant": False,
        }

    async def _get_gateway(self, request: web.Request, body: Any) -> dict[str, Any]:
        return {
            "url": self.gateway_url.rstrip("/"),
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        guild = request.match_info.get("guild")
        if guild is None:
            return None
        if int(guild) not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return int(guild)

    async def _put_commands(self, request: web.Request, body: Any) -> list[dict[str, Any]]:
        scope = self._command_scope(request)
        old = self.commands.get(scope, {})
        synced: dict[str, dict[str, Any]] = {}
        for command in body or []:
            kept = old.get(command["name"])
            synced[command["name"]] = {
                "type": 1,
                "contexts": [0, 1, 2],
                "integration_types": [0],
                "default_member_permissions": None,
                "nsfw": False,
                **command,
                "id": kept["id"] if kept else str(self.new_id()),
                "application_id": str(self.application_id),
                "version": str(self.new_id()),
                **({"guild_id": str(scope)} if scope is not None else {}),
            }
            permissions = synced[command["name"]]["default_member_permissions"]
            if permissions is not None:  # Discord takes a number or a string; says a string
                synced[command["name"]]["default_member_permissions"] = str(permissions)
        self.commands[scope] = synced
        return list(synced.values())

    async def _get_commands(self, request: web.Request, body: Any) -> list[dict[str, Any]]:
        return list(self.commands.get(self._command_scope(request), {}).values())

    async def _get_channel(self, request: web.Request, body: Any) -> Any:
        return self._channel_of(request).payload()

    async def _patch_channel(self, request: web.Request, body: Any) -> Any:
        channel = self._channel_of(request)
        if "name" in body:
            channel.name = body["name"]
        if channel.is_thread:
            channel.archived = bool(body.get("archived", channel.archived))
            channel.locked = bool(body.get("locked", channel.locked))
            payload: Any = channel.thread_payload()
            await self.dispatch("THREAD_UPDATE", payload, channel.guild_id)
        else:
            payload = channel.payload()
            await self.dispatch("CHANNEL_UPDATE", payload, channel.guild_id)
        return payload

    async def _typing(self, request: web.Request, body: Any) -> None:
        self._channel_of(request)

    async def _list_messages(self, request: web.Request, body: Any) -> list[Message]:
        channel = self._channel_of(request)
        limit = int(request.query.get("limit", 50))
        messages = [
            m for m in self.channel_messages(channel) if not int(m.get("flags", 0)) & EPHEMERAL
        ]
        if "before" in request.query:
            messages = [m for m in messages if int(m["id"]) < int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if int(m["id"]) > int(request.query["after"])]
            return messages[:limit][::-1]
        return messages[::-1][:limit]

    async def _post_message(self, request: web.Request, body: Any) -> Message:
        channel = self._channel_of(request)
        if channel.type == 1 and channel.recipient is not None and not channel.recipient.dms_open:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        if channel.is_thread and channel.locked:
            raise ApiError(403, 50083, "Thread is archived")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            for existing in self.channel_messages(channel):
                if int(existing["id"]) < self._nonces_from:
                    continue  # its nonce is forgotten
                if existing.get("nonce") == nonce and int(existing["author"]["id"]) == self.bot.id:
                    return existing
        message = self._new_message(channel, self.bot, body=body)
        reference = body.get("message_reference")
        if reference:
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "channel_id": str(reference.get("channel_id") or channel.id),
                "message_id": str(reference["message_id"]),
            }
        if channel.is_thread and channel.archived:
            channel.archived = False
        await self._dispatch_message("MESSAGE_CREATE", message)
        return message

    async def _get_message(self, request: web.Request, body: Any) -> Message:
        return self._message_in(request, self._channel_of(request))

    async def _patch_message(self, request: web.Request, body: Any) -> Message:
        channel = self._channel_of(request)
        message = self._message_in(request, channel)
        if int(message["author"]["id"]) != self.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit(message, body)
        await self._dispatch_message("MESSAGE_UPDATE", message)
        return message

    async def _delete_message(self, request: web.Request, body: Any) -> None:
        channel = self._channel_of(request)
        await self._deleted(channel, self._message_in(request, channel))

    async def _deleted(self, channel: FakeChannel, message: Message) -> None:
        del self.messages[int(message["id"])]
        event: MessageDeleteEvent = {"id": message["id"], "channel_id": message["channel_id"]}
        if channel.guild_id is not None:
            event["guild_id"] = str(channel.guild_id)
        await self.dispatch("MESSAGE_DELETE", event, channel.guild_id, intent=INTENT_GUILD_MESSAGES)

    def _new_thread(
        self, parent: FakeChannel, thread_id: int, body: Mapping[str, Any]
    ) -> FakeChannel:
        if parent.type != 0 or parent.guild_id is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        thread = FakeChannel(
            thread_id,
            str(body.get("name", "thread"))[:100],
            type=int(body.get("type", 11)),
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=self.bot.id,
            auto_archive_duration=body.get("auto_archive_duration") or 1440,
        )
        self.channels[thread.id] = thread
        self.guilds[parent.guild_id].channels[thread.id] = thread
        return thread

    async def _thread_from_message(self, request: web.Request, body: Any) -> ThreadChannel:
        channel = self._channel_of(request)
        message = self._message_in(request, channel)
        if int(message.get("flags", 0)) & HAS_THREAD:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        thread = self._new_thread(channel, int(message["id"]), {**body, "type": 11})
        message["flags"] = int(message.get("flags", 0)) | HAS_THREAD
        payload = thread.thread_payload()
        await self.dispatch("THREAD_CREATE", {**payload, "newly_created": True}, thread.guild_id)
        return cast("ThreadChannel", payload)

    async def _thread_without_message(self, request: web.Request, body: Any) -> ThreadChannel:
        channel = self._channel_of(request)
        thread = self._new_thread(channel, self.new_id(), body)
        payload = thread.thread_payload()
        await self.dispatch("THREAD_CREATE", {**payload, "newly_created": True}, thread.guild_id)
        return cast("ThreadChannel", payload)

    async def _react(self, request: web.Request, body: Any) -> None:
        channel = self._channel_of(request)
        self._add_reaction(self._message_in(request, channel), request.match_info["emoji"], me=True)

    async def _unreact(self, request: web.Request, body: Any) -> None:
        channel = self._channel_of(request)
        message = self._message_in(request, channel)
        emoji = request.match_info["emoji"]
        message["reactions"] = [
            r
            for r in message.get("reactions", [])
            if r["emoji"].get("name") != emoji or not r["me"] or r["count"] > 1
        ]

    async def _open_dm(self, request: web.Request, body: Any) -> DMChannel:
        user = self.users.get(int(body["recipient_id"]))
        if user is None:
            raise ApiError(400, 50035, "Invalid Form Body")
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = FakeChannel(self.new_id(), "", type=1, recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel.dm_payload()

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel the bot opened with the member (KeyError if none)."""
        return self.dm_channels[user.id]

    async def _get_guild(self, request: web.Request, body: Any) -> dict[str, Any]:
        """``GET /guilds/{id}``: the guild as REST gives it (no members, channels or
        other GUILD_CREATE-only fields); 403/50001 for a guild without the bot."""
        guild = self.guilds.get(int(request.match_info["guild"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        if self.bot.id not in guild.members:
            raise ApiError(403, 50001, "Missing Access")
        payload: dict[str, Any] = dict(self.guild_payload(guild))
        for key in _GATEWAY_ONLY_GUILD_FIELDS:
            payload.pop(key, None)
        return payload

    async def _get_member(self, request: web.Request, body: Any) -> MemberWithUser:
        guild = self.guilds.get(int(request.match_info["guild"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        user_id = int(request.match_info["user"])
        if user_id not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return self.member_payload(guild, self.users[user_id])

    # ----------------------------------------------------------- interaction routes

    def _live_interaction(self, request: web.Request, *, by_app: bool) -> FakeInteraction:
        token = request.match_info["token"]
        if by_app:
            if int(request.match_info["app"]) != self.application_id:
                raise ApiError(404, 10015, "Unknown Webhook")
            ix = next((i for i in self.interactions.values() if i.token == token), None)
            if ix is None:
                raise ApiError(404, 10015, "Unknown Webhook")
            if time.monotonic() - ix.sent_at > 15 * 60:
                raise ApiError(401, 50027, "Invalid Webhook Token")
            return ix
        ix = self.interactions.get(int(request.match_info["interaction"]))
        if ix is None or ix.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        return ix

    def _interaction_message(self, ix: FakeInteraction, data: Mapping[str, Any]) -> Message:
        channel = self.channels[ix.channel_id]
        message = self._new_message(channel, self.bot, body=data)
        message["type"] = 20 if ix.type == 2 else 0
        message["webhook_id"] = str(self.application_id)
        message["application_id"] = str(self.application_id)
        message["interaction_metadata"] = cast(
            Any,
            {
                "id": str(ix.id),
                "type": ix.type,
                "user": ix.user.payload(),
                "authorizing_integration_owners": {"0": str(ix.guild_id)} if ix.guild_id else {},
            },
        )
        return message

    async def _callback(self, request: web.Request, body: Any) -> InteractionCallback:
        ix = self._live_interaction(request, by_app=False)
        if ix.callback is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - ix.sent_at > self.interaction_deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        kind = int(body["type"])
        data: dict[str, Any] = body.get("data") or {}
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[ix.type]
        if kind not in allowed:
            raise ApiError(400, 40043, f"Interaction type {ix.type} cannot be answered with {kind}")
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        resource: dict[str, Any] = {"type": kind}
        message: Message | None = None
        if kind == 4:
            message = self._interaction_message(ix, data)
        elif kind == 5:
            message = self._interaction_message(
                ix, {"flags": (EPHEMERAL if ephemeral else 0) | LOADING}
            )
            ix.loading = True
        elif kind in (6, 7):
            if ix.message_id is None:
                raise ApiError(400, 40043, "There is no message to update")
            message = self.message(ix.message_id)
            if kind == 7:
                self._edit(message, data)
        elif kind == 9:
            ix.modal = copy.deepcopy(data)
        ix.response_type = kind
        if message is not None:
            ix.original_id = int(message["id"])
            resource["message"] = message
            ephemeral = bool(int(message.get("flags", 0)) & EPHEMERAL)
            if not ephemeral and kind in (4, 5):
                await self._dispatch_message("MESSAGE_CREATE", message)
            if not ephemeral and kind == 7:
                await self._dispatch_message("MESSAGE_UPDATE", message)
        ix.callback = request[CALL]
        answer: InteractionCallback = {
            "interaction": {
                "id": str(ix.id),
                "type": cast(Any, ix.type),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            },
            "resource": cast(Any, resource),
        }
        if message is not None and kind in (4, 5):
            answer["interaction"]["response_message_id"] = message["id"]
        return answer

    async def _followup(self, request: web.Request, body: Any) -> Message | None:
        ix = self._live_interaction(request, by_app=True)
        if ix.callback is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if ix.loading and ix.original_id is not None:
            # The first follow-up after a "thinking" defer fills the deferred message.
            ix.loading = False
            message = self.message(ix.original_id)
            flags = int(message.get("flags", 0)) & EPHEMERAL
            self._edit(message, {**body, "flags": flags})
            message["edited_timestamp"] = None
            if not flags:
                await self._dispatch_message("MESSAGE_UPDATE", message)
        else:
            message = self._interaction_message(ix, body)
            if not int(message.get("flags", 0)) & EPHEMERAL:
                await self._dispatch_message("MESSAGE_CREATE", message)
        return message if request.query.get("wait") in ("1", "true", "True") else None

    def _webhook_target(self, request: web.Request, ix: FakeInteraction) -> Message:
        which = request.match_info["message"]
        if which == "@original":
            if ix.original_id is None:
                raise ApiError(404, 10008, "Unknown Message")
            return self.message(ix.original_id)
        message = self.messages.get(int(which))
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _get_webhook_message(self, request: web.Request, body: Any) -> Message:
        return self._webhook_target(request, self._live_interaction(request, by_app=True))

    async def _edit_webhook_message(self, request: web.Request, body: Any) -> Message:
        ix = self._live_interaction(request, by_app=True)
        if ix.callback is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        message = self._webhook_target(request, ix)
        if request.match_info["message"] == "@original" and ix.loading:
            ix.loading = False
            body = {**body, "flags": int(message.get("flags", 0)) & ~LOADING}
        self._edit(message, body)
        if not int(message.get("flags", 0)) & EPHEMERAL:
            await self._dispatch_message("MESSAGE_UPDATE", message)
        return message

    async def _delete_webhook_message(self, request: web.Request, body: Any) -> None:
        ix = self._live_interaction(request, by_app=True)
        message = self._webhook_target(request, ix)
        del self.messages[int(message["id"])]

    async def add_bot_to_guild(self, guild: FakeGuild) -> None:
        """The bot is added to ``guild`` (made with ``add_guild``, which lists the bot
        among its members) while connected: GUILD_CREATE, as Discord sends it then."""
        await self.dispatch("GUILD_CREATE", self.guild_payload(guild), guild.id)

    async def _get_user(self, request: web.Request, body: Any) -> User:
        """``GET /users/{id}`` (discord.py's ``fetch_user``, which a bot without the
        members intent needs before a DM): any user Discord knows, else 404/10013."""
        user_id = request.match_info["user"]
        user = self.users.get(int(user_id)) if user_id.isdigit() else None
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return user.payload()
