"""Discord roles reach folkmoot roles while the bot runs: a member given the Stewards
role (mapped to moderator in the config) can close votes at once, and loses it again
with the role."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from adapters.discord import adapter as adapter_module
from bot.bootstrap import ensure_binding
from governance.domain.commands import Context, Erase, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.store import tables as t
from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import FakeChannel, FakeDiscord, FakeUser


async def _ask(
    fake: FakeDiscord,
    member: FakeUser,
    command: str,
    *,
    channel: FakeChannel | None = None,
    **options: str | int,
) -> str:
    ix = await fake.slash(member, command, options, channel=channel or fake.channel("governance"))
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


async def test_discord_roles_give_stakeholder_classes_and_a_conflict_changes_nothing(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    async with deployed.restarted(class_names={"Workers": "workers", "Users": "users"}):
        workers, users = fake.add_role("Workers"), fake.add_role("Users")
        sam = fake.add_member("sam", roles=[workers])

        async def class_of_sam() -> str | None:
            await _ask(fake, sam, "status")
            async with deployed.app.engine.connect() as conn:
                found = await conn.scalar(
                    select(t.members.c.stakeholder_class)
                    .join(t.accounts, t.accounts.c.member_id == t.members.c.id)
                    .where(t.accounts.c.account_id == str(sam.id))
                )
            return None if found is None else str(found)

        assert await class_of_sam() == "workers"
        fake.set_roles(sam, [users])
        assert await class_of_sam() == "users"
        fake.set_roles(sam, [users, workers])  # two classes at once: which? neither
        assert await class_of_sam() == "users"
        fake.set_roles(sam, [])
        assert await class_of_sam() is None


async def test_an_erased_member_who_comes_back_joins_again(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_module, "MEMBER_TTL", 0.0)  # ask the store at every click
    fake = deployed.fake
    channel = fake.channel("governance")
    sam = fake.add_member("sam")
    assert "Nothing is open" in await _ask(fake, sam, "status")
    room = RoomRef("discord", str(channel.id))
    admin = Context(AccountRef("test", "root"), room, CommunityId("coop"), datetime.now(UTC))
    await deployed.app.governance.handle(Join(admin, "root", role=Role.ADMIN))
    erased = await deployed.app.governance.handle(Erase(admin, "sam"))
    assert erased.ok, erased.message.plain()
    answer = await deployed.propose(sam, channel, "Back again")
    assert answer.json["content"] == "Proposed as #1."  # a member again, not refused


async def test_the_servers_owner_and_managers_are_admins_unless_the_config_says_otherwise(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    bob = fake.add_member("bob")
    assert "Nothing is open" in await _ask(fake, bob, "status")
    managers = fake.add_role("Managers", permissions=1 << 5)  # Manage Server
    maya = fake.add_member("maya", roles=[managers])
    assert await _ask(fake, fake.owner, "role", text="bob moderator") == ("Bob is now a moderator.")
    assert await _ask(fake, maya, "role", text="bob observer") == "Bob is now an observer."
    fake.set_roles(bob, [managers])  # given Manage Server while the bot runs
    assert await _ask(fake, bob, "role", text="maya member") == "Maya is now a member."
    async with deployed.restarted(server_admins=False):
        quinn = fake.add_member("quinn", roles=[managers])
        refused = await _ask(fake, quinn, "role", text="bob member")
        assert refused.startswith("Only an admin")


async def test_a_partner_servers_owner_is_no_admin_of_a_community_bound_in_both(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    bob = fake.add_member("bob")
    assert "Nothing is open" in await _ask(fake, bob, "status")
    # Bound in one server: its owner is an admin.
    assert await _ask(fake, fake.owner, "role", text="bob moderator") == "Bob is now a moderator."
    # Bound in a partner's server too, whose owner is someone else.
    partner = fake.add_guild("Partner", channels=("commons",))
    pat = fake.add_member("pat", guild=partner)
    partner.owner_id = pat.id
    fake.commands[partner.id] = copy.deepcopy(fake.commands[fake.guild.id])
    await fake.add_bot_to_guild(partner)
    commons = fake.channel("commons", guild=partner)
    room = RoomRef("discord", str(commons.id))
    await ensure_binding(deployed.app, room, CommunityId("coop"))
    refused = await _ask(fake, pat, "role", channel=commons, text="bob member")
    assert refused.startswith("Only an admin"), refused
    refused = await _ask(fake, pat, "unbind", channel=commons)
    assert refused == "Only an admin of coop can unbind a room from it.", refused
    async with deployed.app.engine.connect() as conn:
        role = await conn.scalar(
            select(t.members.c.role)
            .join(t.accounts, t.accounts.c.member_id == t.members.c.id)
            .where(t.accounts.c.account_id == str(pat.id))
        )
    assert role == Role.MEMBER
