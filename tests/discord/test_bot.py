"""folkmoot's Discord adapter over discord.py's real HTTP and gateway code, against the
loopback fake: what members see and what goes over the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from adapters.discord.adapter import DiscordAdapter
from governance.store import tables as t
from governance.store.platform_state import PlatformState
from tests.discord.conftest import WITHIN, Deployment, _no_identify_wait
from tests.discord.fake import FakeDiscord


async def test_commands_are_synced_to_the_guild_at_start(deployed: Deployment) -> None:
    fake = deployed.fake
    synced = fake.commands[fake.guild.id]
    assert {"propose", "vote", "status", "remind", "help"} <= set(synced)
    assert [o["name"] for o in synced["vote"]["options"]] == ["proposal", "ballot"]


async def test_a_proposal_by_slash_command_gets_a_card_with_buttons_that_count(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = fake.add_member("alice"), fake.add_member("bob")
    # Each answers first, so both are members when voting opens.
    for member in (alice, bob):
        ix = await fake.slash(member, "status", {}, channel=channel)
        assert (await fake.interaction_response(ix, within=WITHIN)).json["type"] == 5
        await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    answer = await deployed.propose(alice, channel, "Paint the shop @everyone", vote="3d")
    assert answer.json["content"] == "Proposed as #1."
    assert answer.json["allowed_mentions"]["parse"] == []
    await deployed.deliver()
    card = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert card.json["embeds"][0]["title"].startswith("#1 Paint the shop @everyone")
    assert card.json["allowed_mentions"]["parse"] == []
    assert card.enforce_nonce and card.nonce
    buttons = [c for row in card.json["components"] for c in row["components"]]
    assert [b["custom_id"] for b in buttons] == [
        "folkmoot:vote:1:yes",
        "folkmoot:vote:1:no",
        "folkmoot:vote:1:abstain",
    ]
    message = card.response["id"]
    click = await fake.click(bob, int(message), "folkmoot:vote:1:yes")
    assert (await fake.interaction_response(click, within=WITHIN)).json["type"] == 5
    receipt = await fake.next_call("POST", click.webhook_path, within=WITHIN)
    assert receipt.json["content"] == "Your vote on #1 is recorded: yes."
    assert receipt.json["flags"] & 64  # ephemeral: only bob sees it
    ix = await fake.slash(bob, "status", {"proposal": 1}, channel=channel)
    status = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert "Ballots so far: 1 of 2." in status.json["content"]


async def test_a_retried_delivery_posts_once(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice = fake.add_member("alice")
    await deployed.propose(alice, channel, "Oil the hinges")
    await deployed.deliver()
    first = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    # Delivered again under the same key by a new process (as after a crash before it
    # was marked done): the nonce keeps it one message.
    async with deployed.app.engine.begin() as conn:
        await conn.execute(update(t.deliveries).values(delivered_at=None))
    async with deployed.restarted():
        await deployed.deliver()
        again = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert again.nonce == first.nonce
    titles = [m for m in fake.channel_messages(channel) if m.get("embeds")]
    assert len(titles) == 1


async def test_bad_input_gets_a_specific_ephemeral_answer(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice = fake.add_member("alice")
    for number, expected in ((1, "There is no proposal #1"), (99, "There is no proposal #99")):
        ix = await fake.slash(alice, "vote", {"proposal": number, "ballot": "yes"}, channel=channel)
        answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
        assert expected in answer.json["content"]
        assert answer.json["flags"] & 64


async def test_a_deliberation_opens_a_thread_under_its_card(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice = fake.add_member("alice")
    await deployed.propose(alice, channel, "Share the tools", deliberate="2d")
    await deployed.deliver()
    card = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    thread = await fake.next_call(
        "POST", rf"/channels/{channel.id}/messages/{card.response['id']}/threads", within=WITHIN
    )
    ix = await fake.slash(alice, "status", {"proposal": 1}, channel=channel)
    status = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert f"Thread in discord:{channel.id}: {thread.response['id']}" in status.json["content"]


async def test_old_buttons_still_count_after_a_restart(
    deployed: Deployment, discord_fake: FakeDiscord
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob = fake.add_member("alice"), fake.add_member("bob")
    for member in (alice, bob):
        ix = await fake.slash(member, "status", {}, channel=channel)
        await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    await deployed.propose(alice, channel, "Keep the buttons")
    await deployed.deliver()
    card = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    await deployed.bot.stop_adapter()
    again = DiscordAdapter(
        deployed.bot.settings,
        deployed.app.governance,
        PlatformState(deployed.app.factory, "discord"),
    )
    again.before_identify_hook = _no_identify_wait  # type: ignore[method-assign]
    deployed.outlets["discord"] = again
    await again.start_adapter()
    try:
        click = await fake.click(bob, int(card.response["id"]), "folkmoot:vote:1:no")
        receipt = await fake.next_call("POST", click.webhook_path, within=WITHIN)
        assert receipt.json["content"] == "Your vote on #1 is recorded: no."
    finally:
        await again.stop_adapter()


async def test_an_interaction_is_deferred_before_the_store_is_free(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice = fake.add_member("alice")
    async with deployed.app.uow() as held:  # the store's writer is busy
        ix = await fake.slash(alice, "propose", {"vote": "2d"}, channel=channel)
        modal = await fake.interaction_response(ix, within=WITHIN)
        assert modal.json["type"] == 9  # the modal needs nothing from the store
        ix = await fake.modal_submit(alice, fake.modal_id(ix), {"title": "Wait for it"})
        deferred = await fake.interaction_response(ix, within=WITHIN)
        assert deferred.json["type"] == 5
        assert not fake.calls_to("POST", ix.webhook_path)  # nothing more while it is held
        await held.commit()
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert answer.json["content"] == "Proposed as #1."


async def test_at_close_the_result_is_posted_and_the_buttons_go_despite_a_429(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice = fake.add_member("alice")
    await deployed.propose(alice, channel, "Close me", vote="1d")
    await deployed.deliver()
    card = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    fake.rate_limit_once("PATCH", rf"/channels/{channel.id}/messages/{card.response['id']}")
    async with deployed.app.engine.begin() as conn:
        # The vote's time is up: its close (and the reminders before it) are due now.
        due = datetime.now(UTC) - timedelta(seconds=1)
        await conn.execute(update(t.due_work).values(due_at=due))
    await deployed.app.governance.run_due()
    await deployed.deliver()
    result = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert result.json["embeds"][0]["title"] == "#1 Close me — voting closed"
    edits = [
        await fake.next_call(
            "PATCH", rf"/channels/{channel.id}/messages/{card.response['id']}", within=WITHIN
        )
        for _ in range(2)
    ]
    assert [e.status for e in edits] == [429, 200]  # retried after retry_after
    assert edits[1].json["components"] == []


async def test_a_link_code_is_answered_ephemerally_and_links_a_second_account(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    synced = fake.commands[fake.guild.id]
    assert {"link", "unlink", "erase"} <= set(synced)
    assert [o["name"] for o in synced["link"]["options"]] == ["text"]
    channel = fake.channel("governance")
    alice, alt = fake.add_member("alice"), fake.add_member("alice-alt")
    for member in (alice, alt):
        ix = await fake.slash(member, "status", {}, channel=channel)
        await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    ix = await fake.slash(alice, "link", {}, channel=channel)
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert answer.json["flags"] & 64  # ephemeral: the code is alice's alone
    code = answer.json["content"].split(": ", 1)[1].split()[0]
    ix = await fake.slash(alt, "link", {"text": code}, channel=channel)
    linked = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert linked.json["flags"] & 64
    assert "This account is now linked" in linked.json["content"]
