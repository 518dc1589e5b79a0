"""The Discord adapter when things go wrong, over the wire against the loopback fake:
the gateway reconnects or drops the session mid-vote, a command comes from a room that
belongs to no community, a channel is deleted under an open proposal, a member lacks
the Discord role that makes them a moderator, a button outlives its proposal, and user
text tries to ping everyone. Each test asserts what members would notice."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest
from discord import ui
from sqlalchemy import func, select, update

from adapters.discord.components import VoteButton
from governance.store import tables as t
from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import EPHEMERAL, Call, FakeChannel, FakeDiscord, FakeUser

# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
async def every_route_served(discord_fake: FakeDiscord) -> AsyncIterator[None]:
    """A call to a route the fake does not serve would be answered 404 and could pass
    for a gone channel or user: none may happen."""
    yield
    assert not discord_fake.unhandled, [str(c) for c in discord_fake.unhandled]


async def ask(
    fake: FakeDiscord, member: FakeUser, command: str, args: str, channel: FakeChannel
) -> str:
    """``/command args`` as the member (``args`` as typed after ``!command``, put in the
    command's options, or the ``/propose`` modal); the bot's answer, only they see."""
    if command == "propose":
        parts = re.split(r"\s(?=[a-z-]+=|draft$|secret$)", args, maxsplit=1)
        title, settings = parts[0], " ".join(parts[1:])
        ix = await fake.slash(
            member, "propose", {"settings": settings} if settings else {}, channel=channel
        )
        await fake.interaction_response(ix, within=WITHIN)
        ix = await fake.modal_submit(member, fake.modal_id(ix), {"title": title})
    else:
        ix = await fake.slash(member, command, _options(fake, command, args), channel=channel)
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert answer.json["flags"] & EPHEMERAL, answer.json
    return str(answer.json["content"])


def _options(fake: FakeDiscord, command: str, args: str) -> dict[str, str | int]:
    synced = fake.commands[fake.guild.id][command].get("options", [])
    names = [o["name"] for o in synced]
    if "proposal" not in names:
        return {"text": args} if args else {}
    number, _, rest = args.partition(" ")
    options: dict[str, str | int] = {"proposal": int(number)} if number else {}
    if rest:
        options[names[1]] = rest
    return options


async def click(fake: FakeDiscord, member: FakeUser, card: int, custom_id: str) -> str:
    """A click on a button of the card; the bot's answer, which only the member sees."""
    ix = await fake.click(member, card, custom_id)
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert answer.json["flags"] & EPHEMERAL, answer.json
    return str(answer.json["content"])


async def join(fake: FakeDiscord, channel: FakeChannel, *members: FakeUser) -> None:
    """Each member says something first, so they are on the roll when voting opens."""
    for member in members:
        await ask(fake, member, "status", "", channel)


async def propose(deployed: Deployment, author: FakeUser, args: str, channel: FakeChannel) -> int:
    """Proposes; delivers; returns the id of the card posted in the channel."""
    fake = deployed.fake
    assert (await ask(fake, author, "propose", args, channel)).startswith("Proposed as #")
    await deployed.deliver()
    card = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert card.status == 200
    return int(card.response["id"])


async def make_due_now(deployed: Deployment) -> None:
    """Every due instant (closes, reminders) is now: as if the vote's time were up."""
    async with deployed.app.engine.begin() as conn:
        await conn.execute(
            update(t.due_work).values(due_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def count_rows(deployed: Deployment, table: Any) -> int:
    async with deployed.app.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def posts_to(fake: FakeDiscord, channel: FakeChannel) -> list[Call]:
    return fake.calls_to("POST", rf"/channels/{channel.id}/messages")


def embed_titles(calls: list[Call]) -> list[str]:
    return [str(e.get("title")) for c in calls for e in (c.json or {}).get("embeds") or []]


# ---------------------------------------------------------------- the gateway


async def test_votes_clicked_around_a_reconnect_all_count_and_the_bot_resumes(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob, carol, dave = (fake.add_member(n) for n in ("alice", "bob", "carol", "dave"))
    await join(fake, channel, alice, bob, carol, dave)
    card = await propose(deployed, alice, "Paint the shop vote=3d", channel)
    assert await click(fake, alice, card, "folkmoot:vote:1:yes") == (
        "Your vote on #1 is recorded: yes."
    )
    session = fake.session()
    identified = [f for f in fake.frames if f.op == 2]

    await fake.reconnect()  # op 7: Discord asks the bot to reconnect
    # The bot has closed its socket and not resumed yet: these clicks wait for it.
    await fake.wait_until(
        lambda: session.socket is None and session.resumes == 0,
        within=WITHIN,
        what="the bot to drop its socket after op 7",
    )
    waiting = [
        await fake.click(bob, card, "folkmoot:vote:1:yes"),
        await fake.click(carol, card, "folkmoot:vote:1:no"),
    ]
    assert session.socket is None  # so they were kept for the resumed session

    resume = await fake.next_frame(6, within=WITHIN)  # op 6 RESUME, not a new IDENTIFY
    assert resume.d["session_id"] == session.id
    assert resume.d["token"] == fake.token
    for ix, choice in zip(waiting, ("yes", "no"), strict=True):
        receipt = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
        assert receipt.json["content"] == f"Your vote on #1 is recorded: {choice}."
    assert await click(fake, dave, card, "folkmoot:vote:1:abstain") == (
        "Your vote on #1 is recorded: abstain."
    )
    assert session.resumes == 1 and len(fake.sessions) == 1
    assert [f for f in fake.frames if f.op == 2] == identified  # no IDENTIFY since

    assert "Ballots so far: 4 of 4." in await ask(fake, alice, "status", "1", channel)
    results = await ask(fake, alice, "results", "1", channel)
    assert "Passed — 2 yes, 1 no." in results and "Ballots: 4 of 4 on the roll." in results


async def test_after_an_invalid_session_the_bot_identifies_again_and_no_vote_is_lost(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    alice, bob, carol = (fake.add_member(n) for n in ("alice", "bob", "carol"))
    await join(fake, channel, alice, bob, carol)
    card = await propose(deployed, alice, "Buy a kiln vote=3d", channel)
    assert await click(fake, alice, card, "folkmoot:vote:1:yes") == (
        "Your vote on #1 is recorded: yes."
    )
    first = fake.session()

    await fake.invalidate_session(resumable=False)  # op 9, d=false
    second = await fake.ready(identifies=2, within=WITHIN)
    assert second.id != first.id and first.invalid
    identifies = [f for f in fake.frames if f.op == 2]
    assert len(identifies) == 2  # op 2 IDENTIFY again ...
    assert not [f for f in fake.frames if f.op == 6]  # ... and no RESUME of a dead session

    assert await click(fake, bob, card, "folkmoot:vote:1:no") == "Your vote on #1 is recorded: no."
    assert await ask(fake, carol, "vote", "1 yes", channel) == "Your vote on #1 is recorded: yes."
    assert "Ballots so far: 3 of 3." in await ask(fake, alice, "status", "1", channel)


# ---------------------------------------------------------------- rooms of no community


async def test_a_command_from_an_unbound_channel_is_refused_and_records_nothing(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    governance, general = fake.channel("governance"), fake.channel("general")
    alice, bob = fake.add_member("alice"), fake.add_member("bob")
    await join(fake, governance, alice, bob)
    await propose(deployed, alice, "Fix the roof vote=3d", governance)

    not_bound = "This room is not bound to a community; an admin can /bind it."
    assert not_bound in await ask(fake, bob, "vote", "1 yes", general)
    assert not_bound in await ask(fake, bob, "propose", "Paint it pink", general)

    await deployed.deliver()
    assert not fake.calls_to("POST", r"/channels/\d+/messages")[1:]  # only #1's card
    assert "Ballots so far: 0 of 2." in await ask(fake, alice, "status", "1", governance)
    listed = await ask(fake, alice, "proposals", "", governance)
    assert "#1 Fix the roof" in listed and "Paint it pink" not in listed


async def test_a_command_from_another_guild_is_refused_and_records_nothing(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    governance = fake.channel("governance")
    alice = fake.add_member("alice")
    await join(fake, governance, alice)
    await propose(deployed, alice, "Fix the roof vote=3d", governance)
    # The bot is added to another server, where an earlier configuration had synced
    # its commands (Discord keeps them until they are synced again).
    other = fake.add_guild("Neighbours", channels=("lobby",))
    fake.commands[other.id] = copy.deepcopy(fake.commands[fake.guild.id])
    await fake.add_bot_to_guild(other)
    lobby = fake.channel("lobby", guild=other)
    outsider = fake.add_member("outsider", guild=other)

    not_bound = "This room is not bound to a community; an admin can /bind it."
    assert not_bound in await ask(fake, outsider, "vote", "1 yes", lobby)
    assert not_bound in await ask(fake, outsider, "propose", "Merge the co-ops", lobby)
    assert not_bound in await ask(fake, outsider, "status", "1", lobby)

    await deployed.deliver()
    assert not fake.calls_to("POST", rf"/channels/{lobby.id}/messages")
    assert "Ballots so far: 0 of 1." in await ask(fake, alice, "status", "1", governance)
    assert "Merge the co-ops" not in await ask(fake, alice, "proposals", "", governance)
    assert await count_rows(deployed, t.accounts) == 1  # alice's: the outsider joined nothing


# ---------------------------------------------------------------- a deleted channel


async def test_a_deleted_channel_becomes_a_dead_letter_and_blocks_no_other(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    governance, general = fake.channel("governance"), await deployed.second_channel()
    alice = fake.add_member("alice")
    await join(fake, general, alice)
    await propose(deployed, alice, "Move the meetings vote=1d", governance)
    card_in_general = await fake.next_call("POST", rf"/channels/{general.id}/messages")

    await fake.delete_channel(governance)
    await make_due_now(deployed)
    await deployed.app.governance.run_due()
    await deployed.deliver()

    result = "#1 Move the meetings — voting closed"
    assert result in embed_titles(posts_to(fake, general))  # the other channel still hears
    buttons_gone = await fake.next_call(
        "PATCH", rf"/channels/{general.id}/messages/{card_in_general.response['id']}"
    )
    assert buttons_gone.json["components"] == []
    assert result not in embed_titles([c for c in posts_to(fake, governance) if c.status == 200])

    listed = await ask(fake, fake.owner, "undelivered", "", general)
    assert result in listed
    assert f"room discord:{governance.id}" in listed
    assert "gone" in listed and "Unknown Channel" in listed

    # Later announcements are not held up behind the dead letter.
    assert await ask(fake, alice, "propose", "Paint the door vote=1d", general) == (
        "Proposed as #2."
    )
    await deployed.deliver()
    titles = embed_titles(posts_to(fake, general))
    assert any(title.startswith("#2 Paint the door") for title in titles)


# ---------------------------------------------------------------- Discord roles


async def test_the_stewards_role_makes_a_moderator_who_can_close_and_others_cannot(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    stewards = fake.add_role("Stewards")
    alice, sam = fake.add_member("alice"), fake.add_member("sam")
    fake.set_roles(sam, [stewards])
    await join(fake, channel, alice, sam)
    await propose(deployed, alice, "Close early vote=3d", channel)

    refused = await ask(fake, alice, "close", "1 we have heard enough", channel)
    assert "Only a moderator or above can" in refused and "you are a member" in refused
    assert "#1 Close early — voting until" in await ask(fake, alice, "status", "1", channel)
    assert not fake.calls_to("POST", rf"/channels/{channel.id}/messages")[1:]  # no result

    assert await ask(fake, sam, "close", "1 we have heard enough", channel) == "Closed #1."
    await deployed.deliver()
    closed = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert closed.json["embeds"][0]["title"].startswith("#1 Close early — closed early by")
    assert "#1 Close early — closed" in await ask(fake, alice, "status", "1", channel)


# ---------------------------------------------------------------- stale buttons


async def test_a_button_of_a_cancelled_proposal_says_so_and_records_nothing(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    stewards = fake.add_role("Stewards")
    alice, bob, sam = (fake.add_member(n) for n in ("alice", "bob", "sam"))
    fake.set_roles(sam, [stewards])
    await join(fake, channel, alice, bob, sam)
    card = await propose(deployed, alice, "Sell the van vote=3d", channel)
    assert await ask(fake, sam, "cancel", "1 duplicate of #2", channel) == "#1 is cancelled."

    # The card still shows its buttons: bob clicks before it changes.
    answer = await click(fake, bob, card, "folkmoot:vote:1:yes")
    assert answer == "#1 cancelled; there is nothing to vote on."
    assert (await ask(fake, bob, "status", "1", channel)).startswith("#1 Sell the van — cancelled")
    assert await count_rows(deployed, t.ballots) == 0


async def test_a_button_for_an_unknown_proposal_says_there_is_none(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    bob = fake.add_member("bob")
    await join(fake, channel, bob)
    # A card of a proposal the database does not hold (say, restored from an older copy).
    view: ui.View = ui.View(timeout=None)
    view.add_item(VoteButton(99, "yes"))
    target = deployed.bot.get_channel(channel.id)
    assert isinstance(target, discord.TextChannel)
    old = await target.send("#99 Long gone", view=view)

    answer = await click(fake, bob, old.id, "folkmoot:vote:99:yes")
    assert "There is no proposal #99" in answer
    assert await count_rows(deployed, t.ballots) == 0


# ---------------------------------------------------------------- no pings


def _message_bodies(fake: FakeDiscord) -> list[tuple[Call, dict[str, Any]]]:
    """Every message the bot sent or edited: channel messages, follow-ups and edits of
    interaction answers, and interaction callbacks that carry a message."""
    found: list[tuple[Call, dict[str, Any]]] = []
    for call in fake.calls:
        body = call.json if isinstance(call.json, dict) else None
        if body is None or call.method not in ("POST", "PATCH"):
            continue
        if call.path.endswith("/callback"):
            data = body.get("data")
            if body.get("type") in (4, 7) and isinstance(data, dict):
                found.append((call, data))
        elif "/messages" in call.path or call.path.startswith("/webhooks/"):
            found.append((call, body))
    return found


async def test_mentions_in_user_text_never_ping(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    stewards = fake.add_role("Stewards")
    alice, sam = fake.add_member("alice"), fake.add_member("sam")
    fake.set_roles(sam, [stewards])
    await join(fake, channel, alice, sam)
    pings = f"@everyone @here {stewards.mention} {sam.mention}"

    await ask(fake, alice, "propose", f"Ping {pings} draft", channel)
    assert "Edited the body of #1" in await ask(
        fake, alice, "edit", f"1 body Read this {pings}", channel
    )
    await ask(fake, alice, "open", "1", channel)
    await ask(fake, alice, "vote", "1 yes", channel)
    await ask(fake, alice, "status", "1", channel)
    await ask(fake, sam, "remind", "1", channel)
    await deployed.deliver()  # the reminder goes to sam privately, before the close
    await ask(fake, sam, "close", f"1 {pings}", channel)
    await ask(fake, alice, "outcome", f"1 {pings} will do it", channel)
    await deployed.deliver()

    sent = _message_bodies(fake)
    cards = [
        body
        for _, body in sent
        if any(
            pings in str(e.get("title")) + str(e.get("description"))
            for e in body.get("embeds") or []
        )
    ]
    assert cards, "the user text reached no card"
    echoed = [body for _, body in sent if pings in str(body.get("content"))]
    assert echoed, "the user text reached no plain reply"
    dm = fake.dm_channel(sam)
    assert [c for c, _ in sent if c.path == f"/channels/{dm.id}/messages"], "no reminder"
    for call, body in sent:
        if call.method == "POST" or body.get("content") or body.get("embeds"):
            assert "allowed_mentions" in body, f"{call} carries no allowed_mentions"
        if "allowed_mentions" in body:
            mentions = body["allowed_mentions"]
            assert mentions["parse"] == [], f"{call}: {mentions}"
            assert not mentions.get("users") and not mentions.get("roles"), f"{call}: {mentions}"
