"""Stories: telling, editing, withdrawing, re-sharing and hiding them; listing,
searching and exporting the archive.

Nothing here writes a story's text into the decision log or an event: events name a
story by number, and what is posted is read from the story when it is delivered
(`story_message`). An anonymous story's author is never written down, only a keyed
tag (`governance.domain.stories.author_tag`), and never shown to anyone.
"""

from __future__ import annotations

import re
from dataclasses import replace

from governance.domain.commands import (
    Command,
    EditStory,
    ExportStories,
    HideStory,
    ListStories,
    ShareStory,
    TellStory,
    WithdrawStory,
)
from governance.domain.errors import NotAllowed, NotFound
from governance.domain.events import StoryHidden, StoryShared
from governance.domain.ids import (
    AccountRef,
    CommunityId,
    MemberId,
    PromptNumber,
    ProposalNumber,
    RoomRef,
)
from governance.domain.members import Member, Role
from governance.domain.prompts import PromptStatus
from governance.domain.proposal import check_text
from governance.domain.stories import (
    MAX_HIDE_REASON,
    Consent,
    InvalidStory,
    Story,
    author_tag,
    check_story,
    normalise_tags,
)
from governance.service import confidentiality, lookups
from governance.service.deps import Deps
from governance.service.ports import Channel, StoryQuery, UnitOfWork
from governance.text import story_export
from governance.text.messages import Audience, Message, Reply

