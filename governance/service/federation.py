"""Federation proposals: a vote in each member community, and their results as the
federation's ballots (`governance.domain.federation` says how they count).

- Proposing in a federation's room is proposing like anywhere, but every member
  community must have a room bound: a part no one can see would only ever abstain, so
  the proposal (or its opening, after a deliberation) is refused, naming them.
- When the federation's vote opens, a part opens in each member community: a proposal
  of its own there (its own number), with the federation's method, options and method
  settings, the community's own quorum and classes, and the federation's closing time.
  Its author is the bot's member there ("folkmoot"); the card says whose part it is.
- The federation's roll is its member communities: nobody votes on it directly, and
  ``!vote`` on it says where to vote instead.
- Parts have no close of their own: the federation's close (due work, or ``!close``)
  closes each part still open and then the federation, in one transaction, each by a
  conditional update, so all close exactly once. Extending or cancelling the
  federation proposal does the same to its parts; a member community cannot cancel,
  withdraw, extend or close its part on its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from governance.domain.errors import GovernanceError, InvalidProposal
from governance.domain.events import ProposalCancelled, ProposalCreated, VotingExtended
from governance.domain.federation import Federation, Part, federate
from governance.domain.ids import AccountRef, CommunityId, MemberId, ProposalId, ProposalNumber
from governance.domain.lifecycle import Move, Status
from governance.domain.members import Community, Member, Role
from governance.domain.methods.base import list_names
from governance.domain.policy import Policy
from governance.domain.proposal import Proposal
from governance.domain.result import Result
from governance.service import reminders
from governance.service.deps import Deps
from governance.service.lifecycle_ops import (
    BOT_NAME,
    CLOSE,
    after_open,
    close_vote,
    log_and_announce,
    tally,
)
from governance.service.ports import UnitOfWork
from governance.text.grammar import parse_classes, parse_quorum

BOT_ACCOUNT = AccountRef("folkmoot", "federation")
"""The account of the bot's member in each member community: the author of parts."""


def of(deps: Deps, community: CommunityId) -> Federation | None:
    return deps.federations.get(community)


async def voters(uow: UnitOfWork, deps: Deps, community: CommunityId) -> list[MemberId]:
    """The people on a new vote's roll: none for a federation, whose voters are its
    member communities."""
    if community in deps.federations:
        return []
    return await uow.members.voters(community)


async def check_rooms(uow: UnitOfWork, deps: Deps, community: CommunityId) -> None:
    """Refuse a federation proposal while a member community has no room bound."""
    federation = of(deps, community)
    if federation is None:
        return
    missing = [m for m in federation.members if not await uow.bindings.rooms(m)]
    if missing:
        some = len(missing) > 1
        raise InvalidProposal(
            f"{list_names(missing)} {'have' if some else 'has'} no room bound, so "
            f"{'their' if some else 'its'} members could not see nor vote on "
            f"{'their parts' if some else 'its part'} of this federation proposal. "
            f"An admin of {'each' if some else list_names(missing)} can !bind a room "
            "first."
        )


async def _bot_member(uow: UnitOfWork, community: CommunityId) -> Member:
    found = await uow.members.by_account(community, BOT_ACCOUNT)
    if found is not None:
        return found
    return await uow.members.add(community, BOT_ACCOUNT, BOT_NAME, Role.OBSERVER, True)


def _part_policy(proposal: Proposal, community: Community) -> Policy:
    """The federation's method settings, with the member community's quorum and classes."""
    method = proposal.method
    quorum = parse_quorum("propose", "quorum", community.quorum) if community.quorum else None
    weights = community.weights if method.takes_weights else None
    classes = parse_classes("propose", weights or "", community.class_quorum or "")
    policy = replace(proposal.policy, quorum=quorum, classes=classes)
    method.check_policy(policy, proposal.options)
    return policy


