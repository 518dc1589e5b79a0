"""The outbox dispatcher: routes committed events to their channels and delivers them.

Routing turns each outbox row, once, into one delivery per channel: every room bound
to the event's community for an announcement (only its encrypted rooms for one of
something that began in an encrypted room: see `confidentiality`), each member still
to vote for a reminder (privately), a new member for a welcome prompt (privately). A
deliberation or a prompt's posting opens a thread where the platform has them, and the
core records it; an event marked `in_prompt_thread` is said in the prompt's latest
thread.

Deliveries are then made per channel in outbox order: a channel whose oldest delivery
is failing waits (with backoff) rather than let a later message overtake it, while
other channels go on. A channel that is gone for good
(the outlet raises `ChannelGone`), or that has been failing for a whole day, has its
delivery given up into the dead-letter list admins can read with `!undelivered`; a
private message is dropped instead (no record says whom it was for). A reminder
retried past its vote's end is dropped too. Where a person's private messages are
closed, a notice in a room says so, unless it would tell a secret: that they had not
voted yet in a secret vote, or that a hidden anonymous story was theirs.

Delivery is at-least-once: a delivery is marked done only after the outlet returned,
and its key (``folkmoot-<row>-<channel>``) is the same on every retry, so the
platforms' idempotency (Matrix transaction ids, Discord nonces) makes it
effectively-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from governance.domain.events import (
    AccountsLinked,
    DeliberationEnding,
    DeliberationOpened,
    DeliberationRescheduled,
    Event,
    MemberWelcomed,
    PromptPosted,
    ReminderDue,
    StoryHidden,
    StoryShared,
    SummaryRecorded,
    VotingOpened,
)
from governance.domain.ids import AccountRef, CommunityId, PromptNumber, RoomRef
from governance.domain.lifecycle import Status
from governance.service import (
    confidentiality,
    deliberation,
    identity,
    prompts,
    reminders,
    stories,
)
from governance.service.deps import Deps
from governance.service.ports import (
    Channel,
    ChannelGone,
    ConflictError,
    Delivery,
    DirectClosed,
    Outlet,
    UnitOfWork,
    UnitOfWorkFactory,
)
from governance.text.messages import Message
from governance.text.render import render_event

log = logging.getLogger(__name__)

BATCH = 200
MAX_BACKOFF = timedelta(minutes=10)
POLL_SECONDS = 5.0
CLAIM_FOR = timedelta(minutes=2)
"""How long a claimed delivery is left to its deliverer before another process may retry."""
SETTLE_EVERY = 50
"""Deliveries made before their success is written down (one transaction for them)."""
GIVE_UP_AFTER = timedelta(days=1)
NOT_HELD = "this instance does not hold the platform (its lease)"
"""A channel failing this long after the event was committed is taken as gone."""


THREADED = (SummaryRecorded, VotingOpened, DeliberationEnding, DeliberationRescheduled)
"""Said in the room and, where the deliberation has a thread there, in the thread too."""


def closed_notice(address: str) -> Message:
    return Message(
        None,
        (
            f"{address}: I could not send you a private message, because your direct "
            "messages are closed to me. Open them to receive reminders and receipts.",
        ),
    )


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


def delivery_key(outbox_id: int, channel: Channel) -> str:
    return f"folkmoot-{outbox_id}-{channel}"


class Rooms(NamedTuple):
    """A community's rooms, as routing reads them once per pass."""

    every: list[Channel]
    encrypted: list[Channel]


async def channels_for(
    uow: UnitOfWork,
    event: Event,
    *,
    now: datetime,
    rooms: dict[CommunityId, Rooms],
    key: bytes = b"",
) -> list[Channel]:
    """Where an event goes: the community's rooms (looked up once per `rooms` cache) —
    its encrypted ones alone when the event tells of something that began in one — or
    a reminder's or a welcome's recipient(s)."""
    if isinstance(event, ReminderDue):
        return await reminders.recipients(uow, event, now=now)
    if isinstance(event, StoryHidden):
        return await stories.author_channels(uow, event, key)

    if isinstance(event, AccountsLinked):
        return await identity.linked_channels(uow, event)
    if isinstance(event, MemberWelcomed):
        return await prompts.welcome_recipients(uow, event)
    if not event.announce:
        return []
    if event.community not in rooms:
        bound = await uow.bindings.rooms(event.community)
        encrypted = await uow.bindings.encrypted_rooms(event.community)
        rooms[event.community] = Rooms(
            [Channel.of_room(room) for room in bound],
            [Channel.of_room(room) for room in encrypted],
        )
    known = rooms[event.community]
    if len(known.encrypted) == len(known.every):  # all encrypted: nothing to hold back
        return known.every
    if await confidentiality.began_encrypted(uow, event):
        return known.encrypted
    return known.every


