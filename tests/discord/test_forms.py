"""Forms (modals) on Discord, over the wire: each is bound to the interaction that
opened it, so members filling forms at the same time each get what they asked for;
a form or control the bot no longer knows is answered, never left hanging."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import Call, FakeDiscord, FakeInteraction
from tests.discord.test_cards import _members

EXPIRED = "This form expired; open it again."


async def _first_answer(fake: FakeDiscord, ix: FakeInteraction) -> Call:
    """The bot's first answer to `ix`: an ephemeral message (type 4)."""
    answer = await fake.interaction_response(ix, within=WITHIN)
    assert answer.json["type"] == 4, answer.json
    assert answer.json["data"]["flags"] & 64  # only the member sees it
    return answer


def _closes_in(card: Call) -> timedelta:
    closes = card.json["embeds"][0]["fields"][0]["value"]
    found = re.match(r"<t:(\d+):f>", closes)
    assert found is not None, closes
    return datetime.fromtimestamp(int(found[1]), UTC) - datetime.now(UTC)


async def test_two_members_with_forms_open_at_once_each_get_what_they_asked_for(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob, carol = await _members(deployed, channel, "alice", "bob", "carol")
    # Alice opens /propose for an open one-day vote; before she sends it, Bob opens one
    # for a secret thirty-day vote with a 90 % quorum.
    opened_a = await fake.slash(alice, "propose", {"vote": "1d"}, channel=channel)
    await fake.interaction_response(opened_a, within=WITHIN)
    settings = {"vote": "30d", "settings": "secret quorum=90%"}
    opened_b = await fake.slash(bob, "propose", settings, channel=channel)
    await fake.interaction_response(opened_b, within=WITHIN)
    assert fake.modal_id(opened_a) != fake.modal_id(opened_b)

    sent_a = await fake.modal_submit(alice, fake.modal_id(opened_a), {"title": "Paint the shop"})
    answer = await fake.next_call("POST", sent_a.webhook_path, within=WITHIN)
    assert answer.json["content"] == "Proposed as #1."
    card = await deployed.card(channel)
    assert timedelta(hours=23) < _closes_in(card) <= timedelta(days=1)
    policy = card.json["embeds"][0]["description"]
    assert "secret ballot" not in policy and "quorum" not in policy

    sent_b = await fake.modal_submit(bob, fake.modal_id(opened_b), {"title": "Elect a treasurer"})
    answer = await fake.next_call("POST", sent_b.webhook_path, within=WITHIN)
    assert answer.json["content"] == "Proposed as #2."
    card = await deployed.card(channel)
    assert timedelta(days=29) < _closes_in(card) <= timedelta(days=30)
    assert "secret ballot" in card.json["embeds"][0]["description"]

    # Two members objecting at once, each with a reason of their own; the second sends
    # hers after the proposal was withdrawn: a clear refusal, not silence.
    await deployed.propose(alice, channel, "Open on Sundays", method="consent")
    card = await deployed.card(channel)
    message = int(card.response["id"])
    click_b = await fake.click(bob, message, "folkmoot:why:3:object")
    click_c = await fake.click(carol, message, "folkmoot:why:3:object")
    for click in (click_b, click_c):
        assert (await fake.interaction_response(click, within=WITHIN)).json["type"] == 9
    sent = await fake.modal_submit(bob, fake.modal_id(click_b), {"reason": "Staff rest"})
    receipt = await fake.next_call("POST", sent.webhook_path, within=WITHIN)
    assert receipt.json["content"].startswith("Your vote on #3 is recorded: object")
    withdraw = await fake.slash(alice, "withdraw", {"proposal": 3}, channel=channel)
    await fake.next_call("POST", withdraw.webhook_path, within=WITHIN)
    sent = await fake.modal_submit(carol, fake.modal_id(click_c), {"reason": "Too costly"})
    refusal = await fake.next_call("POST", sent.webhook_path, within=WITHIN)
    assert "withdrawn" in refusal.json["content"]
    assert refusal.json["flags"] & 64


async def test_a_form_sent_twice_makes_one_proposal(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    opened = await fake.slash(alice, "propose", {}, channel=channel)
    await fake.interaction_response(opened, within=WITHIN)
    sent = await fake.modal_submit(alice, fake.modal_id(opened), {"title": "Fix the roof"})
    answer = await fake.next_call("POST", sent.webhook_path, within=WITHIN)
    assert answer.json["content"] == "Proposed as #1."
    again = await fake.modal_submit(alice, fake.modal_id(opened), {"title": "Fix the roof"})
    assert (await _first_answer(fake, again)).json["data"]["content"] == (
        "This form was already sent."
    )
    listed = await fake.slash(alice, "proposals", {}, channel=channel)
    shown = await fake.next_call("POST", listed.webhook_path, within=WITHIN)
    assert "#2" not in shown.json["content"]


async def test_a_form_opened_before_a_restart_is_answered_as_expired(
    deployed: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    opened = await fake.slash(alice, "propose", {"vote": "1d"}, channel=channel)
    await fake.interaction_response(opened, within=WITHIN)
    async with deployed.restarted():
        caplog.set_level(logging.INFO, logger="adapters.discord.adapter")
        sent = await fake.modal_submit(alice, fake.modal_id(opened), {"title": "Fix the roof"})
        assert (await _first_answer(fake, sent)).json["data"]["content"] == EXPIRED
        assert any("form" in r.getMessage() for r in caplog.records)


async def test_a_component_from_an_older_version_is_answered_as_expired(
    deployed: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord.adapter")
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    await deployed.propose(alice, channel, "Paint the shop")
    card = await deployed.card(channel)
    # A button and a form in the custom id formats of older releases.
    click = await fake.stale_click(bob, int(card.response["id"]), "folkmoot:ballot:1:yes")
    answer = await _first_answer(fake, click)
    assert answer.json["data"]["content"].startswith("This control expired")
    assert "/vote" in answer.json["data"]["content"]
    for custom_id, fields in (
        ("folkmoot:propose", {"title": "Old form"}),
        ("folkmoot:reason-form:1:object", {"reason": "Old reason"}),
        ("folkmoot:marks-form:1", {"A": "5"}),
        ("folkmoot:story", {"text": "Old story"}),
    ):
        sent = await fake.stale_modal_submit(bob, custom_id, fields, channel=channel)
        assert (await _first_answer(fake, sent)).json["data"]["content"] == EXPIRED
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("folkmoot:ballot:1:yes" in m for m in logged)
    assert any("folkmoot:propose" in m for m in logged)


async def test_propose_settings_that_will_be_refused_are_answered_before_the_form(
    deployed: Deployment,
) -> None:
    """A misspelt setting is said at once, privately: no form opens for a body that
    would be written for nothing."""
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    opened = await fake.slash(alice, "propose", {"settings": "qourum=60%"}, channel=channel)
    answer = await fake.interaction_response(opened, within=WITHIN)
    assert answer.json["type"] == 4  # a message, not a modal (9)
    assert "did you mean quorum=?" in answer.json["data"]["content"]
    assert answer.json["data"]["flags"] & 64  # ephemeral
