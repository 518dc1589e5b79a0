"""One community on Matrix and Discord at once, one bot process (`run_bot` with both
adapters): a proposal made on Matrix is carded on both, votes from both platforms land
in one tally, a person linking their two accounts keeps one ballot (and changes it from
either platform), and the close is announced on both.

A real Synapse for Matrix, and discord.py's real HTTP and gateway code against the
loopback Discord fake."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from bot.config import CommunityConfig, DiscordConfig, FileConfig, MatrixConfig, Settings
from bot.runner import run_bot
from governance.store import tables as t
from governance.store.engine import make_engine
from tests.discord.conftest import discord_fake  # noqa: F401  (the fixture)
from tests.discord.fake import FakeDiscord, FakeUser
from tests.matrix.deployment import WITHIN, body, next_invite, room_with_bot, said
from tests.matrix.homeserver import Synapse, register
from tests.matrix.member import MakeMember, content


class BothBot:
    """`folkmoot run` with a Matrix account and a Discord application, one process."""

    def __init__(self, synapse: Synapse, data: Path, fake: FakeDiscord, admins: list[str]) -> None:
        self.user_id, password = register(synapse, f"{secrets.token_hex(3)}-folkmoot")
        self.settings = Settings(
            data_dir=data,
            database_url=f"sqlite:///{data / 'folkmoot.db'}",
            matrix_password=SecretStr(password),
            discord_token=SecretStr(fake.token),
            due_poll_seconds=0.2,
            lease_retry_seconds=0.5,
        )
        self.config = FileConfig(
            communities=[CommunityConfig(name="coop", admins=admins)],
            matrix=MatrixConfig(
                homeserver=synapse.url,
                user_id=self.user_id,
                invite_from=[f":{synapse.server_name}"],
            ),
            discord=DiscordConfig(guilds=[fake.guild.id]),
        )
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[int] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(run_bot(self.settings, self.config, self.stop_event))

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            assert await asyncio.wait_for(self.task, timeout=WITHIN) == 0


@pytest.fixture
async def both(
    synapse: Synapse,
    tmp_path: Path,
    discord_fake: FakeDiscord,  # noqa: F811
) -> AsyncIterator[Callable[[list[str]], BothBot]]:
    made: list[BothBot] = []

    def make(admins: list[str]) -> BothBot:
        made.append(BothBot(synapse, tmp_path / "bot", discord_fake, admins))
        return made[-1]

    yield make
    for one in made:
        await one.stop()


async def _discord_says(
    fake: FakeDiscord, member: FakeUser, command: str, **options: object
) -> str:
    channel = fake.channel("general")
    ix = await fake.slash(member, command, options, channel=channel)  # type: ignore[arg-type]
    answer = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    return str(answer.json["content"])


async def test_one_tally_across_matrix_and_discord(
    members: MakeMember,
    both: Callable[[list[str]], BothBot],
    discord_fake: FakeDiscord,  # noqa: F811
) -> None:
    fake = discord_fake
    alice, bob = await members("alice"), await members("bob")
    steward = fake.add_member("steward")
    folkmoot = both([f"matrix:{alice.user_id}", f"discord:{steward.id}"])
    folkmoot.start()
    await fake.ready(within=WITHIN)  # the Discord half is connected
    room = await room_with_bot(alice, [bob], folkmoot)  # type: ignore[arg-type]
    _, reply = await said(alice, room, "!bind coop")
    assert body(reply) == "This room is now bound to coop."
    bound = await _discord_says(fake, steward, "bind", text="coop")
    assert bound == "This room is now bound to coop."

    carol = fake.add_member("carol")
    for member in (steward, carol):  # Discord members join by speaking in a bound channel
        assert "Nothing is open" in await _discord_says(fake, member, "status")
    await said(bob, room, "!status")  # bob joins on Matrix

    await said(alice, room, "!propose Share the van vote=1d")
    channel = fake.channel("general")
    card = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert card.json["embeds"][0]["title"].startswith("#1 Share the van — voting open")
    await alice.wait_for(room, lambda e: "#1 Share the van — voting open" in body(e))

    await said(bob, room, "!vote 1 yes")
    click = await fake.click(carol, int(card.response["id"]), "folkmoot:vote:1:no")
    receipt = await fake.next_call("POST", click.webhook_path, within=WITHIN)
    assert receipt.json["content"] == "Your vote on #1 is recorded: no."
    status = await _discord_says(fake, steward, "status", proposal=1)
    assert "Ballots so far: 2 of 4." in status  # alice, bob, steward, carol: one roll
    _, matrix_status = await said(alice, room, "!status 1")
    assert "Ballots so far: 2 of 4." in body(matrix_status)
    _, results = await said(alice, room, "!results 1")
    assert "1 yes, 1 no" in body(results)
    assert content(results)["m.mentions"] == {}

    # bob links his Matrix account to carol's Discord one: one member, one ballot.
    await bob.send_text(room, "!link")
    direct = await next_invite(bob)
    await bob.join(direct)
    told = await bob.wait_for(direct, lambda e: "!link " in body(e), within=WITHIN)
    code = re.search(r"[A-Z2-9]{5}-[A-Z2-9]{5}", body(told))
    assert code is not None, body(told)
    linked = await _discord_says(fake, carol, "link", text=code.group(0))
    assert "Both accounts had voted on #1; the later ballot counts" in linked
    _, after = await said(alice, room, "!results 1")
    assert "0 yes, 1 no" in body(after)  # carol's later no counts, once
    await said(bob, room, "!vote 1 yes")  # the same person, from the other platform
    _, changed = await said(alice, room, "!results 1")
    assert "1 yes, 0 no" in body(changed)  # changed, not added

    # The close, brought to now: the result is announced on both platforms.
    engine = make_engine(folkmoot.settings.db_url())
    try:
        async with engine.begin() as conn:
            soon = datetime.now(UTC) + timedelta(seconds=1)
            await conn.execute(update(t.proposals).values(closes_at=soon))
            await conn.execute(
                update(t.due_work).where(t.due_work.c.done_at.is_(None)).values(due_at=soon)
            )
    finally:
        await engine.dispose()
    closed = await alice.wait_for(room, lambda e: "#1 Share the van — voting closed" in body(e))
    assert "Passed — 1 yes, 0 no." in body(closed)
    assert "Ballots: 1 of 3 on the roll." in body(closed)  # bob and carol: one place

    def result_posted() -> bool:
        return any(
            c.json["embeds"][0].get("title") == "#1 Share the van — voting closed"
            for c in fake.calls_to("POST", rf"/channels/{channel.id}/messages")
            if c.json and c.json.get("embeds")
        )

    await fake.wait_until(result_posted, within=WITHIN, what="the result on Discord")
