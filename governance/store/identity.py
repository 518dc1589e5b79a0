"""Linked accounts and erasure in the database (`governance.service.identity_ports`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from governance.domain.ballot import Choice
from governance.domain.events import EVENT_TYPES
from governance.domain.ids import AccountRef, CommunityId, MemberId, ProposalId
from governance.domain.lifecycle import Status
from governance.domain.linking import LinkCode
from governance.domain.members import Member, Role
from governance.domain.proposal import Proposal
from governance.domain.stories import Story
from governance.service.identity_ports import BallotRow
from governance.store import rows
from governance.store import tables as t
from governance.store.repositories import _Repo
from governance.store.stories import _story

NAMED_FIELDS = ("author", "by")
"""Event fields that hold a member's display name."""


class IdentityRepo(_Repo):
    # ------------------------------------------------------------------ codes

    async def add_code(
        self,
        community: CommunityId,
        member: MemberId,
        code_hash: str,
        *,
        at: datetime,
        expires_at: datetime,
        keep_after: datetime,
    ) -> None:
        c = t.link_codes.c
        await self.conn.execute(
            delete(t.link_codes).where(
                or_(and_(c.member_id == member, c.used_at.is_(None)), c.expires_at < keep_after)
            )
        )
        await self.conn.execute(
            insert(t.link_codes).values(
                community_id=community,
                member_id=member,
                code_hash=code_hash,
                issued_at=at,
                expires_at=expires_at,
            )
        )

    async def code(self, code_hash: str) -> LinkCode | None:
        row = (
            await self.conn.execute(
                select(t.link_codes).where(t.link_codes.c.code_hash == code_hash)
            )
        ).first()
        if row is None:
            return None
        return LinkCode(
            row.id,
            CommunityId(row.community_id),
            MemberId(row.member_id),
            row.issued_at,
            row.expires_at,
            row.used_at,
        )

    async def use_code(self, code: int, *, at: datetime) -> bool:
        done = await self.conn.execute(
            update(t.link_codes)
            .where(t.link_codes.c.id == code, t.link_codes.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(done.rowcount == 1)

    async def refused(self, account: AccountRef, *, at: datetime, keep_after: datetime) -> None:
        a = t.link_attempts.c
        await self.conn.execute(
            delete(t.link_attempts).where(
                a.platform == account.platform,
                a.account_id == account.account_id,
                a.at < keep_after,
            )
        )
        await self.conn.execute(
            insert(t.link_attempts).values(
                platform=account.platform, account_id=account.account_id, at=at
            )
        )

    async def tries(self, account: AccountRef, *, since: datetime) -> list[datetime]:
        a = t.link_attempts.c
        query = (
            select(a.at)
            .where(
                a.platform == account.platform,
                a.account_id == account.account_id,
                a.at > since,
            )
            .order_by(a.at)
        )
        return list(await self.conn.scalars(query))

    # ------------------------------------------------------------------ members

    async def attach(self, community: CommunityId, account: AccountRef, member: MemberId) -> None:
        a = t.accounts.c
        done = await self.conn.execute(
            update(t.accounts)
            .where(
                a.community_id == community,
                a.platform == account.platform,
                a.account_id == account.account_id,
            )
            .values(member_id=member)
        )
        if done.rowcount == 0:
            await self.conn.execute(
                insert(t.accounts).values(
                    community_id=community,
                    platform=account.platform,
                    account_id=account.account_id,
                    member_id=member,
                )
            )

    async def move_accounts(self, absorbed: MemberId, into: MemberId) -> None:
        await self.conn.execute(
            update(t.accounts).where(t.accounts.c.member_id == absorbed).values(member_id=into)
        )

    async def mark_merged(self, absorbed: MemberId, into: MemberId) -> None:
        await self.conn.execute(
            update(t.members)
            .where(t.members.c.id == absorbed)
            .values(merged_into=into, role=int(Role.OBSERVER))
        )
        await self.conn.execute(
            delete(t.link_codes).where(
                t.link_codes.c.member_id == absorbed, t.link_codes.c.used_at.is_(None)
            )
        )

    async def absorbed(self, member: MemberId) -> list[Member]:
        query = select(t.members).where(t.members.c.merged_into == member).order_by(t.members.c.id)
        return [rows.member(r) for r in await self.conn.execute(query)]

    async def split(
        self, community: CommunityId, account: AccountRef, display_name: str, *, at: datetime
    ) -> Member:
        new_id = (
            await self.conn.execute(
                insert(t.members)
                .values(
                    community_id=community,
                    display_name=display_name,
                    role=int(Role.MEMBER),
                    is_bot=False,
                    joined_at=at,
                )
                .returning(t.members.c.id)
            )
        ).scalar_one()
        await self.attach(community, account, MemberId(new_id))
        return Member(MemberId(new_id), community, display_name, Role.MEMBER)

    async def erase(self, member: MemberId, display_name: str, *, at: datetime) -> list[AccountRef]:
        a = t.accounts.c
        accounts = [
            AccountRef(r.platform, r.account_id)
            for r in await self.conn.execute(
                select(a.platform, a.account_id).where(a.member_id == member)
            )
        ]
        await self.conn.execute(
            update(t.members)
            .where(t.members.c.id == member)
            .values(
                display_name=display_name,
                role=int(Role.OBSERVER),
                stakeholder_class=None,
                erased_at=at,
            )
        )
        await self.conn.execute(delete(t.accounts).where(a.member_id == member))
        await self.conn.execute(delete(t.link_codes).where(t.link_codes.c.member_id == member))
        for account in accounts:
            # Unless another community still knows the account (an account is a
            # community's member; the platform's direct room is the person's).
            elsewhere = await self.conn.scalar(
                select(func.count())
                .select_from(t.accounts)
                .where(a.platform == account.platform, a.account_id == account.account_id)
            )
            await self.conn.execute(
                delete(t.link_attempts).where(
                    t.link_attempts.c.platform == account.platform,
                    t.link_attempts.c.account_id == account.account_id,
                )
            )
            channel = f"dm:{account.platform}:{account.account_id}"
            await self.conn.execute(
                delete(t.deliveries).where(
                    t.deliveries.c.channel == channel, t.deliveries.c.delivered_at.is_(None)
                )
            )
            if not elsewhere:
                await self.conn.execute(
                    delete(t.direct_rooms).where(
                        t.direct_rooms.c.platform == account.platform,
                        t.direct_rooms.c.account_id == account.account_id,
                    )
                )
        return accounts

    # ------------------------------------------------------------------ ballots and rolls

    async def open_votes(self, community: CommunityId) -> list[Proposal]:
        query = (
            select(t.proposals)
            .where(
                t.proposals.c.community_id == community,
                t.proposals.c.status == Status.VOTING.value,
            )
            .order_by(t.proposals.c.number)
        )
        return [rows.proposal(r) for r in await self.conn.execute(self._lock(query))]

    def _lock(self, query: Any) -> Any:
        return query.with_for_update() if self.postgres else query

    async def ballots(self, proposal: ProposalId, keys: Sequence[str]) -> dict[str, BallotRow]:
        b = t.ballots.c
        query = select(b.id, b.voter_key, b.choice, b.cast_at, b.stakeholder_class).where(
            b.proposal_id == proposal, b.voter_key.in_(list(keys))
        )
        return {
            r.voter_key: BallotRow(
                r.id, r.voter_key, Choice.from_json(r.choice), r.cast_at, r.stakeholder_class
            )
            for r in await self.conn.execute(query)
        }

    async def rekey(
        self,
        proposal: ProposalId,
        old_key: str,
        new_key: str,
        member: MemberId | None,
        stakeholder_class: str | None,
    ) -> None:
        b = t.ballots.c
        await self.conn.execute(
            update(t.ballots)
            .where(b.proposal_id == proposal, b.voter_key == old_key)
            .values(voter_key=new_key, member_id=member, stakeholder_class=stakeholder_class)
        )

    async def drop_ballot(self, proposal: ProposalId, key: str) -> None:
        b = t.ballots.c
        await self.conn.execute(
            delete(t.ballots).where(b.proposal_id == proposal, b.voter_key == key)
        )

    async def move_roll(self, proposal: ProposalId, absorbed: MemberId, into: MemberId) -> None:
        r = t.roll.c
        await self.conn.execute(
            update(t.roll)
            .where(r.proposal_id == proposal, r.member_id == absorbed)
            .values(member_id=into)
        )

    async def drop_from_roll(self, proposal: ProposalId, member: MemberId) -> None:
        r = t.roll.c
        done = await self.conn.execute(
            delete(t.roll).where(r.proposal_id == proposal, r.member_id == member)
        )
        if done.rowcount:
            await self.conn.execute(
                update(t.proposals)
                .where(t.proposals.c.id == proposal)
                .values(roll_size=t.proposals.c.roll_size - done.rowcount)
            )

    async def move_history(
        self, proposals: Sequence[ProposalId], absorbed: MemberId, into: MemberId
    ) -> None:
        if not proposals:
            return
        h = t.ballot_history.c
        await self.conn.execute(
            update(t.ballot_history)
            .where(h.proposal_id.in_(list(proposals)), h.member_id == absorbed)
            .values(member_id=into)
        )

    # ------------------------------------------------------------------ stories

    async def stories_by(self, community: CommunityId, member: MemberId, tag: str) -> list[Story]:
        s = t.stories.c
        query = (
            select(t.stories)
            .where(s.community_id == community, or_(s.author_id == member, s.author_tag == tag))
            .order_by(s.number)
        )
        return [_story(r) for r in await self.conn.execute(query)]

    async def move_stories(
        self, community: CommunityId, absorbed: MemberId, into: MemberId, tags: tuple[str, str]
    ) -> int:
        s = t.stories.c
        by_name = await self.conn.execute(
            update(t.stories)
            .where(s.community_id == community, s.author_id == absorbed)
            .values(author_id=into)
        )
        anonymous = await self.conn.execute(
            update(t.stories)
            .where(s.community_id == community, s.author_tag == tags[0])
            .values(author_tag=tags[1])
        )
        return int(by_name.rowcount or 0) + int(anonymous.rowcount or 0)

    async def scrub_name(self, community: CommunityId, name: str, replacement: str) -> int:
        o = t.outbox.c
        changed = 0
        kinds = sorted(
            name
            for name, cls in EVENT_TYPES.items()
            if any(f.name in NAMED_FIELDS for f in fields(cls))
        )
        query = (
            select(o.id, o.payload)
            .where(o.community_id == community, o.kind.in_(kinds))
            .order_by(o.id)
        )
        for row in (await self.conn.execute(query)).all():
            payload = dict(row.payload)
            hits = [f for f in NAMED_FIELDS if payload.get(f) == name]
            if not hits:
                continue
            for field in hits:
                payload[field] = replacement
            await self.conn.execute(update(t.outbox).where(o.id == row.id).values(payload=payload))
            changed += 1
        return changed
