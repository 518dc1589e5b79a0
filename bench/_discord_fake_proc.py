"""The loopback Discord fake (``tests/discord/fake.py``) in a process of its own, for
``bench/discord_roundtrip.py``: the bot under test and the fake then do not share an
event loop, so the fake's own work never delays the bot's, and every figure is taken
on the fake's clock (``loop.time()``, i.e. ``time.monotonic()``).

The parent drives it over a ``multiprocessing`` pipe: it sends ``(operation, kwargs)``
and gets back ``("ok", result)`` or ``("error", traceback text)``. Operations:

- ``setup(members)``: start the fake with ``members`` guild members; answer its
  URLs, token, guild, ``#governance`` channel and the members' user ids.
- ``slash(member, name, args)``: member number ``member`` runs ``/name args`` in
  ``#governance``; answer the content of the bot's follow-up (waits for it).
- ``card(number)``: the message id of the newest message in ``#governance`` that
  carries the button ``folkmoot:vote:<number>:yes`` (waits for it to be posted).
- ``plain_card(number)``: a message with the same three buttons, authored by the bot
  account straight in the fake's model (for a reference client that posted nothing).
- ``burst(message, number, choices, offsets)``: member *k* clicks
  ``folkmoot:vote:<number>:<choices[k]>`` on ``message`` at t0 + ``offsets[k]`` seconds
  (open loop, ``loop.call_at``); answers one :class:`Timing` per click once every click
  has its follow-up (or ``within`` seconds after the last click).
- ``stop()``: close the fake; the process then ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from tests.discord.fake import CALL, FakeDiscord, FakeInteraction, FakeUser, Session

if TYPE_CHECKING:
    from discord.types.message import Message

CHANNEL = "governance"


@dataclass(frozen=True, slots=True)
class Timing:
    """One click as the fake saw it; times are the fake's ``loop.time()``, in seconds."""

    member: int
    scheduled: float
    """When the open-loop generator meant to send it."""
    dispatched: float
    """When the INTERACTION_CREATE frame was written to the bot's socket (just before)."""
    callback: float | None
    """When the interaction callback (the first response) arrived."""
    callback_status: int | None
    callback_type: int | None
    followup: float | None
    """When the first follow-up (``POST /webhooks/{app}/{token}``) arrived."""
    followup_content: str | None


class TimedFake(FakeDiscord):
    """The fake, also noting when each INTERACTION_CREATE left and each first follow-up
    came, so that a burst's timings are read without scanning every call."""

    def __init__(self) -> None:
        super().__init__()
        self.dispatched: dict[int, float] = {}
        self.followups: dict[str, tuple[float, str | None]] = {}
        self.followed = asyncio.Event()
        """Set at every first follow-up."""

    async def _dispatch_to(self, session: Session, event: str, data: Any) -> None:
        """As the fake's own, but an INTERACTION_CREATE is timed just before its frame is
        written: once written, the bot's process may be woken and run first, and a time
        taken after the write can come after the bot already read the frame."""
        if event != "INTERACTION_CREATE":
            await super()._dispatch_to(session, event, data)
            return
        async with session.send_lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.log.append(frame)
            if session.socket is not None and not session.socket.closed:
                text = json.dumps(frame)
                self.dispatched[int(data["id"])] = asyncio.get_running_loop().time()
                with contextlib.suppress(ConnectionError):
                    await session.socket.send_str(text)

    async def _followup(self, request: web.Request, body: Any) -> Message | None:
        answer = await super()._followup(request, body)
        token = request.match_info["token"]
        if token not in self.followups:
            content = body.get("content") if isinstance(body, dict) else None
            self.followups[token] = (request[CALL].at, content)
            self.followed.set()
        return answer


