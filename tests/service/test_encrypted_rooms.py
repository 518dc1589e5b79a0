"""Encrypted rooms beside unencrypted ones, on SQLite and PostgreSQL: what began in an
encrypted room is said in the community's encrypted rooms only; binding a room that
mixes the two asks for confirm. And closed direct messages: no notice in a room that
would tell a secret."""

from __future__ import annotations

from governance.domain.ids import RoomRef
from governance.text.messages import Reply
from tests.chat import Chat

SEALED = RoomRef("test", "sealed")
"""An end-to-end encrypted room (the adapter says so with each message)."""
OPEN = RoomRef("test", "open")
MIXING = (
    "This room is encrypted, and demo has an unencrypted room. What begins here — "
    "proposals made here, with their cards, deliberation, reminders, results and outcomes, "
    "and stories told here — will be posted in demo's encrypted rooms only, never in the "
    "unencrypted ones. What begins in an unencrypted room will be posted here too. "
    "Say !bind demo confirm to bind it."
)
BOUND_MIXED = (
    "This room is now bound to demo. Its rooms are encrypted and unencrypted: what begins "
    "in an encrypted room is posted in the encrypted rooms only."
)


async def send_in(
    chat: Chat, room: RoomRef, name: str, text: str, *, encrypted: bool = False
) -> Reply:
    reply = await chat.app.governance.handle_text(
        room, chat.account(name), text, chat.clock.now(), encrypted=encrypted
    )
    assert reply is not None, f"{text!r} was not taken as a command"
    await chat.app.dispatcher.drain()
    return reply


async def in_sealed(chat: Chat, name: str, text: str) -> str:
    reply = await send_in(chat, SEALED, name, text, encrypted=True)
    assert reply.ok, reply.message.plain()
    return reply.message.plain()


def said_in(chat: Chat, room: RoomRef) -> str:
    """Everything the bot posted in `room`, in its threads too."""
    posted = [text for where, text, _ in chat.outlet.posts if where == room]
    threads = [text for where, _, text in chat.outlet.in_threads if where == room]
    return "\n".join(posted + threads)


async def bind_sealed(chat: Chat) -> None:
    assert await in_sealed(chat, "alice", "!bind demo confirm") == BOUND_MIXED


async def test_binding_an_encrypted_room_beside_an_unencrypted_one_asks_for_confirm(
    chat: Chat,
) -> None:
    refused = await send_in(chat, SEALED, "alice", "!bind demo", encrypted=True)
    assert not refused.ok
    assert refused.message.plain() == MIXING
    status = await send_in(chat, SEALED, "bob", "!status", encrypted=True)
    assert status.message.plain().startswith("This room is not bound")  # nothing was bound
    await bind_sealed(chat)
    assert "Nothing is open" in await in_sealed(chat, "bob", "!status")


async def test_an_unencrypted_room_beside_encrypted_ones_asks_too_and_no_mix_asks_nothing(
    chat: Chat,
) -> None:
    # demo's rooms are all unencrypted: another unencrypted one needs no confirm.
    plain = await send_in(chat, RoomRef("test", "plain-2"), "alice", "!bind demo")
    assert plain.message.plain() == "This room is now bound to demo."
    await bind_sealed(chat)
    for room in (chat.room, RoomRef("test", "plain-2")):
        await send_in(chat, room, "alice", "!unbind")
    # demo's rooms are all encrypted: another encrypted one needs no confirm.
    second = await send_in(chat, RoomRef("test", "sealed-2"), "alice", "!bind demo", encrypted=True)
    assert second.message.plain() == "This room is now bound to demo."
    refused = await send_in(chat, OPEN, "alice", "!bind demo")
    assert refused.message.plain() == (
        "This room is not encrypted, and demo has 2 encrypted rooms. What begins in an "
        "encrypted room — proposals made there, with their cards, deliberation, reminders, "
        "results and outcomes, and stories told there — will not be posted here. What "
        "begins here will be posted in all of demo's rooms, the encrypted ones too. "
        "Say !bind demo confirm to bind it."
    )
    assert (await send_in(chat, OPEN, "alice", "!bind demo confirm")).message.plain() == (
        BOUND_MIXED
    )


