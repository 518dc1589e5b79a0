"""Answers whose words are the point reach the member who asked, on a real Synapse.

A command said in a bound room that went well is acknowledged with a ✅ reaction; an
answer that tells something (nobody to remind, the dead-letter list) must not shrink to
that reaction: it is said to the asker in their direct room with the bot.
"""

from __future__ import annotations

from tests.matrix.deployment import WITHIN, MakeBot, body, bound_room, from_bot, next_invite, said
from tests.matrix.member import MakeMember


async def test_remind_with_everyone_voted_and_undelivered_are_told_in_words(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await said(alice, room, "!propose Fix the roof vote=2d")
    for member in (alice, bob):
        await said(member, room, "!vote 1 yes")

    await alice.send_text(room, "!remind 1")
    direct = await next_invite(alice)
    await alice.join(direct)
    told = await alice.wait_for(direct, from_bot(folkmoot, "has voted"), within=WITHIN)
    assert body(told) == "Everyone on the roll of #1 has voted."

    await alice.send_text(room, "!undelivered")
    listing = await alice.wait_for(
        direct, from_bot(folkmoot, "Every announcement and reminder"), within=WITHIN
    )
    assert body(listing) == "Every announcement and reminder was delivered."
    # Neither answer was said in the shared room, where bob would read it.
    assert not bob.received(room, from_bot(folkmoot, "has voted"))
    assert not bob.received(room, from_bot(folkmoot, "Every announcement"))