class Controller:
    def __init__(self) -> None:
        self.fake = TimedFake()
        self.members: list[FakeUser] = []

    async def setup(self, members: int) -> dict[str, Any]:
        fake = self.fake
        self.members = [fake.add_member(f"member{k:04d}") for k in range(members)]
        await fake.start()
        return {
            "base_url": fake.base_url,
            "gateway_url": fake.gateway_url,
            "token": fake.token,
            "guild": fake.guild.id,
            "channel": fake.channel(CHANNEL).id,
            "members": [m.id for m in self.members],
        }

    async def slash(self, member: int, name: str, args: str = "", within: float = 10.0) -> str:
        fake = self.fake
        options = {"args": args} if args else {}
        ix = await fake.slash(self.members[member], name, options, channel=fake.channel(CHANNEL))
        answer = await fake.next_call("POST", ix.webhook_path, within=within)
        return str(answer.json.get("content") or "")

    def _card(self, number: int) -> int:
        wanted = f"folkmoot:vote:{number}:yes"
        for message in reversed(self.fake.channel_messages(self.fake.channel(CHANNEL))):
            rows = cast("list[dict[str, Any]]", message.get("components", []))
            for row in rows:
                if any(c.get("custom_id") == wanted for c in row.get("components", [])):
                    return int(message["id"])
        raise LookupError(f"no card with {wanted} in #{CHANNEL}")

    def plain_card(self, number: int) -> int:
        buttons = [
            {
                "type": 2,
                "style": 2,
                "label": answer,
                "custom_id": f"folkmoot:vote:{number}:{answer}",
            }
            for answer in ("yes", "no", "abstain")
        ]
        fake = self.fake
        message = fake._new_message(
            fake.channel(CHANNEL),
            fake.bot,
            body={
                "content": f"reference {number}",
                "components": [{"type": 1, "components": buttons}],
            },
        )
        return int(message["id"])

    async def card(self, number: int, within: float = 10.0) -> int:
        """Waits for the card (the bot may post it from its own dispatcher)."""
        found: list[int] = []

        def posted() -> bool:
            with contextlib.suppress(LookupError):
                found.append(self._card(number))
            return bool(found)

        await self.fake.wait_until(posted, within=within, what=f"the card of #{number}")
        return found[0]

    async def burst(
        self,
        message: int,
        number: int,
        choices: list[str],
        offsets: list[float],
        within: float = 30.0,
    ) -> list[Timing]:
        fake = self.fake
        loop = asyncio.get_running_loop()
        sent: list[tuple[int, float, FakeInteraction]] = []
        tasks: set[asyncio.Task[None]] = set()
        failed: list[BaseException] = []

        async def click(k: int, scheduled: float) -> None:
            custom_id = f"folkmoot:vote:{number}:{choices[k]}"
            try:
                ix = await fake.click(self.members[k], message, custom_id)
            except Exception as error:
                failed.append(error)
                return
            sent.append((k, scheduled, ix))

        def fire(k: int, scheduled: float) -> None:
            task = loop.create_task(click(k, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        count = len(choices)
        t0 = loop.time() + 0.05
        for k, offset in enumerate(offsets):
            loop.call_at(t0 + offset, fire, k, t0 + offset)
        deadline = t0 + max(offsets) + within
        while not (len(sent) == count and all(ix.token in fake.followups for *_, ix in sent)):
            if failed:
                raise failed[0]
            if loop.time() > deadline:
                break
            fake.followed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fake.followed.wait(), 0.1)
        timings = []
        for k, scheduled, ix in sorted(sent, key=lambda s: s[0]):
            followed = fake.followups.get(ix.token)
            timings.append(
                Timing(
                    member=k,
                    scheduled=scheduled,
                    dispatched=fake.dispatched[ix.id],
                    callback=ix.callback.at if ix.callback else None,
                    callback_status=ix.callback.status if ix.callback else None,
                    callback_type=ix.response_type,
                    followup=followed[0] if followed else None,
                    followup_content=followed[1] if followed else None,
                )
            )
        return timings

    async def stop(self) -> None:
        await self.fake.close()


async def _serve(conn: Connection) -> None:
    controller = Controller()
    try:
        while True:
            operation, kwargs = await asyncio.to_thread(conn.recv)
            try:
                if operation.startswith("_"):
                    raise AttributeError(f"no operation {operation!r}")
                handler = getattr(controller, operation)
                result = handler(**kwargs)
                if asyncio.iscoroutine(result):
                    result = await result
            except Exception:
                conn.send(("error", traceback.format_exc()))
            else:
                conn.send(("ok", result))
            if operation == "stop":
                return
    finally:
        await controller.fake.close()


def serve(conn: Connection) -> None:
    """The child process's entry point."""
    asyncio.run(_serve(conn))
