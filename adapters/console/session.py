"""A terminal chat: one community ("demo"), members played with ``/as alice``, time
moved with ``/clock +3d``. Reads a pipe as well as a keyboard, so a scenario can be
scripted; every due item up to a new time runs, in time order, before ``/clock``
returns."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.console.outlet import ConsoleOutlet
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.domain.timing import format_local
from governance.service.app import Governance
from governance.service.clocks import SimulatedClock
from governance.service.dispatcher import Dispatcher
from governance.service.simulation import advance

PLATFORM = "console"
COMMUNITY = CommunityId("demo")
ROOM = RoomRef(PLATFORM, "demo")
_LAST_YEAR = timedelta(days=366)
"""Room kept before the end of year 9999, the last datetimes have: for deadlines."""
_CLOCK_RE = re.compile(r"\+(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?", re.ASCII)
_NAME_RE = re.compile(r"[^\W\d_][\w.-]{0,39}")

CONSOLE_HELP = """Console commands:
/as <name>      play a member (the first time, they join; the first member is the admin)
/clock          show the simulated time
/clock +3d      move time forward (d, h, m) and run everything due on the way
/dm !story …    say a command to the bot alone, as in a direct message (anonymous stories)
/quit           leave
Everything starting with ! goes to folkmoot: try !help. A !propose's body is the lines
after it, up to an empty line."""


class ConsoleSession:
    def __init__(
        self,
        governance: Governance,
        dispatcher: Dispatcher,
        clock: SimulatedClock,
        outlet: ConsoleOutlet,
        *,
        community: CommunityId = COMMUNITY,
        zone: ZoneInfo | None = None,
        on_time: Callable[[datetime], None] = lambda moment: None,
    ) -> None:
        """`on_time` is told where the clock is about to move (to keep it across runs)."""
        self._gov = governance
        self._dispatcher = dispatcher
        self._clock = clock
        self._out = outlet
        self._community = community
        self._room = RoomRef(PLATFORM, community)
        self.actor: str | None = None
        self._zone = zone or ZoneInfo("UTC")
        self._on_time = on_time

    async def run(
        self,
        read_line: Callable[[], Awaitable[str | None]],
        prompt: Callable[[str], None] | None = None,
    ) -> None:
        """Read lines until end of input or ``/quit``."""
        while True:
            if prompt is not None:
                prompt(f"{self.actor or '(nobody)'}> ")
            line = await read_line()
            if line is None:
                return
            line = line.rstrip("\n")
            if line.startswith("!propose"):
                refused = await self._refused_at_once(line)
                line = await self._with_body(line, read_line, prompt)
                if refused:
                    continue  # answered before its body, which is passed over
            if not await self.handle(line):
                return

    async def _refused_at_once(self, line: str) -> bool:
        """A ``!propose`` whose first line will be refused (no title, a misspelt
        setting) is answered now, not after its body has been typed."""
        if self.actor is None:
            return False
        reply = await self._gov.refusal_before_body(
            self._room, AccountRef(PLATFORM, self.actor), line, self._clock.now()
        )
        if reply is not None:
            self._out.reply(reply, self.actor)
        return reply is not None

    async def _with_body(
        self,
        line: str,
        read_line: Callable[[], Awaitable[str | None]],
        prompt: Callable[[str], None] | None,
    ) -> str:
        body: list[str] = []
        while True:
            if prompt is not None:
                prompt("  | ")
            more = await read_line()
            if more is None or not more.strip():
                break
            body.append(more.rstrip("\n"))
        return "\n".join([line, *body])

    async def handle(self, line: str) -> bool:
        """Handle one input (a line, or a command with its body); False means quit."""
        stripped = line.strip()
        if not stripped:
            return True
        if stripped.startswith("/"):
            return await self._console_command(stripped)
        if not stripped.startswith("!"):
            return True  # chat, not a command
        if self.actor is None:
            self._out.reply_text("Play a member first: /as alice")
            return True
        await self._say(self._room, line)
        return True

    async def _say(self, room: RoomRef, line: str) -> None:
        assert self.actor is not None
        reply = await self._gov.handle_text(
            room,
            AccountRef(PLATFORM, self.actor),
            line,
            self._clock.now(),
            community=self._community if room != self._room else None,
        )
        if reply is not None:
            self._out.reply(reply, self.actor)
        await self._dispatcher.drain()

    async def _private(self, line: str) -> None:
        """``/dm !story …``: said to the bot alone, as in a direct message."""
        if self.actor is None:
            self._out.reply_text("Play a member first: /as alice")
        elif not line.startswith("!"):
            self._out.reply_text("Usage: /dm !story <text> share=anonymous")
        else:
            await self._say(RoomRef(PLATFORM, f"dm:{self.actor}"), line)

    async def _console_command(self, line: str) -> bool:
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        if word == "/quit":
            return False
        if word == "/help":
            self._out.reply_text(CONSOLE_HELP)
        elif word == "/as":
            await self._play(arg)
        elif word == "/clock":
            await self._advance(arg)
        elif word == "/dm":
            await self._private(arg)
        else:
            self._out.reply_text(f"Unknown console command {word[:30]}; /help lists them.")
        return True

    async def _play(self, name: str) -> None:
        if not _NAME_RE.fullmatch(name):
            self._out.reply_text(
                "Usage: /as <name> — one word of letters, digits, . or -, up to 40 characters."
            )
            return
        name = name.lower()
        account = AccountRef(PLATFORM, name)
        if await self._gov.member(self._community, account) is None:
            first = await self._gov.member_count(self._community) == 0
            ctx = Context(account, self._room, self._community, self._clock.now())
            reply = await self._gov.handle(Join(ctx, name, role=Role.ADMIN if first else None))
            self._out.reply(reply, name)
            if not reply.ok:
                return
            await self._dispatcher.drain()  # a welcome prompt, where the community has one
        self.actor = name

    async def _advance(self, arg: str) -> None:
        if not arg:
            self._out.reply_text(f"It is {format_local(self._clock.now(), self._zone)}.")
            return
        match = _CLOCK_RE.fullmatch(arg)
        if match is None or not any(match.groups()):
            self._out.reply_text("Usage: /clock +3d, /clock +2d1h or /clock +90m")
            return
        days, hours, minutes = (int(g) if g else 0 for g in match.groups())
        now = self._clock.now()
        step = timedelta(days=days, hours=hours, minutes=minutes)
        if step > datetime.max.replace(tzinfo=now.tzinfo) - now - _LAST_YEAR:
            self._out.reply_text(
                f"/clock {arg[:20]} would take the clock into year 9999 or later, where "
                "dates run out (deadlines need room after it); move it less."
            )
            return
        target = now + step
        self._on_time(target)  # first: what runs on the way is never after the kept time
        await advance(self._gov, self._dispatcher, self._clock, target)
        self._out.reply_text(f"It is {format_local(target, self._zone)}.")
