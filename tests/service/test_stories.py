"""Stories: told with a consent, kept by their authors, listed, searched, exported."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from governance.domain.stories import MAX_STORY, Consent, Story
from governance.store import tables as t
from governance.text.messages import Reply
from tests.chat import Chat


async def _export(chat: Chat, name: str, what: str) -> tuple[Reply, bytes]:
    reply = await chat.send(name, f"!export {what}")
    assert reply.ok, reply.message.plain()
    assert reply.message.attachment is not None
    return reply, reply.message.attachment.data


async def test_a_story_is_told_listed_and_searched(chat: Chat) -> None:
    await chat.ok("alice", "!propose Buy a van vote=3d")
    told = await chat.ok(
        "bob", "!story We started in Marta's kitchen proposal=1 tags=Founding,kitchen\nIt was cold."
    )
    assert told.startswith("Thank you: your story is #1 (for the community only).")
    await chat.ok("carol", "!story The van saved my market days share=public tags=van")
    listed = await chat.ok("alice", "!stories")
    assert listed.splitlines()[0] == "Stories of demo — page 1 of 1, 2 in all:"
    assert "#2 by carol, 2026-11-23 (#van): The van saved my market days" in listed
    assert "#1 by bob, 2026-11-23 (proposal #1; #founding #kitchen): We started" in listed
    assert "#1 by bob" in await chat.ok("alice", "!stories kitchen")
    assert "#2" not in await chat.ok("alice", "!stories kitchen")
    assert "#1 by bob" in await chat.ok("alice", "!stories tag:founding")
    assert "#1 by bob" in await chat.ok("alice", "!stories proposal:1")
    assert await chat.ok("alice", "!stories nothing-like-this") == "No stories match."


async def test_listings_are_paginated(chat: Chat) -> None:
    for i in range(1, 13):
        await chat.ok("bob", f"!story Story number {i} about bread")
    first = await chat.ok("carol", "!stories bread")
    assert first.splitlines()[0].endswith("page 1 of 2, 12 in all:")
    assert first.splitlines()[-1] == "More: !stories bread page=2"
    second = await chat.ok("carol", "!stories bread page=2")
    assert [line.split()[0] for line in second.splitlines()[1:]] == ["#2", "#1"]
    assert "ask for page=1 to 2" in await chat.ok("carol", "!stories page=9")


async def test_an_anonymous_story_is_given_privately_and_posted_without_its_author(
    chat: Chat,
) -> None:
    refused = await chat.fails("bob", "!story I nearly left share=anonymous")
    assert "given privately" in refused
    reply = await chat.private("bob", "!story I nearly left in the first winter share=anonymous")
    assert reply.ok and "posted without your name" in reply.message.plain()
    posted = [text for text in chat.announced() if "told anonymously" in text]
    assert posted == ["Story #1, told anonymously\nI nearly left in the first winter"]
    listed = await chat.ok("alice", "!stories")
    assert "#1 by anonymous" in listed and "bob" not in listed
    async with chat.app.engine.connect() as conn:
        row = (await conn.execute(select(t.stories))).one()
    assert row.author_id is None and row.author_tag  # only a keyed tag links it to bob
    assert "Only the author" in await chat.fails("carol", "!story edit 1 Not mine")
    assert "Only the author" in await chat.fails("alice", "!story withdraw 1")
    await chat.ok("bob", "!story edit 1 I nearly left, and stayed")
    assert "I nearly left, and stayed" in await chat.ok("alice", "!stories")


async def test_withdrawal_removes_a_story_from_listings_and_exports(chat: Chat) -> None:
    await chat.ok("bob", "!story The roof leaked on opening day")
    await chat.ok("carol", "!story Our first harvest share=public")
    _, before = await _export(chat, "alice", "stories md")
    assert b"roof leaked" in before
    assert "Only the author" in await chat.fails("alice", "!story withdraw 1")
    assert "withdrawn" in await chat.ok("bob", "!story withdraw 1")
    assert "roof" not in await chat.ok("alice", "!stories")
    assert await chat.ok("alice", "!stories roof") == "No stories match."
    _, after = await _export(chat, "alice", "stories json")
    stories = json.loads(after)["stories"]
    assert [s["number"] for s in stories] == [2]
    assert "There is no story #1" in await chat.fails("bob", "!story edit 1 again")


async def test_withdrawn_words_leave_no_trace_in_the_database_files(
    chat: Chat, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the files of the embedded database")
    path = db_url.removeprefix("sqlite:///")
    secret = "Zanzibarquokka confided the loomwright"
    await chat.ok("bob", f"!story {secret} tags=loomwright")
    for i in range(30):  # more stories, so the index has several segments to merge
        await chat.ok("carol", f"!story Ordinary story {i} about the market")
    await chat.ok("bob", "!story withdraw 1")
    await chat.ok("carol", "!stories market")  # the bot reads on afterwards
    for suffix in ("", "-wal", "-journal", "-shm"):
        try:
            data = await asyncio.to_thread(Path(path + suffix).read_bytes)
        except FileNotFoundError:
            continue
        for word in ("Zanzibarquokka", "zanzibarquokka", "loomwright"):
            assert word.encode() not in data, f"{word} is still in {path + suffix}"


async def test_a_moderator_hides_a_story_and_its_author_is_told(chat: Chat) -> None:
    await chat.ok("bob", "!story Carol never cleans up")
    await chat.private("carol", "!story A secret worry share=anonymous")
    assert "Only a moderator" in await chat.fails("carol", "!story hide 1 unkind")
    await chat.ok("alice", "!role bob moderator")
    await chat.ok("alice", "!role carol moderator")
    assert "hidden" in await chat.ok("carol", "!story hide 1 It names someone unkindly")
    assert chat.outlet.told_to("bob") == [
        "Your story #1 was hidden by carol\nReason: It names someone unkindly\n"
        "It no longer shows in listings or exports."
    ]
    await chat.ok("bob", "!story hide 2 Off topic")
    told = chat.outlet.told_to("carol")  # the anonymous author, found by the bot alone
    assert told and told[-1].startswith("Your story #2 was hidden by bob")
    assert "#1" not in await chat.say("alice", "!stories")


async def test_exports_follow_consent(chat: Chat) -> None:
    await chat.ok("alice", "!propose Share the tools vote=3d")
    await chat.ok("bob", "!story Tools made me a carpenter share=public proposal=1")
    await chat.ok("carol", "!story Borrowing is awkward")
    await chat.private("carol", "!story I was ashamed to ask share=anonymous")
    reply, book = await _export(chat, "alice", "stories md")
    text = book.decode()
    assert reply.message.attachment is not None
    assert reply.message.attachment.name == "demo-stories-2026-11-23.md"
    assert "### #1 — bob, 2026-11-23" in text
    assert "*About proposal #1 Share the tools*" in text
    assert "### #3 — anonymous, 2026-11-23" in text and "ashamed" in text
    _, public = await _export(chat, "alice", "stories json public")
    assert [s["number"] for s in json.loads(public)["stories"]] == [1]
    await chat.ok("bob", "!story share 1 community")  # consent changed after an export
    _, public = await _export(chat, "alice", "stories json public")
    assert json.loads(public)["stories"] == []
    _, everything = await _export(chat, "alice", "stories json")
    anonymous = [s for s in json.loads(everything)["stories"] if s["consent"] == "anonymous"]
    assert anonymous == [
        {
            "number": 3,
            "told_at": "2026-11-23T09:00:00+00:00",
            "edited_at": None,
            "consent": "anonymous",
            "author": None,
            "prompt": None,
            "prompt_question": None,
            "proposal": None,
            "proposal_title": None,
            "tags": [],
            "text": "I was ashamed to ask",
        }
    ]


async def test_bad_stories_get_specific_answers(chat: Chat) -> None:
    assert "The story is empty" in await chat.fails("bob", "!story")
    assert "The story is empty" in await chat.fails("bob", "!story tags=x")
    long = "a" * (MAX_STORY + 1)
    assert "10,001 characters; the limit is 10,000" in await chat.fails("bob", f"!story {long}")
    assert "U+200B" in await chat.fails("bob", "!story Hi tags=ki\u200btchen")
    assert "U+202E" in await chat.fails("bob", "!story Evil \u202etext")
    odd = await chat.ok("bob", "!story Ünïcödé ✓ tags=Çafé,ＴＯＯＬＳ")
    assert odd.startswith("Thank you")
    assert "(#tools #çafé)" in await chat.ok("bob", "!stories")
    assert "There is no proposal #9" in await chat.fails("bob", "!story Hi proposal=9")
    assert "share=" in await chat.fails("bob", "!story Hi share=everyone")
    assert "There is no story #5" in await chat.fails("bob", "!story withdraw 5")
    assert "“x” is not a story id" in await chat.fails("bob", "!story edit x text")
    assert "Say what to export" in await chat.fails("bob", "!export")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.from_regex(r"[a-z]{3}[0-9]{3,6}", fullmatch=True),  # never one of the words
    words=st.lists(st.from_regex(r"[a-z]{4,9}", fullmatch=True), min_size=1, max_size=6),
)
async def test_no_anonymous_authors_name_or_account_shows_anywhere(
    chat: Chat, caplog: pytest.LogCaptureFixture, name: str, words: list[str]
) -> None:
    for ours in ("governance", "adapters", "bot"):
        caplog.set_level(logging.DEBUG, logger=ours)
    await chat.join(name)
    text = " ".join(words)
    reply = await chat.private(name, f"!story {text} share=anonymous tags={words[0]}")
    assert reply.ok
    seen = [
        await chat.ok("alice", "!stories"),
        await chat.ok("alice", f"!stories {words[0]}"),
        (await _export(chat, "alice", "stories md"))[1].decode(),
        (await _export(chat, "alice", "stories json"))[1].decode(),
        *chat.announced(),
        caplog.text,
    ]
    async with chat.app.engine.connect() as conn:
        logged = list(await conn.scalars(select(t.decision_log.c.data)))
        payloads = list(await conn.scalars(select(t.outbox.c.payload)))
    seen += [json.dumps(x) for x in (*logged, *payloads)]
    for where in seen:
        assert name not in where


async def test_a_proposal_shows_how_many_stories_speak_to_it(chat: Chat) -> None:
    await chat.ok("alice", "!propose Buy a van deliberate=1d")
    await chat.ok("bob", "!story The van would change my week proposal=1")
    await chat.private("carol", "!story I cannot drive share=anonymous proposal=1")
    status = await chat.ok("alice", "!status 1")
    assert "Stories about it: 2 stories — !stories proposal:1" in status
    await chat.advance(days=1)  # the deliberation ends: voting opens
    opened = [t for t in chat.announced() if "voting open" in t]
    assert "Stories about it: 2 stories — !stories proposal:1" in opened[-1]
    await chat.advance(days=8)
    closed = [t for t in chat.announced() if "voting closed" in t]
    assert "Stories about it: 2 stories — !stories proposal:1" in closed[-1]


async def test_a_story_told_privately_with_a_name_is_posted_under_it(chat: Chat) -> None:
    reply = await chat.private("bob", "!story Our first payday share=public")
    assert reply.ok and reply.message.plain().startswith("Thank you: your story is #1 (public)")
    assert "Story #1, told by bob\nOur first payday" in chat.announced()


async def test_stories_answer_a_prompt_while_it_asks(chat: Chat) -> None:
    chat.outlet.threads = True
    await chat.ok("alice", "!prompt What brought you here?")  # posted at once, with a thread
    told = await chat.private("bob", "!story #1 A friend's bakery share=anonymous")
    assert told.ok, told.message.plain()
    story = [(room, thread, text) for room, thread, text in chat.outlet.in_threads]
    assert [text for _, _, text in story] == [
        "Story #1, told anonymously (prompt #1)\nA friend's bakery"
    ]  # said in the prompt's thread, not in the room
    assert "There is no prompt #7" in await chat.fails("bob", "!story #7 Hello")
    await chat.ok("alice", "!prompt pause 1")
    assert "Prompt #1 is paused" in await chat.fails("carol", "!story #1 Too late?")
    await chat.ok("alice", "!prompt resume 1")
    await chat.ok("carol", "!story #1 The bread share=public")
    await chat.ok("alice", "!prompt end 1")
    assert "Prompt #1 has ended" in await chat.fails("carol", "!story #1 Once more")
    _, book = await _export(chat, "alice", "stories md")
    assert "## Prompt #1: What brought you here?" in book.decode()
    assert "#1 by anonymous" in await chat.ok("alice", "!stories prompt:1")


async def test_a_reply_in_a_prompts_thread_is_a_story_for_it(chat: Chat) -> None:
    chat.outlet.threads = True
    await chat.ok("alice", "!prompt What changed for you?")
    key = next(k for _, text, k in chat.outlet.posts if text.startswith("Prompt #1"))
    governance = chat.app.governance
    reply = await governance.story_in_thread(
        chat.room, f"thread-of-{key}", chat.account("bob"), "I work four days now", chat.clock.now()
    )
    assert reply is not None and reply.ok
    assert reply.message.plain().startswith(
        "Thank you: your story is #1, kept for the community under your name."
    )
    assert "#1 by bob, 2026-11-23 (prompt #1): I work four days now" in await chat.ok(
        "alice", "!stories"
    )
    elsewhere = await governance.story_in_thread(
        chat.room, "thread-of-something-else", chat.account("bob"), "Hi", chat.clock.now()
    )
    assert elsewhere is None  # not a prompt's thread: just chat
    empty = await governance.story_in_thread(
        chat.room, f"thread-of-{key}", chat.account("carol"), "   ", chat.clock.now()
    )
    assert empty is not None and not empty.ok


async def _thread_story(chat: Chat, name: str, text: str, message_id: str) -> None:
    """`name` tells `text` as message `message_id` in prompt #1's thread (asked once)."""
    chat.outlet.threads = True
    if not any(text.startswith("Prompt #1") for _, text, _ in chat.outlet.posts):
        await chat.ok("alice", "!prompt What changed for you?")
    key = next(k for _, text, k in chat.outlet.posts if text.startswith("Prompt #1"))
    reply = await chat.app.governance.story_in_thread(
        chat.room,
        f"thread-of-{key}",
        chat.account(name),
        text,
        chat.clock.now(),
        message_id=message_id,
    )
    assert reply is not None and reply.ok, reply


