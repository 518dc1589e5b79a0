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


async def test_without_the_content_intent_a_reply_in_a_thread_is_not_an_empty_story(
    deployed: Deployment,
) -> None:
    """Discord blanks the text of members' messages for a bot without the intent: the
    bot must not answer each reply in a prompt's thread that its story is empty."""
    fake = deployed.fake
    channel = fake.channel("governance")
    sam = fake.add_member("sam", roles=[fake.add_role("Stewards")])
    ix = await fake.slash(sam, "prompt", {"text": "What changed for you?"}, channel=channel)
    await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    card = await deployed.card(channel)
    thread = await fake.next_call(
        "POST", rf"/channels/{channel.id}/messages/{card.response['id']}/threads", within=WITHIN
    )
    in_thread = fake.channels[int(thread.response["id"])]
    ana = fake.add_member("ana")
    await fake.member_message(in_thread, ana, "I work four days now")
    ix = await fake.slash(ana, "stories", {"text": ""}, channel=channel)
    listed = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert listed.json["content"].startswith("No stories yet")
    assert fake.calls_to("POST", rf"/channels/{in_thread.id}/messages") == []
