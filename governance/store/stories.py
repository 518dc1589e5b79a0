"""Stories in the database, searched by full text: SQLite FTS5 (kept by triggers) or
PostgreSQL's ``to_tsvector('simple', …)`` under a GIN index.

Withdrawing deletes for real: the row goes (SQLite's ``secure_delete`` zeroes it),
the FTS5 index is optimised so the story's words leave its segments, and the caller
scrubs the store after the commit (`governance.store.scrub`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
    update,
)

from governance.domain.ids import CommunityId, MemberId
from governance.domain.stories import Consent, Story
from governance.service.ports import SEARCH_COUNT_LIMIT, FoundStories, StoryQuery
from governance.store import tables as t
from governance.store.repositories import _Repo

S = t.stories
OPTIMISE = "INSERT INTO stories_fts(stories_fts) VALUES ('optimize')"
WINDOW_MAX = 500
"""The most stories a common word's page is looked for among before gathering every
match (`_find_pg_words`): each costs a ``to_tsvector``, about 50 µs."""


def _window(limit: int, offset: int) -> int:
    """Enough of the newest stories to hold the page if one story in thirty matches."""
    return min(30 * (offset + limit), WINDOW_MAX)


def _pg_matches(text_: Any, words: str) -> Any:
    """PostgreSQL: `text_` holds every word (the expression ``ix_stories_fts`` indexes)."""
    return func.to_tsvector(literal_column("'simple'"), text_).op("@@")(
        func.plainto_tsquery(literal_column("'simple'"), words)
    )


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
        encrypted_origin=row.encrypted_origin,
    )


def _fts5_query(words: str) -> str:
    """Every word must appear; each is quoted, so nothing typed is FTS5 syntax."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words.split())


