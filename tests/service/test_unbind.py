"""`!unbind`: an admin takes a room away from its community, this one or another that is
gone, on SQLite and PostgreSQL. What members of the room and of the others see after."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from bot.bootstrap import ensure_binding
from governance.domain.commands import Context, Join
from governance.domain.decision_log import verify_chain
from governance.domain.ids import CommunityId, RoomRef
from governance.domain.members import Role
from governance.text.messages import Reply
from tests.chat import Chat
from tests.cli.test_cli import folkmoot

SECOND = RoomRef("test", "room-2")
NOT_BOUND = "This room is not bound to a community; an admin can !bind it."


async def send_in(chat: Chat, room: RoomRef, name: str, text: str) -> Reply:
    reply = await chat.app.governance.handle_text(room, chat.account(name), text, chat.clock.now())
    assert reply is not None, f"{text!r} was not taken as a command"
    await chat.app.dispatcher.drain()
    return reply


async def say_in(chat: Chat, room: RoomRef, name: str, text: str) -> str:
    return (await send_in(chat, room, name, text)).message.plain()


async def bind_second(chat: Chat) -> None:
    assert await say_in(chat, SECOND, "alice", "!bind demo") == "This room is now bound to demo."


def said_in(chat: Chat, room: RoomRef) -> list[str]:
    return [text.splitlines()[0] for where, text, _ in chat.outlet.posts if where == room]


async def test_an_admin_unbinds_the_room_they_are_in_and_it_hears_no_more(chat: Chat) -> None:
    await bind_second(chat)
    await chat.ok("alice", "!propose Paint the shop")
    assert said_in(chat, SECOND) == said_in(chat, chat.room)
    assert "Paint the shop" in await say_in(chat, SECOND, "bob", "!status 1")

    assert await say_in(chat, SECOND, "alice", "!unbind") == "This room is no longer bound to demo."
    # At once: no command is taken there any more, a vote included.
    assert await say_in(chat, SECOND, "bob", "!vote 1 yes") == NOT_BOUND
    assert await say_in(chat, SECOND, "bob", "!status 1") == NOT_BOUND
    assert await say_in(chat, SECOND, "alice", "!unbind") == (
        "This room is not bound to a community; there is nothing to unbind."
    )
    # The open proposal goes on in the community's other room, and is announced there only.
    heard = said_in(chat, SECOND)
    assert await chat.ok("bob", "!vote 1 yes") == "Your vote on #1 is recorded: yes."
    await chat.ok("alice", "!close 1 everyone agrees")
    await chat.ok("alice", "!propose Oil the hinges")
    assert said_in(chat, SECOND) == heard
    closed, proposed = said_in(chat, chat.room)[-2:]
    assert closed == "#1 Paint the shop — closed early by alice"
    assert proposed.startswith("#2 Oil the hinges — voting open")


async def test_a_gone_room_is_unbound_from_another_and_what_waited_for_it_is_given_up(
    chat: Chat,
) -> None:
    await bind_second(chat)
    assert "Nothing is open" in await say_in(chat, SECOND, "bob", "!status")
    chat.outlet.fail_rooms.add(SECOND)  # the bot was removed: every send there fails
    await chat.ok("alice", "!propose Fix the gate")
    await chat.ok("alice", "!propose Oil the hinges")  # waits behind #1 for that room
    assert said_in(chat, SECOND) == []

    assert await chat.ok("alice", "!unbind test:room-2") == (
        "test:room-2 is no longer bound to demo. 2 messages still waiting to be sent there "
        "were given up; !undelivered lists them."
    )
    listing = (await chat.ok("alice", "!undelivered")).splitlines()
    assert len(listing) == 3
    assert listing[1].startswith("2026-11-23 09:00 UTC: #2 Oil the hinges — voting open")
    assert listing[1].endswith("→ room test:room-2 (0 attempts; last error: room unbound)")
    assert listing[2].startswith("2026-11-23 09:00 UTC: #1 Fix the gate — voting open")
    assert listing[2].endswith("→ room test:room-2 (1 attempt; last error: room unbound)")
    # Nothing is tried there again, even once it could be reached.
    chat.outlet.fail_rooms.clear()
    chat.clock.set(chat.clock.now() + timedelta(hours=1))
    await chat.app.dispatcher.drain()
    assert said_in(chat, SECOND) == []
    # The binding was known there a moment ago: it is not served from memory.
    assert await say_in(chat, SECOND, "bob", "!status") == NOT_BOUND
    # Both proposals stay open, in the room that is left.
    assert "#1 Fix the gate — voting until" in await chat.ok("bob", "!status 1")
    assert await chat.ok("bob", "!vote 2 yes") == "Your vote on #2 is recorded: yes."


async def test_only_an_admin_of_the_community_may_unbind(chat: Chat) -> None:
    await bind_second(chat)
    refused = "Only an admin of demo can unbind a room from it."
    assert await chat.fails("bob", "!unbind test:room-2") == refused
    assert await say_in(chat, SECOND, "bob", "!unbind") == refused
    assert await chat.fails("bob", "!unbind test:room-404") == refused  # nothing told
    assert "Nothing is open" in await say_in(chat, SECOND, "bob", "!status")  # still bound
    # test:root is an admin of demo by the config, though not a member.
    assert await say_in(chat, chat.room, "root", "!unbind test:room-2") == (
        "test:room-2 is no longer bound to demo."
    )


async def test_unknown_rooms_and_other_communities_rooms_get_specific_answers(
    chat: Chat,
) -> None:
    await bind_second(chat)
    assert await chat.fails("alice", "!unbind test:room-404") == (
        "test:room-404 is not bound to any community. demo's rooms: test:room-1, test:room-2."
    )
    hall = RoomRef("test", "coop-hall")
    await ensure_binding(chat.app, hall, CommunityId("coop"))
    assert await chat.fails("alice", "!unbind test:coop-hall") == (
        "test:coop-hall is bound to coop, not demo; an admin of coop can unbind it from a "
        "room of coop's."
    )
    elsewhere = RoomRef("test", "room-9")
    assert await say_in(chat, elsewhere, "alice", "!unbind") == (
        "This room is not bound to a community; there is nothing to unbind."
    )
    assert await say_in(chat, elsewhere, "alice", "!unbind test:room-2") == (
        "This room is not bound to a community: say !unbind test:room-2 in a room of the "
        "community it belongs to."
    )
    assert await chat.fails("alice", "!unbind room-2") == (
        "“room-2” is not a room; write it platform:id, as !undelivered and folkmoot doctor "
        "show it, e.g. discord:1234 or matrix:!abc:example.org.\n"
        "Usage: !unbind [<platform>:<room id>] [confirm]"
    )
    # Nothing above changed a binding.
    assert "Nothing is open" in await say_in(chat, SECOND, "bob", "!status")
    assert await chat.app.governance.community_of(hall) == "coop"


async def test_the_last_room_goes_only_with_confirm(chat: Chat) -> None:
    refused = await chat.fails("alice", "!unbind")
    assert refused == (
        "This room is demo's last bound room. With none, nothing demo announces (new "
        "proposals, votes opening, results) reaches anyone, nor is it kept to send later. "
        "Bind another room first (!bind demo there); or, to unbind it anyway: !unbind confirm"
    )
    assert "Nothing is open" in await chat.ok("bob", "!status")  # still bound
    assert await chat.ok("alice", "!unbind confirm") == (
        "This room is no longer bound to demo. demo has no room bound now: what it announces "
        "reaches no one until an admin binds one (!bind demo)."
    )
    assert await chat.fails("bob", "!propose Paint the shop") == NOT_BOUND
    # From a private room (a direct message), the room is named.
    await chat.ok("alice", "!bind demo")
    await bind_second(chat)
    await chat.ok("alice", "!unbind test:room-2")
    refused = (await chat.private("alice", "!unbind test:room-1")).message.plain()
    assert refused.startswith("test:room-1 is demo's last bound room.")
    assert refused.endswith("to unbind it anyway: !unbind test:room-1 confirm")
    assert (await chat.private("alice", "!unbind test:room-1 confirm")).ok
    assert await chat.fails("bob", "!status") == NOT_BOUND


async def test_binding_and_unbinding_are_in_the_decision_log_and_it_verifies(
    chat: Chat, db_url: str, tmp_path: Path
) -> None:
    await bind_second(chat)
    await chat.ok("alice", "!unbind test:room-2")
    reply = await chat.send("alice", "!export decisions json")
    assert "its hash chain verifies" in reply.message.plain()
    assert reply.message.attachment is not None
    entries = json.loads(reply.message.attachment.data)["log"]["entries"]
    alice = await chat.app.governance.member(chat.community, chat.account("alice"))
    assert alice is not None
    assert [(e["kind"], e["actor"], e["data"]) for e in entries[-2:]] == [
        ("room bound", alice.id, {"room": "test:room-2"}),
        ("room unbound", alice.id, {"room": "test:room-2"}),
    ]
    # A refused unbinding (the last room, unconfirmed) leaves no entry.
    await chat.fails("alice", "!unbind")
    async with chat.app.uow() as uow:
        stored = await uow.log.entries(chat.community)
    assert verify_chain(stored) is None and len(stored) == len(entries)
    env = {"FOLKMOOT_DATABASE_URL": db_url, "FOLKMOOT_DATA_DIR": str(tmp_path)}
    code, out, _ = await folkmoot("verify-log", "demo", env=env, cwd=tmp_path)
    assert (code, out) == (0, f"demo: {len(stored)} entries, chain intact\n")


async def test_an_unbound_room_can_be_bound_again_to_this_or_another_community(
    chat: Chat,
) -> None:
    await bind_second(chat)
    await chat.ok("alice", "!unbind test:room-2")
    assert await say_in(chat, SECOND, "alice", "!bind demo") == "This room is now bound to demo."
    await chat.ok("alice", "!propose Paint the shop")
    assert said_in(chat, SECOND) == ["#1 Paint the shop — voting open until 2026-11-30 09:00 UTC"]

    await chat.ok("alice", "!unbind test:room-2")
    # dan is an admin of coop, and binds the room to it.
    ctx = Context(chat.account("dan"), SECOND, CommunityId("coop"), chat.clock.now())
    assert (await chat.app.governance.handle(Join(ctx, "dan", role=Role.ADMIN))).ok
    assert await say_in(chat, SECOND, "dan", "!bind coop") == "This room is now bound to coop."
    assert (await say_in(chat, SECOND, "dan", "!proposals")).startswith("No proposals yet.")
    await chat.ok("alice", "!propose Oil the hinges")
    assert len(said_in(chat, SECOND)) == 1  # demo's announcements stay in demo's rooms


async def test_a_reply_in_a_prompt_thread_of_an_unbound_room_is_no_story(chat: Chat) -> None:
    chat.outlet.threads = True
    await bind_second(chat)
    await chat.ok("alice", "!prompt What changed? every=mon 10:00")
    await chat.advance(hours=1)
    threads = {
        room: f"thread-of-{key}"
        for room, text, key in chat.outlet.posts
        if text.startswith("Prompt #1")
    }
    assert set(threads) == {chat.room, SECOND}
    await chat.ok("alice", "!unbind test:room-2")
    governance = chat.app.governance
    now = chat.clock.now()
    told = await governance.story_in_thread(
        SECOND, threads[SECOND], chat.account("bob"), "We moved the ovens.", now
    )
    assert told is None
    kept = await governance.story_in_thread(
        chat.room, threads[chat.room], chat.account("bob"), "We moved the ovens.", now
    )
    assert kept is not None and kept.message.plain().startswith("Thank you: your story is #1")
    assert "We moved the ovens." in await chat.ok("bob", "!stories")
    assert (await chat.ok("bob", "!stories")).count("We moved the ovens.") == 1
