"""Test helpers that play members in a room and record what they would see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.bootstrap import App
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.service.clocks import SimulatedClock
from governance.service.ports import ChannelGone, DirectClosed
from governance.service.simulation import advance
from governance.text.messages import Message, Reply


@dataclass
class RecordingOutlet:
    """A fake at our own port: it keeps every delivery, with its idempotency key."""

    posts: list[tuple[RoomRef, str, str]] = field(default_factory=list)
    told: list[tuple[AccountRef, str, str]] = field(default_factory=list)
    """Private messages: (to whom, text, key)."""
    fail_rooms: set[RoomRef] = field(default_factory=set)
    gone_rooms: set[RoomRef] = field(default_factory=set)
    """Rooms the bot was removed from: the outlet says they are gone for good."""

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        if room in self.gone_rooms:
            raise ChannelGone(f"the bot is no longer in {room}")
        if room in self.fail_rooms:
            raise ConnectionError(f"{room} is unreachable")
        self.posts.append((room, message.plain(), key))

    threads: bool = False
    """Whether this platform has threads (then deliberations open one)."""

    async def open_thread(self, room: RoomRef, message: Message, *, key: str) -> str | None:
        await self.post(room, message, key=key)
        return f"thread-of-{key}" if self.threads else None

    in_threads: list[tuple[RoomRef, str, str]] = field(default_factory=list)
    """Messages also said in a thread: (room, thread, text)."""
    gone_threads: set[str] = field(default_factory=set)
    """Threads deleted on the platform: the outlet says they are gone for good."""

    async def post_in_thread(
        self, room: RoomRef, thread: str, message: Message, *, key: str
    ) -> None:
        if thread in self.gone_threads:
            raise ChannelGone(f"the thread {thread} was deleted")
        self.in_threads.append((room, thread, message.plain()))

    closed_dms: set[str] = field(default_factory=set)
    """Accounts whose private messages are closed to the bot."""

    async def tell(self, account: AccountRef, message: Message, *, key: str) -> None:
        if account.account_id in self.closed_dms:
            raise DirectClosed(f"{account} takes no private messages", address=f"@{account}")
        self.told.append((account, message.plain(), key))

    def told_to(self, name: str) -> list[str]:
        return [text for account, text, _ in self.told if account.account_id == name]

    def texts(self) -> list[str]:
        return [text for _, text, _ in self.posts]


class Chat:
    def __init__(
        self,
        app: App,
        clock: SimulatedClock,
        outlet: RecordingOutlet,
        room: RoomRef,
        community: CommunityId,
    ) -> None:
        self.app = app
        self.clock = clock
        self.outlet = outlet
        self.room = room
        self.community = community

    def account(self, name: str) -> AccountRef:
        return AccountRef(self.room.platform, name)

    async def join(self, name: str, *, admin: bool = False) -> Reply:
        ctx = Context(self.account(name), self.room, self.community, self.clock.now())
        return await self.app.governance.handle(Join(ctx, name, role=Role.ADMIN if admin else None))

    async def send(self, name: str, text: str) -> Reply:
        reply = await self.app.governance.handle_text(
            self.room, self.account(name), text, self.clock.now()
        )
        assert reply is not None, f"{text!r} was not taken as a command"
        await self.app.dispatcher.drain()
        return reply

    async def private(self, name: str, text: str) -> Reply:
        """`text` said to the bot alone (a direct room: bound to no community, the
        adapter says whose it is)."""
        room = RoomRef(self.room.platform, f"dm:{name}")
        reply = await self.app.governance.handle_text(
            room, self.account(name), text, self.clock.now(), community=self.community
        )
        assert reply is not None, f"{text!r} was not taken as a command"
        await self.app.dispatcher.drain()
        return reply

    async def send_from(
        self, account: AccountRef, text: str, *, room: RoomRef | None = None
    ) -> Reply:
        """`text` from any account, e.g. one on another platform (``AccountRef("other",
        "ana")``), in `room` (default: a direct room of that account's, whose community
        the adapter names)."""
        where = room or RoomRef(account.platform, f"dm:{account.account_id}")
        reply = await self.app.governance.handle_text(
            where, account, text, self.clock.now(), community=self.community
        )
        assert reply is not None, f"{text!r} was not taken as a command"
        await self.app.dispatcher.drain()
        return reply

    async def say(self, name: str, text: str) -> str:
        """Send and return the reply's text."""
        return (await self.send(name, text)).message.plain()

    async def ok(self, name: str, text: str) -> str:
        reply = await self.send(name, text)
        assert reply.ok, reply.message.plain()
        return reply.message.plain()

    async def fails(self, name: str, text: str) -> str:
        reply = await self.send(name, text)
        assert not reply.ok, f"expected {text!r} to be refused, got: {reply.message.plain()}"
        return reply.message.plain()

    async def advance(self, **delta: int) -> None:
        """Move the simulated clock, running due work in time order (as the console does)."""
        target = self.clock.now() + timedelta(**delta)
        await advance(self.app.governance, self.app.dispatcher, self.clock, target)

    def announced(self) -> list[str]:
        return self.outlet.texts()
