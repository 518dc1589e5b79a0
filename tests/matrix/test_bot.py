"""folkmoot on a real Synapse, as `folkmoot run` composes it, with members' clients.

Each test runs the real `run_bot` in this process (SQLite, the Matrix adapter under
its lease, the scheduler, the outbox dispatcher) and asserts what members see.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import nio
import pytest

from bot.config import CommunityConfig, FileConfig, MatrixConfig, Settings
from bot.runner import AdapterStartError, run_bot
from tests.matrix.deployment import (
    WITHIN,
    MakeBot,
    body,
    bound_room,
    from_bot,
    next_invite,
    room_with_bot,
    said,
)
from tests.matrix.homeserver import Synapse, register
from tests.matrix.member import MakeMember, content, event_type, relates_to

UNSTABLE_START = "org.matrix.msc3381.poll.start"


async def test_propose_vote_by_text_and_poll_change_and_a_timed_close(
    members: MakeMember, bot: MakeBot
) -> None:
    alice, bob, carol = await members("alice"), await members("bob"), await members("carol")
    folkmoot = bot(alice)
    await folkmoot.start()
    room = await room_with_bot(alice, [bob, carol], folkmoot)

    _, reply = await said(alice, room, "!bind coop")
    assert body(reply) == "This room is now bound to coop."
    assert content(reply)["m.mentions"] == {}

    _, ack = await said(alice, room, "!propose Paint the <b>shop</b> @room vote=1d")
    assert event_type(ack) == "m.reaction" and relates_to(ack)["key"] == "✅"
    card = await alice.wait_for(room, from_bot(folkmoot, "#1 Paint the"), within=WITHIN)
    assert content(card)["msgtype"] == "m.notice" and content(card)["m.mentions"] == {}
    html = content(card)["formatted_body"]
    assert "&lt;b&gt;shop&lt;/b&gt;" in html and "<b>shop</b>" not in html
    assert "folkmoot's tally is the official one" in body(card)
    assert "or vote with !vote 1 yes: both count" in body(card)  # text votes count too
    poll = await alice.wait_for(room, type=UNSTABLE_START, sender=folkmoot.user_id)
    start = content(poll)[UNSTABLE_START]
    assert [a["id"] for a in start["answers"]] == ["yes", "no", "abstain"]
    assert start["max_selections"] == 1

    _, ack = await said(bob, room, "!vote 1 yes")
    assert relates_to(ack)["key"] == "✅"
    # Both response types count: Element's, and the stable one other clients send.
    await carol.send_poll_response(room, poll.event_id, ["no"], unstable=True)
    await carol.send_poll_response(room, poll.event_id, ["yes"])  # changes her ballot
    _, status = await said(carol, room, "!status 1")
    assert "Your vote: yes." in body(status)
    assert "Ballots so far: 2 of 3." in body(status)

    await folkmoot.due_now(1)
    closed = await alice.wait_for(room, from_bot(folkmoot, "voting closed"), within=WITHIN)
    assert "Passed — 2 yes, 0 no." in body(closed)
    assert "<table>" in content(closed)["formatted_body"]
    end = await alice.wait_for(room, type="org.matrix.msc3381.poll.end", within=WITHIN)
    assert relates_to(end) == {"rel_type": "m.reference", "event_id": poll.event_id}
    assert await folkmoot.ballots(1) == 2
    # One poll per proposal, in the form Element renders: never a stable one beside it.
    assert not alice.received(room, lambda e: event_type(e) in ("m.poll.start", "m.poll.end"))


async def test_votes_sent_while_the_bot_is_down_count_once_after_a_restart(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob, carol) = await bound_room(members, bot, "alice", "bob", "carol")
    await said(alice, room, "!propose Buy a van vote=2d")
    await folkmoot.stop()

    await bob.send_text(room, "!vote 1 yes")
    await carol.send_text(room, "!vote 1 no")
    await folkmoot.start()
    for voter in (bob, carol):
        mine = voter.received(room, lambda e, v=voter: e.sender == v.user_id)[-1]
        ack = await voter.wait_for(
            room, lambda e, m=mine: relates_to(e).get("event_id") == m.event_id, within=WITHIN
        )
        assert relates_to(ack)["key"] == "✅"
    assert await folkmoot.ballots(1) == 2
    # Restarted again: the same events come back from the sync token, and count once.
    await folkmoot.stop()
    await folkmoot.start()
    _, status = await said(alice, room, "!status 1")
    assert "Ballots so far: 2 of 3." in body(status)


async def test_malformed_commands_and_unbound_rooms_get_helpful_replies(
    members: MakeMember, bot: MakeBot
) -> None:
    alice, bob = await members("alice"), await members("bob")
    folkmoot = bot(alice)
    await folkmoot.start()
    room = await room_with_bot(alice, [bob], folkmoot)
    _, hint = await said(bob, room, "!vote 1 yes")
    assert body(hint) == "This room is not bound to a community; an admin can !bind it."
    await said(alice, room, "!bind coop")
    _, reply = await said(bob, room, "!vote")
    assert "Usage: !vote <id>" in body(reply)
    _, reply = await said(bob, room, "!frobnicate")
    assert "!help" in body(reply)
    _, reply = await said(bob, room, "!status 99")
    assert body(reply).startswith("There is no proposal #99")
    _, reply = await said(bob, room, "!propose " + "x" * 300)
    assert "the limit is 200" in body(reply)


async def test_an_unbound_room_is_told_so_each_time_it_is_unbound(
    members: MakeMember, bot: MakeBot
) -> None:
    _, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    _, reply = await said(alice, room, "!unbind")
    assert body(reply).startswith("This room is coop's last bound room.")
    _, reply = await said(alice, room, "!unbind confirm")
    assert body(reply).startswith("This room is no longer bound to coop.")
    hint = "This room is not bound to a community; an admin can !bind it."
    _, reply = await said(bob, room, "!status")
    assert body(reply) == hint
    _, reply = await said(alice, room, "!bind coop")
    assert body(reply) == "This room is now bound to coop."
    _, reply = await said(alice, room, "!unbind confirm")
    assert body(reply).startswith("This room is no longer bound to coop.")
    _, reply = await said(bob, room, "!status")  # unbound anew: the hint again
    assert body(reply) == hint


async def test_a_deliberation_thread_gets_its_summary_and_the_opening(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await said(bob, room, "!propose Share the tools deliberate=2d")
    card = await alice.wait_for(room, from_bot(folkmoot, "in deliberation until"), within=WITHIN)
    await said(bob, room, "!summary 1 Saturdays suit everyone.")

    def in_thread(text: str) -> Callable[[nio.Event], bool]:
        return lambda e: (
            e.sender == folkmoot.user_id
            and text in body(e)
            and relates_to(e).get("rel_type") == "m.thread"
            and relates_to(e).get("event_id") == card.event_id
        )

    await alice.wait_for(room, in_thread("summary by"), within=WITHIN)
    await said(bob, room, "!open 1")
    await alice.wait_for(room, in_thread("voting open until"), within=WITHIN)
    _, status = await said(alice, room, "!status 1")
    assert f"Thread in matrix:{room}: {card.event_id}" in body(status)


async def test_reminders_and_refusals_go_to_a_direct_room(
    members: MakeMember, bot: MakeBot
) -> None:
    # bob, in the room when it is bound, becomes a member
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await said(alice, room, "!propose Elect a treasurer secret vote=2d")
    await said(alice, room, "!remind 1")
    direct = await next_invite(bob)
    await bob.join(direct)
    reminder = await bob.wait_for(direct, from_bot(folkmoot, "Reminder:"), within=WITHIN)
    assert "!vote 1" in body(reminder) and content(reminder)["m.mentions"] == {}
    # In the direct room: the ballot is confirmed there in words (the room is bob's
    # alone), a refusal answered there.
    _, refusal = await said(bob, direct, "!vote 1 maybe")
    assert "maybe" in body(refusal)
    _, receipt = await said(bob, direct, "!vote 1 yes")
    assert body(receipt).startswith(
        "Your secret ballot on #1 is recorded. Only the count will be shown. Your receipt code: "
    )  # the receipt code reaches the voter in their direct room
    assert await folkmoot.ballots(1) == 1
    assert not bob.received(room, from_bot(folkmoot, "maybe"))


async def test_a_vote_in_an_encrypted_room_is_counted(members: MakeMember, bot: MakeBot) -> None:
    alice = await members("alice", encrypted=True)
    bob = await members("bob", encrypted=True)
    folkmoot = bot(alice)
    await folkmoot.start()
    room = await room_with_bot(alice, [bob], folkmoot, encrypted=True)
    _, reply = await said(alice, room, "!bind coop")
    assert body(reply) == "This room is now bound to coop."
    await said(alice, room, "!propose Encrypt the archive vote=2d")
    card = await bob.wait_for(room, from_bot(folkmoot, "#1 Encrypt the archive"), within=WITHIN)
    assert isinstance(card, nio.RoomMessage)  # decrypted: the bot's answers are encrypted too
    _, ack = await said(bob, room, "!vote 1 yes")
    assert relates_to(ack)["key"] == "✅"
    assert await folkmoot.ballots(1) == 1
    # Its card shows the tally: the bot read its own encrypted card back to edit it.
    edit = await bob.wait_for(
        room,
        lambda e: relates_to(e) == {"rel_type": "m.replace", "event_id": card.event_id},
        sender=folkmoot.user_id,
        within=WITHIN,
    )
    assert edit.decrypted and "1 yes, 0 no" in content(edit)["m.new_content"]["body"]
    # The relation is in the clear as well, so the homeserver (and Element) find the edit.
    assert [e["event_id"] for e in await bob.relations(room, card.event_id, "m.replace")] == [
        edit.event_id
    ]


async def test_a_wrong_password_stops_start_up_with_a_clear_message(
    synapse: Synapse, tmp_path: Path
) -> None:
    user_id, _ = register(synapse, f"{secrets.token_hex(3)}-folkmoot")
    settings = Settings(data_dir=tmp_path, matrix_password="not-the-password")  # type: ignore[arg-type]
    config = FileConfig(
        communities=[CommunityConfig(name="coop")],
        matrix=MatrixConfig(homeserver=synapse.url, user_id=user_id),
    )
    with pytest.raises(AdapterStartError, match=f"Matrix login as {user_id} failed") as info:
        await asyncio.wait_for(run_bot(settings, config), timeout=WITHIN)
    assert "not-the-password" not in str(info.value)
    unreachable = FileConfig(
        communities=[CommunityConfig(name="coop")],
        matrix=MatrixConfig(homeserver="http://127.0.0.1:9", user_id=user_id),
    )
    with pytest.raises(AdapterStartError, match="unreachable"):
        await asyncio.wait_for(run_bot(settings, unreachable), timeout=WITHIN)


async def test_room_power_levels_give_roles_as_configured(
    members: MakeMember, bot: MakeBot
) -> None:
    alice, bob, carol = await members("alice"), await members("bob"), await members("carol")
    folkmoot = bot(alice)
    await folkmoot.start()
    room = await room_with_bot(alice, [bob, carol], folkmoot)
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels"
    levels = await alice.api("GET", path)
    levels["users"][bob.user_id] = 50
    await alice.api("PUT", path, levels)
    await alice.wait_for(
        room, lambda e: content(e).get("users", {}).get(bob.user_id) == 50, within=WITHIN
    )
    await said(alice, room, "!bind coop")
    await said(alice, room, "!propose Hire a baker vote=2d")
    _, refused = await said(carol, room, "!close 1 enough")
    assert "Only a moderator or above can close a vote early" in body(refused)
    _, ack = await said(bob, room, "!close 1 we have decided")  # power level 50: moderator
    assert relates_to(ack)["key"] == "✅"


async def test_a_power_level_change_reaches_the_member_without_a_restart(
    members: MakeMember, bot: MakeBot
) -> None:
    _, room, (alice, carol) = await bound_room(members, bot, "alice", "carol")
    await said(alice, room, "!propose Hire a baker vote=2d")
    _, refused = await said(carol, room, "!close 1 enough")
    assert "Only a moderator or above can close a vote early" in body(refused)
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels"
    levels = await alice.api("GET", path)
    levels["users"][carol.user_id] = 50
    await alice.api("PUT", path, levels)
    await alice.wait_for(
        room, lambda e: content(e).get("users", {}).get(carol.user_id) == 50, within=WITHIN
    )
    _, ack = await said(carol, room, "!close 1 we have decided")  # 50: now a moderator
    assert relates_to(ack)["key"] == "✅"


async def test_an_upgraded_room_takes_its_binding_along(members: MakeMember, bot: MakeBot) -> None:
    folkmoot, room, (alice,) = await bound_room(members, bot, "alice")
    await said(alice, room, "!propose Move house vote=2d")
    upgraded = await alice.api(
        "POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": "10"}
    )
    new_room = upgraded["replacement_room"]
    await alice.invite(new_room, folkmoot.user_id)  # the new room is invite-only, as was the old
    await alice.wait_for_membership(new_room, folkmoot.user_id)
    _, status = await said(alice, new_room, "!status 1")
    assert body(status).startswith("#1 Move house — voting until")


async def test_invites_are_accepted_only_from_configured_accounts(
    members: MakeMember, bot: MakeBot
) -> None:
    alice, mallory = await members("alice"), await members("mallory")
    folkmoot = bot(alice)
    folkmoot.invite_from = [alice.user_id]
    await folkmoot.start()
    elsewhere = await mallory.create_room(invite=[folkmoot.user_id])
    room = await alice.create_room(invite=[folkmoot.user_id])
    await alice.wait_for_membership(room, folkmoot.user_id)  # alice may invite it
    # By then the bot has seen mallory's earlier invite too, and not taken it.
    joined = await mallory.api("GET", f"/_matrix/client/v3/rooms/{quote(elsewhere)}/joined_members")
    assert list(joined["joined"]) == [mallory.user_id]


async def test_stray_poll_answers_and_redacted_commands_change_nothing(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await said(alice, room, "!propose Plant a hedge vote=2d")
    card = await alice.wait_for(room, from_bot(folkmoot, "#1 Plant a hedge"), within=WITHIN)
    ours = await alice.wait_for(room, type=UNSTABLE_START, sender=folkmoot.user_id)
    theirs = await alice.send_poll_start(room, "Lunch?", [("yes", "Yes"), ("no", "No")])
    await bob.send_poll_response(room, theirs, ["yes"])  # not the bot's poll: not a ballot
    await bob.send_poll_response(room, card.event_id, ["yes"])  # its card is not a poll
    await bob.send_poll_response(room, ours.event_id, ["maybe"])  # not an answer it offered
    direct = await next_invite(bob)  # the refusal is said privately
    await bob.join(direct)
    refusal = await bob.wait_for(direct, from_bot(folkmoot, "maybe"), within=WITHIN)
    assert content(refusal)["m.mentions"] == {}
    # Sent and redacted while the bot is away: the redacted command is not handled.
    await folkmoot.stop()
    sent = await bob.send_text(room, "!vote 1 yes")
    await bob.client.room_redact(room, sent, reason="sent by mistake")
    await folkmoot.start()
    _, status = await said(alice, room, "!status 1")
    assert "Ballots so far: 0 of 2." in body(status)


async def test_a_member_who_leaves_the_direct_room_gets_a_new_one(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await said(alice, room, "!propose Fix the roof vote=2d")
    await said(alice, room, "!remind 1")
    first = await next_invite(bob)
    await bob.join(first)
    await bob.wait_for(first, from_bot(folkmoot, "Reminder:"), within=WITHIN)
    await bob.client.room_leave(first)
    await said(alice, room, "!remind 1")
    second = await next_invite(bob)
    assert second != first
    await bob.join(second)
    await bob.wait_for(second, from_bot(folkmoot, "Reminder:"), within=WITHIN)