async def test_a_thread_story_follows_its_authors_edits_of_the_message(chat: Chat) -> None:
    await _thread_story(chat, "bob", "I work four days now", "m1")
    governance = chat.app.governance
    edited = await governance.thread_story_edited(
        chat.room, chat.account("bob"), "m1", "I work four days now, and sleep more"
    )
    assert edited is not None and edited.ok
    listed = await chat.ok("carol", "!stories")
    assert "(prompt #1): I work four days now, and sleep more" in listed
    assert await chat.ok("carol", "!stories sleep") != "No stories match."
    # Someone else's edit, a message that is no story, a replay: nothing changes.
    assert (
        await governance.thread_story_edited(chat.room, chat.account("carol"), "m1", "Hah") is None
    )
    assert await governance.thread_story_edited(chat.room, chat.account("bob"), "m9", "Hi") is None
    same = "I work four days now, and sleep more"
    assert await governance.thread_story_edited(chat.room, chat.account("bob"), "m1", same) is None
    # An empty or overlong edit is refused, and the story keeps its words.
    empty = await governance.thread_story_edited(chat.room, chat.account("bob"), "m1", "  ")
    assert empty is not None and not empty.ok
    assert "story #1 keeps its words" in empty.message.plain()
    long = await governance.thread_story_edited(chat.room, chat.account("bob"), "m1", "x" * 10_001)
    assert long is not None and not long.ok and "10,000" in long.message.plain()
    assert "(prompt #1): I work four days now, and sleep more" in await chat.ok("carol", "!stories")
    async with chat.app.engine.connect() as conn:
        logged = " ".join(str(r) for r in await conn.execute(select(t.decision_log)))
        queued = " ".join(str(r) for r in await conn.execute(select(t.outbox)))
    assert "sleep" not in logged and "sleep" not in queued


