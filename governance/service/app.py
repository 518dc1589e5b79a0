"""The front door of the core: adapters hand it text or commands and get replies.

Member mistakes (`GovernanceError`) come back as plain replies with the usage line;
anything else is logged with a short reference and the member sees only that
reference — never a traceback in chat. The observer (`Deps.observer`) is told each
command's kind and outcome, and when its reply is ready.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import TypeVar

from governance.domain.commands import (
    Bind,
    CastVote,
    Command,
    Context,
    EditStory,
    Erase,
    ExportBallots,
    ExportDecisions,
    ExportStories,
    Help,
    ListPrompts,
    ListProposals,
    ListStories,
    Propose,
    ShowResults,
    ShowStatus,
    ShowUndelivered,
    TellStory,
    Unbind,
    Unvote,
    WithdrawStory,
)
from governance.domain.errors import GovernanceError
from governance.domain.ids import AccountRef, CommunityId, PromptNumber, ProposalNumber, RoomRef
from governance.domain.members import Member
from governance.domain.prompts import Prompt
from governance.service import deliberation, handlers, prompts, queries, records, stories
from governance.service.deps import Deps
from governance.service.due import run_due
from governance.service.handlers import HANDLERS, Handler
from governance.service.ports import (
    UNPARSED,
    ConflictError,
    PlatformEvent,
    UnitOfWork,
    UnitOfWorkFactory,
)
from governance.service.votes import VoteWriter
from governance.text.grammar import is_command, parse
from governance.text.messages import Audience, Block, Reply

log = logging.getLogger(__name__)

QUERIES: Mapping[type[Command], Handler] = {
    ShowStatus: queries.status,
    ListProposals: queries.proposals,
    ShowResults: queries.results,
    Help: queries.help_,
    ShowUndelivered: queries.undelivered,
    ListStories: stories.list_stories,
    ExportStories: stories.export,
    ExportDecisions: records.export_decisions,
    ExportBallots: records.export_ballots,
    ListPrompts: prompts.listing,
}
RETRIES = 3
BINDING_TTL = 30.0


T = TypeVar("T")

_MARKED_WITH_REFUSAL: ContextVar[list[PlatformEvent] | None] = ContextVar(
    "marked_with_refusal", default=None
)
"""Events whose mark a refused command committed itself (a wrong link code is counted,
and its mark with it): the refusal is still answered, and not marked again."""

BallotWatcher = Callable[[CommunityId, int], None]
"""Told a proposal's community and number after a ballot on it changed."""


