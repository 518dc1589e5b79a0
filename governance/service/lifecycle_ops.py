"""Lifecycle steps shared by commands and due work: opening and closing a vote."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from governance.domain.events import Event, ProposalCancelled, ProposalClosed, VotingOpened
from governance.domain.ids import MemberId
from governance.domain.lifecycle import Move, Status, next_status
from governance.domain.members import Community, Member
from governance.domain.methods import ClassBallots, decide
from governance.domain.policy import TieRule
from governance.domain.proposal import Proposal
from governance.domain.result import Result
from governance.domain.tiebreak import reveal_line
from governance.domain.timing import end_of, to_timedelta
from governance.service import prompts, records, reminders
from governance.service.deps import Deps
from governance.service.ports import UnitOfWork
from governance.text.grammar import parse_deadline, parse_length

CLOSE = "close"
OPEN_VOTING = "open voting"
SECRET_KEY_BYTES = 32


def vote_end(proposal: Proposal, community: Community, start: datetime) -> datetime:
    spec = parse_deadline("propose", "vote", proposal.vote_length)
    return end_of(spec, start, ZoneInfo(community.timezone), longest(community))


def longest(community: Community) -> timedelta:
    """The community's longest vote, deliberation or extension."""
    return to_timedelta(parse_length("config", "max_vote", community.max_vote))


async def open_voting(
    uow: UnitOfWork,
    deps: Deps,
    proposal: Proposal,
    community: Community,
    *,
    now: datetime,
    by: Member | None = None,
) -> bool:
    """Open the vote of a stored proposal in draft or deliberation: at the end of its
    timebox, or early by `by` (``!open``). False if it changed meanwhile."""
    from governance.service import federation  # it opens votes with these steps

    before = proposal.status
    next_status(before, Move.OPEN_VOTING)  # a wrong state is named before anything else
    closes_at = vote_end(proposal, community, now)
    await federation.check_rooms(uow, deps, proposal.community)
    roll = await federation.voters(uow, deps, proposal.community)
    proposal.open_voting(now=now, closes_at=closes_at, roll_size=len(roll))
    if not await uow.proposals.update(proposal, expect=before):
        return False
    parts = await after_open(uow, deps, proposal, community, roll, by=None if by is None else by.id)
    await uow.outbox.add(
        [
            VotingOpened(
                proposal.community,
                proposal.number,
                proposal.title,
                closes_at,
                community.timezone,
                len(roll),
                proposal.ballot_hint,
                None if by is None else by.display_name,
                proposal.method_name,
                proposal.options,
                proposal.policy.to_json(),
                await uow.stories.count_for(proposal.community, proposal.number),
                parts,
            )
        ],
        at=now,
    )
    return True


async def after_open(
    uow: UnitOfWork,
    deps: Deps,
    proposal: Proposal,
    community: Community,
    roll: list[MemberId],
    *,
    by: MemberId | None = None,
) -> tuple[str, ...]:
    """What opening a vote writes besides the proposal: roll, key, close, reminders and
    the log entry (with the member who opened it early, if one did); for a federation
    proposal, its parts in the member communities, returned as ``bakery #4``."""
    from governance.service import federation  # it opens its parts with this function

    assert proposal.closes_at is not None and proposal.opened_at is not None
    await uow.ballots.freeze_roll(proposal.id, roll)
    if proposal.policy.secret:
        await uow.ballots.set_key(proposal.id, deps.random_bytes(SECRET_KEY_BYTES))
    await uow.due.add(CLOSE, proposal.id, proposal.closes_at)
    await reminders.schedule(
        uow,
        reminders.REMIND,
        proposal,
        community,
        start=proposal.opened_at,
        end=proposal.closes_at,
    )
    data: dict[str, object] = {
        "closes_at": proposal.closes_at.isoformat(),
        "roll_size": len(roll),
    }
    if by is not None:
        data["early"] = True
    await uow.log.append(
        proposal.community,
        at=proposal.opened_at,
        kind="voting opened",
        proposal=proposal.number,
        actor=by,
        data=data,
    )
    return await federation.open_parts(uow, deps, proposal, now=proposal.opened_at)