async def test_a_proposal_made_in_an_encrypted_room_is_said_in_encrypted_rooms_only(
    chat: Chat,
) -> None:
    await bind_sealed(chat)
    await in_sealed(chat, "alice", "!propose Change the safe code deliberate=2d vote=3d")
    await chat.advance(days=1)  # the deliberation's reminder in the rooms
    await in_sealed(chat, "alice", "!summary 1 Everyone agrees the code leaked")
    await chat.advance(days=1)  # voting opens
    await in_sealed(chat, "bob", "!vote 1 yes")
    await chat.advance(days=3)  # voting closes: the result
    await in_sealed(chat, "alice", "!outcome 1 Carol changes it tonight.")
    await chat.private("carol", "!story The old code was my birthday proposal=1")

    sealed = said_in(chat, SEALED)
    for said in (
        "#1 Change the safe code",
        "Reminder: the deliberation on #1",
        "Everyone agrees the code leaked",
        "voting open",
        "voting closed",
        "Carol changes it tonight.",
        "The old code was my birthday",
    ):
        assert said in sealed
    assert said_in(chat, chat.room) == ""  # not a word of it in the unencrypted room

    # What begins in the unencrypted room goes to every room, as before.
    await chat.ok("alice", "!propose Paint the door vote=2d")
    assert "#2 Paint the door" in said_in(chat, SEALED)
    assert "#2 Paint the door" in said_in(chat, chat.room)
    assert "Change the safe code" not in said_in(chat, chat.room)

    # Nor is it told when asked for from the unencrypted room; in the encrypted one it is.
    kept_back = "#1 began in an encrypted room, so it is shown in encrypted rooms only; ask there."
    assert await chat.fails("bob", "!status 1") == kept_back
    assert await chat.fails("bob", "!results 1") == kept_back
    listed = await chat.ok("bob", "!proposals")
    assert "#2 Paint the door" in listed and "Change the safe code" not in listed
    assert await chat.fails("bob", "!export ballots 1") == kept_back
    assert "#1 Change the safe code" in await in_sealed(chat, "bob", "!status 1")
    assert "Change the safe code" in await in_sealed(chat, "bob", "!proposals")
    # Its story (told privately, about #1) and the decision record, likewise.
    assert await chat.say("bob", "!stories") == "No stories yet. Tell one: !story <text>"
    assert "The old code was my birthday" in await in_sealed(chat, "bob", "!stories")
    assert await chat.say("bob", "!stories birthday") == "No stories match."
    assert "The old code was my birthday" in await in_sealed(chat, "bob", "!stories birthday")
    assert (await chat.ok("bob", "!export stories")).startswith("The stories of demo: 0,")
    assert (await in_sealed(chat, "bob", "!export stories")).startswith("The stories of demo: 1,")
    assert await chat.fails("bob", "!export decisions") == (
        "demo's decision record holds proposals made in an encrypted room, so it is "
        "exported in encrypted rooms only; ask there."
    )
    assert "2 proposals" in await in_sealed(chat, "bob", "!export decisions")


async def test_undelivered_names_no_title_from_an_encrypted_room_in_an_unencrypted_one(
    chat: Chat,
) -> None:
    await bind_sealed(chat)
    chat.outlet.gone_rooms.add(SEALED)  # the bot was removed: what goes there is given up
    await in_sealed(chat, "alice", "!propose Change the safe code vote=2d")
    listed = await chat.ok("alice", "!undelivered")
    assert "ProposalCreated (began in an encrypted room) → room test:sealed" in listed
    assert "Change the safe code" not in listed
    assert "#1 Change the safe code" in await in_sealed(chat, "alice", "!undelivered")


async def test_menus_in_unencrypted_rooms_leave_out_proposals_made_in_an_encrypted_one(
    chat: Chat,
) -> None:
    await bind_sealed(chat)
    await in_sealed(chat, "alice", "!propose Change the safe code vote=2d")
    await chat.ok("alice", "!propose Paint the door vote=2d")
    governance = chat.app.governance
    assert [p.title for p in await governance.pending(chat.community)] == ["Paint the door"]
    titles = [p.title for p in await governance.pending(chat.community, encrypted=True)]
    assert titles == ["Paint the door", "Change the safe code"]


async def test_a_room_encrypted_after_it_was_bound_keeps_what_begins_there_from_then_on(
    chat: Chat,
) -> None:
    reply = await send_in(chat, OPEN, "alice", "!bind demo")
    assert reply.message.plain() == "This room is now bound to demo."
    await send_in(chat, OPEN, "alice", "!propose Before encryption vote=2d")
    # The adapter saw m.room.encryption in the room: the core records it, once.
    assert await chat.app.governance.room_encrypted(OPEN)
    assert not await chat.app.governance.room_encrypted(OPEN)
    # Recorded, not remembered by the adapter: a message that does not say it still counts.
    await send_in(chat, OPEN, "alice", "!propose After encryption vote=2d")
    assert "#1 Before encryption" in said_in(chat, chat.room)
    assert "#2 After encryption" in said_in(chat, OPEN)
    assert "After encryption" not in said_in(chat, chat.room)


async def test_closed_direct_messages_tell_no_one_who_has_not_voted_in_a_secret_vote(
    chat: Chat,
) -> None:
    chat.outlet.closed_dms.add("carol")
    await chat.ok("alice", "!propose Elect a treasurer vote=3d secret")
    await chat.advance(days=2)  # the 24 h reminder, to those who have not voted
    assert len(chat.outlet.told_to("alice")) == 1
    assert chat.outlet.told_to("carol") == []
    # A notice naming carol would tell the room she had not voted yet.
    assert not [text for text in chat.announced() if "direct messages are closed" in text]


