"""Delivery per channel: in order, retried with backoff, given up when a room is gone."""

from __future__ import annotations

from datetime import timedelta

from governance.domain.ids import RoomRef
from tests.chat import Chat

SECOND, BROKEN = RoomRef("test", "room-2"), RoomRef("test", "room-3")


async def _bind_rooms(chat: Chat) -> None:
    for room in (SECOND, BROKEN):
        await chat.app.governance.handle_text(
            room, chat.account("alice"), "!bind demo", chat.clock.now()
        )


def _titles(chat: Chat, room: RoomRef) -> list[str]:
    return [text.splitlines()[0] for r, text, _ in chat.outlet.posts if r == room]


async def test_a_failing_room_keeps_its_order_while_the_others_go_on(chat: Chat) -> None:
    await _bind_rooms(chat)
    chat.outlet.fail_rooms.add(BROKEN)
    await chat.ok("alice", "!propose First thing")
    chat.outlet.fail_rooms.clear()  # the room is back, but #1 waits for its retry
    await chat.ok("alice", "!propose Second thing")
    assert len(_titles(chat, SECOND)) == 2
    assert _titles(chat, BROKEN) == []  # #2 does not overtake #1
    chat.clock.set(chat.clock.now() + timedelta(seconds=2))  # the first backoff
    await chat.app.dispatcher.drain()
    assert [t.split(" — ")[0] for t in _titles(chat, BROKEN)] == [
        "#1 First thing",
        "#2 Second thing",
    ]
    assert _titles(chat, SECOND) == _titles(chat, chat.room)


async def test_a_room_gone_for_good_lands_in_the_dead_letter_list_for_admins(chat: Chat) -> None:
    await _bind_rooms(chat)
    chat.outlet.gone_rooms.add(BROKEN)
    await chat.ok("alice", "!propose Fix the gate")
    await chat.ok("alice", "!propose Oil the hinges")
    assert len(_titles(chat, SECOND)) == 2
    listing = (await chat.ok("alice", "!undelivered")).splitlines()
    assert listing[0] == "Given up on (newest first, at most 20):"
    assert len(listing) == 3
    assert listing[1].startswith("2026-11-23 09:00 UTC: #2 Oil the hinges — voting open until")
    assert listing[1].endswith(
        "→ room test:room-3 (1 attempt; last error: gone: the bot is no longer in test:room-3)"
    )
    assert await chat.fails("bob", "!undelivered") == (
        "Only an admin can see undelivered messages; you are a member."
    )
    chat.outlet.gone_rooms.clear()
    await chat.app.dispatcher.drain()
    assert _titles(chat, BROKEN) == []  # given up means given up: nothing comes late


async def test_a_room_failing_for_a_day_is_given_up_on(chat: Chat) -> None:
    await _bind_rooms(chat)
    chat.outlet.fail_rooms.add(BROKEN)
    await chat.ok("alice", "!propose Paint the fence")
    attempts = 1
    while "Every announcement" in await chat.ok("alice", "!undelivered"):
        chat.clock.set(chat.clock.now() + timedelta(minutes=10))
        await chat.app.dispatcher.drain()
        attempts += 1
        assert attempts < 200, "never given up"
    listing = await chat.ok("alice", "!undelivered")
    assert "#1 Paint the fence" in listing and "ConnectionError" in listing
    assert await chat.ok("bob", "!status 1")  # the proposal itself is untouched
    assert len(_titles(chat, SECOND)) == 1


async def test_with_nothing_given_up_admins_hear_so(chat: Chat) -> None:
    assert await chat.ok("alice", "!undelivered") == (
        "Every announcement and reminder was delivered."
    )
    assert "Usage: !undelivered" in await chat.fails("alice", "!undelivered now")
