"""`/unbind` over the wire: a channel taken away from its community, from itself or from
another channel, refuses its cards' buttons and offers nothing, as any unbound one."""

from __future__ import annotations

from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import FakeChannel, FakeDiscord, FakeUser
from tests.discord.test_resilience import ask, click, join, propose

NOT_BOUND = "This room is not bound to a community; an admin can /bind it."


async def offered(fake: FakeDiscord, member: FakeUser, channel: FakeChannel) -> list[str]:
    """What `/status` autocompletes in `channel` for an empty `proposal`."""
    ix = await fake.autocomplete(member, "status", {"proposal": ""}, "proposal", channel=channel)
    found = await fake.interaction_response(ix, within=WITHIN)
    assert found.json["type"] == 8
    return [c["name"] for c in found.json["data"]["choices"]]


async def test_an_unbound_channel_refuses_its_cards_buttons_and_can_be_bound_again(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    governance, general = fake.channel("governance"), await deployed.second_channel()
    owner, bob = fake.owner, fake.add_member("bob")
    await join(fake, governance, owner, bob)
    await join(fake, general, bob)
    card_here = await propose(deployed, owner, "Paint the shop vote=3d", governance)
    card_there = await fake.next_call("POST", rf"/channels/{general.id}/messages", within=WITHIN)
    card_there_id = int(card_there.response["id"])
    assert await offered(fake, bob, general) == ["#1 Paint the shop — voting"]

    assert await ask(fake, bob, "unbind", f"discord:{general.id}", governance) == (
        "Only an admin of coop can unbind a room from it."
    )
    assert await ask(fake, owner, "unbind", f"discord:{general.id}", governance) == (
        f"discord:{general.id} is no longer bound to coop."
    )
    # In #general now: the card's buttons are refused as in any unbound channel, and
    # nothing is offered to complete.
    assert await click(fake, bob, card_there_id, "folkmoot:vote:1:yes") == NOT_BOUND
    assert await offered(fake, bob, general) == []
    assert await ask(fake, owner, "unbind", "", general) == (
        "This room is not bound to a community; there is nothing to unbind."
    )
    # In #governance the vote goes on.
    assert await click(fake, bob, card_here, "folkmoot:vote:1:yes") == (
        "Your vote on #1 is recorded: yes."
    )

    # Bound again, #general's card works again; unbound from itself, it stops at once.
    assert await ask(fake, owner, "bind", "coop", general) == "This room is now bound to coop."
    assert await click(fake, bob, card_there_id, "folkmoot:vote:1:no") == (
        "Your vote on #1 is changed to no (was yes)."
    )
    assert await offered(fake, bob, general) == ["#1 Paint the shop — voting"]
    assert await ask(fake, owner, "unbind", "", general) == (
        "This room is no longer bound to coop."
    )
    assert await offered(fake, bob, general) == []
    assert await click(fake, bob, card_there_id, "folkmoot:vote:1:yes") == NOT_BOUND
    assert "Your vote: no." in await ask(fake, bob, "status", "1", governance)  # not counted
