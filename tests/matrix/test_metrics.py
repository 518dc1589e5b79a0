"""`folkmoot run` on Matrix, scraped at /metrics: a sync that fails and then works
again is counted as a reconnect, and a command sent meanwhile is still answered.

The bot reaches Synapse through a small HTTP proxy in this process (`proxy`), which
answers the bot's sync with 502 Bad Gateway, as a proxy in front of a homeserver that
went away would; members' clients talk to Synapse directly."""

from __future__ import annotations

import aiohttp

from tests.matrix.deployment import MakeBot, body, room_with_bot, said, watching
from tests.matrix.homeserver import Synapse
from tests.matrix.member import MakeMember
from tests.matrix.proxy import proxy_to
from tests.scrape import assert_no_label_holds, sample


async def test_a_sync_that_fails_and_works_again_is_counted_as_a_reconnect(
    synapse: Synapse, members: MakeMember, bot: MakeBot
) -> None:
    alice = await members("alice")
    async with (
        proxy_to(synapse.url) as proxy,
        watching("bot.health", "adapters.matrix.adapter") as said_in_log,
        aiohttp.ClientSession() as http,
    ):
        folkmoot = bot(alice)
        folkmoot.homeserver, folkmoot.http_port = proxy.url, 0
        await folkmoot.start()
        listening = await said_in_log.said("health and metrics at")
        metrics = f"http://127.0.0.1:{listening.args[1]}/metrics"  # type: ignore[index]
        room = await room_with_bot(alice, [], folkmoot)
        _, reply = await said(alice, room, "!bind coop")
        assert body(reply) == "This room is now bound to coop."
        async with http.get(metrics) as response:
            before = await response.text()
        assert sample(before, "folkmoot_platform_reconnects_total", platform="matrix") == 0

        proxy.cut()
        await said_in_log.said("Matrix sync failed")
        # Said while the bot waits to sync again: answered once it does.
        _, reply = await said(alice, room, "!status")
        assert "Nothing is open" in body(reply)
        await said_in_log.said("Matrix sync works again after 1 failed attempt(s)")
        async with http.get(metrics) as response:
            after = await response.text()
        await folkmoot.stop()
    assert sample(after, "folkmoot_platform_reconnects_total", platform="matrix") == 1
    assert sample(after, "folkmoot_commands_total", kind="ShowStatus", outcome="ok") == 1
    assert_no_label_holds(after, "alice", alice.user_id, room, "coop")
