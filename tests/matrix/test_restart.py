"""Restarts and failed sends on a real Synapse.

After a restart every room the bot is in can be written to at once, however quiet it
kept meanwhile: a bound room (encrypted ones encrypted), a member's direct room. A room
the bot was removed from while it was down is given up, and holds up nothing else. An
answer whose sending fails is sent again, or reported lost (never with its words). The
log holds the bot's lines, not matrix-nio's chatter, and warns of messages missed only
in a room the bot knew before."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

import pytest

from adapters.matrix import adapter
from tests.matrix.deployment import (
    WITHIN,
    MakeBot,
    body,
    bound_room,
    from_bot,
    next_invite,
    room_with_bot,
    said,
    watching,
)
from tests.matrix.homeserver import Synapse
from tests.matrix.member import MakeMember, Member, relates_to
from tests.matrix.proxy import proxy_to
from tests.scrape import Said

PROMPTLY = 10.0
"""What "at once" allows: well under the dispatcher's retries or a member speaking."""
UNSTABLE_START = "org.matrix.msc3381.poll.start"
REPLIES = "/send/m.room.message/folkmoot-reply-"
"""The path of the bot's answers to commands (their transaction ids)."""


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll what no event announces (rows in the bot's database) for at most PROMPTLY."""
    try:
        async with asyncio.timeout(PROMPTLY):
            while True:
                if await condition():
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not within {PROMPTLY} s: {what}") from None


async def opened_direct_room(member: Member, seen: int, bot_user: str) -> str:
    """The direct room the bot opens with `member` (by a reminder; they had `seen`
    invitations before), once the bot has seen them there (it answered them there)."""
    direct = await next_invite(member, seen)
    await member.join(direct)
    await member.wait_for(
        direct, lambda e: e.sender == bot_user and "Reminder:" in body(e), within=WITHIN
    )
    _, status = await said(member, direct, "!status 1")
    assert "#1" in body(status)
    return direct


async def test_a_restart_with_quiet_rooms_writes_to_every_room_at_once(
    members: MakeMember, bot: MakeBot
) -> None:
    alice = await members("alice", encrypted=True)
    bob = await members("bob", encrypted=True)
    carol = await members("carol")
    folkmoot = bot(alice)
    await folkmoot.start()
    room = await room_with_bot(alice, [bob, carol], folkmoot)
    _, reply = await said(alice, room, "!bind coop")
    assert body(reply) == "This room is now bound to coop."
    secret = await room_with_bot(alice, [bob], folkmoot, encrypted=True)
    # Beside an unencrypted room: what begins in this one stays in encrypted rooms.
    _, reply = await said(alice, secret, "!bind coop confirm")
    assert body(reply).startswith("This room is now bound to coop.")
    await said(alice, room, "!propose Elect a treasurer secret vote=2d")
    seen = {member: len(member.invites) for member in (bob, carol)}
    await said(alice, room, "!remind 1")  # opens a direct room with each member
    bobs = await opened_direct_room(bob, seen[bob], folkmoot.user_id)
    carols = await opened_direct_room(carol, seen[carol], folkmoot.user_id)

    await folkmoot.stop()
    await folkmoot.start()  # nobody says anything in those rooms meanwhile

    # A card (through the outbox) in the encrypted room, quiet since it was bound:
    # encrypted, its poll too.
    await said(alice, room, "!propose Buy a kettle vote=2d")
    card = await bob.wait_for(secret, from_bot(folkmoot, "#2 Buy a kettle"), within=PROMPTLY)
    assert card.decrypted
    poll = await bob.wait_for(secret, type=UNSTABLE_START, within=PROMPTLY)
    assert poll.sender == folkmoot.user_id and poll.decrypted
    # A receipt (sent by the adapter itself) in carol's quiet direct room.
    _, ack = await said(carol, room, "!vote 1 yes")
    assert relates_to(ack)["key"] == "✅"
    receipt = await carol.wait_for(carols, from_bot(folkmoot, "receipt code"), within=PROMPTLY)
    assert body(receipt).startswith("Your secret ballot on #1 is recorded.")
    # A reminder (through the outbox) in bob's quiet direct room.
    await said(alice, room, "!remind 2")
    reminder = await bob.wait_for(bobs, from_bot(folkmoot, "Reminder:"), within=PROMPTLY)
    assert "!vote 2" in body(reminder)


async def test_a_room_the_bot_was_removed_from_while_down_is_given_up_at_once(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    gone = await room_with_bot(alice, [], folkmoot)
    _, reply = await said(alice, gone, "!bind coop")
    assert body(reply) == "This room is now bound to coop."
    await folkmoot.stop()
    await alice.client.room_kick(gone, folkmoot.user_id, reason="tidying up")
    await folkmoot.start()

    await said(bob, room, "!propose Fix the gate vote=2d")
    await alice.wait_for(room, from_bot(folkmoot, "#1 Fix the gate"), within=PROMPTLY)

    # Its delivery there is given up (admins read it with !undelivered), not retried
    # for a day; the other room's next announcement is not held up either.
    async def given_up() -> bool:
        return any(dead for _, dead, _ in await folkmoot.deliveries(gone))

    await until(given_up, f"the delivery to {gone} given up")
    await said(bob, room, "!propose Oil the hinges vote=2d")
    await alice.wait_for(room, from_bot(folkmoot, "#2 Oil the hinges"), within=PROMPTLY)


async def test_an_answer_whose_sending_fails_is_sent_again_or_reported_lost(
    synapse: Synapse, members: MakeMember, bot: MakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "ANSWER_RETRY_WAITS", (0.2, 0.4, 0.8))
    alice, bob = await members("alice"), await members("bob")
    async with (
        proxy_to(synapse.url) as proxy,
        watching("adapters.matrix.adapter") as logged,
    ):
        folkmoot = bot(alice)
        folkmoot.homeserver = proxy.url
        await folkmoot.start()
        room = await room_with_bot(alice, [bob], folkmoot)
        await said(alice, room, "!bind coop")
        # A card whose sending fails (502) comes with the outbox's next try.
        proxy.fail("/send/m.room.message/folkmoot-", status=502, times=1)
        await said(alice, room, "!propose Elect a treasurer secret vote=2d")
        await alice.wait_for(room, from_bot(folkmoot, "#1 Elect a treasurer"), within=WITHIN)

        # The receipt's sending fails twice (500): it reaches bob all the same.
        proxy.fail(REPLIES, status=500, times=2)
        await said(bob, room, "!vote 1 yes")
        direct = await next_invite(bob)
        await bob.join(direct)
        first = await bob.wait_for(direct, from_bot(folkmoot, "receipt code"), within=WITHIN)

        # Refused there (403): the direct room is taken as gone, and a new one opened.
        proxy.fail(f"/rooms/{direct}/send/", status=403, times=1)
        await said(bob, room, "!vote 1 no")
        again = await next_invite(bob)
        assert again != direct
        await bob.join(again)
        second = await bob.wait_for(again, from_bot(folkmoot, "receipt code"), within=WITHIN)

        # Failing every time: reported lost, saying what, never the words, nor (a
        # secret ballot's receipt) whose it was or which event cast it.
        proxy.fail(REPLIES, status=500, times=None)
        await said(bob, room, "!vote 1 abstain")
        lost = await logged.said("was lost")
        await folkmoot.stop()
    assert lost.levelno == logging.ERROR
    assert "a receipt was lost" in lost.getMessage()
    assert bob.user_id not in lost.getMessage() and again not in lost.getMessage()
    assert "$" not in lost.getMessage()
    everything = "\n".join(r.getMessage() for r in logged.records)
    for receipt in (first, second):
        code = body(receipt).rsplit(" ", 1)[1].rstrip(".")
        assert len(code) >= 6 and code not in everything
    assert "receipt code" not in everything


@contextlib.contextmanager
def everything_logged() -> Iterator[Said]:
    """Every record that reaches the root logger's handlers (levels left as they are)."""
    said = Said(WITHIN)
    root = logging.getLogger()
    root.addHandler(said)
    try:
        yield said
    finally:
        root.removeHandler(said)


async def test_only_a_room_known_before_is_warned_of_messages_missed_and_nio_is_quiet(
    members: MakeMember, bot: MakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = {"room": {"timeline": {"limit": 5}}, "presence": {"types": []}}
    monkeypatch.setattr(adapter, "SYNC_FILTER", short)
    alice = await members("alice")
    folkmoot = bot(alice)
    with everything_logged() as logged:
        await folkmoot.start()
        room = await alice.create_room()
        for n in range(8):
            await alice.send_text(room, f"before the bot came, {n}")
        # Its first sync of the room holds only the latest 5 events: no warning for that.
        await alice.invite(room, folkmoot.user_id)
        await alice.wait_for_membership(room, folkmoot.user_id)
        _, reply = await said(alice, room, "!bind coop")
        assert body(reply) == "This room is now bound to coop."
        await folkmoot.stop()
        for n in range(8):
            await alice.send_text(room, f"while the bot was away, {n}")
        await folkmoot.start()
        _, reply = await said(alice, room, "!status")
        assert "Nothing is open" in body(reply)
        await folkmoot.stop()
    missed = [r for r in logged.records if "more messages while away" in r.getMessage()]
    assert [(r.levelno, r.args) for r in missed] == [(logging.WARNING, (room,))]
    # matrix-nio says a line or more at INFO for every event it syncs: kept out, while
    # the bot's own lines stay.
    assert any(r.name == "bot.runner" and r.levelno == logging.INFO for r in logged.records)
    chatter = [
        r for r in logged.records if r.name.startswith("nio") and r.levelno < logging.WARNING
    ]
    assert [r.getMessage() for r in chatter] == []


async def test_a_result_whose_card_edit_fails_is_sent_once_while_the_edit_is_retried(
    synapse: Synapse, members: MakeMember, bot: MakeBot
) -> None:
    """The result is one delivery: its message, then the card's edit. When the edit
    fails, the delivery is tried again; its message is not sent again (Synapse would
    drop a repeat only while it remembers the transaction, and the outbox may retry
    for a day)."""
    alice, bob = await members("alice"), await members("bob")
    async with proxy_to(synapse.url) as proxy:
        folkmoot = bot(alice)
        folkmoot.homeserver = proxy.url
        await folkmoot.start()
        room = await room_with_bot(alice, [bob], folkmoot)
        await said(alice, room, "!bind coop")
        await said(alice, room, "!propose Paint the shop vote=1d")
        card = await bob.wait_for(room, from_bot(folkmoot, "#1 Paint the shop"), within=WITHIN)
        await said(bob, room, "!vote 1 yes")

        edit = proxy.fail("-card", status=502, times=2)
        await folkmoot.due_now(1)
        await bob.wait_for(room, from_bot(folkmoot, "voting closed"), within=WITHIN)
        await bob.wait_for(
            room,
            lambda e: (
                e.sender == folkmoot.user_id
                and relates_to(e).get("rel_type") == "m.replace"
                and relates_to(e).get("event_id") == card.event_id
                and "voting closed" in str(e.source["content"].get("m.new_content", {}))
            ),
            within=WITHIN,
        )
        await folkmoot.stop()
    assert edit.failed == 2
    puts = [path for method, path in proxy.requests if method == "PUT"]
    card_edits = [path for path in puts if path.endswith("-card")]
    assert len(card_edits) == 3  # two failures, then the edit
    result = card_edits[0].removesuffix("-card")
    assert puts.count(result) == 1
