"""The harness's own tests: members of a real Synapse see what each other send."""

from __future__ import annotations

import secrets

import nio

from tests.matrix.conftest import MakeMember
from tests.matrix.homeserver import Synapse, register
from tests.matrix.member import content, event_type, relates_to


def test_users_are_registered_through_the_admin_api(synapse: Synapse) -> None:
    name = f"probe-{secrets.token_hex(3)}"
    user_id, password = register(synapse, name)
    assert user_id == f"@{name}:localhost"
    assert password


async def test_an_invited_member_joins_and_receives_a_message(members: MakeMember) -> None:
    alice = await members("alice")
    bob = await members("bob")
    room = await alice.create_room(invite=[bob.user_id])
    await bob.wait_for_invite(room)
    await bob.join(room)
    await alice.wait_for_membership(room, bob.user_id)

    sent = await alice.send_text(room, "Hello, Bob")

    got = await bob.wait_for(room, type="m.room.message", sender=alice.user_id)
    assert isinstance(got, nio.RoomMessageText)
    assert (got.event_id, got.body) == (sent, "Hello, Bob")


async def test_a_thread_reply_a_reply_and_a_reaction_carry_their_relations(
    members: MakeMember,
) -> None:
    alice = await members("alice")
    bob = await members("bob")
    room = await alice.create_room()
    await alice.invite(room, bob.user_id)
    await bob.join(room)

    root = await alice.send_text(room, "Proposal 12: paint the shed green")
    in_thread = await bob.send_text(room, "Why green?", thread_root=root)
    reply = await alice.send_text(room, "It matches the door", reply_to=in_thread)
    reaction = await bob.react(room, root, "👍")

    threaded = await alice.wait_for(room, type="m.room.message", sender=bob.user_id)
    assert isinstance(threaded, nio.RoomMessageText)
    assert threaded.event_id == in_thread
    assert relates_to(threaded)["rel_type"] == "m.thread"
    assert relates_to(threaded)["event_id"] == root

    answered = await bob.wait_for(room, lambda e: e.event_id == reply)
    assert relates_to(answered)["m.in_reply_to"] == {"event_id": in_thread}
    assert bob.replies_seen(room, in_thread) == [answered]

    reacted = await alice.wait_for(room, type="m.reaction")
    assert isinstance(reacted, nio.ReactionEvent)
    assert (reacted.event_id, reacted.reacts_to, reacted.key) == (reaction, root, "👍")
    assert alice.reactions_seen(room, root) == {"👍": [bob.user_id]}
    assert await alice.reactions(room, root) == {"👍": [bob.user_id]}
    thread = await alice.relations(room, root, "m.thread")
    assert [e["event_id"] for e in thread] == [in_thread]


async def test_a_poll_its_responses_and_its_end_arrive_as_unknown_events(
    members: MakeMember,
) -> None:
    alice = await members("alice")
    bob = await members("bob")
    room = await alice.create_room(invite=[bob.user_id])
    await bob.join(room)
    answers = [("yes", "Yes"), ("no", "No")]

    for unstable, start_type, response_type in [
        (False, "m.poll.start", "m.poll.response"),
        (True, "org.matrix.msc3381.poll.start", "org.matrix.msc3381.poll.response"),
    ]:
        poll = await alice.send_poll_start(room, "Paint it green?", answers, unstable=unstable)
        started = await bob.wait_for(room, type=start_type)
        assert isinstance(started, nio.UnknownEvent)
        assert started.event_id == poll

        await bob.send_poll_response(room, poll, ["yes"], unstable=unstable)
        response = await alice.wait_for(room, type=response_type, sender=bob.user_id)
        assert isinstance(response, nio.UnknownEvent)
        assert relates_to(response) == {"rel_type": "m.reference", "event_id": poll}
        if unstable:
            assert content(response)[response_type] == {"answers": ["yes"]}
        else:
            assert content(response)["m.selections"] == ["yes"]

        await alice.send_poll_end(room, poll, unstable=unstable)
        end_type = start_type.replace("start", "end")
        ended = await bob.wait_for(room, type=end_type, sender=alice.user_id)
        assert isinstance(ended, nio.UnknownEvent)
        assert relates_to(ended) == {"rel_type": "m.reference", "event_id": poll}

        references = await alice.relations(room, poll, "m.reference")
        assert sorted(event_type_of(e) for e in references) == sorted(
            [response_type, event_type(ended)]
        )


def event_type_of(raw: dict[str, object]) -> str:
    return str(raw["type"])


async def test_an_encrypted_message_is_decrypted_by_the_other_member(
    members: MakeMember,
) -> None:
    alice = await members("alice", encrypted=True)
    bob = await members("bob", encrypted=True)
    room = await alice.create_room(invite=[bob.user_id], encrypted=True)
    await bob.wait_for_invite(room)
    await bob.join(room)
    await alice.wait_for_membership(room, bob.user_id)

    sent = await alice.send_text(room, "A secret ballot opens at noon")

    got = await bob.wait_for(room, sender=alice.user_id, type="m.room.message")
    assert isinstance(got, nio.RoomMessageText)
    assert got.decrypted
    assert (got.event_id, got.body) == (sent, "A secret ballot opens at noon")
    assert bob.client.rooms[room].encrypted