async def test_a_thread_story_is_withdrawn_when_its_author_deletes_the_message(
    chat: Chat,
) -> None:
    await _thread_story(chat, "bob", "Zanzibarquokka days at the bakery", "m1")
    await _thread_story(chat, "carol", "I learned to weld", "m2")
    governance = chat.app.governance
    # A member who is not the author cannot take it away.
    assert await governance.thread_story_deleted(chat.room, chat.account("carol"), "m1") is None
    assert "Zanzibarquokka" in await chat.ok("alice", "!stories")
    gone = await governance.thread_story_deleted(chat.room, chat.account("bob"), "m1")
    assert gone is not None and gone.ok and "withdrawn" in gone.message.plain()
    listed = await chat.ok("alice", "!stories")
    assert "Zanzibarquokka" not in listed and "1 in all" in listed
    assert await chat.ok("alice", "!stories zanzibarquokka") == "No stories match."
    assert "There is no story #1" in await chat.fails("bob", "!story edit 1 again")
    # The deletion again (a replayed event), or an edit after it: nothing happens.
    assert await governance.thread_story_deleted(chat.room, chat.account("bob"), "m1") is None
    assert await governance.thread_story_edited(chat.room, chat.account("bob"), "m1", "x") is None
    # Where the platform does not say who deleted it (Discord), it is the author's wish.
    assert await governance.thread_story_deleted(chat.room, None, "m2") is not None
    assert await chat.ok("alice", "!stories") == "No stories yet. Tell one: !story <text>"


