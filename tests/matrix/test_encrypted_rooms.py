"""A community with an end-to-end encrypted room and an unencrypted one, on a real
Synapse: what begins in the encrypted room never reaches the unencrypted one; what
begins there reaches both; binding such a mix asks for confirm."""

from __future__ import annotations

import asyncio

from tests.matrix.deployment import WITHIN, Bot, MakeBot, body, from_bot, room_with_bot, said
from tests.matrix.member import MakeMember, Member, relates_to

MIXING = (
    "This room is encrypted, and coop has an unencrypted room. What begins here — "
    "proposals made here, with their cards, deliberation, reminders, results and outcomes, "
    "and stories told here — will be posted in coop's encrypted rooms only, never in the "
    "unencrypted ones. What begins in an unencrypted room will be posted here too. "
    "Say !bind coop confirm to bind it."
)


async def mixed_rooms(alice: Member, folkmoot: Bot) -> tuple[str, str]:
    """An unencrypted room bound to coop, then an encrypted one, bound with confirm."""
    plain = await room_with_bot(alice, [], folkmoot)
    _, bound = await said(alice, plain, "!bind coop")
    assert body(bound) == "This room is now bound to coop."
    sealed = await room_with_bot(alice, [], folkmoot, encrypted=True)
    _, refused = await said(alice, sealed, "!bind coop")
    assert body(refused) == MIXING
    _, confirmed = await said(alice, sealed, "!bind coop confirm")
    assert body(confirmed).startswith("This room is now bound to coop. Its rooms are")
    return plain, sealed


async def test_a_proposal_made_in_an_encrypted_room_never_reaches_the_unencrypted_one(
    members: MakeMember, bot: MakeBot
) -> None:
    alice = await members("alice", encrypted=True)
    folkmoot = bot(alice)
    await folkmoot.start()
    plain, sealed = await mixed_rooms(alice, folkmoot)

    await said(alice, sealed, "!propose Change the safe code vote=2d")
    await alice.wait_for(sealed, from_bot(folkmoot, "#1 Change the safe code"), within=WITHIN)
    # A later proposal from the unencrypted room reaches both rooms; the room's messages
    # come in order, so once it is there, #1's card would have been there before it.
    await said(alice, plain, "!propose Paint the door vote=2d")
    await alice.wait_for(plain, from_bot(folkmoot, "#2 Paint the door"), within=WITHIN)
    await alice.wait_for(sealed, from_bot(folkmoot, "#2 Paint the door"), within=WITHIN)
    assert not alice.received(plain, lambda e: "Change the safe code" in body(e))


async def test_encryption_turned_on_in_a_bound_room_is_noticed_from_its_state_event(
    members: MakeMember, bot: MakeBot
) -> None:
    alice = await members("alice", encrypted=True)
    folkmoot = bot(alice)
    await folkmoot.start()
    plain, sealed = await mixed_rooms(alice, folkmoot)
    await alice.client.room_put_state(
        plain, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}
    )
    # Answered in the other room: the bot's sync has passed the state event, and it
    # handles one sync's events before the next's. Nothing is said in `plain` meanwhile.
    await said(alice, sealed, "!status")
    await said(alice, sealed, "!propose Change the safe code vote=2d")
    # The room is encrypted now: what began in an encrypted room is said there too.
    await alice.wait_for(plain, from_bot(folkmoot, "#1 Change the safe code"), within=WITHIN)


async def test_an_encrypted_room_recorded_as_unencrypted_is_known_again_after_a_restart(
    members: MakeMember, bot: MakeBot
) -> None:
    alice = await members("alice", encrypted=True)
    folkmoot = bot(alice)
    await folkmoot.start()
    plain, sealed = await mixed_rooms(alice, folkmoot)
    # Asked in the unencrypted room, the prompt is posted in both, opening a thread in each.
    await said(alice, plain, "!prompt What made you smile?")
    posting = await alice.wait_for(
        sealed, from_bot(folkmoot, ": What made you smile?"), within=WITHIN
    )
    await folkmoot.stop()
    # As a database from before rooms' encryption was recorded (migration 0017) has it.
    assert not await folkmoot.binding_encrypted(sealed, set_to=False)
    await folkmoot.start()
    # The start-up sync's full state shows the room is encrypted: recorded, no command
    # typed there.
    async with asyncio.timeout(WITHIN):
        while True:  # polled: no event says it
            if await folkmoot.binding_encrypted(sealed):
                break
            await asyncio.sleep(0.2)

    # A story told as a reply in the prompt's thread there began in an encrypted room:
    # the unencrypted room's !stories leaves it out.
    told = await alice.send_text(sealed, "The rent, every month", thread_root=posting.event_id)
    answer = await alice.wait_for(
        sealed,
        lambda e: (
            e.sender == folkmoot.user_id
            and relates_to(e).get("m.in_reply_to", {}).get("event_id") == told
        ),
        within=WITHIN,
    )
    assert body(answer).startswith("Thank you: your story is #1, kept for the community")
    _, listed = await said(alice, plain, "!stories")
    assert body(listed) == "No stories yet. Tell one: !story <text>"
    _, listed = await said(alice, sealed, "!stories")
    assert "The rent, every month" in body(listed)
