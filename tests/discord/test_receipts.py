"""A secret ballot typed as a text command on Discord: the channel sees a reaction, and
the receipt code reaches the voter alone, in a direct message."""

from __future__ import annotations

import re

from tests.discord.conftest import WITHIN, Deployment
from tests.discord.test_cards import _members


async def test_a_typed_secret_ballot_gets_its_receipt_code_by_direct_message(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    async with deployed.restarted(message_content=True):
        alice, bob = await _members(deployed, channel, "alice", "bob")
        await deployed.propose(alice, channel, "Elect a treasurer", settings="secret")
        await fake.member_message(channel, bob, "!vote 1 yes")
        await fake.next_call(
            "PUT", rf"/channels/{channel.id}/messages/\d+/reactions/.+/@me", within=WITHIN
        )
        await fake.next_call("POST", "/users/@me/channels", within=WITHIN)
        dm = fake.dm_channel(bob)
        receipt = await fake.next_call("POST", rf"/channels/{dm.id}/messages", within=WITHIN)
        assert re.search(r"Your receipt code: [A-Z2-7]{5}-[A-Z2-7]{5}\.", receipt.json["content"])
        # An open vote's typed ballot is still only a reaction.
        await deployed.propose(alice, channel, "Paint the hall")
        await fake.member_message(channel, bob, "!vote 2 yes")
        await fake.next_call(
            "PUT", rf"/channels/{channel.id}/messages/\d+/reactions/.+/@me", within=WITHIN
        )