async def test_a_moderator_removing_a_thread_story_hides_it_for_its_author_to_decide(
    chat: Chat,
) -> None:
    await _thread_story(chat, "bob", "Carol never cleans up", "m1")
    await chat.ok("alice", "!role carol moderator")
    governance = chat.app.governance
    hidden = await governance.thread_story_deleted(chat.room, chat.account("carol"), "m1")
    assert hidden is not None and hidden.ok
    await chat.app.dispatcher.drain()
    assert chat.outlet.told_to("bob") == [
        "Your story #1 was hidden by carol\nReason: removed from the thread by a moderator\n"
        "It no longer shows in listings or exports."
    ]
    assert "#1" not in await chat.say("alice", "!stories")
    # Removed again (a replay): no second notice. Its author can still withdraw it.
    assert await governance.thread_story_deleted(chat.room, chat.account("carol"), "m1") is None
    assert len(chat.outlet.told_to("bob")) == 1
    assert "withdrawn" in await chat.ok("bob", "!story withdraw 1")


async def test_a_thread_message_told_twice_is_one_story(chat: Chat) -> None:
    await _thread_story(chat, "bob", "I work four days now", "m1")
    key = next(k for _, text, k in chat.outlet.posts if text.startswith("Prompt #1"))
    again = await chat.app.governance.story_in_thread(
        chat.room,
        f"thread-of-{key}",
        chat.account("bob"),
        "I work four days now",
        chat.clock.now(),
        message_id="m1",
    )
    assert again is None
    assert "1 in all" in await chat.ok("alice", "!stories")


