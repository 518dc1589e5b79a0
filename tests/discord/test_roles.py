"""Discord roles reach folkmoot roles while the bot runs: a member given the Stewards
role (mapped to moderator in the config) can close votes at once, and loses it again
with the role."""

from __future__ import annotations

from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import FakeDiscord, FakeUser


async def _ask(fake: FakeDiscord, member: FakeUser, command: str, **options: str | int) -> str:
    ix = await fake.slash(member, command, options, channel=fake.channel("governance"))
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    return str(answer.json["content"])


async def test_a_discord_role_change_reaches_the_member_without_a_restart(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    alice, sam = fake.add_member("alice"), fake.add_member("sam")
    assert "Nothing is open" in await _ask(fake, sam, "status")
    assert await deployed.propose(alice, fake.channel("governance"), "Fix the gate", vote="3d")
    refused = await _ask(fake, sam, "close", proposal=1, text="enough said")
    assert refused.startswith("Only a moderator or above can close a vote early")
    stewards = fake.add_role("Stewards")
    fake.set_roles(sam, [stewards])
    assert await _ask(fake, sam, "close", proposal=1, text="enough said") == "Closed #1."
    fake.set_roles(sam, [])
    await deployed.propose(alice, fake.channel("governance"), "Fix the fence", vote="3d")
    refused = await _ask(fake, sam, "close", proposal=2, text="again")
    assert refused.startswith("Only a moderator or above can close a vote early")
