"""Lookups every handler shares, each failing with a message the member can act on."""

from __future__ import annotations

from governance.domain.commands import Command
from governance.domain.errors import GovernanceError, NotAllowed, NotFound
from governance.domain.ids import CommunityId, ProposalNumber
from governance.domain.members import Community, Member
from governance.domain.proposal import Proposal
from governance.service.ports import UnitOfWork


def community_id(cmd: Command) -> CommunityId:
    if cmd.ctx.community is None:
        raise GovernanceError("This room is not bound to a community; an admin can !bind it.")
    return cmd.ctx.community


async def community(uow: UnitOfWork, cmd: Command) -> Community:
    found = await uow.communities.get(community_id(cmd))
    if found is None:
        raise NotFound(f"The community “{cmd.ctx.community}” is not configured.")
    return found


async def actor(uow: UnitOfWork, cmd: Command) -> Member:
    member = await uow.members.by_account(community_id(cmd), cmd.ctx.actor)
    if member is None:
        raise NotAllowed(f"You are not a member of {cmd.ctx.community} yet.")
    return member


def missing(number: ProposalNumber) -> NotFound:
    return NotFound(f"There is no proposal #{number} here; !proposals lists them.")


async def proposal(
    uow: UnitOfWork, cmd: Command, number: ProposalNumber, *, lock: bool = False
) -> Proposal:
    found = await uow.proposals.get(community_id(cmd), number, lock=lock)
    if found is None:
        raise missing(number)
    return found


async def member_named(uow: UnitOfWork, cmd: Command, ref: str) -> Member:
    """A member by display name (case-insensitive) or account id; ``@name`` works too."""
    found = await uow.members.find(community_id(cmd), ref)
    if not found and ref.startswith("@"):
        found = await uow.members.find(community_id(cmd), ref[1:])
    if not found:
        raise NotFound(f"No member called “{ref[:60]}” here.")
    if len(found) > 1:
        raise GovernanceError(f"“{ref[:60]}” names {len(found)} members; use their account id.")
    return found[0]
