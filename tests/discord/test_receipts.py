"""A secret ballot typed as a text command on Discord: the channel sees a reaction, and
the receipt code reaches the voter alone, in a direct message. Where direct messages
are closed, a private answer becomes a notice in the channel that says nothing of it,
and a receipt is only logged (a word in the channel would show who voted)."""

from __future__ import annotations

import logging
import re

import pytest

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


async def test_a_private_answer_to_closed_direct_messages_is_a_notice_in_the_channel(
    deployed: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord.adapter")
    fake = deployed.fake
    channel = fake.channel("governance")
    async with deployed.restarted(message_content=True):
        fake.close_dms(fake.owner)
        asked = await fake.member_message(channel, fake.owner, "!undelivered")
        notice = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
        assert notice.json["content"] == (
            "I could not send you a private message; use /undelivered (answered privately) "
            "or open your direct messages."
        )
        assert int(notice.json["message_reference"]["message_id"]) == int(asked["id"])
        failed = fake.calls_to("POST", rf"/channels/{fake.dm_channel(fake.owner).id}/messages")
        assert [c.status for c in failed] == [403]
        said = [r.getMessage() for r in caplog.records if "not sent by direct" in r.getMessage()]
        assert said == [
            f"a private answer to {fake.owner.id} in channel {channel.id} was not sent by "
            "direct message: their direct messages are closed"
        ]


async def test_a_receipt_to_closed_direct_messages_is_logged_and_not_said_in_the_channel(
    deployed: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord.adapter")
    fake = deployed.fake
    channel = fake.channel("governance")
    async with deployed.restarted(message_content=True):
        alice, bob = await _members(deployed, channel, "alice", "bob")
        await deployed.propose(alice, channel, "Elect a treasurer", settings="secret")
        await deployed.card(channel)
        fake.close_dms(bob)
        await fake.member_message(channel, bob, "!vote 1 yes")
        await fake.next_call("POST", "/users/@me/channels", within=WITHIN)
        dm = fake.dm_channel(bob)
        refused = await fake.next_call("POST", rf"/channels/{dm.id}/messages", within=WITHIN)
        assert refused.status == 403
        posted = len(fake.calls_to("POST", rf"/channels/{channel.id}/messages"))

        def logged() -> bool:
            return any(
                r.getMessage()
                == f"the receipt to {bob.id} in channel {channel.id} was not sent by direct "
                "message: their direct messages are closed"
                for r in caplog.records
            )

        # Bob's next command is answered; nothing else was said in the channel.
        await fake.member_message(channel, bob, "!proposals")
        await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
        await fake.wait_until(logged, within=WITHIN, what="the receipt's failure logged")
        assert len(fake.calls_to("POST", rf"/channels/{channel.id}/messages")) == posted + 1
        assert not any("receipt code" in r.getMessage() for r in caplog.records)
