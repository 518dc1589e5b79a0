"""The loopback Discord fake, proven with a small real discord.py client: connection,
command sync, messages, slash commands, persistent buttons, modals, threads, DMs,
nonces, rate limits and gateway reconnects all go over real HTTP and websockets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord.conftest import GUILD_READY_TIMEOUT, StartClient
from tests.discord.fake import EPHEMERAL, LOADING, FakeDiscord

WITHIN = 2.0


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"vote:(?P<proposal>\d+):(?P<option>\w+)",
):
    """A persistent button keyed by proposal and option, as the adapter will use."""

    def __init__(self, proposal: int, option: str) -> None:
        super().__init__(discord.ui.Button(label=option, custom_id=f"vote:{proposal}:{option}"))
        self.proposal = proposal
        self.option = option

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[discord.Client],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VoteButton:
        return cls(int(match["proposal"]), match["option"])

    async def callback(self, interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.send_message(
            f"vote {self.option} on {self.proposal} counted", ephemeral=True
        )


class ProposeModal(discord.ui.Modal, title="New proposal"):
    proposal_title: discord.ui.TextInput[ProposeModal] = discord.ui.TextInput(
        label="Title", custom_id="title", max_length=100
    )
    body: discord.ui.TextInput[ProposeModal] = discord.ui.TextInput(
        label="Body", custom_id="body", style=discord.TextStyle.paragraph, required=False
    )

    def __init__(self) -> None:
        super().__init__(custom_id="propose")

    async def on_submit(self, interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.send_message(f"proposed: {self.proposal_title.value}")


class Harness(discord.Client):
    """A plain client with a command tree; what it sees goes into ``events``."""

    def __init__(self, guild_id: int, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.members = True
        intents.message_content = message_content
        super().__init__(intents=intents, guild_ready_timeout=GUILD_READY_TIMEOUT)
        self.tree = app_commands.CommandTree(self)
        self.guild_id = guild_id
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        guild = discord.Object(guild_id)

        @self.tree.command(name="status", description="How things stand", guild=guild)
        async def status(interaction: discord.Interaction[discord.Client]) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("all quiet")

        @self.tree.command(name="propose", description="Propose something", guild=guild)
        async def propose(interaction: discord.Interaction[discord.Client]) -> None:
            await interaction.response.send_modal(ProposeModal())

        @self.tree.command(name="echo", description="Say it back", guild=guild)
        @app_commands.describe(text="what to say", times="how often")
        async def echo(
            interaction: discord.Interaction[discord.Client], text: str, times: int = 1
        ) -> None:
            await interaction.response.send_message(" ".join([text] * times), ephemeral=True)

        @echo.autocomplete("text")
        async def echo_choices(
            interaction: discord.Interaction[discord.Client], current: str
        ) -> list[app_commands.Choice[str]]:
            words = ["aye", "nay", "abstain"]
            return [app_commands.Choice(name=w, value=w) for w in words if w.startswith(current)]

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton)

    async def on_ready(self) -> None:
        self.events.put_nowait(("ready", None))

    async def on_resumed(self) -> None:
        self.events.put_nowait(("resumed", None))

    async def on_message(self, message: discord.Message) -> None:
        if self.user is not None and message.author.id != self.user.id:
            self.events.put_nowait(("message", message))

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.events.put_nowait(("thread", thread))

    async def next(self, kind: str, within: float = WITHIN) -> Any:
        """The next event of ``kind`` (others before it are dropped)."""

        async def find() -> Any:
            while True:
                seen, value = await self.events.get()
                if seen == kind:
                    return value

        return await asyncio.wait_for(find(), within)

    def text_channel(self, channel_id: int) -> discord.TextChannel:
        channel = self.get_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        return channel


@pytest.fixture
async def harness(discord_fake: FakeDiscord, start_client: StartClient) -> Harness:
    client = await start_client(Harness(discord_fake.guild.id))
    await client.tree.sync(guild=discord.Object(discord_fake.guild.id))
    return client


# ---------------------------------------------------------------- connecting


async def test_the_client_connects_and_sees_the_guild(
    discord_fake: FakeDiscord, start_client: StartClient
) -> None:
    alice = discord_fake.add_member("alice")
    client = await start_client(Harness(discord_fake.guild.id))
    await client.next("ready")

    identify = await discord_fake.next_frame(2)
    assert identify.d["token"] == discord_fake.token
    assert client.user is not None and client.user.id == discord_fake.bot.id
    guild = client.get_guild(discord_fake.guild.id)
    assert guild is not None and guild.name == "Co-op"
    assert {c.name for c in guild.text_channels} == {"general", "governance"}
    assert guild.get_member(alice.id) is not None
    assert guild.me.id == discord_fake.bot.id
    assert [c.path for c in discord_fake.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]


async def test_rest_answers_carry_exactly_the_json_content_type(discord_fake: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{discord_fake.base_url}/users/@me",
            headers={"Authorization": f"Bot {discord_fake.token}"},
        ) as response,
    ):
        assert response.headers["Content-Type"] == "application/json"
        assert (await response.json())["id"] == str(discord_fake.bot.id)


async def test_a_wrong_token_fails_login(discord_fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
    assert discord_fake.calls[-1].status == 401


async def test_commands_are_synced_to_the_guild_and_recorded(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    call = await discord_fake.next_call(
        "PUT",
        rf"/applications/{discord_fake.application_id}/guilds/{discord_fake.guild.id}/commands",
    )
    assert sorted(c["name"] for c in call.json) == ["echo", "propose", "status"]
    synced = discord_fake.commands[discord_fake.guild.id]
    assert all(int(c["id"]) > 0 for c in synced.values())

    # A second sync keeps the ids, as Discord does for commands of the same name.
    ids = {name: c["id"] for name, c in synced.items()}
    await harness.tree.sync(guild=discord.Object(discord_fake.guild.id))
    assert {n: c["id"] for n, c in discord_fake.commands[discord_fake.guild.id].items()} == ids


# ---------------------------------------------------------------- members acting


async def test_a_members_message_arrives_as_on_message(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    general = discord_fake.channel("general")
    await discord_fake.member_message(general, alice, "hello folkmoot")

    message: discord.Message = await harness.next("message")
    assert message.content == "hello folkmoot"
    assert message.author.id == alice.id
    assert message.channel.id == general.id


async def test_without_the_message_content_intent_text_is_hidden(
    discord_fake: FakeDiscord, start_client: StartClient
) -> None:
    alice = discord_fake.add_member("alice")
    client = await start_client(Harness(discord_fake.guild.id, message_content=False))
    general = discord_fake.channel("general")

    await discord_fake.member_message(general, alice, "just chatting")
    assert (await client.next("message")).content == ""
    await discord_fake.member_message(general, alice, f"{discord_fake.bot.mention} help")
    assert (await client.next("message")).content.endswith("help")


async def test_a_slash_command_is_deferred_then_followed_up(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    ix = await discord_fake.slash(alice, "status")

    callback = await discord_fake.interaction_response(ix)
    assert callback.path == ix.callback_path
    assert callback.query == {"with_response": "1"}
    assert callback.json["type"] == 5  # deferred "thinking"
    followup = await discord_fake.next_call("POST", ix.webhook_path)
    assert followup.json["content"] == "all quiet"
    assert followup.at >= callback.at

    # The first follow-up after a thinking defer fills the deferred message.
    assert ix.original_id is not None
    original = discord_fake.message(ix.original_id)
    assert original["content"] == "all quiet"
    assert not original.get("flags", 0) & LOADING


async def test_slash_command_options_are_typed_from_the_synced_command(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    ix = await discord_fake.slash(alice, "echo", {"text": "aye", "times": 2})

    callback = await discord_fake.interaction_response(ix)
    assert callback.json["type"] == 4
    assert callback.json["data"]["content"] == "aye aye"
    assert callback.json["data"]["flags"] & EPHEMERAL
    with pytest.raises(LookupError, match="never synced"):
        await discord_fake.slash(alice, "nonexistent")


async def test_autocomplete_is_answered_with_choices(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    ix = await discord_fake.autocomplete(alice, "echo", {"text": "a"}, focused="text")

    callback = await discord_fake.interaction_response(ix)
    assert callback.json["type"] == 8
    assert [c["value"] for c in callback.json["data"]["choices"]] == ["aye", "abstain"]


async def test_a_click_on_a_persistent_dynamic_button_arrives(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    governance = harness.text_channel(discord_fake.channel("governance").id)
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(7, "yes"))
    view.add_item(VoteButton(7, "no"))
    card = await governance.send("Proposal 7: buy a kettle", view=view)

    ix = await discord_fake.click(alice, card.id, "vote:7:no")
    callback = await discord_fake.interaction_response(ix)
    assert callback.json["type"] == 4
    assert callback.json["data"]["content"] == "vote no on 7 counted"
    assert callback.json["data"]["flags"] & EPHEMERAL
    with pytest.raises(LookupError, match="no component"):
        await discord_fake.click(alice, card.id, "vote:8:no")


async def test_old_buttons_still_work_after_the_client_restarts(
    discord_fake: FakeDiscord, harness: Harness, start_client: StartClient
) -> None:
    alice = discord_fake.add_member("alice")
    governance = harness.text_channel(discord_fake.channel("governance").id)
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(11, "yes"))
    card = await governance.send("Proposal 11", view=view)
    await harness.close()

    restarted = await start_client(Harness(discord_fake.guild.id))
    assert len(discord_fake.sessions) == 2 and restarted.is_ready()
    ix = await discord_fake.click(alice, card.id, "vote:11:yes")
    callback = await discord_fake.interaction_response(ix)
    assert callback.json["data"]["content"] == "vote yes on 11 counted"


async def test_a_modal_is_shown_and_its_submission_arrives(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    ix = await discord_fake.slash(alice, "propose")
    shown = await discord_fake.interaction_response(ix)
    assert shown.json["type"] == 9
    assert shown.json["data"]["custom_id"] == "propose"

    submit = await discord_fake.modal_submit(
        alice, "propose", {"title": "Buy a kettle", "body": "Ours broke."}
    )
    answer = await discord_fake.interaction_response(submit)
    assert answer.json["type"] == 4
    assert answer.json["data"]["content"] == "proposed: Buy a kettle"


async def test_a_thread_is_created_from_a_message(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    governance = harness.text_channel(discord_fake.channel("governance").id)
    card = await governance.send("Proposal 8")

    thread = await card.create_thread(name="Deliberation: proposal 8")
    call = await discord_fake.next_call(
        "POST", rf"/channels/{governance.id}/messages/{card.id}/threads"
    )
    assert call.json["name"] == "Deliberation: proposal 8"
    assert thread.id == card.id  # Discord gives a message's thread the message's id
    created: discord.Thread = await harness.next("thread")
    assert created.id == thread.id and created.parent_id == governance.id

    await discord_fake.member_message(discord_fake.channels[thread.id], alice, "I agree")
    said: discord.Message = await harness.next("message")
    assert isinstance(said.channel, discord.Thread) and said.content == "I agree"


async def test_a_dm_is_sent_and_closed_dms_are_refused(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    bob = discord_fake.add_member("bob")
    discord_fake.close_dms(bob)

    guild = harness.get_guild(discord_fake.guild.id)
    assert guild is not None
    member = await guild.fetch_member(alice.id)  # joined after start-up: not cached yet
    await member.send("Your receipt: 3f2a")
    opened = await discord_fake.next_call("POST", r"/users/@me/channels")
    assert opened.json == {"recipient_id": alice.id}
    dm = discord_fake.dm_channel(alice)
    sent = await discord_fake.next_call("POST", rf"/channels/{dm.id}/messages")
    assert sent.json["content"] == "Your receipt: 3f2a"

    closed = await guild.fetch_member(bob.id)
    with pytest.raises(discord.Forbidden) as refused:
        await closed.send("Your receipt: 9c1d")
    assert refused.value.code == 50007


async def test_a_nonce_carries_enforce_nonce_and_posts_once(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    general = harness.text_channel(discord_fake.channel("general").id)
    first = await general.send("Proposal 9 is open", nonce="p9-open")
    again = await general.send("Proposal 9 is open", nonce="p9-open")

    calls = [
        await discord_fake.next_call("POST", rf"/channels/{general.id}/messages") for _ in range(2)
    ]
    assert [(c.nonce, c.enforce_nonce) for c in calls] == [("p9-open", True)] * 2
    assert first.id == again.id
    assert len(discord_fake.channel_messages(general.id)) == 1


async def test_a_rate_limited_edit_is_retried_after_retry_after(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    general = harness.text_channel(discord_fake.channel("general").id)
    tally = await general.send("yes 1, no 0")
    route = rf"/channels/{general.id}/messages/{tally.id}"
    discord_fake.rate_limit_once("PATCH", route, retry_after=0.3)

    await asyncio.wait_for(tally.edit(content="yes 2, no 0"), WITHIN)
    limited = await discord_fake.next_call("PATCH", route)
    retried = await discord_fake.next_call("PATCH", route)
    assert (limited.status, retried.status) == (429, 200)
    assert limited.response["retry_after"] == 0.3
    assert retried.at - limited.at >= 0.3
    assert discord_fake.message(tally.id)["content"] == "yes 2, no 0"


# ---------------------------------------------------------------- the gateway


async def test_reconnect_leads_to_resume_and_loses_no_event(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    session = discord_fake.session()
    general = discord_fake.channel("general")

    await discord_fake.reconnect()
    # Sent while the bot is reconnecting: replayed when it resumes.
    await discord_fake.member_message(general, alice, "my vote: yes")

    resume = await discord_fake.next_frame(6)
    assert resume.d["session_id"] == session.id
    assert resume.d["token"] == discord_fake.token
    # Discord replays what was missed, then says RESUMED.
    assert (await harness.next("message")).content == "my vote: yes"
    await harness.next("resumed")
    assert session.resumes == 1 and len(discord_fake.sessions) == 1


async def test_an_invalid_session_leads_to_a_new_identify(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    alice = discord_fake.add_member("alice")
    first = discord_fake.session()

    await discord_fake.invalidate_session()
    second = await discord_fake.ready(identifies=2)
    assert second.id != first.id and first.invalid
    await discord_fake.member_message(discord_fake.channel("general"), alice, "still here")
    assert (await harness.next("message")).content == "still here"


async def test_an_answer_after_three_seconds_is_refused(
    discord_fake: FakeDiscord, harness: Harness
) -> None:
    discord_fake.interaction_deadline = 0.0  # every answer is "late"
    alice = discord_fake.add_member("alice")
    ix = await discord_fake.slash(alice, "echo", {"text": "late"})
    refused = await discord_fake.next_call("POST", ix.callback_path)
    assert refused.status == 404
    assert refused.response["code"] == 10062
    assert ix.callback is None