async def test_a_withdrawn_storys_number_is_never_given_again(chat: Chat) -> None:
    await chat.ok("bob", "!story First")
    await chat.ok("bob", "!story Second")
    await chat.ok("bob", "!story withdraw 2")
    told = await chat.ok("carol", "!story Third")
    assert told.startswith("Thank you: your story is #3")
    assert "There is no story #2" in await chat.fails("bob", "!story edit 2 again")


async def _tell_many(chat: Chat, text: str, count: int, tags: tuple[str, ...] = ()) -> None:
    """`count` stories at once, straight into the store: a thousand through chat is slow."""
    async with chat.app.factory() as uow:
        for _ in range(count):
            await uow.stories.add(
                Story(
                    0,
                    chat.community,
                    0,
                    text,
                    Consent.COMMUNITY,
                    None,
                    "t",
                    None,
                    None,
                    tags,
                    chat.clock.now(),
                )
            )
        await uow.commit()


def _listed(reply: str) -> list[int]:
    return [int(line.split()[0][1:]) for line in reply.splitlines()[1:] if line.startswith("#")]


async def test_a_broad_search_lists_the_newest_and_says_more_than_a_thousand(
    chat: Chat,
) -> None:
    await _tell_many(chat, "We crossed the river at dawn", 1005, tags=("water",))
    await _tell_many(chat, "The lake was frozen", 3)
    broad = await chat.ok("carol", "!stories river")
    head = "Stories of demo matching “river” — page 1, more than 1,000 in all"
    assert broad.splitlines()[0] == f"{head} (narrow the search to count):"
    assert _listed(broad) == list(range(1005, 995, -1))
    assert broad.splitlines()[-1] == "More: !stories river page=2"
    tagged = await chat.ok("carol", "!stories tag:water")
    assert "more than 1,000 in all" in tagged.splitlines()[0]
    assert _listed(tagged) == list(range(1005, 995, -1))
    # Past the first thousand the count is exact again, and the last page is the oldest.
    last = await chat.ok("carol", "!stories river page=101")
    assert last.splitlines()[0].endswith("page 101 of 101, 1005 in all:")
    assert _listed(last) == [5, 4, 3, 2, 1]
    assert (await chat.ok("carol", "!stories lake")).splitlines()[0].endswith(", 3 in all:")


async def test_a_broad_search_finds_its_newest_match_behind_many_newer_stories(
    chat: Chat,
) -> None:
    await _tell_many(chat, "We crossed the river at dawn", 1005)
    await _tell_many(chat, "The lake was frozen", 600)  # newer than every river story
    await chat.ok("alice", "!story hide 1005 reason=off topic")
    broad = await chat.ok("carol", "!stories river")
    assert "more than 1,000 in all" in broad.splitlines()[0]
    assert _listed(broad) == list(range(1004, 994, -1))  # #1005 is hidden
    second = await chat.ok("carol", "!stories river page=2")
    assert _listed(second) == list(range(994, 984, -1))