class Governance:
    def __init__(self, uow: UnitOfWorkFactory, deps: Deps) -> None:
        self._uow = uow
        self.deps = deps
        self.votes = VoteWriter(uow, deps)
        self._bindings: dict[RoomRef, tuple[float, asyncio.Future[CommunityId | None]]] = {}
        self._ballot_watchers: list[BallotWatcher] = []
        self._encrypted: set[RoomRef] = set()
        """Bound rooms recorded as encrypted by this process (encryption stays on)."""

    def watch_ballots(self, watcher: BallotWatcher) -> Callable[[], None]:
        """Call `watcher(community, number)` after each ballot cast, changed or withdrawn
        through this process, from any platform: a card's live tally on one platform
        then follows votes cast on another. Returns the call that stops it."""
        self._ballot_watchers.append(watcher)
        return lambda: self._ballot_watchers.remove(watcher)

    def _ballot_changed(self, community: CommunityId, number: int) -> None:
        for watcher in list(self._ballot_watchers):
            try:
                watcher(community, number)
            except Exception:  # a watcher's trouble is not the voter's
                log.warning("a ballot watcher failed", exc_info=True)

    async def close(self) -> None:
        await self.votes.close()

    async def community_of(self, room: RoomRef) -> CommunityId | None:
        """Which community a room belongs to; cached briefly, as it rarely changes.

        A burst of messages from one room shares a single lookup."""
        cached = self._bindings.get(room)
        if cached is None or time.monotonic() - cached[0] >= BINDING_TTL:
            cached = (time.monotonic(), asyncio.ensure_future(self._lookup_binding(room)))
            self._bindings[room] = cached
        lookup = cached[1]
        if lookup.done() and not lookup.cancelled() and lookup.exception() is None:
            return lookup.result()
        try:
            return await asyncio.shield(lookup)
        except Exception:
            self._bindings.pop(room, None)
            raise

    async def _lookup_binding(self, room: RoomRef) -> CommunityId | None:
        async with self._uow(read_only=True) as uow:
            return await uow.bindings.community_of(room)

    async def handle_text(
        self,
        room: RoomRef,
        actor: AccountRef,
        text: str,
        sent_at: datetime,
        *,
        community: CommunityId | None = None,
        encrypted: bool = False,
        event: PlatformEvent | None = None,
    ) -> Reply | None:
        """Answer one chat message, or None if it is not a command. `community` is for
        a private room, which is bound to none: the adapter says whose it is.
        `encrypted`: the room is end-to-end encrypted (recorded, if it is bound).

        `event` is the platform event that carried the message, for a platform that
        may hand the same event over again (Matrix, after a restart or on a second
        instance): it is marked handled in the transaction that applies the command, so
        a crash loses the mark and the effect together and the replay does it all. A
        replay of an event handled before changes nothing and answers nothing (None).
        A query or a refusal writes nothing else: its mark is written just after it,
        alone (a crash between them answers it again, which is harmless). A command
        that failed on something other than the member's mistake is not marked: a
        replay tries it again."""
        if not is_command(text):
            return None
        observer = self.deps.observer
        with observer.handling():
            if encrypted:
                await self.room_encrypted(room)
            ctx = Context(
                actor, room, community or await self.community_of(room), sent_at, encrypted
            )
            reply = await self._guard(
                lambda: self._once(event, lambda: self._parse_and_handle(text, ctx, event))
            )
            observer.on_reply(actor.platform, sent_at)
        return reply

    async def refusal_before_body(
        self,
        room: RoomRef,
        actor: AccountRef,
        first_line: str,
        sent_at: datetime,
        *,
        community: CommunityId | None = None,
    ) -> Reply | None:
        """For an adapter that collects a ``!propose``'s body line by line after it (the
        console): the refusal its first line alone gets (no title, a misspelt or refused
        setting, a class no one holds), to answer before the body is typed; None if the
        line would be taken. Changes nothing."""
        ctx = Context(actor, room, community or await self.community_of(room), sent_at)
        try:
            cmd = parse(first_line, ctx)
            if isinstance(cmd, Propose):
                await self._in_unit(
                    lambda uow: handlers.check_first_line(cmd, uow, self.deps),
                    what="checking a proposal's first line",
                    read_only=True,
                )
        except GovernanceError as error:
            return Reply.text(str(error), ok=False)
        return None

    async def handle(self, cmd: Command) -> Reply:
        reply = await self._handle(cmd, None)
        assert reply is not None, "only an event handled before is answered by nothing"
        return reply

    async def _handle(self, cmd: Command, event: PlatformEvent | None) -> Reply | None:
        observer = self.deps.observer
        with observer.handling():
            reply = await self._guard(lambda: self._once(event, lambda: self._observed(cmd, event)))
            observer.on_reply(cmd.ctx.actor.platform, cmd.ctx.sent_at)
        return reply

    async def _once(
        self, event: PlatformEvent | None, work: Callable[[], Awaitable[Reply | None]]
    ) -> Reply | None:
        """`work`; if it refused (`GovernanceError`), `event` is marked handled after
        it, alone; None if it was handled before (by another instance meanwhile)."""
        if event is None:
            return await work()
        committed: list[PlatformEvent] = []
        token = _MARKED_WITH_REFUSAL.set(committed)
        try:
            return await work()
        except GovernanceError:
            if event not in committed and not await self._mark_alone(event):
                return None
            raise
        finally:
            _MARKED_WITH_REFUSAL.reset(token)

    async def _mark_alone(self, event: PlatformEvent) -> bool:
        """Mark `event` handled in a unit of work of its own; False if it was before."""

        async def mark(uow: UnitOfWork) -> bool:
            new = await uow.handled.mark([event])
            await uow.commit()
            return bool(new)

        return await self._in_unit(mark, what="marking an event handled")

    async def _parse_and_handle(
        self, text: str, ctx: Context, event: PlatformEvent | None
    ) -> Reply | None:
        try:
            cmd = parse(text, ctx)
        except Exception as error:
            self._failed(UNPARSED, error)
            raise
        return await self._observed(cmd, event)

    async def _observed(self, cmd: Command, event: PlatformEvent | None) -> Reply | None:
        """`_dispatch`, with its outcome told to the observer (a refusal may be a reply
        that is not ok, or a `GovernanceError`); an event handled before is not told."""
        kind = type(cmd).__name__
        try:
            reply = await self._dispatch(cmd, event)
        except Exception as error:
            self._failed(kind, error)
            raise
        if reply is not None:
            self.deps.observer.on_command(kind, "ok" if reply.ok else "refused")
        return reply

    def _failed(self, kind: str, error: Exception) -> None:
        refused = isinstance(error, GovernanceError)
        self.deps.observer.on_command(kind, "refused" if refused else "error")

    async def _dispatch(self, cmd: Command, event: PlatformEvent | None) -> Reply | None:
        if isinstance(cmd, CastVote | Unvote):
            if cmd.ctx.community is None:
                raise GovernanceError(
                    "This room is not bound to a community; an admin can !bind it."
                )
            try:
                voted = await self.votes.submit(cmd, event=event)
            except GovernanceError as error:
                # Like the receipt, a refusal is the voter's alone: in a secret vote the
                # room must not learn from it how someone meant to vote.
                return Reply.text(str(error), Audience.QUIET, ok=False)
            if voted is not None and voted.ok:
                self._ballot_changed(cmd.ctx.community, cmd.number)
            return voted
        handler = HANDLERS.get(type(cmd))
        read_only = handler is None
        if handler is None:
            handler = QUERIES[type(cmd)]
        run = handler
        what = type(cmd).__name__
        if event is not None and not read_only:  # marked with what the command writes
            found = await self._in_unit_once(event, lambda uow: run(cmd, uow, self.deps), what=what)
            if found is None:
                return None
            reply = found
        else:
            reply = await self._in_unit(
                lambda uow: run(cmd, uow, self.deps), read_only=read_only, what=what
            )
            if event is not None and not await self._mark_alone(event):
                return None  # a query: marked after it, alone
        if isinstance(cmd, Bind):
            self._bindings.pop(cmd.ctx.room, None)
        if isinstance(cmd, Unbind):
            self._bindings.pop(cmd.room or cmd.ctx.room, None)
        if isinstance(cmd, WithdrawStory | EditStory | Erase) and reply.ok:
            await self.deps.scrub()  # the story's old words leave the store
        return reply

    async def _guard(self, work: Callable[[], Awaitable[Reply | None]]) -> Reply | None:
        try:
            return await work()
        except GovernanceError as error:
            return Reply.text(str(error), ok=False)
        except Exception:
            ref = secrets.token_hex(2)
            log.exception("command failed (ref %s)", ref)
            return Reply.text(f"Something went wrong (ref {ref}); nothing was changed.", ok=False)

    async def room_encrypted(self, room: RoomRef) -> bool:
        """The adapter saw that `room` is end-to-end encrypted (an ``m.room.encryption``
        state event, or a message in it): if it is bound, what begins there is said in
        its community's encrypted rooms only from now on. Returns whether this changed
        what was recorded (once per room and process it asks the store)."""
        if room in self._encrypted or await self.community_of(room) is None:
            return False  # known already, or no community's (a direct room)
        changed, recorded = await self._in_unit(
            self._mark_encrypted(room), what="recording a room's encryption"
        )
        if recorded:
            self._encrypted.add(room)
        return changed

    @staticmethod
    def _mark_encrypted(room: RoomRef) -> Callable[[UnitOfWork], Awaitable[tuple[bool, bool]]]:
        """(whether it was recorded now, whether it is recorded: the room is bound)."""

        async def mark(uow: UnitOfWork) -> tuple[bool, bool]:
            if await uow.bindings.mark_encrypted(room):
                await uow.commit()
                return True, True
            return False, await uow.bindings.is_encrypted(room)

        return mark

    async def member(self, community: CommunityId, account: AccountRef) -> Member | None:
        async with self._uow(read_only=True) as uow:
            return await uow.members.by_account(community, account)

    async def move_room(
        self, old: RoomRef, new: RoomRef, *, event: PlatformEvent | None = None
    ) -> CommunityId | None:
        """A room replaced by another (a Matrix room upgrade): its binding moves to the
        new room, and the change is logged. None if the old room was not bound, or if
        `event` (the platform's news of the upgrade) was handled before; it is marked
        handled with the move."""
        async with self._uow() as uow:
            if event is not None and not await uow.handled.mark([event]):
                return None
            community = await uow.bindings.community_of(old)
            if community is None:
                await uow.commit()  # the mark, if any
                return None
            if await uow.bindings.community_of(new) is None:
                # An upgraded room keeps its encryption (it can never be turned off).
                encrypted = await uow.bindings.is_encrypted(old)
                await uow.bindings.bind(new, community, encrypted=encrypted)
            await uow.bindings.unbind(old)
            await uow.log.append(
                community,
                at=self.deps.clock.now(),
                kind="room moved",
                proposal=None,
                actor=None,
                data={"from": str(old), "to": str(new)},
            )
            await uow.commit()
        self._bindings.pop(old, None)
        self._bindings.pop(new, None)
        return community

    async def communities_of(self, account: AccountRef) -> list[CommunityId]:
        """The communities `account` is a member of."""
        async with self._uow(read_only=True) as uow:
            return await uow.members.communities_of(account)

    async def bindings_on(self, platform: str) -> list[tuple[RoomRef, CommunityId]]:
        """Every room bound on `platform`, with its community."""
        async with self._uow(read_only=True) as uow:
            return await uow.bindings.on_platform(platform)

    async def rooms_of(self, community: CommunityId) -> list[RoomRef]:
        async with self._uow(read_only=True) as uow:
            return await uow.bindings.rooms(community)

    async def pending(
        self, community: CommunityId, *, encrypted: bool = False
    ) -> list[queries.Pending]:
        """Drafts, deliberations and open votes, newest first (for menus); for a menu
        in an unencrypted room (not `encrypted`), without those made in an encrypted one."""
        async with self._uow(read_only=True) as uow:
            return await queries.pending(uow, community, encrypted=encrypted)

    async def card_tally(self, community: CommunityId, number: int) -> tuple[Block, ...]:
        """The live part of an open vote's card: ballots so far, and the provisional
        tally when results are live."""
        async with self._uow(read_only=True) as uow:
            return await queries.card_tally(uow, community, number)

    async def member_count(self, community: CommunityId) -> int:
        async with self._uow(read_only=True) as uow:
            return await uow.members.count(community)

    async def record_thread(
        self, room: RoomRef, community: CommunityId, number: ProposalNumber, thread_id: str
    ) -> bool:
        """Record that `room` holds proposal `number`'s deliberation thread `thread_id`
        (adapters create the thread, then call this). Idempotent: False if it was
        recorded already. Raises `GovernanceError` for a room not bound to `community`,
        an unknown proposal or an empty or overlong thread id."""
        return await self._in_unit(  # another instance may record it at the same moment
            lambda uow: deliberation.record_thread(
                uow, self.deps, room, community, number, thread_id
            ),
            what="recording a deliberation's thread",
        )

    async def record_prompt_thread(
        self,
        room: RoomRef,
        community: CommunityId,
        number: PromptNumber,
        posting: int,
        thread_id: str,
    ) -> bool:
        """Record that posting `posting` of prompt `number` opened thread `thread_id` in
        `room` (the dispatcher does it for threads opened through `Outlet.open_thread`).
        Idempotent: False if it was recorded already."""
        return await self._in_unit(
            lambda uow: prompts.record_thread(
                uow, self.deps, room, community, number, posting, thread_id
            ),
            what="recording a prompt's thread",
        )

    async def prompt_of_thread(self, room: RoomRef, thread_id: str) -> Prompt | None:
        """The prompt whose posting opened thread `thread_id` in `room` (a reply there is
        a story for it), or None."""
        async with self._uow(read_only=True) as uow:
            return await uow.prompts.by_thread(room, thread_id)

    async def story_in_thread(
        self,
        room: RoomRef,
        thread_id: str,
        actor: AccountRef,
        text: str,
        sent_at: datetime,
        *,
        message_id: str | None = None,
        encrypted: bool = False,
        event: PlatformEvent | None = None,
    ) -> Reply | None:
        """A message in a prompt's thread is a story for that prompt, kept for the
        community under its author's name (the thread shows it already); the reply says
        how to share it otherwise. None if the thread is no prompt's, or its room is no
        longer bound to the prompt's community. With `message_id` (the message's id on
        `room`'s platform), the story follows that message: see `thread_story_edited` and
        `thread_story_deleted`; the same message again is told once (None). `encrypted`
        and `event` are as in `handle_text`: in an encrypted room the story began
        encrypted (`confidentiality`), and `event` is marked handled with it."""
        prompt = await self.prompt_of_thread(room, thread_id)
        if prompt is None or await self.community_of(room) != prompt.community:
            return None  # no prompt's, or in a room unbound since: talk, not a story
        if encrypted:
            await self.room_encrypted(room)
        if message_id is not None:
            async with self._uow(read_only=True) as uow:
                if await uow.stories.by_source(room.platform, message_id) is not None:
                    return None  # told already (the same message again): nothing to say
        ctx = Context(actor, room, prompt.community, sent_at, encrypted)
        return await self._handle(
            TellStory(ctx, text, prompt=prompt.number, in_thread=True, source=message_id), event
        )

    async def thread_story_edited(
        self,
        room: RoomRef,
        actor: AccountRef,
        message_id: str,
        text: str,
        *,
        event: PlatformEvent | None = None,
    ) -> Reply | None:
        """Message `message_id` in `room` was edited by `actor` to say `text`: if it was
        told as a story (`story_in_thread`) and `actor` is its author, the story follows.
        None when nothing changed (no story's message, someone else's edit, a replay);
        else the reply, a refusal (empty, too long) for the author's eyes. `event` (the
        edit's) is marked handled with the change, as in `handle_text`."""
        reply = await self._follow(
            lambda uow: stories.source_edited(uow, self.deps, room, actor, message_id, text),
            event,
        )
        if reply is not None and reply.ok:
            await self.deps.scrub()  # the old words leave the store
        return reply

    async def thread_story_deleted(
        self,
        room: RoomRef,
        actor: AccountRef | None,
        message_id: str,
        *,
        event: PlatformEvent | None = None,
    ) -> Reply | None:
        """Message `message_id` in `room` was deleted (redacted) by `actor` (None: the
        platform does not say who). Its author's deletion withdraws the story it was told
        as; a community moderator's hides it; anyone else's changes nothing (None), as
        does a second deletion. See `stories.source_deleted`. `event` (the deletion's)
        is marked handled with the change, as in `handle_text`."""
        reply = await self._follow(
            lambda uow: stories.source_deleted(uow, self.deps, room, actor, message_id),
            event,
        )
        if reply is not None and reply.ok:
            await self.deps.scrub()
        return reply

    async def _follow(
        self,
        work: Callable[[UnitOfWork], Awaitable[Reply | None]],
        event: PlatformEvent | None,
    ) -> Reply | None:
        """`work` in a unit of work, tried again after a lost race; a member's mistake
        comes back as a refusal, anything else is logged (None)."""
        what = "following a story's message"
        try:
            if event is None:
                return await self._in_unit(work, what=what)
            return await self._once(event, lambda: self._in_unit_once(event, work, what=what))
        except GovernanceError as error:
            return Reply.text(str(error), Audience.QUIET, ok=False)
        except Exception:
            log.exception("following a story's message failed")
            return None

    async def _in_unit_once(
        self, event: PlatformEvent, work: Callable[[UnitOfWork], Awaitable[T]], *, what: str
    ) -> T | None:
        """`work` in a unit of work that first marks `event` handled; None, with nothing
        done, if it was handled before. The mark commits with what `work` commits; if
        `work` commits nothing (it found nothing to change), the mark is written after
        it, alone."""

        async def marked(uow: UnitOfWork) -> tuple[T, bool] | None:
            if not await uow.handled.mark([event]):
                return None
            try:
                result = await work(uow)
            except GovernanceError:
                committed = _MARKED_WITH_REFUSAL.get()
                if not uow.handled.unsaved and committed is not None:
                    committed.append(event)  # the refusal committed (and marked) first
                raise
            return result, uow.handled.unsaved

        outcome = await self._in_unit(marked, what=what)
        if outcome is None:
            return None
        result, unsaved = outcome
        if unsaved and not await self._mark_alone(event):
            return None
        return result

    async def _in_unit(
        self,
        work: Callable[[UnitOfWork], Awaitable[T]],
        *,
        what: str,
        read_only: bool = False,
    ) -> T:
        """`work` in a unit of work of its own, tried again (up to `RETRIES` times in
        all) when it lost a race with another writer (`ConflictError`)."""
        for attempt in range(1, RETRIES + 1):
            try:
                async with self._uow(read_only=read_only) as uow:
                    found = await work(uow)
                if uow.ballots.keys_destroyed:  # a secret vote was sealed
                    await self.deps.scrub()
                return found
            except ConflictError:
                if attempt == RETRIES:
                    raise
                log.info("%s lost a race; trying again", what)
        raise AssertionError("unreachable")

    async def run_due(self) -> int:
        """Process everything due by now, in time order; returns how many items ran."""
        return await run_due(self._uow, self.deps)

    async def next_due(self) -> datetime | None:
        async with self._uow(read_only=True) as uow:
            return await uow.due.next_due()