async def log_and_announce(
    uow: UnitOfWork,
    proposal: Proposal,
    *,
    at: datetime,
    kind: str,
    actor: MemberId | None,
    data: dict[str, Any],
    event: Event,
) -> None:
    """A change to a proposal: its decision-log entry and its announcement, written in
    the same transaction."""
    await uow.log.append(
        proposal.community, at=at, kind=kind, proposal=proposal.number, actor=actor, data=data
    )
    await uow.outbox.add([event], at=at)


BOT_NAME = "folkmoot"


async def cancel_unopenable(
    uow: UnitOfWork, proposal: Proposal, *, reason: str, now: datetime
) -> None:
    """Cancel a proposal whose vote cannot open, saying why in every room."""
    proposal.move(Move.CANCEL)
    proposal.closed_at = now
    if not await uow.proposals.update(proposal, expect=Status.DELIBERATION):
        return
    reason = f"voting could not open: {reason}"
    await uow.due.drop(proposal.id)
    await uow.log.append(
        proposal.community,
        at=now,
        kind="cancelled",
        proposal=proposal.number,
        actor=None,
        data={"reason": reason},
    )
    await uow.outbox.add(
        [ProposalCancelled(proposal.community, proposal.number, proposal.title, reason, BOT_NAME)],
        at=now,
    )


async def tally(uow: UnitOfWork, proposal: Proposal, *, final: bool = False) -> Result:
    """The proposal's result from its ballots now: provisional while voting is open (no
    lot is drawn: its seed stays secret), `final` when it closes."""
    policy = proposal.policy if final else proposal.policy.sealed()
    if proposal.policy.classes:
        groups = await uow.ballots.by_class(proposal.id)
    else:
        ballots = await uow.ballots.choices(proposal.id)
        groups = [ClassBallots(None, proposal.roll_size, ballots)]
    return decide(proposal.method, groups, proposal.options, policy)


async def close_vote(
    uow: UnitOfWork,
    proposal: Proposal,
    *,
    now: datetime,
    early_reason: str | None = None,
    by: MemberId | None = None,
    by_name: str | None = None,
    result: Result | None = None,
) -> bool:
    """Tally and close. False if someone else closed it first (the update is conditional).
    `result`: counted already (a federation's, from its parts)."""
    if result is None:
        result = await tally(uow, proposal, final=True)
    seed = proposal.policy.lot_seed if proposal.policy.ties is TieRule.LOT else None
    if seed is not None:  # revealed now, for anyone to check against the commitment
        result = replace(
            result,
            explanation=(
                *result.explanation,
                reveal_line(seed, proposal.options, proposal.policy.lot_commitment),
            ),
        )
    proposal.close(result=result, now=now)
    if not await uow.proposals.update(proposal, expect=Status.VOTING):
        return False
    receipts = await records.seal_secret(uow, proposal) if proposal.policy.secret else None
    await uow.due.drop(proposal.id)
    data: dict[str, object] = {
        "closed_as": result.closed_as.value,
        "summary": result.summary,
        "counts": [list(c) for c in result.counts],
        "ballots": result.ballots,
        "roll": result.roll,
    }
    if seed is not None:
        data["lot_seed"] = seed
    if early_reason:
        data["early_reason"] = early_reason
    if receipts is not None:
        data["receipts"] = receipts
    await uow.log.append(
        proposal.community, at=now, kind="closed", proposal=proposal.number, actor=by, data=data
    )
    await prompts.after_close(uow, proposal, now=now)
    await uow.outbox.add(
        [
            ProposalClosed(
                proposal.community,
                proposal.number,
                proposal.title,
                proposal.method_name,
                result.to_json(),
                early_reason,
                by_name,
                await uow.stories.count_for(proposal.community, proposal.number),
            )
        ],
        at=now,
    )
    return True
