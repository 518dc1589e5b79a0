"""The prompts repository: narrative prompts and the threads their postings opened."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from governance.domain.ids import (
    CommunityId,
    MemberId,
    PromptId,
    PromptNumber,
    ProposalNumber,
    RoomRef,
)
from governance.domain.prompts import Prompt, PromptKind, PromptStatus, PromptThread
from governance.store import tables as t
from governance.store.repositories import _Repo

_PROPOSAL_NUMBER = (
    select(t.proposals.c.number)
    .where(t.proposals.c.id == t.prompts.c.proposal_id)
    .scalar_subquery()
    .label("proposal_number")
)


def _prompt(row: Any) -> Prompt:
    return Prompt(
        id=PromptId(row.id),
        community=CommunityId(row.community_id),
        number=PromptNumber(row.number),
        question=row.question,
        kind=PromptKind(row.kind),
        status=PromptStatus(row.status),
        rule=row.rule,
        proposal=None if row.proposal_number is None else ProposalNumber(row.proposal_number),
        next_at=row.next_at,
        created_at=row.created_at,
        created_by=None if row.created_by is None else MemberId(row.created_by),
        postings=row.postings,
        last_posted_at=row.last_posted_at,
        encrypted_origin=row.encrypted_origin,
    )


def _shown(*, encrypted: bool) -> list[Any]:
    """Without `encrypted`: leave out prompts that began in an encrypted room (scheduled
    there, or about a proposal made there)."""
    if encrypted:
        return []
    about_sealed = (
        select(t.proposals.c.id)
        .where(t.proposals.c.id == t.prompts.c.proposal_id, t.proposals.c.encrypted_origin)
        .exists()
    )
    return [t.prompts.c.encrypted_origin.is_(False), ~about_sealed]


class PromptRepo(_Repo):
    def _select(self, *where: Any, lock: bool = False) -> Any:
        query = select(t.prompts, _PROPOSAL_NUMBER).where(*where)
        if lock and self.postgres:  # SQLite's transactions already write one at a time
            query = query.with_for_update(of=t.prompts)
        return query

    async def _one(self, *where: Any, lock: bool = False) -> Prompt | None:
        row = (await self.conn.execute(self._select(*where, lock=lock))).first()
        return None if row is None else _prompt(row)

    async def add(self, prompt: Prompt) -> Prompt:
        """Store a new prompt with the community's next prompt number."""
        await self._serialise(prompt.community)
        last = await self.conn.scalar(
            select(func.max(t.prompts.c.number)).where(t.prompts.c.community_id == prompt.community)
        )
        number = PromptNumber((last or 0) + 1)
        proposal_id = None
        if prompt.proposal is not None:
            proposal_id = await self.conn.scalar(
                select(t.proposals.c.id).where(
                    t.proposals.c.community_id == prompt.community,
                    t.proposals.c.number == prompt.proposal,
                )
            )
            if proposal_id is None:
                raise ValueError(f"no proposal #{prompt.proposal} in {prompt.community}")
        new_id = (
            await self.conn.execute(
                insert(t.prompts)
                .values(
                    community_id=prompt.community,
                    number=number,
                    question=prompt.question,
                    kind=prompt.kind.value,
                    status=prompt.status.value,
                    rule=prompt.rule,
                    proposal_id=proposal_id,
                    next_at=prompt.next_at,
                    postings=prompt.postings,
                    last_posted_at=prompt.last_posted_at,
                    created_by=prompt.created_by,
                    created_at=prompt.created_at,
                    encrypted_origin=prompt.encrypted_origin,
                )
                .returning(t.prompts.c.id)
            )
        ).scalar_one()
        return replace(prompt, id=PromptId(new_id), number=number)

    async def get(
        self, community: CommunityId, number: PromptNumber, *, lock: bool = False
    ) -> Prompt | None:
        return await self._one(
            t.prompts.c.community_id == community, t.prompts.c.number == number, lock=lock
        )

    async def get_by_id(self, prompt: PromptId, *, lock: bool = False) -> Prompt | None:
        return await self._one(t.prompts.c.id == prompt, lock=lock)

    async def welcome(self, community: CommunityId) -> Prompt | None:
        return await self._one(
            t.prompts.c.community_id == community,
            t.prompts.c.kind == PromptKind.WELCOME.value,
        )

    async def update(self, prompt: Prompt, *, expect: Prompt) -> bool:
        done = await self.conn.execute(
            update(t.prompts)
            .where(
                t.prompts.c.id == prompt.id,
                t.prompts.c.status == expect.status.value,
                t.prompts.c.postings == expect.postings,
            )
            .values(
                question=prompt.question,
                status=prompt.status.value,
                next_at=prompt.next_at,
                postings=prompt.postings,
                last_posted_at=prompt.last_posted_at,
            )
        )
        return bool(done.rowcount == 1)

    async def listed(
        self, community: CommunityId, *, ended: bool = False, encrypted: bool = True, limit: int
    ) -> list[Prompt]:
        where = [t.prompts.c.community_id == community, *_shown(encrypted=encrypted)]
        if not ended:
            where.append(t.prompts.c.status != PromptStatus.ENDED.value)
        query = self._select(*where).order_by(t.prompts.c.number).limit(limit)
        return [_prompt(row) for row in await self.conn.execute(query)]

    async def count(
        self, community: CommunityId, status: str | None = None, *, encrypted: bool = True
    ) -> int:
        query = select(func.count()).where(
            t.prompts.c.community_id == community, *_shown(encrypted=encrypted)
        )
        if status is not None:
            query = query.where(t.prompts.c.status == status)
        return int(await self.conn.scalar(query) or 0)

    async def record_thread(
        self, prompt: PromptId, posting: int, room: RoomRef, thread_id: str, *, at: datetime
    ) -> bool:
        known = await self.conn.scalar(
            select(t.prompt_threads.c.prompt_id).where(
                t.prompt_threads.c.platform == room.platform,
                t.prompt_threads.c.room_id == room.room_id,
                t.prompt_threads.c.thread_id == thread_id,
            )
        )
        if known is not None:
            return False
        await self.conn.execute(
            insert(t.prompt_threads).values(
                platform=room.platform,
                room_id=room.room_id,
                thread_id=thread_id,
                prompt_id=prompt,
                posting=posting,
                recorded_at=at,
            )
        )
        return True

    async def by_thread(self, room: RoomRef, thread_id: str) -> Prompt | None:
        owner = (
            select(t.prompt_threads.c.prompt_id)
            .where(
                t.prompt_threads.c.platform == room.platform,
                t.prompt_threads.c.room_id == room.room_id,
                t.prompt_threads.c.thread_id == thread_id,
            )
            .scalar_subquery()
        )
        return await self._one(t.prompts.c.id == owner)

    async def threads(self, prompt: PromptId) -> list[PromptThread]:
        query = (
            select(t.prompt_threads)
            .where(t.prompt_threads.c.prompt_id == prompt)
            .order_by(
                t.prompt_threads.c.posting.desc(),
                t.prompt_threads.c.platform,
                t.prompt_threads.c.room_id,
            )
        )
        return [
            PromptThread(
                PromptId(r.prompt_id),
                RoomRef(r.platform, r.room_id),
                r.thread_id,
                r.posting,
                r.recorded_at,
            )
            for r in await self.conn.execute(query)
        ]