async def open_parts(
    uow: UnitOfWork, deps: Deps, proposal: Proposal, *, now: datetime
) -> tuple[str, ...]:
    """Open a part in each member community of the federation proposal whose vote just
    opened; returns them as ``bakery #4``. Nothing for another proposal."""
    federation = of(deps, proposal.community)
    if federation is None:
        return ()
    assert proposal.closes_at is not None
    author = await uow.members.get(proposal.author)
    by = f"{author.display_name if author else 'someone'} in {federation.id}"
    made: list[str] = []
    for member_id in federation.members:
        community = await uow.communities.get(member_id)
        if community is None:  # the config checks members exist: a bug
            raise AssertionError(f"member community {member_id} is not stored")
        bot = await _bot_member(uow, member_id)
        part = Proposal(
            id=ProposalId(0),
            community=member_id,
            number=ProposalNumber(0),
            title=proposal.title,
            body=proposal.body,
            author=bot.id,
            method_name=proposal.method_name,
            options=proposal.options,
            policy=_part_policy(proposal, community),
            status=Status.DRAFT,
            created_at=now,
            vote_length=proposal.vote_length,
            encrypted_origin=proposal.encrypted_origin,
        )
        roll = await voters(uow, deps, member_id)
        part.open_voting(now=now, closes_at=proposal.closes_at, roll_size=len(roll))
        part = await uow.proposals.add(part)
        await uow.log.append(
            member_id,
            at=now,
            kind="proposed",
            proposal=part.number,
            actor=None,
            data={
                "title": part.title,
                "method": part.method_name,
                "options": list(part.options),
                "policy": part.policy.to_json(),
                "federation": federation.id,
                "federation_proposal": proposal.number,
            },
        )
        nested = await after_open(uow, deps, part, community, roll)
        await uow.due.drop(part.id, CLOSE)  # it closes with the federation proposal
        await uow.federation.add_part(
            proposal.id,
            member_id,
            part.id,
            roll=len(roll),
            weight=federation.weight(len(roll)),
        )
        await uow.outbox.add(
            [
                ProposalCreated(
                    member_id,
                    part.number,
                    part.title,
                    part.body,
                    by,
                    part.method_name,
                    part.options,
                    part.policy.to_json(),
                    part.status.value,
                    part.closes_at,
                    community.timezone,
                    len(roll),
                    part.ballot_hint,
                    nested,
                    f"{federation.id} #{proposal.number}",
                )
            ],
            at=now,
        )
        made.append(f"{member_id} #{part.number}")
    return tuple(made)


async def _parts(uow: UnitOfWork, proposal: Proposal) -> list[tuple[Proposal, int, int]]:
    """The federation proposal's parts, locked, each with its roll and weight."""
    found: list[tuple[Proposal, int, int]] = []
    for ref in await uow.federation.parts(proposal.id):
        part = await uow.proposals.get_by_id(ref.proposal, lock=True)
        assert part is not None
        found.append((part, ref.roll, ref.weight))
    return found


async def close(
    uow: UnitOfWork,
    deps: Deps,
    proposal: Proposal,
    *,
    now: datetime,
    early_reason: str | None = None,
    by: MemberId | None = None,
    by_name: str | None = None,
) -> bool:
    """Close a vote; a federation's closes each of its parts still open first, and
    counts their results. False if someone else closed it first."""
    federation = of(deps, proposal.community)
    if federation is None:
        return await close_vote(
            uow, proposal, now=now, early_reason=early_reason, by=by, by_name=by_name
        )
    parts: list[Part] = []
    for part, roll, weight in await _parts(uow, proposal):
        if part.status is Status.VOTING:
            await close(
                uow,
                deps,
                part,
                now=now,
                early_reason=early_reason,
                by_name=None if by_name is None else f"{by_name} in {federation.id}",
            )
        parts.append(Part(part.community, part.number, roll, weight, part.status, part.result))
    result = federate(
        proposal.method, proposal.options, proposal.policy, parts, federation.weighting
    )
    return await close_vote(
        uow,
        proposal,
        now=now,
        early_reason=early_reason,
        by=by,
        by_name=by_name,
        result=result,
    )


async def provisional(uow: UnitOfWork, deps: Deps, proposal: Proposal) -> Result | None:
    """A federation's result if it closed now, from its parts' provisional tallies;
    None for another proposal."""
    federation = of(deps, proposal.community)
    if federation is None:
        return None
    parts: list[Part] = []
    for ref in await uow.federation.parts(proposal.id):
        part = await uow.proposals.get_by_id(ref.proposal)
        assert part is not None
        result = part.result if part.status is not Status.VOTING else await tally(uow, part)
        parts.append(Part(part.community, part.number, ref.roll, ref.weight, Status.CLOSED, result))
    return federate(
        proposal.method, proposal.options, proposal.policy.sealed(), parts, federation.weighting
    )


async def ballots_so_far(uow: UnitOfWork, proposal: Proposal) -> str:
    """How many have voted: on the proposal's own roll, or, for a federation proposal
    (whose roll is its member communities, not people), on each of its parts."""
    refs = await uow.federation.parts(proposal.id)
    if not refs:
        return f"Ballots so far: {await uow.ballots.count(proposal.id)} of {proposal.roll_size}."
    counts: list[str] = []
    for ref in refs:
        part = await uow.proposals.get_by_id(ref.proposal)
        assert part is not None
        cast = await uow.ballots.count(part.id)
        counts.append(f"{part.community} #{part.number} {cast} of {part.roll_size}")
    return "Ballots so far, in its member communities: " + "; ".join(counts) + "."


