"""Turning rows into domain objects."""

from __future__ import annotations

from typing import Any

from governance.domain.ids import CommunityId, MemberId, ProposalId, ProposalNumber
from governance.domain.lifecycle import ClosedAs, Status
from governance.domain.members import Member, Role
from governance.domain.policy import Policy
from governance.domain.proposal import Proposal
from governance.domain.result import Result


def member(row: Any) -> Member:
    return Member(
        id=MemberId(row.id),
        community=CommunityId(row.community_id),
        display_name=row.display_name,
        role=Role(row.role),
        stakeholder_class=row.stakeholder_class,
        is_bot=bool(row.is_bot),
    )


def proposal(row: Any) -> Proposal:
    return Proposal(
        id=ProposalId(row.id),
        community=CommunityId(row.community_id),
        number=ProposalNumber(row.number),
        title=row.title,
        body=row.body,
        author=MemberId(row.author_id),
        method_name=row.method,
        options=tuple(row.options),
        policy=Policy.from_json(row.policy),
        status=Status(row.status),
        created_at=row.created_at,
        vote_length=row.vote_length,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        closed_as=None if row.closed_as is None else ClosedAs(row.closed_as),
        roll_size=row.roll_size,
        result=None if row.result is None else Result.from_json(row.result),
        encrypted_origin=row.encrypted_origin,
    )


def proposal_values(p: Proposal) -> dict[str, Any]:
    return {
        "community_id": p.community,
        "number": p.number,
        "title": p.title,
        "body": p.body,
        "author_id": p.author,
        "method": p.method_name,
        "options": list(p.options),
        "policy": p.policy.to_json(reveal=True),
        "status": p.status.value,
        "closed_as": None if p.closed_as is None else p.closed_as.value,
        "vote_length": p.vote_length,
        "created_at": p.created_at,
        "opens_at": p.opens_at,
        "opened_at": p.opened_at,
        "closes_at": p.closes_at,
        "closed_at": p.closed_at,
        "roll_size": p.roll_size,
        "result": None if p.result is None else p.result.to_json(),
        "encrypted_origin": p.encrypted_origin,
    }
