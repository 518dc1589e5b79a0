"""Prompts and stories on a real Synapse: a reply in a prompt's thread is a story,
commands in threads belong to the room, anonymous stories come through the direct room,
and the archive comes back as a file."""

from __future__ import annotations

import asyncio
import json

import nio
import pytest
from nio.crypto.attachments import decrypt_attachment

from governance.domain.events import PromptPosted
from governance.domain.ids import RoomRef
from governance.domain.prompts import Prompt
from governance.service.app import Governance
from governance.service.dispatcher import Dispatcher
from tests.matrix.deployment import (
    WITHIN,
    Bot,
    MakeBot,
    body,
    bound_room,
    from_bot,
    next_invite,
    room_with_bot,
    said,
)
from tests.matrix.member import MakeMember, Member, content, relates_to


def replied_to(event: nio.Event) -> str | None:
    reply = relates_to(event).get("m.in_reply_to")
    return str(reply.get("event_id")) if isinstance(reply, dict) else None


def assert_in_thread(answer: nio.Event, root: str, event_id: str) -> None:
    """`answer` is a threaded reply to `event_id` in `root`'s thread (not a fallback)."""
    assert relates_to(answer) == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": event_id},
    }


async def posted_prompt(admin: Member, room: str, bot: Bot, question: str) -> nio.Event:
    """Ask `question` now (``!prompt``); its posting, the root of its thread."""
    _, ack = await said(admin, room, f"!prompt {question}")
    assert relates_to(ack).get("key") == "✅", body(ack)
    return await admin.wait_for(room, from_bot(bot, f": {question}"), within=WITHIN)


async def in_thread(member: Member, room: str, root: str, text: str) -> tuple[str, nio.Event]:
    """Say `text` in `root`'s thread; the bot's answer to it (a reply or a reaction)."""
    event_id = await member.send_text(room, text, thread_root=root)

    def answers(e: nio.Event) -> bool:
        return replied_to(e) == event_id or relates_to(e).get("event_id") == event_id

    return event_id, await member.wait_for(room, answers, within=WITHIN)


