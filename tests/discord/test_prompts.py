"""Prompts on Discord, over the wire fake: ``/prompt`` and ``/prompts`` are synced like
every core command, and a posting opens a thread the core maps back to its prompt."""

from __future__ import annotations

from governance.domain.ids import RoomRef
from tests.discord.conftest import WITHIN, Deployment


async def test_the_prompt_commands_are_synced_with_a_text_option(deployed: Deployment) -> None:
    synced = deployed.fake.commands[deployed.fake.guild.id]
    for name in ("prompt", "prompts"):
        assert [o["name"] for o in synced[name]["options"]] == ["text"]
        assert len(synced[name]["description"]) <= 100


async def test_a_posting_opens_a_thread_that_maps_back_to_its_prompt(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    stewards = fake.add_role("Stewards")
    alice = fake.add_member("alice", roles=[stewards])
    bob = fake.add_member("bob")
    ix = await fake.slash(bob, "prompt", {"text": "Why?"}, channel=channel)
    refused = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert "Only a moderator or above can schedule prompts" in refused.json["content"]
    question = "What changed for you this month?"
    ix = await fake.slash(alice, "prompt", {"text": question}, channel=channel)
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert answer.json["content"] == "Prompt #1 is posted now."
    card = await deployed.card(channel)
    thread = await fake.next_call(
        "POST", rf"/channels/{channel.id}/messages/{card.response['id']}/threads", within=WITHIN
    )
    assert thread.json["name"] == f"Prompt #1: {question}"
    room = RoomRef("discord", str(channel.id))
    found = await deployed.app.governance.prompt_of_thread(room, thread.response["id"])
    assert found is not None and (found.number, found.question) == (1, question)
    ix = await fake.slash(bob, "prompts", {}, channel=channel)
    listed = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert question in listed.json["content"]
