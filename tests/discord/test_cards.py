"""Proposal cards on Discord, over the wire: the controls each kind of ballot gets,
the private flows behind them, the live tally, autocompletion and direct messages."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from bot.bootstrap import ensure_binding
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.store import tables as t
from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import Call, FakeChannel, FakeDiscord, FakeUser


async def _members(deployed: Deployment, channel: FakeChannel, *names: str) -> list[FakeUser]:
    """Members who have spoken once, so they are on the roll when voting opens."""
    fake = deployed.fake
    members = [fake.add_member(name) for name in names]
    for member in members:
        ix = await fake.slash(member, "proposals", {}, channel=channel)
        await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    return members


def _controls(card: Call) -> list[dict[str, Any]]:
    return [c for row in card.json["components"] for c in row["components"]]


async def _answer(fake: FakeDiscord, ix_path: str) -> str:
    call = await fake.next_call("POST", ix_path, within=WITHIN)
    return str(call.json["content"])


async def test_votes_by_button_change_and_the_live_tally_is_edited_at_most_once_per_interval(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob, carol = await _members(deployed, channel, "alice", "bob", "carol")
    gate = asyncio.Event()  # the interval between two edits ends when the test says
    deployed.bot.tallies.pace = gate.wait
    await deployed.propose(alice, channel, "Paint the shop", vote="3d")
    card = await deployed.card(channel)
    message = int(card.response["id"])
    closes = card.json["embeds"][0]["fields"][0]
    assert closes["name"] == "Voting closes"
    assert closes["value"].endswith(":R>)") and closes["value"].startswith("<t:")
    edits = rf"/channels/{channel.id}/messages/{message}"

    click = await fake.click(bob, message, "folkmoot:vote:1:yes")
    assert await _answer(fake, click.webhook_path) == "Your vote on #1 is recorded: yes."
    first = await fake.next_call("PATCH", edits, within=WITHIN)
    tally = first.json["embeds"][0]["fields"][-1]
    assert tally["name"] == "Live tally" and "Ballots: 1 of 3 on the roll." in tally["value"]
    assert first.json["embeds"][0]["fields"][0] == closes  # the rest of the card stays

    for member, answer in ((carol, "no"), (alice, "yes")):
        click = await fake.click(member, message, f"folkmoot:vote:1:{answer}")
        assert "recorded" in await _answer(fake, click.webhook_path)
    click = await fake.click(bob, message, "folkmoot:vote:1:no")
    assert await _answer(fake, click.webhook_path) == "Your vote on #1 is changed to no (was yes)."
    assert len(fake.calls_to("PATCH", edits)) == 1  # three votes wait for the interval
    gate.set()
    second = await fake.next_call("PATCH", edits, within=WITHIN)
    shown = second.json["embeds"][0]["fields"][-1]["value"]
    assert "Ballots: 3 of 3 on the roll." in shown
    assert shown.startswith("Provisional, while voting is open: Rejected — 1 yes, 2 no.")
    ix = await fake.slash(bob, "status", {"proposal": 1}, channel=channel)
    assert "Your vote: no." in await _answer(fake, ix.webhook_path)  # bob changed his vote


async def test_a_ranked_ballot_goes_through_a_private_flow(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    answer = await deployed.propose(
        alice, channel, "Which tree", options="Oak\nBirch\nPine", method="ranked"
    )
    assert answer.json["content"] == "Proposed as #1."
    card = await deployed.card(channel)
    assert [c["custom_id"] for c in _controls(card)] == ["folkmoot:rank:1"]
    start = await fake.click(bob, int(card.response["id"]), "folkmoot:rank:1")
    flow = await fake.interaction_response(start, within=WITHIN)
    assert flow.json["type"] == 4 and flow.json["data"]["flags"] & 64  # only bob sees it
    assert start.original_id is not None
    private = start.original_id
    pick = await fake.select(bob, private, "folkmoot:rank-next:1:", ["B"])
    update_ = await fake.interaction_response(pick, within=WITHIN)
    assert update_.json["type"] == 7
    assert "1. Birch" in update_.json["data"]["content"]
    pick = await fake.select(bob, private, "folkmoot:rank-next:1:B", ["C"])
    await fake.interaction_response(pick, within=WITHIN)
    assert "2. Pine" in fake.message(private)["content"]
    cast = await fake.click(bob, private, "folkmoot:rank-cast:1:BC")
    assert await _answer(fake, cast.webhook_path) == "Your vote on #1 is recorded: Birch > Pine."
    posted = [
        m
        for m in fake.channel_messages(channel)
        if not int(m.get("flags", 0)) & 64 and int(m["id"]) != int(card.response["id"])
    ]
    assert posted == []  # the whole flow was private: nothing said in the channel


async def test_twenty_options_are_a_select_and_a_form_at_its_limits_is_taken_whole(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    title = "T" * 199 + "é"
    body = "b" * 4000
    options = "\n".join(f"Option {i} " + "x" * 80 for i in range(1, 21))
    answer = await deployed.propose(alice, channel, title, body=body, options=options)
    assert answer.json["content"] == "Proposed as #1."
    card = await deployed.card(channel)
    embed = card.json["embeds"][0]
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    (select,) = _controls(card)
    assert select["type"] == 3 and len(select["options"]) == 20
    assert select["max_values"] == 1
    pick = await fake.select(bob, int(card.response["id"]), "folkmoot:pick:1", ["T"])
    receipt = await _answer(fake, pick.webhook_path)
    assert receipt.startswith("Your vote on #1 is recorded: Option 20")
    too_long = await deployed.propose(alice, channel, "Too many", options=options + "\nOne more")
    assert "at most 20 options" in too_long.json["content"]


async def test_an_objection_asks_for_its_reason_in_a_modal(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    await deployed.propose(alice, channel, "Open on Sundays", method="consent")
    card = await deployed.card(channel)
    ids = [c["custom_id"] for c in _controls(card)]
    assert ids == [
        "folkmoot:vote:1:consent",
        "folkmoot:why:1:object",
        "folkmoot:vote:1:stand-aside",
    ]
    click = await fake.click(bob, int(card.response["id"]), "folkmoot:why:1:object")
    assert (await fake.interaction_response(click, within=WITHIN)).json["type"] == 9
    submit = await fake.modal_submit(
        bob, fake.modal_id(click), {"reason": "Staff need\na day off  @everyone"}
    )
    receipt = await _answer(fake, submit.webhook_path)
    assert receipt.startswith("Your vote on #1 is recorded: object")
    aside = await fake.click(alice, int(card.response["id"]), "folkmoot:vote:1:stand-aside")
    assert "stand-aside" in await _answer(fake, aside.webhook_path)


async def test_scores_go_in_a_modal_field_per_option(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    await deployed.propose(
        alice, channel, "Rate the menus", options="Soup\nStew\nSalad", method="score"
    )
    card = await deployed.card(channel)
    click = await fake.click(bob, int(card.response["id"]), "folkmoot:marks:1")
    modal = await fake.interaction_response(click, within=WITHIN)
    assert modal.json["type"] == 9
    submit = await fake.modal_submit(bob, fake.modal_id(click), {"A": "5", "C": " 2 "})
    receipt = await _answer(fake, submit.webhook_path)
    assert receipt == "Your vote on #1 is recorded: Soup=5, Salad=2."
    bad = await fake.click(bob, int(card.response["id"]), "folkmoot:marks:1")
    await fake.interaction_response(bad, within=WITHIN)
    submit = await fake.modal_submit(bob, fake.modal_id(bad), {"B": "9"})
    assert "0" in await _answer(fake, submit.webhook_path)  # the range, said back


async def test_autocomplete_answers_from_memory_while_the_store_is_held(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    await deployed.propose(alice, channel, "Plant a hedge", options="Beech\nHolly", method="choice")
    await deployed.propose(alice, channel, "Paint the fence", settings="draft")
    await deployed.card(channel)
    async with deployed.app.uow():  # the store's writer is busy: menus must not wait
        ix = await fake.autocomplete(bob, "vote", {"proposal": "hed"}, "proposal", channel=channel)
        found = await fake.interaction_response(ix, within=WITHIN)
        assert found.json["type"] == 8
        assert [c["value"] for c in found.json["data"]["choices"]] == [1]
        ix = await fake.autocomplete(
            bob, "vote", {"proposal": 1, "ballot": "ho"}, "ballot", channel=channel
        )
        found = await fake.interaction_response(ix, within=WITHIN)
        assert found.json["data"]["choices"] == [{"name": "B — Holly", "value": "B"}]
        ix = await fake.autocomplete(bob, "open", {"proposal": ""}, "proposal", channel=channel)
        found = await fake.interaction_response(ix, within=WITHIN)
        names = [c["name"] for c in found.json["data"]["choices"]]
        assert names == ["#2 Paint the fence — draft", "#1 Plant a hedge — voting"]


async def test_a_secret_receipt_goes_by_dm_and_closed_dms_are_said_to_the_voter_alone(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob, carol = await _members(deployed, channel, "alice", "bob", "carol")
    await deployed.propose(alice, channel, "Elect a treasurer", settings="secret")
    card = await deployed.card(channel)
    click = await fake.click(bob, int(card.response["id"]), "folkmoot:vote:1:yes")
    await fake.next_call("POST", click.webhook_path, within=WITHIN)
    await fake.next_call("POST", "/users/@me/channels", within=WITHIN)
    dm = fake.dm_channel(bob)
    receipt = await fake.next_call("POST", rf"/channels/{dm.id}/messages", within=WITHIN)
    assert receipt.json["content"].startswith(
        "Your secret ballot on #1 is recorded. Only the count will be shown. Your receipt code: "
    )
    fake.close_dms(carol)
    click = await fake.click(carol, int(card.response["id"]), "folkmoot:vote:1:no")
    first = await fake.next_call("POST", click.webhook_path, within=WITHIN)
    assert first.json["flags"] & 64
    assert "Your receipt code: " in first.json["content"]
    notice = await fake.next_call("POST", click.webhook_path, within=WITHIN)
    assert notice.json["flags"] & 64  # carol alone is told …
    assert notice.json["content"] == (
        "Your direct messages are closed to me, so this receipt for #1 is not kept there: "
        "note its code now."
    )
    await deployed.deliver()
    public = [  # … and nothing in the channel says that she voted
        m
        for m in fake.channel_messages(channel)
        if not int(m.get("flags", 0)) & 64 and str(carol.id) in json.dumps(m)
    ]
    assert public == []


async def test_a_reminder_to_closed_dms_becomes_a_notice_in_the_channel(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = await _members(deployed, channel, "alice", "bob")
    fake.close_dms(bob)
    await deployed.propose(alice, channel, "Fix the roof", vote="3d")
    await deployed.card(channel)
    async with deployed.app.engine.begin() as conn:  # the first reminder is due now
        first = await conn.scalar(
            t.due_work.select().with_only_columns(t.due_work.c.id).order_by(t.due_work.c.due_at)
        )
        due = datetime.now(UTC) - timedelta(seconds=1)
        await conn.execute(update(t.due_work).where(t.due_work.c.id == first).values(due_at=due))
    await deployed.app.governance.run_due()
    notice = await deployed.card(channel)
    text = notice.json["embeds"][0]["description"]
    assert text.startswith(f"<@{bob.id}>: I could not send you a private message")
    assert "Fix the roof" not in text
    assert notice.json["allowed_mentions"]["parse"] == []


async def test_the_live_tally_follows_votes_cast_on_another_platform(
    deployed: Deployment,
) -> None:
    """A community bound to a Discord channel and to a room elsewhere (the console's
    kind here; Matrix goes through the same core): a vote cast there shows on the card."""
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    elsewhere = RoomRef("console", "coop-room")
    await ensure_binding(deployed.app, elsewhere, CommunityId("coop"))
    governance = deployed.app.governance
    ines = AccountRef("console", "ines")
    joined = await governance.handle(
        Join(Context(ines, elsewhere, CommunityId("coop"), datetime.now(UTC)), "ines")
    )
    assert joined.ok
    await deployed.propose(alice, channel, "Paint the shop", vote="3d")
    card = await deployed.card(channel)
    edits = rf"/channels/{channel.id}/messages/{card.response['id']}"
    voted = await governance.handle_text(elsewhere, ines, "!vote 1 no", datetime.now(UTC))
    assert voted is not None and voted.ok
    edited = await fake.next_call("PATCH", edits, within=WITHIN)
    shown = edited.json["embeds"][0]["fields"][-1]["value"]
    assert "Ballots: 1 of 2 on the roll." in shown


async def test_a_card_whose_post_fails_with_a_server_error_is_posted_once_on_retry(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    fake.fail_once("POST", rf"/channels/{channel.id}/messages", status=503)
    await deployed.propose(alice, channel, "Paint the shop")
    await deployed.deliver()
    failed = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert failed.status == 503
    async with deployed.app.engine.begin() as conn:  # its backoff is over
        await conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.next_attempt_at.is_not(None))
            .values(next_attempt_at=datetime.now(UTC))
        )
    card = await deployed.card(channel)
    assert card.status == 200 and card.json["embeds"][0]["title"].startswith("#1 Paint the shop")
    cards = [m for m in fake.channel_messages(channel) if m.get("components")]
    assert len(cards) == 1
