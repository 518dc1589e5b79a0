"""Deliberation: edits before voting opens, a moderator's timebox, summaries, opening
voting early, and where the platforms hold the thread.

SPEC.md, "The life of a proposal": a moderator opens a deliberation on a proposal
with a timebox; during draft and deliberation the author (or a moderator) may edit
it, every version kept; the deliberation ends with a summary (author or moderator)
and voting opens at the timebox's end, or earlier with ``!open``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from governance.domain.commands import Command, Deliberate, Edit, OpenVoting, Summarise
from governance.domain.deliberation import MAX_SUMMARY, MAX_THREAD_ID, Summary, Version
from governance.domain.errors import GovernanceError, IllegalTransition, InvalidProposal, NotFound
from governance.domain.events import (
    DeliberationOpened,
    DeliberationRescheduled,
    ProposalEdited,
    SummaryRecorded,
)
from governance.domain.ids import CommunityId, ProposalNumber, RoomRef
from governance.domain.lifecycle import Move, Status, next_status
from governance.domain.members import Community, Role
from governance.domain.proposal import Proposal, check_text
from governance.domain.timing import end_of, format_local
from governance.service import lookups, reminders
from governance.service.deps import Deps
from governance.service.lifecycle_ops import (
    OPEN_VOTING,
    log_and_announce,
    longest,
    open_voting,
    vote_end,
)
from governance.service.ports import UnitOfWork
from governance.text.grammar import parse_deadline
from governance.text.messages import Audience, Reply

_FROZEN = (Status.VOTING, Status.CLOSED)


def _changed(number: ProposalNumber) -> GovernanceError:
    return GovernanceError(f"#{number} changed a moment ago; try again.")


async def edit(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Edit)
    member = await lookups.actor(uow, cmd)
    proposal = await lookups.proposal(uow, cmd, cmd.number, lock=True)
    before = proposal.status
    try:
        changed = proposal.edit(by=member, field=cmd.field, text=cmd.text, options=cmd.options)
    except IllegalTransition as error:
        if before in _FROZEN:
            raise IllegalTransition(
                f"{error.message} Its text was frozen when voting opened."
            ) from None
        raise
    if not changed:
        return Reply.text(
            f"The {cmd.field} of #{cmd.number} is already that; nothing changed.", Audience.QUIET
        )
    now = deps.clock.now()
    version = Version(
        len(await uow.proposals.versions(proposal.id)) + 1,
        proposal.title,
        proposal.body,
        proposal.options,
        member.id,
        now,
    )
    if not await uow.proposals.update(proposal, expect=before):
        raise _changed(cmd.number)
    await uow.proposals.add_version(proposal.id, version)
    data: dict[str, object] = {"version": version.number, "field": cmd.field}
    if cmd.field == "title":
        data["title"] = proposal.title
    elif cmd.field == "options":
        data["options"] = list(proposal.options)
    else:  # the text lives in the versions; the log binds it by its hash
        data["body_sha256"] = hashlib.sha256(proposal.body.encode()).hexdigest()
    await log_and_announce(
        uow,
        proposal,
        at=now,
        kind="edited",
        actor=member.id,
        data=data,
        event=ProposalEdited(
            proposal.community,
            proposal.number,
            proposal.title,
            cmd.field,
            version.number,
            member.display_name,
            {"title": proposal.title, "body": proposal.body}.get(cmd.field, ""),
            proposal.options,
        ),
    )
    await deps.commit(uow)
    return Reply.text(
        f"Edited the {cmd.field} of #{cmd.number}: this is version {version.number}.",
        Audience.QUIET,
    )


def _timebox_end(
    cmd: Deliberate, proposal: Proposal, community: Community, now: datetime
) -> datetime:
    """The end of the new timebox, counted from now; refused if voting could not then
    run (e.g. the vote's written end would already have passed)."""
    zone = ZoneInfo(community.timezone)
    spec = cmd.timebox or parse_deadline("deliberate", "timebox", community.default_vote)
    ends_at = end_of(spec, now, zone, longest(community))
    try:
        vote_end(proposal, community, ends_at)
    except InvalidProposal as error:
        raise InvalidProposal(
            f"That timebox ends {format_local(ends_at, zone)}, and voting could not open then: "
            f"{error.message} Give a shorter timebox."
        ) from None
    return ends_at


async def deliberate(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    """A moderator opens a deliberation on a draft, or gives one a new timebox."""
    assert isinstance(cmd, Deliberate)
    community = await lookups.community(uow, cmd)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "open a deliberation or set its timebox")
    proposal = await lookups.proposal(uow, cmd, cmd.number, lock=True)
    zone = ZoneInfo(community.timezone)
    before, was = proposal.status, proposal.opens_at
    if before is Status.DELIBERATION and cmd.timebox is None:
        assert was is not None
        raise InvalidProposal(
            f"#{cmd.number} is already in deliberation until {format_local(was, zone)}. "
            f"To set a new timebox, say how long from now, e.g. !deliberate {cmd.number} 2d."
        )
    move = Move.SET_TIMEBOX if before is Status.DELIBERATION else Move.OPEN_DELIBERATION
    next_status(before, move)  # names the state: voting, closed …
    now = deps.clock.now()
    ends_at = _timebox_end(cmd, proposal, community, now)
    proposal.move(move)
    proposal.opens_at = ends_at
    if not await uow.proposals.update(proposal, expect=before):
        raise _changed(cmd.number)
    await uow.due.drop(proposal.id, OPEN_VOTING)
    await uow.due.drop(proposal.id, reminders.REMIND_DELIBERATION)
    await uow.due.add(OPEN_VOTING, proposal.id, ends_at)
    await reminders.schedule(
        uow, reminders.REMIND_DELIBERATION, proposal, community, start=now, end=ends_at
    )
    until = format_local(ends_at, zone)
    if move is Move.OPEN_DELIBERATION:
        author = await uow.members.get(proposal.author)
        kind, data = "deliberation opened", {"until": ends_at.isoformat()}
        event: DeliberationOpened | DeliberationRescheduled = DeliberationOpened(
            community.id,
            proposal.number,
            proposal.title,
            proposal.body,
            "someone" if author is None else author.display_name,
            proposal.options,
            ends_at,
            community.timezone,
            member.display_name,
        )
        answer = f"#{cmd.number} is in deliberation until {until}, then voting opens."
    else:
        assert was is not None
        kind, data = "timebox set", {"until": ends_at.isoformat(), "was": was.isoformat()}
        event = DeliberationRescheduled(
            community.id,
            proposal.number,
            proposal.title,
            ends_at,
            was,
            community.timezone,
            member.display_name,
        )
        answer = (
            f"The deliberation on #{cmd.number} now runs until {until} "
            f"(it was to end {format_local(was, zone)})."
        )
    await log_and_announce(
        uow, proposal, at=now, kind=kind, actor=member.id, data=data, event=event
    )
    await deps.commit(uow)
    return Reply.text(answer, Audience.QUIET)


async def summarise(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Summarise)
    member = await lookups.actor(uow, cmd)
    proposal = await lookups.proposal(uow, cmd, cmd.number, lock=True)
    proposal.check_author_or_moderator(member, "sum up its deliberation")
    next_status(proposal.status, Move.SUMMARISE)
    text = check_text("summary", cmd.text, MAX_SUMMARY, multiline=True)
    earlier = await uow.proposals.summaries(proposal.id)
    now = deps.clock.now()
    await uow.proposals.add_summary(proposal.id, Summary(text, member.id, now))
    await log_and_announce(
        uow,
        proposal,
        at=now,
        kind="summary",
        actor=member.id,
        data={"summary": text},
        event=SummaryRecorded(
            proposal.community, proposal.number, proposal.title, text, member.display_name
        ),
    )
    await deps.commit(uow)
    if earlier:
        return Reply.text(
            f"Summary of #{cmd.number} recorded; it is the current one now, "
            f"and the {len(earlier)} before it {'is' if len(earlier) == 1 else 'are'} kept.",
            Audience.QUIET,
        )
    return Reply.text(f"Summary of #{cmd.number} recorded.", Audience.QUIET)


async def open_now(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, OpenVoting)
    community = await lookups.community(uow, cmd)
    member = await lookups.actor(uow, cmd)
    proposal = await lookups.proposal(uow, cmd, cmd.number, lock=True)
    proposal.check_author_or_moderator(member, "open its vote")
    next_status(proposal.status, Move.OPEN_VOTING)
    try:
        opened = await open_voting(uow, deps, proposal, community, now=deps.clock.now(), by=member)
    except InvalidProposal as error:
        raise InvalidProposal(f"Voting on #{cmd.number} cannot open: {error.message}") from None
    if not opened:
        raise _changed(cmd.number)
    # The timebox's "open voting" is not due any more. (Only here: the due runner must
    # not delete the row it is working on, whose id a new row could then take.)
    await uow.due.drop(proposal.id, OPEN_VOTING)
    await uow.due.drop(proposal.id, reminders.REMIND_DELIBERATION)
    assert proposal.closes_at is not None
    await deps.commit(uow)
    until = format_local(proposal.closes_at, ZoneInfo(community.timezone))
    return Reply.text(f"Voting on #{cmd.number} is open until {until}.", Audience.QUIET)


async def record_thread(
    uow: UnitOfWork,
    deps: Deps,
    room: RoomRef,
    community: CommunityId,
    number: ProposalNumber,
    thread_id: str,
) -> bool:
    """Record that `room` holds proposal `number`'s thread as `thread_id` (adapters
    create threads; the core remembers where). Idempotent: False if it was already so;
    a different thread id replaces the one recorded."""
    thread_id = thread_id.strip()
    if not thread_id or len(thread_id) > MAX_THREAD_ID:
        raise GovernanceError(f"A thread id has 1 to {MAX_THREAD_ID} characters.")
    if await uow.bindings.community_of(room) != community:
        raise GovernanceError(f"The room {room} is not bound to {community}.")
    proposal = await uow.proposals.get(community, number)
    if proposal is None:
        raise NotFound(f"There is no proposal #{number} in {community}.")
    now = deps.clock.now()
    if not await uow.threads.record(proposal.id, room, thread_id, at=now):
        return False
    await uow.log.append(
        community,
        at=now,
        kind="thread recorded",
        proposal=number,
        actor=None,
        data={"room": str(room), "thread": thread_id},
    )
    await deps.commit(uow, events=False)
    return True