class StoryRepo(_Repo):
    async def add(self, story: Story) -> Story:
        # The number and the id are both given here, while this transaction holds the
        # community's lock (PostgreSQL) or the database's (SQLite), so a community's
        # stories have the same order by either (`find` relies on it).
        await self._serialise(story.community)
        counter = t.story_numbers
        last = await self.conn.scalar(
            select(counter.c.last).where(counter.c.community_id == story.community)
        )
        number = (last or 0) + 1  # never a withdrawn story's number again
        if last is None:
            await self.conn.execute(insert(counter).values(community_id=story.community, last=1))
        else:
            await self.conn.execute(
                update(counter).where(counter.c.community_id == story.community).values(last=number)
            )
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
                    encrypted_origin=story.encrypted_origin,
                )
                .returning(S.c.id)
            )
        ).scalar_one()
        if story.tags:
            await self.conn.execute(
                insert(t.story_tags),
                [
                    {"story_id": new_id, "tag": tag, "community_id": story.community}
                    for tag in story.tags
                ],
            )
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
            encrypted_origin=story.encrypted_origin,
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
        await self.conn.execute(delete(t.story_tags).where(t.story_tags.c.story_id == story.id))
        await self.conn.execute(
            delete(t.story_sources).where(t.story_sources.c.story_id == story.id)
        )
        await self.conn.execute(delete(S).where(S.c.id == story.id))
        await self._optimise()

    async def record_source(self, story: Story, platform: str, message_id: str) -> None:
        await self.conn.execute(
            insert(t.story_sources).values(
                story_id=story.id, platform=platform, message_id=message_id
            )
        )

    async def by_source(self, platform: str, message_id: str) -> Story | None:
        src = t.story_sources
        row = (
            await self.conn.execute(
                select(S)
                .join(src, src.c.story_id == S.c.id)
                .where(src.c.platform == platform, src.c.message_id == message_id)
            )
        ).first()
        return None if row is None else _story(row)

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
    ) -> FoundStories:
        """Matching stories, newest first, and how many match in all.

        Shaped for an archive of 100,000 stories (bench/stories.py, docs/benchmarks.md):

        - A search (words or tags) is counted up to `SEARCH_COUNT_LIMIT` only, when the
          page asked for lies within that many matches: the count then costs what the
          page does, not a visit to each of 85,000 matches of a common word.
        - Words are matched through the search index alone. On SQLite the FTS5 match
          drives the query and gives the order: its rowid is the story's id, and within
          a community id order is number order (`add` gives both, in the same order,
          under a lock). On PostgreSQL, see `_find_pg_words`.
        - A page past the middle of an exact count is read from the oldest end, so the
          last pages cost what the first do.
        """
        words = query.words.strip()
        where = self._filters(community, query)
        capped = bool(words or query.tags) and offset + limit <= SEARCH_COUNT_LIMIT
        if words and self.postgres:
            return await self._find_pg_words(community, words, where, limit, offset, capped)
        if words:
            fts = table("stories_fts", column("rowid"))
            match = text("stories_fts MATCH :fts").bindparams(fts=_fts5_query(words))
            # Unary plus: not an index term, so SQLite cannot start from the community.
            where += [literal_column("+stories.community_id", String) == community, match]
            source: Any = fts.join(S, S.c.id == fts.c.rowid)
            order: Any = fts.c.rowid
        else:
            where.append(S.c.community_id == community)
            if not self.postgres and query.prompt is None and query.proposal is None:
                # number > 0 (always true) makes SQLite, which has no statistics, walk
                # uq_stories_number (table order) rather than ix_stories_proposal
                # (random reads) to count: 27 ms instead of 75–120 for 100,000.
                where.append(S.c.number > 0)
            source, order = S, S.c.number
        page = select(S).select_from(source).where(*where)
        if capped:
            first: Any = select(literal_column("1")).select_from(source).where(*where)
            total = await self._count(first.limit(SEARCH_COUNT_LIMIT + 1).subquery())
            if total > SEARCH_COUNT_LIMIT:  # the page lies within the first matches
                newest = page.order_by(order.desc()).limit(limit).offset(offset)
                stories = [_story(r) for r in await self.conn.execute(newest)]
                return FoundStories(stories, SEARCH_COUNT_LIMIT, more=True)
        else:
            total = await self._count(select(S.c.id).select_from(source).where(*where).subquery())
        if offset >= total:
            return FoundStories([], total)
        if offset > total // 2:
            count = min(limit, total - offset)
            page = page.order_by(order.asc()).limit(count).offset(total - offset - count)
            rows = list(await self.conn.execute(page))[::-1]
        else:
            rows = list(
                await self.conn.execute(page.order_by(order.desc()).limit(limit).offset(offset))
            )
        return FoundStories([_story(r) for r in rows], total)

    async def _count(self, rows: Any) -> int:
        return int(await self.conn.scalar(select(func.count()).select_from(rows)) or 0)

    def _filters(self, community: CommunityId, query: StoryQuery) -> list[Any]:
        where: list[Any] = []
        if set(query.consents) != set(Consent):  # all three: no need to read the column
            where.append(S.c.consent.in_([c.value for c in query.consents]))
        if not query.hidden:
            where.append(S.c.hidden_reason.is_(None))
        if not query.encrypted:
            where.append(S.c.encrypted_origin.is_(False))
        if query.prompt is not None:
            where.append(S.c.prompt == query.prompt)
        if query.proposal is not None:
            where.append(S.c.proposal == query.proposal)
        tags = t.story_tags
        for tag in query.tags:  # through the tags' index, not every story's tags
            where.append(
                S.c.id.in_(
                    select(tags.c.story_id).where(
                        tags.c.community_id == community, tags.c.tag == tag
                    )
                )
            )
        return where

    async def _find_pg_words(
        self,
        community: CommunityId,
        words: str,
        where: list[Any],
        limit: int,
        offset: int,
        capped: bool,
    ) -> FoundStories:
        """Words on PostgreSQL, in up to three steps, each bounded by what it must find.

        The matches are gathered through the GIN index in a ``MATERIALIZED`` CTE, which
        holds only (id, number). Left to itself the planner may instead walk the number
        index and rebuild ``to_tsvector`` (35–85 µs) for each story it passes: seconds
        for a rare word. A CTE is read lazily, so a ``LIMIT`` outside it stops the heap
        visits while the plan inside stays the index's.

        1. When counting is capped: the first ``SEARCH_COUNT_LIMIT + 1`` matches, counted
           and, if that is all of them, sorted for the page in the same statement.
        2. Past the limit the word is common: the page is looked for among the newest
           `_window` stories (a walk of the listing index that tests each), which holds
           it when the word is in one story of thirty or more.
        3. Otherwise, or for a page past the limit: every match, counted exactly.
        """
        match = _pg_matches(S.c.text, words)
        matched = (
            select(S.c.id, S.c.number)
            .where(S.c.community_id == community, match, *where)
            .cte("matched")
            .prefix_with("MATERIALIZED")
        )
        if capped:
            first = (
                select(matched.c.id, matched.c.number)
                .limit(SEARCH_COUNT_LIMIT + 1)
                .cte("first")
                .prefix_with("MATERIALIZED")
            )
            stories, total = await self._page_of(first, limit, offset)
            if total <= SEARCH_COUNT_LIMIT:
                return FoundStories(stories, total)
            window = _window(limit, offset)
            newest = (
                select(S.c.id, S.c.number, S.c.text)
                .where(S.c.community_id == community, *where)
                .order_by(S.c.number.desc())
                .limit(window)
                .subquery("newest")
            )
            found = (
                select(newest.c.id)
                .where(_pg_matches(newest.c.text, words))
                .order_by(newest.c.number.desc())
                .limit(limit)
                .offset(offset)
                .subquery("found")
            )
            rows = list(
                await self.conn.execute(
                    select(S).join(found, S.c.id == found.c.id).order_by(S.c.number.desc())
                )
            )
            if len(rows) == limit:
                return FoundStories([_story(r) for r in rows], SEARCH_COUNT_LIMIT, more=True)
            stories, _ = await self._page_of(matched, limit, offset)
            return FoundStories(stories, SEARCH_COUNT_LIMIT, more=True)
        stories, total = await self._page_of(matched, limit, offset)
        return FoundStories(stories, total)

    async def _page_of(self, matched: Any, limit: int, offset: int) -> tuple[list[Story], int]:
        """One statement: the page of `matched` (a CTE of id, number) and its count."""
        page = (
            select(matched.c.id, matched.c.number)
            .order_by(matched.c.number.desc())
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        total_of = select(func.count()).select_from(matched)
        rows = list(
            await self.conn.execute(
                select(S, total_of.scalar_subquery().label("total"))
                .select_from(page)
                .join(S, S.c.id == page.c.id)
                .order_by(page.c.number.desc())
            )
        )
        if not rows:  # no match, or a page past the end
            return [], int(await self.conn.scalar(total_of) or 0)
        return [_story(r) for r in rows], int(rows[0].total)

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