PAGE = 10
_FILTER_RE = re.compile(r"(?<!\S)(tag|prompt|proposal):(\S+)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"[0-9]{1,9}")
MAX_NUMBER = 999_999_999
"""The largest number a filter takes, as ids are read everywhere: nine digits, well
inside the store's integers (PostgreSQL's end at 2,147,483,647)."""


async def _story(uow: UnitOfWork, cmd: Command, number: int) -> Story:
    community = lookups.community_id(cmd)
    story = await uow.stories.get(community, number)
    if story is None:
        raise NotFound(f"There is no story #{number} in {community}.")
    return story


async def _open_prompt(uow: UnitOfWork, community: CommunityId, number: int) -> None:
    """Stories answer a prompt while it asks: not once it is paused or ended."""
    prompt = await uow.prompts.get(community, PromptNumber(number))
    if prompt is None:
        raise NotFound(f"There is no prompt #{number} in {community}; !prompts lists them.")
    if prompt.status is PromptStatus.PAUSED:
        raise InvalidStory(
            f"Prompt #{number} is paused, so it takes no stories for now; tell yours "
            f"without it (leave out #{number}), or wait until a moderator resumes it."
        )
    if prompt.status is PromptStatus.ENDED:
        raise InvalidStory(
            f"Prompt #{number} has ended and takes no more stories; tell yours without it."
        )


def _check_author(story: Story, member: Member, deps: Deps, what: str) -> None:
    if not story.is_by(member.id, deps.author_key):
        raise NotAllowed(f"Only the author of story #{story.number} can {what} it.")


async def tell(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, TellStory)
    member = await lookups.actor(uow, cmd)
    if cmd.in_thread and not cmd.text.strip():
        raise InvalidStory("An empty reply makes no story; write yours here in the thread.")
    text = check_story(cmd.text)
    community = lookups.community_id(cmd)
    anonymous = cmd.consent is Consent.ANONYMOUS
    # A private room (a DM, a Discord modal) is bound to no community; a story told in a
    # shared room is already there for all to read, under its author's name.
    private = await uow.bindings.community_of(cmd.ctx.room) is None
    if anonymous and not private:
        raise InvalidStory(
            "An anonymous story is given privately, so no one sees who told it: send "
            "it to me in a direct message (on Discord, /story)."
        )
    if cmd.proposal is not None:
        await lookups.proposal(uow, cmd, ProposalNumber(cmd.proposal))
    platform = cmd.ctx.actor.platform
    if cmd.source is not None:
        told = await uow.stories.by_source(platform, cmd.source)
        if told is not None:  # the same message again (a replayed event)
            return Reply.text(f"That message is story #{told.number} already.", Audience.QUIET)
    if cmd.prompt is not None:
        await _open_prompt(uow, community, cmd.prompt)
    story = await uow.stories.add(
        Story(
            0,
            community,
            0,
            text,
            cmd.consent,
            None if anonymous else member.id,
            author_tag(deps.author_key, community, member.id) if anonymous else None,
            cmd.prompt,
            cmd.proposal,
            cmd.tags,
            deps.clock.now(),
            encrypted_origin=await confidentiality.story_begins_encrypted(uow, cmd),
        )
    )
    if cmd.source is not None:
        await uow.stories.record_source(story, platform, cmd.source)
    if private:  # told to the bot alone: the bot shares it with the community
        await uow.outbox.add(
            [StoryShared(community, story.number, story.prompt, story.proposal)],
            at=story.told_at,
        )
    await deps.commit(uow, events=private)
    n = story.number
    if cmd.in_thread:
        return Reply.text(
            f"Thank you: your story is #{n}, kept for the community under your name. To "
            f"share it beyond the community too: !story share {n} public. To take it "
            f"back: !story withdraw {n}.",
            Audience.QUIET,
        )
    shared = "posted without your name" if anonymous else cmd.consent.words
    return Reply.text(
        f"Thank you: your story is #{story.number} ({shared}). You can !story edit "
        f"{story.number} or !story withdraw {story.number} at any time.",
        Audience.QUIET if private else Audience.HERE,
    )


async def edit(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, EditStory)
    member = await lookups.actor(uow, cmd)
    story = await _story(uow, cmd, cmd.number)
    _check_author(story, member, deps, "edit")
    await uow.stories.edit(story, check_story(cmd.text), at=deps.clock.now())
    await deps.commit(uow, events=False)
    return Reply.text(f"Story #{story.number} is edited.", Audience.QUIET)


async def withdraw(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, WithdrawStory)
    member = await lookups.actor(uow, cmd)
    story = await _story(uow, cmd, cmd.number)
    _check_author(story, member, deps, "withdraw")
    await uow.stories.withdraw(story)
    await deps.commit(uow, events=False)
    return Reply.text(
        f"Story #{story.number} is withdrawn: its text is deleted and will not appear "
        "in any later listing or export.",
        Audience.QUIET,
    )


REMOVED_BY_MODERATOR = "removed from the thread by a moderator"


async def _source_and_member(
    uow: UnitOfWork, room: RoomRef, actor: AccountRef | None, message_id: str
) -> tuple[Story, Member | None] | None:
    story = await uow.stories.by_source(room.platform, message_id)
    if story is None:
        return None
    member = None if actor is None else await uow.members.by_account(story.community, actor)
    return story, member


async def source_edited(
    uow: UnitOfWork, deps: Deps, room: RoomRef, actor: AccountRef, message_id: str, text: str
) -> Reply | None:
    """The chat message a story was told as was edited: by its author, the story takes
    the new words (as with ``!story edit``); by anyone else, or for a message that is
    no story, nothing happens (None). The same words again change nothing."""
    found = await _source_and_member(uow, room, actor, message_id)
    if found is None:
        return None
    story, member = found
    if member is None or not story.is_by(member.id, deps.author_key):
        return None  # not the author's edit: the story stays as its author told it
    if not text.strip():
        raise InvalidStory(
            f"An empty message makes no story, so story #{story.number} keeps its words. "
            f"To take it back, delete your message or: !story withdraw {story.number}."
        )
    try:
        words = check_story(text)
    except InvalidStory as error:
        raise InvalidStory(f"{error} Story #{story.number} keeps its words.") from None
    if words == story.text:
        return None  # a replayed edit, or one that changed nothing
    await uow.stories.edit(story, words, at=deps.clock.now())
    await deps.commit(uow, events=False)
    return Reply.text(f"Story #{story.number} is edited.", Audience.QUIET)


async def source_deleted(
    uow: UnitOfWork, deps: Deps, room: RoomRef, actor: AccountRef | None, message_id: str
) -> Reply | None:
    """The chat message a story was told as was deleted. By its author — or by someone
    the platform does not name (`actor` None: Discord says nothing of who deleted a
    message, and only its author or a moderator of the server can) — the story is
    withdrawn, for real, as with ``!story withdraw``. By a moderator of the community,
    it is hidden (the author is told why) and kept for its author to decide. By anyone
    else, or for a message that is no story (or no longer one), nothing happens."""
    found = await _source_and_member(uow, room, actor, message_id)
    if found is None:
        return None
    story, member = found
    if actor is None or (member is not None and story.is_by(member.id, deps.author_key)):
        await uow.stories.withdraw(story)
        await deps.commit(uow, events=False)
        return Reply.text(
            f"Story #{story.number} is withdrawn with its message: its text is deleted "
            "and will not appear in any later listing or export.",
            Audience.QUIET,
        )
    if member is None or member.role < Role.MODERATOR or story.hidden_reason is not None:
        return None  # not theirs to remove, or hidden already
    await uow.stories.hide(story, REMOVED_BY_MODERATOR)
    await uow.outbox.add(
        [StoryHidden(story.community, story.number, REMOVED_BY_MODERATOR, member.display_name)],
        at=deps.clock.now(),
    )
    await deps.commit(uow)
    return Reply.text(f"Story #{story.number} is hidden; its author is told why.", Audience.QUIET)


async def share(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ShareStory)
    member = await lookups.actor(uow, cmd)
    story = await _story(uow, cmd, cmd.number)
    _check_author(story, member, deps, "re-share")
    anonymous = cmd.consent is Consent.ANONYMOUS
    changed = replace(
        story,
        consent=cmd.consent,
        author=None if anonymous else member.id,
        author_tag=author_tag(deps.author_key, story.community, member.id) if anonymous else None,
    )
    await uow.stories.reshare(changed)
    await deps.commit(uow, events=False)
    return Reply.text(
        f"Story #{story.number} is now {cmd.consent.words}; exports from now on follow it.",
        Audience.QUIET,
    )


async def hide(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, HideStory)
    member = await lookups.actor(uow, cmd)
    if member.role < Role.MODERATOR:
        raise NotAllowed(f"Only a moderator or above can hide a story; you are {member.role}.")
    story = await _story(uow, cmd, cmd.number)
    reason = check_text("reason", cmd.reason, MAX_HIDE_REASON)
    await uow.stories.hide(story, reason)
    await uow.outbox.add(
        [StoryHidden(story.community, story.number, reason, member.display_name)],
        at=deps.clock.now(),
    )
    await deps.commit(uow)
    return Reply.text(f"Story #{story.number} is hidden; its author is told why.")


async def author_channels(uow: UnitOfWork, event: StoryHidden, key: bytes) -> list[Channel]:
    """Where a hidden story's author is told: their accounts, found for an anonymous
    story by recomputing each member's tag (the bot alone can)."""
    story = await uow.stories.get(event.community, event.number)
    if story is None:
        return []  # withdrawn meanwhile: nobody to tell
    author = story.author
    if author is None:
        for member_id in await uow.members.voters(event.community):
            if story.is_by(member_id, key):
                author = member_id
                break
    if author is None:
        return []
    accounts = await uow.members.accounts([author])
    return [Channel.of_account(a) for a in accounts.get(author, [])]


# ---------------------------------------------------------------------- reading


def parse_search(text: str) -> StoryQuery:
    tags: list[str] = []
    prompt = proposal = None
    for match in _FILTER_RE.finditer(text):
        key, value = match.group(1).lower(), match.group(2).lstrip("#")
        if key == "tag":
            tags.extend(normalise_tags(value))
            continue
        if _NUMBER_RE.fullmatch(value) is None:
            raise InvalidStory(
                f"{key}:{value[:12]} is not a {key} number; write it in digits 0-9, "
                f"at most {MAX_NUMBER:,}, e.g. {key}:3."
            )
        if key == "prompt":
            prompt = int(value)
        else:
            proposal = int(value)
    words = _FILTER_RE.sub(" ", text)
    return StoryQuery(" ".join(words.split()), tuple(tags), prompt, proposal)


async def names(uow: UnitOfWork, stories: list[Story]) -> dict[MemberId, str]:
    found: dict[MemberId, str] = {}
    for author in {s.author for s in stories if s.author is not None}:
        member = await uow.members.get(author)
        found[author] = member.display_name if member is not None else "a former member"
    return found


async def list_stories(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ListStories)
    await lookups.actor(uow, cmd)
    query = parse_search(cmd.search)
    if await confidentiality.holds_back(uow, cmd.ctx):
        query = replace(query, encrypted=False)
    community = lookups.community_id(cmd)
    found = await uow.stories.find(community, query, limit=PAGE, offset=(cmd.page - 1) * PAGE)
    if found.total == 0:
        hint = "No stories match." if cmd.search else "No stories yet. Tell one: !story <text>"
        return Reply.text(hint)
    pages = (found.total + PAGE - 1) // PAGE
    if not found.stories:
        return Reply.text(f"There are {pages} pages of stories; ask for page=1 to {pages}.")
    authors = await names(uow, found.stories)
    lines = [story_export.line(s, authors) for s in found.stories]
    if found.more or cmd.page < pages:
        more = f"!stories {cmd.search} page={cmd.page + 1}".replace("  ", " ")
        lines.append(f"More: {more}")
    title = f"Stories of {community}" + (f" matching “{cmd.search}”" if cmd.search else "")
    if found.more:
        counted = f"page {cmd.page}, more than {found.total:,} in all (narrow the search to count)"
    else:
        counted = f"page {cmd.page} of {pages}, {found.total} in all"
    return Reply(Message(f"{title} — {counted}:", tuple(lines)))


async def export(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ExportStories)
    await lookups.actor(uow, cmd)
    community = await lookups.community(uow, cmd)
    consents = (Consent.PUBLIC,) if cmd.public_only else tuple(Consent)
    stories = await uow.stories.all(community.id, consents)
    if await confidentiality.holds_back(uow, cmd.ctx):
        stories = [s for s in stories if not s.encrypted_origin]
    authors = await names(uow, stories)
    titles: dict[int, str] = {}
    for number in {s.proposal for s in stories if s.proposal is not None}:
        proposal = await uow.proposals.get(community.id, ProposalNumber(number))
        if proposal is not None:
            titles[number] = proposal.title
    questions: dict[int, str] = {}
    for number in {s.prompt for s in stories if s.prompt is not None}:
        prompt = await uow.prompts.get(community.id, PromptNumber(number))
        if prompt is not None:
            questions[number] = prompt.question
    book = story_export.Book(community.id, deps.clock.now(), stories, authors, titles, questions)
    attachment = book.markdown() if cmd.format == "md" else book.json()
    which = "public stories" if cmd.public_only else "stories"
    return Reply(
        Message(
            None,
            (f"The {which} of {community.id}: {len(stories)}, in {attachment.name}.",),
            attachment=attachment,
        )
    )


async def story_message(uow: UnitOfWork, event: StoryShared) -> Message | None:
    """A story told privately, as the bot posts it (an anonymous one without its
    author), read when it is delivered; None once it is withdrawn or hidden."""
    story = await uow.stories.get(event.community, event.number)
    if story is None or story.hidden_reason is not None:
        return None
    return story_export.posted(story, await names(uow, [story]))
