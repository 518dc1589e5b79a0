"""Repositories over one connection and transaction, with batched statements for the
hot paths (a vote group costs the same handful of statements whatever its size)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    and_,
    any_,
    bindparam,
    column,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from governance.domain.ballot import Choice
from governance.domain.decision_log import GENESIS, LogEntry, chain_hash
from governance.domain.deliberation import Summary, ThreadBinding, Version
from governance.domain.events import EVENT_TYPES, Event
from governance.domain.ids import (
    AccountRef,
    CommunityId,
    MemberId,
    PromptId,
    ProposalId,
    ProposalNumber,
    RoomRef,
)
from governance.domain.lifecycle import Status
from governance.domain.members import Community, Member, Role
from governance.domain.methods import ClassBallots
from governance.domain.proposal import Proposal
from governance.service.ports import (
    BallotKey,
    BallotWrite,
    Channel,
    DeadLetter,
    Delivery,
    DueItem,
    OutboxRow,
)
from governance.store import rows
from governance.store import tables as t

CHUNK = 400
"""Rows per IN (…) list: well under SQLite's and asyncpg's parameter limits."""


T = TypeVar("T")


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


class _Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    async def _serialise(self, community: CommunityId) -> None:
        """Take the community's sequence lock until commit (PostgreSQL; SQLite's
        transactions already write one at a time). The decision log's next entry and
        the next proposal number are read-then-insert: without it, two instances (or
        two commands) pick the same number and one fails on the unique key."""
        if self.postgres:
            key = int.from_bytes(
                hashlib.sha256(community.encode()).digest()[:8], "big", signed=True
            )
            await self.conn.execute(select(func.pg_advisory_xact_lock(key)))

    def _in(self, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
        """``column IN (…)``; on PostgreSQL ``= ANY(array)``, one statement for any count
        (an IN list of each length is a statement of its own to parse and plan)."""
        if self.postgres:
            array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
            return column == any_(array)  # type: ignore[no-any-return]
        return column.in_(values)  # type: ignore[no-any-return]

    async def _pairs(
        self, a: Any, b: Any, pairs: Sequence[tuple[Any, Any]], *extra: Any
    ) -> list[Any]:
        """Rows whose (a, b) is one of `pairs`, found by joining the pairs as an inline
        table so the index on (a, b) is used: on PostgreSQL two arrays through
        ``unnest``, on SQLite one JSON array through ``json_each``. Either way one
        statement text whatever the count, and a plan that stays good as the table
        grows. (Row-value ``IN`` lists scanned whole tables.)"""
        found: list[Any] = []
        if not pairs:
            return found
        for chunk in _chunks(sorted(set(pairs))):
            inline: Any
            on: ColumnElement[bool]
            if self.postgres:
                inline = (
                    func.unnest(
                        bindparam(None, [x for x, _ in chunk], type_=postgresql.ARRAY(a.type)),
                        bindparam(None, [y for _, y in chunk], type_=postgresql.ARRAY(b.type)),
                    )
                    .table_valued(column("a", a.type), column("b", b.type))
                    .render_derived(name="wanted", with_types=False)
                )
                on = and_(a == inline.c.a, b == inline.c.b)
            else:
                # SQLite: the pairs as one JSON parameter, read by json_each.
                inline = (
                    func.json_each(bindparam(None, json.dumps(list(chunk))))
                    .table_valued("value")
                    .alias("wanted")
                )
                on = and_(
                    a == func.json_extract(inline.c.value, "$[0]"),
                    b == func.json_extract(inline.c.value, "$[1]"),
                )
            query = select(a, b, *extra).join_from(a.table, inline, on)
            found += list(await self.conn.execute(query))
        return found


class CommunityRepo(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._known: dict[CommunityId, Community] = {}
        """Read once per unit of work: a burst of closes asks for the same few."""

    async def get(self, community: CommunityId) -> Community | None:
        known = self._known.get(community)
        if known is not None:
            return known
        row = (
            await self.conn.execute(select(t.communities).where(t.communities.c.id == community))
        ).first()
        if row is None:
            return None
        found = Community(
            CommunityId(row.id),
            row.timezone,
            row.default_vote,
            row.quorum,
            frozenset(row.admins),
            tuple(row.bridge_patterns),
            row.weights,
            row.class_quorum,
            row.max_vote,
            tuple(r for r in row.reminders.split(",") if r),
            row.welcome_prompt,
            row.outcome_prompt_after,
        )
        self._known[found.id] = found
        return found

    async def names(self) -> list[str]:
        return list(
            await self.conn.scalars(select(t.communities.c.id).order_by(t.communities.c.id))
        )

    async def upsert(self, community: Community) -> None:
        values = {
            "timezone": community.timezone,
            "default_vote": community.default_vote,
            "quorum": community.quorum,
            "admins": sorted(community.admins),
            "bridge_patterns": list(community.bridge_patterns),
            "weights": community.weights,
            "class_quorum": community.class_quorum,
            "max_vote": community.max_vote,
            "reminders": ",".join(community.reminders),
            "welcome_prompt": community.welcome_prompt,
            "outcome_prompt_after": community.outcome_prompt_after,
        }
        self._known.pop(community.id, None)
        done = await self.conn.execute(
            update(t.communities).where(t.communities.c.id == community.id).values(**values)
        )
        if done.rowcount == 0:
            await self.conn.execute(insert(t.communities).values(id=community.id, **values))


def _present() -> tuple[ColumnElement[bool], ...]:
    """Members who are still themselves: neither merged into another (linked accounts)
    nor erased."""
    return (t.members.c.merged_into.is_(None), t.members.c.erased_at.is_(None))


class MemberRepo(_Repo):
    async def by_account(self, community: CommunityId, account: AccountRef) -> Member | None:
        return (await self.by_accounts(community, [account])).get(account)

    async def by_accounts(
        self, community: CommunityId, accounts: Sequence[AccountRef]
    ) -> dict[AccountRef, Member]:
        found: dict[AccountRef, Member] = {}
        by_platform: dict[str, list[str]] = {}
        for account in accounts:
            by_platform.setdefault(account.platform, []).append(account.account_id)
        for platform, ids in by_platform.items():
            for chunk in _chunks(ids):
                query = (
                    select(t.members, t.accounts.c.account_id)
                    .join(t.accounts, t.accounts.c.member_id == t.members.c.id)
                    .where(
                        t.accounts.c.community_id == community,
                        t.accounts.c.platform == platform,
                        self._in(t.accounts.c.account_id, chunk),
                    )
                )
                for row in await self.conn.execute(query):
                    found[AccountRef(platform, row.account_id)] = rows.member(row)
        return found

    async def find(self, community: CommunityId, ref: str) -> list[Member]:
        by_account = select(t.accounts.c.member_id).where(
            t.accounts.c.community_id == community,
            or_(
                t.accounts.c.account_id == ref,
                (t.accounts.c.platform + ":" + t.accounts.c.account_id) == ref,
            ),
        )
        query = select(t.members).where(
            t.members.c.community_id == community,
            or_(
                func.lower(t.members.c.display_name) == ref.lower(), t.members.c.id.in_(by_account)
            ),
            *_present(),
        )
        return [rows.member(r) for r in await self.conn.execute(query)]

    async def get(self, member: MemberId) -> Member | None:
        row = (await self.conn.execute(select(t.members).where(t.members.c.id == member))).first()
        return None if row is None else rows.member(row)

    async def add(
        self,
        community: CommunityId,
        account: AccountRef,
        display_name: str,
        role: Role,
        is_bot: bool,
    ) -> Member:
        member_id = (
            await self.conn.execute(
                insert(t.members)
                .values(
                    community_id=community,
                    display_name=display_name,
                    role=int(role),
                    is_bot=is_bot,
                    joined_at=func.current_timestamp(),
                )
                .returning(t.members.c.id)
            )
        ).scalar_one()
        await self.conn.execute(
            insert(t.accounts).values(
                community_id=community,
                platform=account.platform,
                account_id=account.account_id,
                member_id=member_id,
            )
        )
        return Member(MemberId(member_id), community, display_name, role, None, is_bot)

    async def update(self, member: Member) -> None:
        await self.conn.execute(
            update(t.members)
            .where(t.members.c.id == member.id)
            .values(
                display_name=member.display_name,
                role=int(member.role),
                stakeholder_class=member.stakeholder_class,
                is_bot=member.is_bot,
            )
        )

    async def voters(self, community: CommunityId) -> list[MemberId]:
        query = (
            select(t.members.c.id)
            .where(
                t.members.c.community_id == community,
                t.members.c.role >= int(Role.MEMBER),
                t.members.c.is_bot.is_(False),
                *_present(),
            )
            .order_by(t.members.c.id)
        )
        return [MemberId(i) for i in (await self.conn.scalars(query))]

    async def classes(self, community: CommunityId) -> set[str]:
        query = (
            select(t.members.c.stakeholder_class)
            .where(
                t.members.c.community_id == community,
                t.members.c.stakeholder_class.is_not(None),
                *_present(),
            )
            .distinct()
        )
        return {str(name) for name in await self.conn.scalars(query)}

    async def communities_of(self, account: AccountRef) -> list[CommunityId]:
        query = (
            select(t.accounts.c.community_id)
            .where(
                t.accounts.c.platform == account.platform,
                t.accounts.c.account_id == account.account_id,
            )
            .order_by(t.accounts.c.community_id)
        )
        return [CommunityId(c) for c in await self.conn.scalars(query)]

    async def accounts(self, members: Sequence[MemberId]) -> dict[MemberId, list[AccountRef]]:
        found: dict[MemberId, list[AccountRef]] = {}
        for chunk in _chunks(members):
            query = (
                select(t.accounts.c.member_id, t.accounts.c.platform, t.accounts.c.account_id)
                .where(self._in(t.accounts.c.member_id, chunk))
                .order_by(t.accounts.c.id)
            )
            for row in await self.conn.execute(query):
                found.setdefault(MemberId(row.member_id), []).append(
                    AccountRef(row.platform, row.account_id)
                )
        return found

    async def count(self, community: CommunityId, role: Role | None = None) -> int:
        query = (
            select(func.count())
            .select_from(t.members)
            .where(t.members.c.community_id == community, *_present())
        )
        if role is not None:
            query = query.where(t.members.c.role == int(role))
        return int(await self.conn.scalar(query) or 0)


class BindingRepo(_Repo):
    async def community_of(self, room: RoomRef) -> CommunityId | None:
        value = await self.conn.scalar(
            select(t.bindings.c.community_id).where(
                t.bindings.c.platform == room.platform, t.bindings.c.room_id == room.room_id
            )
        )
        return None if value is None else CommunityId(value)

    async def bind(self, room: RoomRef, community: CommunityId, *, encrypted: bool = False) -> None:
        await self.conn.execute(
            insert(t.bindings).values(
                platform=room.platform,
                room_id=room.room_id,
                community_id=community,
                bound_at=func.current_timestamp(),
                encrypted=encrypted,
            )
        )

    def _is(self, room: RoomRef) -> Any:
        return (t.bindings.c.platform == room.platform) & (t.bindings.c.room_id == room.room_id)

    async def is_encrypted(self, room: RoomRef) -> bool:
        return bool(await self.conn.scalar(select(t.bindings.c.encrypted).where(self._is(room))))

    async def mark_encrypted(self, room: RoomRef) -> bool:
        """Record that a bound room is encrypted now; False when it was known already or
        is not bound. (Encryption is never turned off again.)"""
        done = await self.conn.execute(
            update(t.bindings)
            .where(self._is(room), t.bindings.c.encrypted.is_(False))
            .values(encrypted=True)
        )
        return bool(done.rowcount)

    async def encrypted_rooms(self, community: CommunityId) -> list[RoomRef]:
        query = (
            select(t.bindings.c.platform, t.bindings.c.room_id)
            .where(t.bindings.c.community_id == community, t.bindings.c.encrypted.is_(True))
            .order_by(t.bindings.c.platform, t.bindings.c.room_id)
        )
        return [RoomRef(r.platform, r.room_id) for r in await self.conn.execute(query)]

    async def unbind(self, room: RoomRef) -> None:
        await self.conn.execute(
            delete(t.bindings).where(
                t.bindings.c.platform == room.platform, t.bindings.c.room_id == room.room_id
            )
        )

    async def rooms(self, community: CommunityId) -> list[RoomRef]:
        query = (
            select(t.bindings.c.platform, t.bindings.c.room_id)
            .where(t.bindings.c.community_id == community)
            .order_by(t.bindings.c.platform, t.bindings.c.room_id)
        )
        return [RoomRef(r.platform, r.room_id) for r in await self.conn.execute(query)]

    async def on_platform(self, platform: str) -> list[tuple[RoomRef, CommunityId]]:
        query = (
            select(t.bindings.c.room_id, t.bindings.c.community_id)
            .where(t.bindings.c.platform == platform)
            .order_by(t.bindings.c.room_id)
        )
        return [
            (RoomRef(platform, r.room_id), CommunityId(r.community_id))
            for r in await self.conn.execute(query)
        ]


class ProposalRepo(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._prefetched: dict[ProposalId, Proposal] = {}
        self.write_behind = False
        self._held: dict[ProposalId, Status] = {}
        """Status of each prefetched row as this transaction left it. The rows are
        locked (PostgreSQL FOR UPDATE; SQLite's write lock), so no one else changes them."""
        self._updates: list[dict[str, Any]] = []

    async def prefetch(self, proposals: Sequence[ProposalId]) -> None:
        """Read and lock these proposals in one statement (in id order, so two
        instances lock in the same order); the next ``get_by_id(p, lock=True)`` of
        each in this transaction is served from what was read, once."""
        await self.flush()
        for chunk in _chunks(sorted(set(proposals))):
            query = (
                select(t.proposals)
                .where(self._in(t.proposals.c.id, chunk))
                .order_by(t.proposals.c.id)
            )
            for row in await self.conn.execute(self._locked(query)):
                proposal = rows.proposal(row)
                self._prefetched[proposal.id] = proposal
                self._held[proposal.id] = proposal.status

    async def add(self, proposal: Proposal) -> Proposal:
        await self._serialise(proposal.community)
        last = await self.conn.scalar(
            select(func.max(t.proposals.c.number)).where(
                t.proposals.c.community_id == proposal.community
            )
        )
        number = ProposalNumber((last or 0) + 1)
        values = rows.proposal_values(replace(proposal, number=number))
        new_id = (
            await self.conn.execute(
                insert(t.proposals).values(**values).returning(t.proposals.c.id)
            )
        ).scalar_one()
        proposal.id, proposal.number = ProposalId(new_id), number
        return proposal

    def _locked(self, query: Any, *, share: bool = False) -> Any:
        # SQLite has no row locks: its transactions begin IMMEDIATE instead.
        return query.with_for_update(read=share) if self.postgres else query

    async def get(
        self, community: CommunityId, number: ProposalNumber, *, lock: bool = False
    ) -> Proposal | None:
        await self.flush()
        query = select(t.proposals).where(
            t.proposals.c.community_id == community, t.proposals.c.number == number
        )
        row = (await self.conn.execute(self._locked(query) if lock else query)).first()
        return None if row is None else rows.proposal(row)

    async def get_by_id(self, proposal: ProposalId, *, lock: bool = False) -> Proposal | None:
        found = self._prefetched.pop(proposal, None)
        if found is not None:
            return found  # read (and locked) earlier in this transaction, not yet changed
        await self.flush()
        query = select(t.proposals).where(t.proposals.c.id == proposal)
        row = (await self.conn.execute(self._locked(query) if lock else query)).first()
        return None if row is None else rows.proposal(row)

    async def get_many(
        self, community: CommunityId, numbers: Sequence[ProposalNumber]
    ) -> dict[ProposalNumber, Proposal]:
        await self.flush()
        found: dict[ProposalNumber, Proposal] = {}
        for chunk in _chunks(list(numbers)):
            query = select(t.proposals).where(
                t.proposals.c.community_id == community, t.proposals.c.number.in_(chunk)
            )
            for row in await self.conn.execute(self._locked(query, share=True)):
                found[ProposalNumber(row.number)] = rows.proposal(row)
        return found

    async def update(self, proposal: Proposal, *, expect: Status) -> bool:
        self._prefetched.pop(proposal.id, None)
        values = rows.proposal_values(proposal)
        held = self._held.get(proposal.id)
        if self.write_behind and held is not None:
            # Locked since the prefetch: the stored status is known without asking.
            if held is not expect:
                return False
            self._held[proposal.id] = proposal.status
            self._updates.append({"_id": proposal.id, "_expect": expect.value, **values})
            return True
        await self.flush()
        self._held.pop(proposal.id, None)
        done = await self.conn.execute(
            update(t.proposals)
            .where(t.proposals.c.id == proposal.id, t.proposals.c.status == expect.value)
            .values(**values)
        )
        return bool(done.rowcount == 1)

    async def flush(self) -> None:
        """Write the conditional updates held back (write-behind), in one statement."""
        if not self._updates:
            return
        pending, self._updates = self._updates, []
        statement = (
            update(t.proposals)
            .where(
                t.proposals.c.id == bindparam("_id"),
                t.proposals.c.status == bindparam("_expect"),
            )
            .values({name: bindparam(name) for name in pending[0] if not name.startswith("_")})
        )
        done = await self.conn.execute(statement, pending)
        if self.conn.dialect.supports_sane_multi_rowcount and done.rowcount != len(pending):
            # The rows were locked: this is a bug, not a race. Keep nothing of it.
            raise RuntimeError(f"{done.rowcount} of {len(pending)} held-back updates applied")

    async def recent(self, community: CommunityId, *, limit: int) -> list[Proposal]:
        await self.flush()
        query = (
            select(t.proposals)
            .where(t.proposals.c.community_id == community)
            .order_by(t.proposals.c.number.desc())
            .limit(limit)
        )
        return [rows.proposal(r) for r in await self.conn.execute(query)]

    async def add_outcome(
        self, proposal: ProposalId, statement: str, by: MemberId, at: datetime
    ) -> None:
        await self.conn.execute(
            insert(t.outcomes).values(
                proposal_id=proposal, statement=statement, recorded_by=by, recorded_at=at
            )
        )

    async def outcome(self, proposal: ProposalId) -> str | None:
        value = await self.conn.scalar(
            select(t.outcomes.c.statement)
            .where(t.outcomes.c.proposal_id == proposal)
            .order_by(t.outcomes.c.id.desc())
            .limit(1)
        )
        return None if value is None else str(value)

    # Deliberation: versions of the text, and summaries.

    async def add_version(self, proposal: ProposalId, version: Version) -> None:
        await self.conn.execute(
            insert(t.proposal_versions).values(
                proposal_id=proposal,
                version=version.number,
                title=version.title,
                body=version.body,
                options=list(version.options),
                edited_by=version.edited_by,
                edited_at=version.edited_at,
            )
        )

    async def versions(self, proposal: ProposalId) -> list[Version]:
        query = (
            select(t.proposal_versions)
            .where(t.proposal_versions.c.proposal_id == proposal)
            .order_by(t.proposal_versions.c.version)
        )
        return [
            Version(
                r.version,
                r.title,
                r.body,
                tuple(r.options),
                MemberId(r.edited_by),
                r.edited_at,
            )
            for r in await self.conn.execute(query)
        ]

    async def add_summary(self, proposal: ProposalId, summary: Summary) -> None:
        await self.conn.execute(
            insert(t.summaries).values(
                proposal_id=proposal,
                text=summary.text,
                written_by=summary.by,
                written_at=summary.at,
            )
        )

    async def summaries(self, proposal: ProposalId) -> list[Summary]:
        query = (
            select(t.summaries)
            .where(t.summaries.c.proposal_id == proposal)
            .order_by(t.summaries.c.id)
        )
        return [
            Summary(r.text, MemberId(r.written_by), r.written_at)
            for r in await self.conn.execute(query)
        ]


class ThreadRepo(_Repo):
    async def record(
        self, proposal: ProposalId, room: RoomRef, thread_id: str, *, at: datetime
    ) -> bool:
        """Bind the proposal's thread in `room`; False if it was bound to it already."""
        where = (
            t.threads.c.proposal_id == proposal,
            t.threads.c.platform == room.platform,
            t.threads.c.room_id == room.room_id,
        )
        known = await self.conn.scalar(select(t.threads.c.thread_id).where(*where))
        if known == thread_id:
            return False
        if known is None:
            await self.conn.execute(
                insert(t.threads).values(
                    proposal_id=proposal,
                    platform=room.platform,
                    room_id=room.room_id,
                    thread_id=thread_id,
                    recorded_at=at,
                )
            )
        else:
            await self.conn.execute(
                update(t.threads).where(*where).values(thread_id=thread_id, recorded_at=at)
            )
        return True

    async def of(self, proposal: ProposalId) -> list[ThreadBinding]:
        query = (
            select(t.threads)
            .where(t.threads.c.proposal_id == proposal)
            .order_by(t.threads.c.platform, t.threads.c.room_id)
        )
        return [
            ThreadBinding(RoomRef(r.platform, r.room_id), r.thread_id, r.recorded_at)
            for r in await self.conn.execute(query)
        ]


class BallotRepo(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._choices: dict[ProposalId, list[Choice]] = {}
        self.keys_destroyed = False

    async def prefetch_choices(self, proposals: Sequence[ProposalId]) -> None:
        """Read the ballots of these proposals in one statement; the next
        ``choices(p)`` of each in this transaction is served from it, once."""
        found: dict[ProposalId, list[Choice]] = {p: [] for p in proposals}
        for chunk in _chunks(sorted(found)):
            query = select(t.ballots.c.proposal_id, t.ballots.c.choice).where(
                self._in(t.ballots.c.proposal_id, chunk)
            )
            for pid, choice in await self.conn.execute(query):
                found[ProposalId(pid)].append(Choice.from_json(choice))
        self._choices.update(found)

    async def freeze_roll(self, proposal: ProposalId, members: Sequence[MemberId]) -> None:
        if members:
            await self.conn.execute(
                insert(t.roll), [{"proposal_id": proposal, "member_id": m} for m in members]
            )
            their_class = (
                select(t.members.c.stakeholder_class)
                .where(t.members.c.id == t.roll.c.member_id)
                .scalar_subquery()
            )
            await self.conn.execute(
                update(t.roll)
                .where(t.roll.c.proposal_id == proposal)
                .values(stakeholder_class=their_class)
            )

    async def roll(self, proposal: ProposalId) -> list[MemberId]:
        query = (
            select(t.roll.c.member_id)
            .where(t.roll.c.proposal_id == proposal)
            .order_by(t.roll.c.member_id)
        )
        return [MemberId(m) for m in await self.conn.scalars(query)]

    async def on_roll(
        self, pairs: Sequence[tuple[ProposalId, MemberId]]
    ) -> dict[tuple[ProposalId, MemberId], str | None]:
        found = await self._pairs(
            t.roll.c.proposal_id, t.roll.c.member_id, pairs, t.roll.c.stakeholder_class
        )
        return {(ProposalId(p), MemberId(m)): c for p, m, c in found}

    async def current(self, keys: Sequence[BallotKey]) -> dict[BallotKey, Choice]:
        found = await self._pairs(
            t.ballots.c.proposal_id, t.ballots.c.voter_key, keys, t.ballots.c.choice
        )
        return {(ProposalId(p), key): Choice.from_json(choice) for p, key, choice in found}

    async def write(self, writes: Sequence[BallotWrite], *, history: bool) -> None:
        """The group's final state per voter is written; the history keeps every step."""
        self._choices.clear()
        final: dict[BallotKey, BallotWrite] = {}
        existed: dict[BallotKey, bool] = {}
        for w in writes:
            key = (w.proposal, w.voter_key)
            final[key] = w
            existed.setdefault(key, w.existed)
        inserts = [w for k, w in final.items() if w.choice is not None and not existed[k]]
        changes = [w for k, w in final.items() if w.choice is not None and existed[k]]
        removals = [w for k, w in final.items() if w.choice is None and existed[k]]
        if inserts:
            await self.conn.execute(
                insert(t.ballots),
                [
                    {
                        "proposal_id": w.proposal,
                        "voter_key": w.voter_key,
                        "member_id": w.member,
                        "choice": w.choice.to_json() if w.choice else None,
                        "cast_at": w.at,
                        "stakeholder_class": w.stakeholder_class,
                    }
                    for w in inserts
                ],
            )
        for w in changes:  # changes are rare next to first votes
            assert w.choice is not None
            if w.member is None:
                # A secret ballot keeps no time: written anew, its row id orders the
                # last changes (which of two to keep when accounts are linked).
                await self.conn.execute(
                    delete(t.ballots).where(
                        t.ballots.c.proposal_id == w.proposal, t.ballots.c.voter_key == w.voter_key
                    )
                )
                await self.conn.execute(
                    insert(t.ballots).values(
                        proposal_id=w.proposal,
                        voter_key=w.voter_key,
                        member_id=None,
                        choice=w.choice.to_json(),
                        cast_at=None,
                        stakeholder_class=w.stakeholder_class,
                    )
                )
                continue
            await self.conn.execute(
                update(t.ballots)
                .where(t.ballots.c.proposal_id == w.proposal, t.ballots.c.voter_key == w.voter_key)
                .values(choice=w.choice.to_json(), cast_at=w.at)
            )
        for w in removals:
            await self.conn.execute(
                delete(t.ballots).where(
                    t.ballots.c.proposal_id == w.proposal, t.ballots.c.voter_key == w.voter_key
                )
            )
        if history and writes:
            await self.conn.execute(
                insert(t.ballot_history),
                [
                    {
                        "proposal_id": w.proposal,
                        "member_id": w.member,
                        "choice": None if w.choice is None else w.choice.to_json(),
                        "at": w.at,
                    }
                    for w in writes
                ],
            )

    async def choices(self, proposal: ProposalId) -> list[Choice]:
        found = self._choices.pop(proposal, None)
        if found is not None:
            return found
        query = select(t.ballots.c.choice).where(t.ballots.c.proposal_id == proposal)
        return [Choice.from_json(c) for c in await self.conn.scalars(query)]

    async def by_class(self, proposal: ProposalId) -> list[ClassBallots]:
        sizes = await self.conn.execute(
            select(t.roll.c.stakeholder_class, func.count())
            .where(t.roll.c.proposal_id == proposal)
            .group_by(t.roll.c.stakeholder_class)
        )
        groups: dict[str | None, tuple[int, list[Choice]]] = {
            name: (int(n), []) for name, n in sizes
        }
        rows = await self.conn.execute(
            select(t.ballots.c.stakeholder_class, t.ballots.c.choice).where(
                t.ballots.c.proposal_id == proposal
            )
        )
        for name, choice in rows:
            groups.setdefault(name, (0, []))[1].append(Choice.from_json(choice))
        return [ClassBallots(name, size, ballots) for name, (size, ballots) in groups.items()]

    async def count(self, proposal: ProposalId) -> int:
        return int(
            await self.conn.scalar(
                select(func.count())
                .select_from(t.ballots)
                .where(t.ballots.c.proposal_id == proposal)
            )
            or 0
        )

    async def history(self, proposal: ProposalId, member: MemberId) -> list[Choice | None]:
        query = (
            select(t.ballot_history.c.choice)
            .where(
                t.ballot_history.c.proposal_id == proposal, t.ballot_history.c.member_id == member
            )
            .order_by(t.ballot_history.c.id)
        )
        return [None if c is None else Choice.from_json(c) for c in await self.conn.scalars(query)]

    async def seal_secret(self, proposal: ProposalId) -> None:
        """At close: rewrite a secret vote's ballots in an order and under keys that
        say nothing of who cast them or when (row ids followed arrival order)."""
        self._choices.pop(proposal, None)
        rows_ = (
            await self.conn.execute(
                select(
                    t.ballots.c.voter_key, t.ballots.c.choice, t.ballots.c.stakeholder_class
                ).where(t.ballots.c.proposal_id == proposal)
            )
        ).all()
        await self.conn.execute(delete(t.ballots).where(t.ballots.c.proposal_id == proposal))
        if rows_:
            # The tags are keyed hashes: their order is random and unrelated to time.
            ordered = sorted(rows_, key=lambda r: str(r.voter_key))
            await self.conn.execute(
                insert(t.ballots),
                [
                    {
                        "proposal_id": proposal,
                        "voter_key": f"sealed-{i}",
                        "member_id": None,
                        "choice": r.choice,
                        "cast_at": None,
                        "stakeholder_class": r.stakeholder_class,
                    }
                    for i, r in enumerate(ordered, 1)
                ],
            )

    async def set_key(self, proposal: ProposalId, key: bytes) -> None:
        await self.conn.execute(
            insert(t.proposal_keys).values(proposal_id=proposal, secret_key=key)
        )

    async def keys(self, proposals: Sequence[ProposalId]) -> dict[ProposalId, bytes]:
        query = select(t.proposal_keys).where(t.proposal_keys.c.proposal_id.in_(list(proposals)))
        return {
            ProposalId(r.proposal_id): bytes(r.secret_key) for r in await self.conn.execute(query)
        }

    async def destroy_key(self, proposal: ProposalId) -> None:
        await self.conn.execute(
            delete(t.proposal_keys).where(t.proposal_keys.c.proposal_id == proposal)
        )
        self.keys_destroyed = True


class LogRepo(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._tips: dict[CommunityId, tuple[int, str]] = {}
        """Each community's last (seq, hash) as appended in this transaction, which
        holds the community's lock (PostgreSQL) or SQLite's write lock until it ends."""
        self.write_behind = False
        self._rows: list[dict[str, Any]] = []

    async def append(
        self,
        community: CommunityId,
        *,
        at: datetime,
        kind: str,
        proposal: ProposalNumber | None,
        actor: MemberId | None,
        data: dict[str, Any],
    ) -> LogEntry:
        tip = self._tips.get(community)
        if tip is None:
            await self._serialise(community)
            last = (
                await self.conn.execute(
                    select(t.decision_log.c.seq, t.decision_log.c.hash)
                    .where(t.decision_log.c.community_id == community)
                    .order_by(t.decision_log.c.seq.desc())
                    .limit(1)
                )
            ).first()
            tip = (0, GENESIS) if last is None else (last.seq, last.hash)
        seq, prev = tip[0] + 1, tip[1]
        body = {
            "community": community,
            "seq": seq,
            "at": at.isoformat(),
            "kind": kind,
            "proposal": proposal,
            "actor": actor,
            "data": data,
        }
        digest = chain_hash(body, prev)
        self._rows.append(
            {
                "community_id": community,
                "seq": seq,
                "at": body["at"],
                "kind": kind,
                "proposal": proposal,
                "actor": actor,
                "data": data,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        if not self.write_behind:
            await self.flush()
        self._tips[community] = (seq, digest)
        return LogEntry(community, seq, at.isoformat(), kind, proposal, actor, data, prev, digest)

    async def flush(self) -> None:
        """Insert the entries held back (write-behind), in one statement."""
        if self._rows:
            pending, self._rows = self._rows, []
            await self.conn.execute(insert(t.decision_log), pending)

    async def entries(self, community: CommunityId) -> list[LogEntry]:
        await self.flush()
        query = (
            select(t.decision_log)
            .where(t.decision_log.c.community_id == community)
            .order_by(t.decision_log.c.seq)
        )
        return [
            LogEntry(
                r.community_id,
                r.seq,
                r.at,
                r.kind,
                r.proposal,
                r.actor,
                r.data,
                r.prev_hash,
                r.hash,
            )
            for r in await self.conn.execute(query)
        ]


class OutboxRepo(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self.write_behind = False
        self._rows: list[dict[str, Any]] = []

    async def add(self, events: Sequence[Event], *, at: datetime) -> None:
        self._rows += [
            {
                "community_id": e.community,
                "kind": type(e).__name__,
                "payload": e.to_json(),
                "created_at": at,
            }
            for e in events
        ]
        if not self.write_behind:
            await self.flush()

    async def flush(self) -> None:
        """Insert the events held back (write-behind), in order, in one statement."""
        if self._rows:
            pending, self._rows = self._rows, []
            await self.conn.execute(insert(t.outbox), pending)

    async def unrouted(self, *, limit: int) -> list[OutboxRow]:
        await self.flush()
        query = (
            select(t.outbox.c.id, t.outbox.c.community_id, t.outbox.c.kind, t.outbox.c.payload)
            .where(t.outbox.c.routed_at.is_(None))
            .order_by(t.outbox.c.id)
            .limit(limit)
        )
        return [
            OutboxRow(r.id, CommunityId(r.community_id), EVENT_TYPES[r.kind].from_json(r.payload))
            for r in await self.conn.execute(query)
        ]

    async def route(self, routes: Sequence[tuple[int, Sequence[Channel]]], *, at: datetime) -> int:
        # Conditional, so of two processes routing the same rows each row is won once;
        # the winner adds its deliveries.
        won: set[int] = set()
        for chunk in _chunks([row for row, _ in routes]):
            won |= set(
                await self.conn.scalars(
                    update(t.outbox)
                    .where(self._in(t.outbox.c.id, chunk), t.outbox.c.routed_at.is_(None))
                    .values(routed_at=at)
                    .returning(t.outbox.c.id)
                )
            )
        deliveries = [
            {
                "outbox_id": row,
                "platform": c.platform,
                "channel": str(c),
                "attempts": 0,
                "next_attempt_at": at,
            }
            for row, channels in routes
            if row in won
            for c in dict.fromkeys(channels)
        ]
        if deliveries:
            await self.conn.execute(insert(t.deliveries), deliveries)
        return len(won)

    async def open_deliveries(
        self, *, platforms: Sequence[str], skip: Sequence[str] = (), limit: int
    ) -> list[Delivery]:
        d, o = t.deliveries, t.outbox
        if not platforms:
            return []
        skipping = [d.c.channel.not_in(skip)] if skip else []
        query = (
            select(
                d.c.id,
                d.c.outbox_id,
                d.c.channel,
                d.c.attempts,
                d.c.next_attempt_at,
                d.c.claimed_until,
                o.c.kind,
                o.c.payload,
                o.c.created_at,
                d.c.first_failed_at,
            )
            .join_from(d, o, o.c.id == d.c.outbox_id)
            .where(
                d.c.delivered_at.is_(None),
                d.c.dead_at.is_(None),
                self._in(d.c.platform, platforms),
                *skipping,
            )
            .order_by(d.c.outbox_id, d.c.id)
            .limit(limit)
        )
        return [
            Delivery(
                r.id,
                r.outbox_id,
                Channel.parse(r.channel),
                EVENT_TYPES[r.kind].from_json(r.payload),
                r.attempts,
                r.next_attempt_at,
                r.claimed_until,
                r.created_at,
                r.first_failed_at,
            )
            for r in await self.conn.execute(query)
        ]

    async def claim(self, deliveries: Sequence[int], *, now: datetime, until: datetime) -> set[int]:
        d = t.deliveries
        if not deliveries:
            return set()
        query = (
            update(d)
            .where(
                self._in(d.c.id, deliveries),
                d.c.delivered_at.is_(None),
                d.c.dead_at.is_(None),
                or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
            )
            .values(claimed_until=until)
            .returning(d.c.id)
        )
        return set(await self.conn.scalars(query))

    async def release(self, deliveries: Sequence[int]) -> None:
        await self.conn.execute(
            update(t.deliveries)
            .where(self._in(t.deliveries.c.id, deliveries))
            .values(claimed_until=None)
        )

    async def forget(self, deliveries: Sequence[int]) -> None:
        for chunk in _chunks(deliveries):
            await self.conn.execute(delete(t.deliveries).where(self._in(t.deliveries.c.id, chunk)))

    async def delivered(self, deliveries: Sequence[int], *, at: datetime) -> None:
        for chunk in _chunks(deliveries):
            await self.conn.execute(
                update(t.deliveries)
                .where(self._in(t.deliveries.c.id, chunk))
                .values(delivered_at=at, claimed_until=None)
            )

    async def failed(self, delivery: int, *, at: datetime, retry_at: datetime, error: str) -> None:
        d = t.deliveries
        await self.conn.execute(
            update(d)
            .where(d.c.id == delivery)
            .values(
                attempts=d.c.attempts + 1,
                first_failed_at=func.coalesce(d.c.first_failed_at, bindparam("at", at, type_=t.TS)),
                next_attempt_at=retry_at,
                claimed_until=None,
                last_error=error[:2000],
            )
        )

    async def give_up(self, delivery: int, *, at: datetime, error: str) -> None:
        d = t.deliveries
        await self.conn.execute(
            update(d)
            .where(d.c.id == delivery)
            .values(
                attempts=d.c.attempts + 1, dead_at=at, claimed_until=None, last_error=error[:2000]
            )
        )

    async def give_up_channel(self, channel: Channel, *, at: datetime, error: str) -> int:
        d = t.deliveries
        given_up = await self.conn.scalars(
            update(d)
            .where(d.c.channel == str(channel), d.c.delivered_at.is_(None), d.c.dead_at.is_(None))
            .values(dead_at=at, claimed_until=None, last_error=error[:2000])
            .returning(d.c.id)
        )
        return len(given_up.all())

    async def dead_letters(self, community: CommunityId, *, limit: int) -> list[DeadLetter]:
        d, o = t.deliveries, t.outbox
        query = (
            select(
                d.c.outbox_id,
                d.c.channel,
                d.c.attempts,
                d.c.dead_at,
                d.c.last_error,
                o.c.kind,
                o.c.payload,
            )
            .join_from(d, o, o.c.id == d.c.outbox_id)
            # Given up, and not delivered after all by a send already under way then.
            .where(
                d.c.dead_at.is_not(None), d.c.delivered_at.is_(None), o.c.community_id == community
            )
            .order_by(d.c.dead_at.desc(), d.c.id.desc())
            .limit(limit)
        )
        return [
            DeadLetter(
                r.outbox_id,
                EVENT_TYPES[r.kind].from_json(r.payload),
                Channel.parse(r.channel),
                r.attempts,
                r.dead_at,
                r.last_error,
            )
            for r in await self.conn.execute(query)
        ]


class DueRepo(_Repo):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self.scheduled: list[datetime] = []
        self.write_behind = False
        self._drops: list[ProposalId] = []

    async def flush(self) -> None:
        """Delete the pending work of the proposals dropped while held back, at once."""
        if self._drops:
            pending, self._drops = self._drops, []
            for chunk in _chunks(pending):
                await self.conn.execute(
                    delete(t.due_work).where(
                        self._in(t.due_work.c.proposal_id, chunk), t.due_work.c.done_at.is_(None)
                    )
                )

    async def add(
        self, kind: str, proposal: ProposalId, due_at: datetime, detail: str | None = None
    ) -> None:
        await self.flush()
        await self.conn.execute(
            insert(t.due_work).values(kind=kind, proposal_id=proposal, due_at=due_at, detail=detail)
        )
        self.scheduled.append(due_at)

    async def move(self, kind: str, proposal: ProposalId, due_at: datetime) -> None:
        await self.flush()
        await self.conn.execute(
            update(t.due_work)
            .where(
                t.due_work.c.kind == kind,
                t.due_work.c.proposal_id == proposal,
                t.due_work.c.done_at.is_(None),
            )
            .values(due_at=due_at)
        )
        self.scheduled.append(due_at)

    async def drop(self, proposal: ProposalId, kind: str | None = None) -> None:
        if kind is None:
            self._drops.append(proposal)
            if not self.write_behind:
                await self.flush()
            return
        await self.flush()
        await self.conn.execute(
            delete(t.due_work).where(
                t.due_work.c.proposal_id == proposal,
                t.due_work.c.kind == kind,
                t.due_work.c.done_at.is_(None),
            )
        )

    async def done_details(self, proposal: ProposalId, kind: str) -> set[str]:
        await self.flush()
        query = select(t.due_work.c.detail).where(
            t.due_work.c.proposal_id == proposal,
            t.due_work.c.kind == kind,
            t.due_work.c.done_at.is_not(None),
        )
        return {d for d in await self.conn.scalars(query) if d is not None}

    async def claim(self, now: datetime) -> DueItem | None:
        found = await self.claim_batch(now, limit=1)
        return found[0] if found else None

    async def claim_batch(self, now: datetime, *, limit: int) -> list[DueItem]:
        await self.flush()
        query = (
            select(t.due_work)
            .where(t.due_work.c.done_at.is_(None), t.due_work.c.due_at <= now)
            .order_by(t.due_work.c.due_at, t.due_work.c.id)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return [
            DueItem(
                row.id,
                row.kind,
                None if row.proposal_id is None else ProposalId(row.proposal_id),
                row.due_at,
                row.attempts,
                row.detail,
                None if row.prompt_id is None else PromptId(row.prompt_id),
            )
            for row in await self.conn.execute(query)
        ]

    async def done(self, item: int, *, at: datetime) -> None:
        await self.done_many([item], at=at)

    async def done_many(self, items: Sequence[int], *, at: datetime) -> None:
        await self.flush()
        for chunk in _chunks(list(items)):
            await self.conn.execute(
                update(t.due_work).where(self._in(t.due_work.c.id, chunk)).values(done_at=at)
            )

    async def postpone(self, item: int, *, to: datetime) -> None:
        await self.flush()
        await self.conn.execute(
            update(t.due_work)
            .where(t.due_work.c.id == item)
            .values(due_at=to, attempts=t.due_work.c.attempts + 1)
        )

    async def add_prompt(self, kind: str, prompt: PromptId, due_at: datetime) -> None:
        await self.flush()
        await self.conn.execute(
            insert(t.due_work).values(kind=kind, prompt_id=prompt, due_at=due_at)
        )
        self.scheduled.append(due_at)

    async def drop_prompt(self, prompt: PromptId) -> None:
        await self.flush()
        await self.conn.execute(
            delete(t.due_work).where(
                t.due_work.c.prompt_id == prompt, t.due_work.c.done_at.is_(None)
            )
        )

    async def next_due(self) -> datetime | None:
        await self.flush()
        value = await self.conn.scalar(
            select(func.min(t.due_work.c.due_at)).where(t.due_work.c.done_at.is_(None))
        )
        if value is None:
            return None
        return t.UTCDateTime().process_result_value(value, self.conn.dialect)