async def refuse_part(uow: UnitOfWork, proposal: Proposal, action: str) -> None:
    """A member community's part changes only with its federation proposal."""
    federated = await uow.federation.federation_of(proposal.id)
    if federated is not None:
        raise GovernanceError(
            f"#{proposal.number} is {proposal.community}'s part of federation proposal "
            f"{federated.community} #{federated.number}: it is {action} only with that "
            f"proposal, in {federated.community}."
        )


async def extend_parts(
    uow: UnitOfWork,
    deps: Deps,
    proposal: Proposal,
    *,
    now: datetime,
    reason: str,
    by_name: str,
) -> None:
    """The federation proposal's vote was extended: so are its parts."""
    federation = of(deps, proposal.community)
    if federation is None:
        return
    assert proposal.closes_at is not None
    for part, _, _ in await _parts(uow, proposal):
        if part.status is not Status.VOTING:
            continue
        part.extend(new_end=proposal.closes_at, now=now)
        if not await uow.proposals.update(part, expect=Status.VOTING):
            continue
        community = await uow.communities.get(part.community)
        assert community is not None
        await reminders.reschedule_votes(uow, part, community, now=now)
        await extend_parts(uow, deps, part, now=now, reason=reason, by_name=by_name)
        await log_and_announce(
            uow,
            part,
            at=now,
            kind="extended",
            actor=None,
            data={
                "closes_at": proposal.closes_at.isoformat(),
                "reason": reason,
                "federation_proposal": proposal.number,
            },
            event=VotingExtended(
                part.community,
                part.number,
                part.title,
                proposal.closes_at,
                community.timezone,
                f"{reason} (with {federation.id} #{proposal.number})",
                f"{by_name} in {federation.id}",
            ),
        )


async def end_parts(
    uow: UnitOfWork,
    deps: Deps,
    proposal: Proposal,
    *,
    now: datetime,
    kind: str,
    reason: str | None,
    by_name: str,
) -> None:
    """The federation proposal was cancelled or withdrawn: its open parts are cancelled."""
    federation = of(deps, proposal.community)
    if federation is None:
        return
    why = f"federation proposal {federation.id} #{proposal.number} was {kind}"
    if reason:
        why += f" ({reason})"
    for part, _, _ in await _parts(uow, proposal):
        if part.status is not Status.VOTING:
            continue
        part.move(Move.CANCEL)
        part.closed_at = now
        if not await uow.proposals.update(part, expect=Status.VOTING):
            continue
        await uow.due.drop(part.id)
        if part.policy.secret:
            await uow.ballots.destroy_key(part.id)
            await uow.ballots.seal_secret(part.id)
        await end_parts(uow, deps, part, now=now, kind="cancelled", reason=why, by_name=by_name)
        await log_and_announce(
            uow,
            part,
            at=now,
            kind="cancelled",
            actor=None,
            data={"reason": why},
            event=ProposalCancelled(
                part.community, part.number, part.title, why, f"{by_name} in {federation.id}"
            ),
        )


async def vote_hint(
    uow: UnitOfWork, deps: Deps, community: CommunityId, number: ProposalNumber, *, found: bool
) -> str | None:
    """Where to vote instead, for a ``!vote`` on a federation proposal (`found`), or on
    a number that is no proposal here but a federation proposal's whose part is here."""
    if found and community in deps.federations:
        proposal = await uow.proposals.get(community, number)
        assert proposal is not None
        refs = await uow.federation.parts(proposal.id)
        head = (
            f"#{number} is a federation proposal: its voters are its member communities, "
            "not people. "
        )
        if not refs:
            members = list_names(deps.federations[community].members)
            return head + f"When its vote opens, each of {members} votes on it in its own rooms."
        parts = ", ".join(f"{r.community} #{r.number}" for r in refs)
        return head + f"Vote in your own community, on its part: {parts}."
    if found or not any(community in f.members for f in deps.federations.values()):
        return None
    parts_here = await uow.federation.parts_numbered(community, number)
    if not parts_here:
        return None
    said = "; ".join(
        f"{federation}'s #{number} is voted on here as #{part} (!vote {part} …)"
        for federation, part in parts_here
    )
    return f"There is no proposal #{number} here. {said}."
