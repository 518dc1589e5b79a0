"""Stories in the database, searched by full text: SQLite FTS5 (kept by triggers) or
PostgreSQL's ``to_tsvector('simple', …)`` under a GIN index.

Withdrawing deletes for real: the row goes (SQLite's ``secure_delete`` zeroes it),
the FTS5 index is optimised so the story's words leave its segments, and the caller
checkpoints the WAL after the commit (`checkpoint`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.domain.ids import CommunityId, MemberId
from governance.domain.stories import Consent, Story
from governance.service.ports import StoryQuery
from governance.store import tables as t
from governance.store.repositories import _Repo

S = t.stories
OPTIMISE = "INSERT INTO stories_fts(stories_fts) VALUES ('optimize')"


def _story(row: Any) -> Story:
    return Story(
        id=row.id,
        community=CommunityId(row.community_id),
        number=row.number,
        text=row.text,
        consent=Consent(row.consent),
        author=None if row.author_id is None else MemberId(row.author_id),
        author_tag=row.author_tag,
        prompt=row.prompt,
        proposal=row.proposal,
        tags=tuple(row.tags.split()),
        told_at=row.told_at,
        edited_at=row.edited_at,
        hidden_reason=row.hidden_reason,
    )


def _fts5_query(words: str) -> str:
    """Every word must appear; each is quoted, so nothing typed is FTS5 syntax."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words.split())


class StoryRepo(_Repo):
    async def add(self, story: Story) -> Story:
        await self._serialise(story.community)
        last = await self.conn.scalar(
            select(func.max(S.c.number)).where(S.c.community_id == story.community)
        )
        number = (last or 0) + 1
        new_id = (
            await self.conn.execute(
                insert(S)
                .values(
                    community_id=story.community,
                    number=number,
                    text=story.text,
                    consent=story.consent.value,
                    author_id=story.author,
                    author_tag=story.author_tag,
                    prompt=story.prompt,
                    proposal=story.proposal,
                    tags=f" {' '.join(story.tags)} ",
                    told_at=story.told_at,
                )
                .returning(S.c.id)
            )
        ).scalar_one()
        return Story(
            new_id,
            story.community,
            number,
            story.text,
            story.consent,
            story.author,
            story.author_tag,
            story.prompt,
            story.proposal,
            story.tags,
            story.told_at,
        )

    async def get(self, community: CommunityId, number: int) -> Story | None:
        row = (
            await self.conn.execute(
                select(S).where(S.c.community_id == community, S.c.number == number)
            )
        ).first()
        return None if row is None else _story(row)

    async def edit(self, story: Story, text_: str, *, at: datetime) -> None:
        await self.conn.execute(
            update(S).where(S.c.id == story.id).values(text=text_, edited_at=at)
        )
        await self._optimise()

    async def reshare(self, story: Story) -> None:
        await self.conn.execute(
            update(S)
            .where(S.c.id == story.id)
            .values(
                consent=story.consent.value, author_id=story.author, author_tag=story.author_tag
            )
        )

    async def hide(self, story: Story, reason: str) -> None:
        await self.conn.execute(update(S).where(S.c.id == story.id).values(hidden_reason=reason))

    async def withdraw(self, story: Story) -> None:
        await self.conn.execute(delete(S).where(S.c.id == story.id))
        await self._optimise()

    async def _optimise(self) -> None:
        """Merge the FTS5 index into one segment, leaving out deleted entries, so an old
        text's words are gone from the index and not just marked deleted."""
        if not self.postgres:
            await self.conn.execute(
                text("INSERT INTO stories_fts(stories_fts) VALUES ('optimize')")
            )

    async def count_for(self, community: CommunityId, proposal: int) -> int:
        return int(
            await self.conn.scalar(
                select(func.count()).where(
                    S.c.community_id == community,
                    S.c.proposal == proposal,
                    S.c.hidden_reason.is_(None),
                )
            )
            or 0
        )

    async def find(
        self, community: CommunityId, query: StoryQuery, *, limit: int, offset: int = 0
    ) -> tuple[list[Story], int]:
        """Matching stories, newest first, and how many match in all."""
        where: list[Any] = [
            S.c.community_id == community,
            S.c.consent.in_([c.value for c in query.consents]),
        ]
        if not query.hidden:
            where.append(S.c.hidden_reason.is_(None))
        if query.prompt is not None:
            where.append(S.c.prompt == query.prompt)
        if query.proposal is not None:
            where.append(S.c.proposal == query.proposal)
        for tag in query.tags:
            where.append(S.c.tags.contains(f" {tag} "))
        if query.words.strip():
            where.append(self._matches(query.words))
        total = int(await self.conn.scalar(select(func.count()).select_from(S).where(*where)) or 0)
        found = await self.conn.execute(
            select(S).where(*where).order_by(S.c.number.desc()).limit(limit).offset(offset)
        )
        return [_story(r) for r in found], total

    def _matches(self, words: str) -> Any:
        if self.postgres:
            return func.to_tsvector(literal_column("'simple'"), S.c.text).op("@@")(
                func.plainto_tsquery(literal_column("'simple'"), words)
            )
        return S.c.id.in_(
            select(literal_column("rowid"))
            .select_from(text("stories_fts"))
            .where(text("stories_fts MATCH :fts").bindparams(fts=_fts5_query(words)))
        )

    async def all(self, community: CommunityId, consents: Sequence[Consent]) -> list[Story]:
        """For an export: visible stories with these consents, by prompt, then as told."""
        found = await self.conn.execute(
            select(S)
            .where(
                S.c.community_id == community,
                S.c.hidden_reason.is_(None),
                S.c.consent.in_([c.value for c in consents]),
            )
            .order_by(S.c.prompt.is_(None), S.c.prompt, S.c.number)
        )
        return [_story(r) for r in found]


async def checkpoint(engine: AsyncEngine) -> None:
    """After a withdrawal: fold the WAL (which still holds the old pages) into the
    database and empty it. A no-op on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        # On the driver's connection itself: a checkpoint cannot run inside the
        # transaction SQLAlchemy would begin.
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _, _ = await cursor.fetchone()
        await cursor.close()
        if busy:
            raise RuntimeError("the WAL checkpoint was blocked by a reader; it runs again later")