class Dispatcher:
    def __init__(self, uow: UnitOfWorkFactory, deps: Deps, outlets: Mapping[str, Outlet]) -> None:
        self._uow = uow
        self._deps = deps
        self._outlets = outlets
        self._wake = asyncio.Event()
        self._stopping = False
        self._paused: set[str] = set()

    def pause(self, platform: str) -> None:
        """Deliver nothing to `platform` until `resume`: another instance holds its
        lease. Its deliveries stay open for that instance, so none is lost."""
        self._paused.add(platform)

    def resume(self, platform: str) -> None:
        """This instance holds `platform`'s lease again: deliver there."""
        self._paused.discard(platform)
        self._wake.set()

    def _live(self) -> list[str]:
        return sorted(p for p in self._outlets if p not in self._paused)

    def wake(self) -> None:
        """Something was committed: look at the outbox soon."""
        self._wake.set()

    async def drain(self) -> int:
        """Route what is new, then deliver everything ready now; returns how many
        deliveries were settled (delivered or given up)."""
        await self.route()
        settled = 0
        waiting: set[str] = set()  # channels held up for this pass
        while True:
            async with self._uow(read_only=True) as uow:
                batch = await uow.outbox.open_deliveries(
                    platforms=self._live(), skip=sorted(waiting), limit=BATCH
                )
            if not batch:
                return settled
            runs = await self._claim_runs(batch, waiting)
            by_platform: dict[str, list[list[Delivery]]] = {}
            for run in runs:
                by_platform.setdefault(run[0].channel.platform, []).append(run)
            # Platforms side by side (one slow platform holds up no other); within one,
            # channels in turn, oldest first, so what members see comes in a fixed order.
            done = await asyncio.gather(
                *(self._deliver_runs(group, waiting) for group in by_platform.values())
            )
            settled += sum(done)
            if not runs:
                return settled

    async def route(self) -> int:
        """Give each new outbox row its deliveries, oldest first."""
        routed = 0
        while True:
            # Where each goes is read first; the write that records it is one short
            # transaction (on SQLite it holds the one write lock, which closes need).
            async with self._uow(read_only=True) as uow:
                rows = await uow.outbox.unrouted(limit=BATCH)
                now = self._deps.clock.now()
                rooms: dict[CommunityId, Rooms] = {}
                routes = [
                    (
                        row.id,
                        await channels_for(
                            uow, row.event, now=now, rooms=rooms, key=self._deps.author_key
                        ),
                    )
                    for row in rows
                ]
            if not rows:
                return routed
            await self._deps.due_idle.wait()
            async with self._uow() as uow:
                routed += await uow.outbox.route(routes, at=now)
                await uow.commit()

    async def _claim_runs(
        self, batch: Sequence[Delivery], waiting: set[str]
    ) -> list[list[Delivery]]:
        """Per channel, the ready deliveries from its oldest open one on, claimed. A
        channel whose oldest is not ready (backing off, or another process has it)
        waits: nothing after it may overtake."""
        now = self._deps.clock.now()
        runs: dict[str, list[Delivery]] = {}
        for delivery in batch:
            name = str(delivery.channel)
            if name in waiting:
                continue
            if not delivery.ready(now):
                waiting.add(name)
                continue
            runs.setdefault(name, []).append(delivery)
        await self._deps.due_idle.wait()
        async with self._uow() as uow:
            claimed = await uow.outbox.claim(
                [d.id for run in runs.values() for d in run], now=now, until=now + CLAIM_FOR
            )
            await uow.commit()
        kept = []
        for name, run in runs.items():
            taken = 0
            while taken < len(run) and run[taken].id in claimed:
                taken += 1
            if taken < len(run):
                waiting.add(name)  # someone else holds the rest; they go on from there
            if taken:
                kept.append(run[:taken])
        return kept

    async def _deliver_runs(self, runs: Sequence[Sequence[Delivery]], waiting: set[str]) -> int:
        settled = 0
        for run in sorted(runs, key=lambda r: (r[0].outbox_id, r[0].id)):
            settled += await self._deliver_run(run, waiting)
        return settled

    async def _deliver_run(self, run: Sequence[Delivery], waiting: set[str]) -> int:
        """Send a channel's run in order. Successes are written down together, every
        SETTLE_EVERY and at the end (a crash in between sends those again, under the
        same keys); a failure is written at once and holds up the rest of the run."""
        done: list[Delivery] = []
        for index, delivery in enumerate(run):
            await self._deps.due_idle.wait()  # closes first, their announcements after
            error, gone = await self._send(delivery)
            if error == NOT_HELD:  # the lease went mid-run: the holder takes it from here
                await self._settle(done)
                await self._release([d.id for d in run[index:]])
                return index
            if error is None:
                done.append(delivery)
                if len(done) >= SETTLE_EVERY:
                    await self._settle(done)
                    done = []
                continue
            await self._settle(done)
            async with self._uow() as uow:
                now = self._deps.clock.now()
                failing_since = delivery.first_failed_at or now
                if delivery.channel.kind == "dm" and (gone or now - failing_since >= GIVE_UP_AFTER):
                    # Who was to be told privately stays private: no dead letter names them.
                    log.warning("a private message (outbox row %d) is given up", delivery.outbox_id)
                    await uow.outbox.forget([delivery.id])
                elif gone or now - failing_since >= GIVE_UP_AFTER:
                    log.warning(
                        "giving up delivery of outbox row %d to %s: %s",
                        delivery.outbox_id,
                        delivery.channel,
                        error,
                    )
                    await uow.outbox.give_up(delivery.id, at=now, error=error)
                else:
                    await uow.outbox.failed(
                        delivery.id,
                        at=now,
                        retry_at=now + backoff(delivery.attempts + 1),
                        error=error,
                    )
                await uow.commit()
            if gone:
                continue  # given up: the next one in the channel may go
            waiting.add(str(delivery.channel))
            # Release the rest of the run at once so it keeps its place in order.
            rest = [d.id for d in run[index + 1 :]]
            if rest:
                await self._release(rest)
            return index
        await self._settle(done)
        return len(run)

    async def _settle(self, done: Sequence[Delivery]) -> None:
        if not done:
            return
        async with self._uow() as uow:
            now = self._deps.clock.now()
            # Who was reminded is who had not voted: for a secret vote that must not
            # outlive the vote, so a private delivery leaves no row once made.
            await uow.outbox.forget([d.id for d in done if d.channel.kind == "dm"])
            await uow.outbox.delivered([d.id for d in done if d.channel.kind != "dm"], at=now)
            await uow.commit()

    async def _release(self, deliveries: Sequence[int]) -> None:
        async with self._uow() as uow:
            await uow.outbox.release(deliveries)
            await uow.commit()

    async def _send(self, delivery: Delivery) -> tuple[str | None, bool]:
        """(error or None, whether the channel is gone for good)."""
        outlet = self._outlets.get(delivery.channel.platform)
        if outlet is None or delivery.channel.platform in self._paused:
            return NOT_HELD, False
        if isinstance(delivery.event, ReminderDue) and not await self._still_open(delivery.event):
            return None, False  # retried past its vote's end: it makes no sense any more
        try:
            message = await self._render(delivery.event)
        except Exception as error:  # a bug: keep the delivery for a fixed version
            log.exception("outbox row %d could not be rendered", delivery.outbox_id)
            return f"rendering failed: {error!r}", False
        if message is None:
            return None, False
        channel = delivery.channel
        key = delivery_key(delivery.outbox_id, channel)
        try:
            if channel.kind == "room" and isinstance(delivery.event, DeliberationOpened):
                room = RoomRef(channel.platform, channel.target)
                thread = await outlet.open_thread(room, message, key=key)
                if thread is not None:
                    await self._record_thread(room, delivery.event, thread)
            elif channel.kind == "room" and isinstance(delivery.event, PromptPosted):
                room = RoomRef(channel.platform, channel.target)
                thread = await outlet.open_thread(room, message, key=key)
                if thread is not None:
                    await self._record_prompt_thread(room, delivery.event, thread)
            elif channel.kind == "room" and delivery.event.in_prompt_thread:
                room = RoomRef(channel.platform, channel.target)
                thread = await self._prompt_thread_of(delivery.event, room)
                if thread is None:  # no posting opened a thread here: said in the room
                    await outlet.post(room, message, key=key)
                else:  # a deleted thread raises ChannelGone: given up like any gone channel
                    await outlet.post_in_thread(room, thread, message, key=key)
            elif channel.kind == "room":
                room = RoomRef(channel.platform, channel.target)
                await outlet.post(room, message, key=key)
                if isinstance(delivery.event, THREADED):
                    thread = await self._thread_of(delivery.event, room)
                    if thread is not None:
                        await outlet.post_in_thread(room, thread, message, key=f"{key}-thread")
            else:
                await self._tell(outlet, delivery, message, key)
        except ChannelGone as error:
            return f"gone: {error}", True
        except Exception as error:  # one channel's trouble never blocks another
            log.warning(
                "delivery of outbox row %d to %s failed: %r", delivery.outbox_id, channel, error
            )
            return repr(error), False
        return None, False

    async def _tell(self, outlet: Outlet, delivery: Delivery, message: Message, key: str) -> None:
        """A private message; where the person's direct messages are closed, a notice in
        one of the community's rooms on that platform says so, without the message —
        unless its mere delivery tells a secret (`confidentiality.tells_a_secret`)."""
        channel = delivery.channel
        try:
            await outlet.tell(AccountRef(channel.platform, channel.target), message, key=key)
        except DirectClosed as closed:
            async with self._uow(read_only=True) as uow:
                if await confidentiality.tells_a_secret(uow, delivery.event):
                    raise  # given up in silence: the notice itself would tell the secret
                rooms = await uow.bindings.rooms(delivery.event.community)
            room = next((r for r in rooms if r.platform == channel.platform), None)
            if room is not None:
                await outlet.post(room, closed_notice(closed.address), key=f"{key}-closed")
            raise

    async def _render(self, event: Event) -> Message | None:
        if isinstance(event, StoryShared):  # its text is read now: events never hold it
            async with self._uow(read_only=True) as uow:
                return await stories.story_message(uow, event)
        return render_event(event)

    async def _still_open(self, event: ReminderDue) -> bool:
        async with self._uow(read_only=True) as uow:
            proposal = await uow.proposals.get(event.community, event.number)
        return (
            proposal is not None
            and proposal.status is Status.VOTING
            and proposal.closes_at is not None
            and proposal.closes_at > self._deps.clock.now()
        )

    async def _thread_of(
        self,
        event: SummaryRecorded | VotingOpened | DeliberationEnding | DeliberationRescheduled,
        room: RoomRef,
    ) -> str | None:
        number = event.number
        async with self._uow(read_only=True) as uow:
            proposal = await uow.proposals.get(event.community, number)
            if proposal is None:
                return None
            bindings = await uow.threads.of(proposal.id)
        return next((b.thread_id for b in bindings if b.room == room), None)

    async def _record_thread(self, room: RoomRef, event: DeliberationOpened, thread: str) -> None:
        """The adapter opened the deliberation's thread: the core remembers where."""
        for attempt in range(1, 4):
            try:
                async with self._uow() as uow:
                    await deliberation.record_thread(
                        uow, self._deps, room, event.community, event.number, thread
                    )
                return
            except ConflictError:
                if attempt == 3:
                    raise

    async def _prompt_thread_of(self, event: Event, room: RoomRef) -> str | None:
        number = getattr(event, "prompt", None)
        if not isinstance(number, int):
            return None
        async with self._uow(read_only=True) as uow:
            return await prompts.latest_thread(uow, event.community, PromptNumber(number), room)

    async def _record_prompt_thread(self, room: RoomRef, event: PromptPosted, thread: str) -> None:
        """The adapter opened a posting's thread: the core remembers where, so a reply
        there can be taken as a story for the prompt."""
        for attempt in range(1, 4):
            try:
                async with self._uow() as uow:
                    await prompts.record_thread(
                        uow, self._deps, room, event.community, event.prompt, event.posting, thread
                    )
                return
            except ConflictError:
                if attempt == 3:
                    raise

    def stop(self) -> None:
        """Finish the current pass, one more for what it woke for, then return from `run`:
        a delivery is never cut off half-way at shutdown."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until `stop`: on every wake-up, and every few seconds for retries
        and for events committed by other instances."""
        while True:
            stopping = self._stopping
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatcher pass failed; retrying")
            if stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