async def test_a_reply_in_a_prompts_thread_is_a_story_told_once_however_often_replayed(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    posting = await posted_prompt(alice, room, folkmoot, "What changed for you?")
    assert "Share your story: reply here" in body(posting)
    before = folkmoot.sync_token()  # the bot's position before bob's story

    told, answer = await in_thread(bob, room, posting.event_id, "I work four days now @room")
    assert_in_thread(answer, posting.event_id, told)
    assert body(answer) == (
        "Thank you: your story is #1, kept for the community under your name. To share "
        "it beyond the community too: !story share 1 public. To take it back: "
        "!story withdraw 1."
    )
    assert content(answer)["msgtype"] == "m.notice" and content(answer)["m.mentions"] == {}
    _, listed = await said(alice, room, "!stories")
    assert "1 in all" in body(listed)
    assert "(prompt #1): I work four days now @room" in body(listed)

    # The bot stops and syncs again from before the story: the thread reply comes back
    # and is not made a story twice, nor answered twice.
    await folkmoot.stop()
    folkmoot.rewind(before)
    await folkmoot.start()
    _, listed = await said(alice, room, "!stories")
    assert "1 in all" in body(listed)
    assert len(alice.replies_seen(room, told)) == 1  # a second answer would have come first


async def test_a_thread_story_follows_its_authors_edits_and_redactions(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob, carol) = await bound_room(members, bot, "alice", "bob", "carol")
    posting = await posted_prompt(alice, room, folkmoot, "What changed for you?")
    told, _ = await in_thread(bob, room, posting.event_id, "I work four days now")
    before = folkmoot.sync_token()  # the bot's position before the edits and redactions

    await bob.edit_text(room, told, "I work four days now, and sleep more")
    _, listed = await said(alice, room, "!stories")
    assert "(prompt #1): I work four days now, and sleep more" in body(listed)
    # Someone else's edit of bob's message is no edit of bob's story.
    await carol.edit_text(room, told, "bob is lazy")
    # An emptied message is refused, in the story's thread, and the story keeps its words.
    await bob.edit_text(room, told, " ")
    refusal = await bob.wait_for(room, from_bot(folkmoot, "keeps its words"), within=WITHIN)
    assert_in_thread(refusal, posting.event_id, told)
    _, listed = await said(alice, room, "!stories")
    assert "and sleep more" in body(listed) and "lazy" not in body(listed)

    # A moderator (alice, the admin) removing bob's second story hides it; bob is told.
    second, _ = await in_thread(bob, room, posting.event_id, "Carol never cleans up")
    await alice.redact(room, second, reason="unkind")
    direct = await next_invite(bob)
    await bob.join(direct)
    notice = await bob.wait_for(direct, from_bot(folkmoot, "was hidden by"), within=WITHIN)
    assert body(notice).startswith("Your story #2 was hidden by ")
    assert "alice\nReason: removed from the thread by a moderator" in body(notice)
    _, listed = await said(alice, room, "!stories")
    assert "1 in all" in body(listed) and "Carol never" not in body(listed)

    # bob deleting his own message withdraws his story, for real.
    await bob.redact(room, told)
    _, listed = await said(alice, room, "!stories sleep")
    assert body(listed) == "No stories match."
    _, listed = await said(alice, room, "!stories")
    assert body(listed) == "No stories yet. Tell one: !story <text>"

    # Synced again from before the edits: nothing changes, and nothing is said twice.
    await folkmoot.stop()
    folkmoot.rewind(before)
    await folkmoot.start()
    _, listed = await said(alice, room, "!stories")
    assert body(listed) == "No stories yet. Tell one: !story <text>"
    assert len(bob.received(room, from_bot(folkmoot, "keeps its words"))) == 1
    assert len(bob.received(direct, from_bot(folkmoot, "was hidden by"))) == 1


async def test_a_reply_that_comes_before_the_thread_is_recorded_is_still_a_story(
    members: MakeMember, bot: MakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The posting is sent, then its thread recorded: here the record waits until bob's
    # reply has been looked up and not found (a quick reader, a slow database).
    missed = asyncio.Event()
    lookup = Governance.prompt_of_thread
    record = Dispatcher._record_prompt_thread

    async def looked_up(self: Governance, room: RoomRef, thread_id: str) -> Prompt | None:
        found = await lookup(self, room, thread_id)
        if found is None:
            missed.set()
        return found

    async def late(self: Dispatcher, room: RoomRef, event: PromptPosted, thread: str) -> None:
        async with asyncio.timeout(WITHIN):
            await missed.wait()
        await record(self, room, event, thread)

    monkeypatch.setattr(Governance, "prompt_of_thread", looked_up)
    monkeypatch.setattr(Dispatcher, "_record_prompt_thread", late)
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    posting = await posted_prompt(alice, room, folkmoot, "Who helped you?")
    told, answer = await in_thread(bob, room, posting.event_id, "Ana did, twice.")
    assert missed.is_set()
    assert_in_thread(answer, posting.event_id, told)
    assert body(answer).startswith("Thank you: your story is #1,")


async def test_commands_in_threads_belong_to_the_room_and_other_threads_hold_no_stories(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await said(bob, room, "!propose Share the tools deliberate=2d")
    card = await alice.wait_for(room, from_bot(folkmoot, "in deliberation until"), within=WITHIN)
    # Talk in a deliberation's thread is the members' own: no story, no answer.
    chat = await bob.send_text(room, "Saturdays suit me", thread_root=card.event_id)
    asked, status = await in_thread(bob, room, card.event_id, "!status 1")
    assert body(status).startswith("#1 Share the tools")
    assert_in_thread(status, card.event_id, asked)  # answered where it was asked

    posting = await posted_prompt(alice, room, folkmoot, "What did the tools change?")
    await in_thread(bob, room, posting.event_id, "I mended my bike")
    asked, found = await in_thread(alice, room, posting.event_id, "!stories")
    assert_in_thread(found, posting.event_id, asked)
    assert "1 in all" in body(found) and "I mended my bike" in body(found)
    assert "Saturdays" not in body(found)
    # A quiet command in a thread gets its reaction there; the room's proposal moves on.
    _, ack = await in_thread(bob, room, card.event_id, "!open 1")
    assert relates_to(ack).get("key") == "✅"
    await alice.wait_for(room, from_bot(folkmoot, "voting open until"), within=WITHIN)
    assert not alice.replies_seen(room, chat)  # bob's talk was answered by no one


async def test_an_anonymous_story_told_in_the_direct_room_is_posted_without_its_author(
    members: MakeMember, bot: MakeBot
) -> None:
    alice, bob = await members("alice"), await members("bob")
    await bob.client.set_displayname("Robin Hood")
    folkmoot = bot(alice)
    await folkmoot.start()
    room = await room_with_bot(alice, [bob], folkmoot)
    await said(alice, room, "!bind coop")
    posting = await posted_prompt(alice, room, folkmoot, "What brought you here?")
    direct = await bob.create_direct_room(folkmoot.user_id)
    seen = len(alice.received(room))

    _, thanks = await said(bob, direct, "!story #1 I almost quit. share=anonymous tags=Rent")
    assert body(thanks).startswith("Thank you: your story is #1 (posted without your name).")
    story = await alice.wait_for(room, from_bot(folkmoot, "Story #1"), within=WITHIN)
    assert body(story) == "Story #1, told anonymously (prompt #1; #rent)\nI almost quit."
    assert relates_to(story) == {
        "rel_type": "m.thread",
        "event_id": posting.event_id,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": posting.event_id},
    }
    _, thanks = await said(bob, direct, "!story The co-op paid my rent. share=anonymous")
    assert body(thanks).startswith("Thank you: your story is #2 (posted without your name).")
    story = await alice.wait_for(room, from_bot(folkmoot, "Story #2"), within=WITHIN)
    assert body(story) == "Story #2, told anonymously\nThe co-op paid my rent."
    assert "m.relates_to" not in content(story)  # no prompt: said in the room
    _, listed = await said(alice, room, "!stories")
    assert "#1 by anonymous" in body(listed) and "#2 by anonymous" in body(listed)
    asked, _ = await said(alice, room, "!export stories json")
    upload = await alice.wait_for(
        room, lambda e: replied_to(e) == asked and content(e).get("msgtype") == "m.file"
    )
    book = json.loads(await alice.download(content(upload)["url"]))
    assert [s["author"] for s in book["stories"]] == [None, None]

    # Nothing the bot said in the room since names bob, by id or by name.
    said_since = [e.source for e in alice.received(room)[seen:] if e.sender == folkmoot.user_id]
    assert len(said_since) >= 5
    localpart = bob.user_id.split(":")[0].lstrip("@")
    for event in said_since:
        shown = json.dumps(event, ensure_ascii=False)
        assert bob.user_id not in shown and localpart not in shown
        assert "Robin Hood" not in shown and "Robin" not in shown


async def test_the_archive_comes_as_a_file_in_reply_to_the_command(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await bob.client.set_displayname("Bea")
    posting = await posted_prompt(alice, room, folkmoot, "How did we start?")
    await in_thread(bob, room, posting.event_id, "We met in a kitchen.")
    asked, answer = await said(bob, room, "!export stories md")
    assert body(answer).startswith("The stories of coop: 1, in coop-stories-")
    upload = await bob.wait_for(
        room, lambda e: replied_to(e) == asked and content(e).get("msgtype") == "m.file"
    )
    file = content(upload)
    assert file["body"].startswith("coop-stories-") and file["body"].endswith(".md")
    assert file["body"] in body(answer)
    assert file["info"]["mimetype"] == "text/markdown" and file["m.mentions"] == {}
    data = await bob.download(file["url"])
    assert file["info"]["size"] == len(data)
    book = data.decode()
    assert book.startswith("# The stories of coop\n")
    assert "## Prompt #1: How did we start?" in book
    assert "### #1 — " in book and "We met in a kitchen." in book


async def test_in_an_encrypted_room_the_file_is_uploaded_encrypted(
    members: MakeMember, bot: MakeBot
) -> None:
    alice = await members("alice", encrypted=True)
    bob = await members("bob", encrypted=True)
    folkmoot = bot(alice)
    await folkmoot.start()
    room = await room_with_bot(alice, [bob], folkmoot, encrypted=True)
    await said(alice, room, "!bind coop")
    _, thanks = await said(bob, room, "!story We keep our secrets. share=public")
    assert body(thanks).startswith("Thank you: your story is #1 (public)")
    asked, _ = await said(bob, room, "!export stories json public")
    upload = await bob.wait_for(
        room, lambda e: replied_to(e) == asked and content(e).get("msgtype") == "m.file"
    )
    file = content(upload)
    assert "url" not in file  # only the encrypted form, with its keys, travels
    keys = file["file"]
    data = decrypt_attachment(
        await bob.download(keys["url"]), keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"]
    )
    assert file["info"] == {"mimetype": "application/json", "size": len(data)}
    book = json.loads(data)
    assert [s["text"] for s in book["stories"]] == ["We keep our secrets."]


async def test_empty_long_and_late_stories_in_a_prompts_thread_are_refused_plainly(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    root = (await posted_prompt(alice, room, folkmoot, "What did you learn?")).event_id
    told, empty = await in_thread(bob, room, root, "  \n\t ")
    assert_in_thread(empty, root, told)
    assert body(empty) == "An empty reply makes no story; write yours here in the thread."
    _, long = await in_thread(bob, room, root, "x" * 10_001)
    assert body(long) == "The story is 10,001 characters; the limit is 10,000."
    _, kept = await in_thread(bob, room, root, "y" * 10_000)
    assert body(kept).startswith("Thank you: your story is #1,")
    await said(alice, room, "!prompt pause 1")
    _, paused = await in_thread(bob, room, root, "Am I too late?")
    assert body(paused).startswith("Prompt #1 is paused, so it takes no stories for now")
    _, listed = await said(alice, room, "!stories")
    assert "1 in all" in body(listed)
