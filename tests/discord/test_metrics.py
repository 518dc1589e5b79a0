"""`folkmoot run` with Discord, scraped at /metrics over real HTTP while members use
the bot through the loopback fake: the gateway's own reconnects (a RESUME after op 7
RECONNECT, a new session after op 9 INVALID_SESSION) are counted, every interaction's
first answer (a defer, a modal) is timed, a refused vote is counted as refused, and no
label names a member, an account, a channel or a choice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import discord
import pytest
from pydantic import SecretStr

from adapters.discord.adapter import DiscordAdapter
from bot.config import CommunityConfig, DiscordConfig, FileConfig, HttpConfig, Settings
from bot.runner import run_bot
from tests.discord.conftest import WITHIN
from tests.discord.fake import EPHEMERAL, FakeChannel, FakeDiscord, FakeUser, OptionValue
from tests.scrape import Said, assert_no_label_holds, sample

WATCHED = ("bot.health", "bot.runner", "adapters.discord.adapter")


async def _identify_at_once(
    self: discord.Client, shard_id: int | None, *, initial: bool = False
) -> None:
    """discord.py waits 5 s before every IDENTIFY but the first (Discord's identify rate
    limit); against the fake that only slows the INVALID_SESSION step down."""


@contextlib.asynccontextmanager
async def running(
    fake: FakeDiscord, tmp_path: Path, admin: FakeUser
) -> AsyncIterator[tuple[Said, str]]:
    """`run_bot` in this process with Discord (the fake) and the endpoint on a free
    port: what it logs, and the endpoint's base URL."""
    settings = Settings(data_dir=tmp_path, discord_token=SecretStr(fake.token))
    config = FileConfig(
        communities=[CommunityConfig(name="coop", admins=[f"discord:{admin.id}"])],
        discord=DiscordConfig(guilds=[fake.guild.id]),
        http=HttpConfig(port=0),
    )
    said = Said(WITHIN)
    loggers = [logging.getLogger(name) for name in WATCHED]
    for logger in loggers:
        logger.addHandler(said)
        logger.setLevel(logging.INFO)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, config, stop))
    try:
        listening = await said.said("health and metrics at")
        await said.said("folkmoot running")
        yield said, f"http://127.0.0.1:{listening.args[1]}"  # type: ignore[index]
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=WITHIN) == 0
        for logger in loggers:
            logger.removeHandler(said)
            logger.setLevel(logging.NOTSET)


async def answer(
    fake: FakeDiscord,
    member: FakeUser,
    command: str,
    options: Mapping[str, OptionValue],
    channel: FakeChannel,
) -> str:
    """``/command`` with `options`: the bot's answer, which only the member sees."""
    ix = await fake.slash(member, command, options, channel=channel)
    reply = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert reply.json["flags"] & EPHEMERAL, reply.json
    return str(reply.json["content"])


async def test_metrics_count_gateway_reconnects_first_answers_and_refusals(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = discord_fake
    monkeypatch.setattr(DiscordAdapter, "before_identify_hook", _identify_at_once)
    channel = fake.channel("general")
    steward, carol = fake.add_member("steward"), fake.add_member("carol")
    async with (
        running(fake, tmp_path, steward) as (said, base),
        aiohttp.ClientSession() as http,
    ):

        async def scrape() -> str:
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                return await response.text()

        before = await scrape()
        assert sample(before, "folkmoot_platform_reconnects_total", platform="discord") == 0
        assert sample(before, "folkmoot_first_response_seconds_count", platform="discord") == 0

        bound = await answer(fake, steward, "bind", {"text": "coop"}, channel)
        assert bound == "This room is now bound to coop."
        ix = await fake.slash(steward, "propose", {"vote": "3d"}, channel=channel)
        shown = await fake.interaction_response(ix, within=WITHIN)
        assert shown.json["type"] == 9  # the modal is the first answer
        submit = await fake.modal_submit(
            steward, fake.modal_id(ix), {"title": "Paint the shop", "body": "", "options": ""}
        )
        proposed = await fake.next_call("POST", submit.webhook_path, within=WITHIN)
        assert str(proposed.json["content"]).startswith("Proposed as #1")
        refused = await answer(fake, carol, "vote", {"proposal": 1, "ballot": "maybe"}, channel)
        assert refused.startswith("“maybe” is not a ballot"), refused

        await fake.reconnect()  # op 7: the bot reconnects and RESUMEs its session
        await fake.next_frame(6, within=WITHIN)
        await said.said("Discord shard 0 resumed its session")
        await fake.invalidate_session(resumable=False)  # op 9: it must IDENTIFY again
        await fake.ready(identifies=2, within=WITHIN)
        await said.said("Discord shard 0 connected again with a new session")
        status = await answer(fake, steward, "status", {"proposal": 1}, channel)
        assert "Paint the shop" in status

        after = await scrape()
    assert sample(after, "folkmoot_platform_reconnects_total", platform="discord") == 2
    # bind, propose (its modal), the modal's submission, the vote, the status: each
    # answered first within Discord's three seconds, and timed.
    first = "folkmoot_first_response_seconds_bucket"
    assert sample(after, "folkmoot_first_response_seconds_count", platform="discord") == 5
    assert sample(after, first, le="3.0", platform="discord") == 5
    assert sample(after, "folkmoot_commands_total", kind="CastVote", outcome="refused") == 1
    assert sample(after, "folkmoot_commands_total", kind="CastVote", outcome="ok") is None
    assert sample(after, "folkmoot_commands_total", kind="Bind", outcome="ok") == 1
    assert sample(after, "folkmoot_commands_total", kind="Propose", outcome="ok") == 1
    assert sample(after, "folkmoot_votes_cast_total") == 0
    # Labels come from fixed sets: no member, account, channel, guild or choice in them.
    private = ("steward", "carol", "maybe", "Paint", "coop")
    ids = (steward.id, carol.id, channel.id, fake.guild.id)
    assert_no_label_holds(after, *private, *map(str, ids))
