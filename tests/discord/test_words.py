"""Discord's own words and rights, over the wire: answers name slash commands where
``!`` ones do not work, the command list is never cut at Discord's 2,000 characters,
and admins' and moderators' commands are not offered to every member."""

from __future__ import annotations

from governance.text.usage import USAGE
from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import FakeDiscord, FakeInteraction
from tests.discord.test_cards import _members


async def _help(fake: FakeDiscord, ix: FakeInteraction) -> list[str]:
    """Every follow-up of ``/help``, up to the one that lists help itself (the last)."""
    parts: list[str] = []
    while not any("help [command]" in part for part in parts):
        call = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
        assert call.json["flags"] & 64
        parts.append(str(call.json["content"]))
    return parts


async def test_help_lists_every_command_as_a_slash_command_in_messages_discord_takes(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    (alice,) = await _members(deployed, channel, "alice")
    parts = await _help(fake, await fake.slash(alice, "help", {}, channel=channel))
    assert len(parts) > 1 and all(len(part) <= 2000 for part in parts)
    shown = "\n".join(parts)
    assert shown.endswith("List the commands, or explain one.")  # nothing cut
    for name in USAGE:
        assert f"/{name}" in shown, name
    assert "!vote" not in shown and "/vote 12 yes" in shown
    # A card says how to vote in slash commands too.
    await deployed.propose(alice, channel, "Paint the shop")
    card = await deployed.card(channel)
    assert "/vote 1" in card.json["embeds"][0]["description"]
    assert "!vote" not in card.json["embeds"][0]["description"]


async def test_with_the_message_content_intent_answers_keep_text_commands(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    async with deployed.restarted(message_content=True):
        (alice,) = await _members(deployed, channel, "alice")
        ix = await fake.slash(alice, "help", {"text": "vote"}, channel=channel)
        answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
        assert "!vote 12 yes" in answer.json["content"]
        await fake.member_message(channel, alice, "!help")
        replies: list[str] = []
        while not any("help [command]" in r for r in replies):
            call = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
            replies.append(str(call.json["content"]))
        assert all(len(r) <= 2000 for r in replies)
        assert all(f"!{name}" in "\n".join(replies) for name in USAGE)


async def test_admin_and_moderator_commands_are_offered_only_to_who_may_use_them(
    deployed: Deployment,
) -> None:
    synced = deployed.fake.commands[deployed.fake.guild.id]
    manage_server, manage_messages = str(1 << 5), str(1 << 13)
    for name in ("bind", "unbind", "role", "class", "undelivered", "erase"):
        assert synced[name]["default_member_permissions"] == manage_server, name
    for name in ("deliberate", "close", "extend", "cancel", "remind", "prompt"):
        assert synced[name]["default_member_permissions"] == manage_messages, name
    for name in ("vote", "propose", "status", "help", "withdraw", "story"):
        assert synced[name]["default_member_permissions"] is None, name


async def test_slash_commands_are_registered_again_only_when_they_changed_by_shard_0s_process(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    overwrite = rf"/applications/{fake.application_id}/guilds/{fake.guild.id}/commands"
    assert len(fake.calls_to("PUT", overwrite)) == 1  # the first start registered them
    async with deployed.restarted():
        assert len(fake.calls_to("PUT", overwrite)) == 1  # unchanged: left as they are
    # An older release registered another set: the process running shard 0 puts ours
    # back; one running only shard 1 leaves it.
    fake.commands[fake.guild.id]["vote"]["description"] = "An older description"
    async with deployed.restarted(shard_count=2, shard_ids=(1,)):
        assert len(fake.calls_to("PUT", overwrite)) == 1
    async with deployed.restarted(shard_count=2, shard_ids=(0,)):
        assert len(fake.calls_to("PUT", overwrite)) == 2
    assert fake.commands[fake.guild.id]["vote"]["description"] != "An older description"
    fake.commands[fake.guild.id]["vote"]["default_member_permissions"] = str(1 << 5)
    async with deployed.restarted():  # /vote was hidden from members: shown again
        assert len(fake.calls_to("PUT", overwrite)) == 3
    assert fake.commands[fake.guild.id]["vote"]["default_member_permissions"] is None
