"""A proposal card once its vote has ended, over the wire: it says how it ended, not
"voting open", and a failed edit is retried like any delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from governance.store import tables as t
from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import FakeChannel, FakeUser
from tests.discord.test_cards import _members


async def _moderator(deployed: Deployment, channel: FakeChannel) -> FakeUser:
    fake = deployed.fake
    (sam,) = await _members(deployed, channel, "sam")
    fake.set_roles(sam, [fake.add_role("Stewards")])
    return sam


async def _run(deployed: Deployment, member: FakeUser, name: str, **options: Any) -> str:
    fake = deployed.fake
    ix = await fake.slash(member, name, options, channel=fake.channel("governance"))
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    return str(answer.json["content"])


def _field_names(embed: dict[str, Any]) -> list[str]:
    return [f["name"] for f in embed.get("fields", [])]


async def test_a_closed_cards_final_content(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    sam = await _moderator(deployed, channel)
    deployed.bot.tallies.pace = asyncio.Event().wait  # one live tally edit, no more
    await deployed.propose(alice, channel, "Paint the shop", vote="3d")
    card = await deployed.card(channel)
    edits = rf"/channels/{channel.id}/messages/{card.response['id']}"
    click = await fake.click(bob, int(card.response["id"]), "folkmoot:vote:1:yes")
    await fake.next_call("POST", click.webhook_path, within=WITHIN)
    live = await fake.next_call("PATCH", edits, within=WITHIN)
    assert "Provisional" in json.dumps(live.json)

    assert await _run(deployed, sam, "close", proposal=1, text="enough said") == "Closed #1."
    result = await deployed.card(channel)
    assert result.json["embeds"][0]["title"].startswith("#1 Paint the shop — closed early")
    final = await fake.next_call("PATCH", edits, within=WITHIN)
    assert final.json["components"] == []  # no controls
    embed = final.json["embeds"][0]
    assert embed["title"] == "#1 Paint the shop — closed early by Sam"
    assert "Voting closes" not in _field_names(embed)  # no countdown
    assert "Live tally" not in _field_names(embed)
    assert "Provisional" not in json.dumps(embed) and "<t:" not in json.dumps(embed)
    ended = next(f["value"] for f in embed["fields"] if f["name"] == "How it ended")
    assert "Reason: enough said" in ended and "Passed" in ended
    assert "Proposed by Alice" in embed["description"]
    assert "!vote" not in embed["description"]  # no way to vote is offered


async def test_a_live_tally_edit_racing_the_close_does_not_open_the_card_again(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    fake.bucket_size = 5  # several edits in one channel at once, as Discord allows
    channel = fake.channel("governance")
    alice, bob, carol = await _members(deployed, channel, "alice", "bob", "carol")
    sam = await _moderator(deployed, channel)
    pace = asyncio.Event()
    deployed.bot.tallies.pace = pace.wait
    await deployed.propose(alice, channel, "Paint the shop", vote="3d")
    card = await deployed.card(channel)
    card_id = int(card.response["id"])
    edits = rf"/channels/{channel.id}/messages/{card_id}"
    click = await fake.click(bob, card_id, "folkmoot:vote:1:yes")
    await fake.next_call("POST", click.webhook_path, within=WITHIN)
    await fake.next_call("PATCH", edits, within=WITHIN)  # a first live tally

    # The next live tally read the card while open; its edit is kept from Discord …
    held = fake.hold("PATCH", edits)
    click = await fake.click(carol, card_id, "folkmoot:vote:1:no")
    await fake.next_call("POST", click.webhook_path, within=WITHIN)
    pace.set()
    stale = await held.reached(within=WITHIN)
    assert await fake.next_call("PATCH", edits) is stale
    # … while the vote is closed and its result delivered.
    assert await _run(deployed, sam, "close", proposal=1, text="enough said") == "Closed #1."
    closing = asyncio.create_task(deployed.deliver())
    result = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert "closed early" in result.json["embeds"][0]["title"]
    with contextlib.suppress(AssertionError):  # the close's edit does not wait for it …
        await fake.next_call("PATCH", edits, within=1.0)
    held.release()  # … or it does: either way the card ends closed
    await asyncio.wait_for(closing, WITHIN)
    embed = fake.message(card_id)["embeds"][0]
    assert embed["title"] == "#1 Paint the shop — closed early by Sam"
    assert [f["name"] for f in embed.get("fields", [])] == ["How it ended"]


async def test_a_withdrawn_and_a_cancelled_card_say_so(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    sam = await _moderator(deployed, channel)
    for number, title in ((1, "Paint the shop"), (2, "Fix the roof")):
        await deployed.propose(alice, channel, title)
        card = await deployed.card(channel)
        if number == 1:
            await _run(deployed, alice, "withdraw", proposal=1)
            said = "#1 Paint the shop — withdrawn by Alice"
        else:
            await _run(deployed, sam, "cancel", proposal=2, text="out of budget")
            said = "#2 Fix the roof — cancelled by Sam"
        await deployed.card(channel)
        edit = rf"/channels/{channel.id}/messages/{card.response['id']}"
        final = await fake.next_call("PATCH", edit, within=WITHIN)
        assert final.json["components"] == []
        embed = final.json["embeds"][0]
        assert embed["title"] == said
        assert _field_names(embed) == ["How it ended"]
    assert "Reason: out of budget" in embed["fields"][0]["value"]


@pytest.mark.parametrize("forgotten", [False, True], ids=["soon", "after-nonces-forgotten"])
async def test_a_card_edit_failing_at_close_is_retried_and_the_result_posted_once(
    deployed: Deployment, forgotten: bool
) -> None:
    """The result's delivery posts it, then edits the card; the edit fails and the
    delivery is tried again, soon or long after (the outbox retries for a day, longer
    than Discord remembers a nonce): the card shows the end, the result is posted once."""
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    sam = await _moderator(deployed, channel)
    await deployed.propose(alice, channel, "Paint the shop")
    card = await deployed.card(channel)
    edits = rf"/channels/{channel.id}/messages/{card.response['id']}"
    fake.fail_once("PATCH", edits, status=503)
    await _run(deployed, sam, "close", proposal=1, text="done")
    await deployed.card(channel)  # the result
    failed = await fake.next_call("PATCH", edits, within=WITHIN)
    assert failed.status == 503
    shown = fake.message(int(card.response["id"]))
    assert shown["embeds"][0]["title"].startswith("#1 Paint the shop — voting open")
    if forgotten:
        fake.forget_nonces()  # minutes pass before the next try
    async with deployed.app.engine.begin() as conn:  # its backoff is over
        await conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.next_attempt_at.is_not(None))
            .values(next_attempt_at=datetime.now(UTC))
        )
    await deployed.deliver()
    final = await fake.next_call("PATCH", edits, within=WITHIN)
    assert final.status == 200
    assert final.json["embeds"][0]["title"] == "#1 Paint the shop — closed early by Sam"
    results = [
        m
        for m in fake.channel_messages(channel)
        if m.get("embeds")
        and "closed early" in m["embeds"][0].get("title", "")
        and int(m["id"]) != int(card.response["id"])
    ]
    assert len(results) == 1  # the retried delivery posted its result once


async def test_a_card_deleted_before_close_leaves_the_result_posted_and_is_logged(
    deployed: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    sam = await _moderator(deployed, channel)
    await deployed.propose(alice, channel, "Paint the shop")
    card = await deployed.card(channel)
    await fake.member_delete(fake.message(int(card.response["id"])))  # a moderator's doing
    await _run(deployed, sam, "close", proposal=1, text="done")
    result = await deployed.card(channel)
    assert "closed early" in result.json["embeds"][0]["title"]
    assert any("could not show how it ended" in r.getMessage() for r in caplog.records)
    async with deployed.app.engine.connect() as conn:  # delivered: nothing waits to retry
        failing = await conn.scalar(
            select(func.count()).where(t.deliveries.c.first_failed_at.is_not(None))
        )
    assert failing == 0
