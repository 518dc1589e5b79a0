"""Federation proposals' parts: the vote each opened in its member communities."""

from __future__ import annotations

from sqlalchemy import insert, select

from governance.domain.ids import CommunityId, ProposalId, ProposalNumber
from governance.service.ports import FederatedIn, PartRef
from governance.store import tables as t
from governance.store.repositories import _Repo

F = t.federation_parts


class FederationRepo(_Repo):
    async def add_part(
        self,
        federation: ProposalId,
        community: CommunityId,
        part: ProposalId,
        *,
        roll: int,
        weight: int,
    ) -> None:
        await self.conn.execute(
            insert(F).values(
                federation_proposal_id=federation,
                community_id=community,
                part_proposal_id=part,
                roll=roll,
                weight=weight,
            )
        )

    async def parts(self, federation: ProposalId) -> list[PartRef]:
        query = (
            select(F, t.proposals.c.number)
            .join(t.proposals, t.proposals.c.id == F.c.part_proposal_id)
            .where(F.c.federation_proposal_id == federation)
            .order_by(F.c.community_id)
        )
        return [
            PartRef(
                CommunityId(row.community_id),
                ProposalId(row.part_proposal_id),
                ProposalNumber(row.number),
                row.roll,
                row.weight,
            )
            for row in await self.conn.execute(query)
        ]

    async def federation_of(self, part: ProposalId) -> FederatedIn | None:
        query = (
            select(t.proposals.c.id, t.proposals.c.community_id, t.proposals.c.number)
            .join(F, F.c.federation_proposal_id == t.proposals.c.id)
            .where(F.c.part_proposal_id == part)
        )
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return FederatedIn(
            ProposalId(row.id), CommunityId(row.community_id), ProposalNumber(row.number)
        )

    async def parts_numbered(
        self, community: CommunityId, number: ProposalNumber
    ) -> list[tuple[CommunityId, ProposalNumber]]:
        federation = t.proposals.alias("federation")
        part = t.proposals.alias("part")
        query = (
            select(federation.c.community_id, part.c.number)
            .select_from(F)
            .join(federation, federation.c.id == F.c.federation_proposal_id)
            .join(part, part.c.id == F.c.part_proposal_id)
            .where(F.c.community_id == community, federation.c.number == number)
            .order_by(federation.c.community_id)
        )
        return [
            (CommunityId(row.community_id), ProposalNumber(row.number))
            for row in await self.conn.execute(query)
        ]