async def test_closed_direct_messages_tell_no_one_whose_hidden_anonymous_story_it_was(
    chat: Chat,
) -> None:
    chat.outlet.closed_dms.add("carol")
    await chat.private("carol", "!story A secret worry share=anonymous")
    await chat.ok("alice", "!role bob moderator")
    await chat.ok("bob", "!story hide 1 Off topic")
    assert not [text for text in chat.announced() if "direct messages are closed" in text]


async def test_a_prompt_scheduled_in_an_encrypted_room_and_its_stories_stay_there(
    chat: Chat,
) -> None:
    await bind_sealed(chat)
    await in_sealed(chat, "alice", "!prompt What keeps you up at night?")
    await chat.ok("alice", "!prompt What made you smile this week?")
    await chat.advance(minutes=1)  # both are posted
    await chat.private("carol", "!story #1 The rent, every month")
    await chat.private("bob", "!story #2 The new apprentice")
    await in_sealed(chat, "alice", "!prompt end 1")
    sealed, plain = said_in(chat, SEALED), said_in(chat, chat.room)
    for said in ("What keeps you up at night?", "The rent, every month", "ended"):
        assert said in sealed
        assert said not in plain
    for said in ("What made you smile this week?", "The new apprentice"):
        assert said in sealed and said in plain


async def test_prompts_asked_in_an_unencrypted_room_leave_out_those_of_an_encrypted_one(
    chat: Chat,
) -> None:
    await bind_sealed(chat)
    await in_sealed(chat, "alice", "!prompt What went wrong with the eviction? every=mon 10:00")
    await in_sealed(chat, "alice", "!propose Change the safe code vote=2d")
    # About a proposal made in the encrypted room, though scheduled in the unencrypted one.
    await chat.ok("alice", "!prompt How did the new code go? proposal=1")
    await chat.ok("alice", "!prompt What made you smile this week? every=fri 17:00")
    listed = await chat.ok("bob", "!prompts")
    assert "What made you smile" in listed
    assert "eviction" not in listed and "new code" not in listed
    assert "#1" not in listed and "#2" not in listed
    sealed = await in_sealed(chat, "bob", "!prompts")
    for said in ("eviction", "new code", "What made you smile"):
        assert said in sealed
    # Ended, they stay out of !prompts all there too, and out of its count.
    await in_sealed(chat, "alice", "!prompt end 1")
    await in_sealed(chat, "alice", "!prompt end 3")
    assert "eviction" not in await chat.ok("bob", "!prompts all")
    assert "eviction" in await in_sealed(chat, "bob", "!prompts all")

    # Editing one echoes its question: refused in the unencrypted room, even an edit
    # that would change nothing (it would confirm a guess).
    kept_back = (
        "Prompt #1 began in an encrypted room, so its question is shown and edited in "
        "encrypted rooms only; do it there."
    )
    assert await chat.fails("alice", "!prompt edit 1 What went wrong with the eviction?") == (
        kept_back
    )
    assert await chat.fails("alice", "!prompt edit 2 What else?") == kept_back.replace("#1", "#2")
    assert "now asks: What else?" in await in_sealed(chat, "alice", "!prompt edit 2 What else?")
    # Pausing, resuming and ending say nothing of the question: a moderator may, anywhere.
    assert (await chat.ok("alice", "!prompt pause 2")).startswith("Prompt #2 is paused")
    assert "eviction" not in said_in(chat, chat.room) and "What else" not in said_in(
        chat, chat.room
    )


async def test_a_story_told_in_a_prompts_thread_of_an_encrypted_room_began_there(
    chat: Chat,
) -> None:
    chat.outlet.threads = True
    # Bound when its encryption went unrecorded (as before migration 0017); nothing
    # typed there since says it is encrypted.
    reply = await send_in(chat, SEALED, "alice", "!bind demo")
    assert reply.message.plain() == "This room is now bound to demo."
    await chat.ok("alice", "!prompt What made you smile this week?")
    key = next(k for where, text, k in chat.outlet.posts if where == SEALED and "#1" in text)
    told = await chat.app.governance.story_in_thread(
        SEALED,
        f"thread-of-{key}",
        chat.account("bob"),
        "The new apprentice",
        chat.clock.now(),
        encrypted=True,  # the adapter says so
    )
    assert told is not None and told.ok, told
    async with chat.app.uow() as uow:
        story = await uow.stories.get(chat.community, 1)
        assert story is not None and story.encrypted_origin
        assert await uow.bindings.is_encrypted(SEALED)  # recorded on the way
    assert await chat.say("bob", "!stories") == "No stories yet. Tell one: !story <text>"
    assert "The new apprentice" in await in_sealed(chat, "bob", "!stories")
