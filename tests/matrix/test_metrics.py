"""`folkmoot run` on Matrix, scraped at /metrics: a sync that fails and then works
again is counted as a reconnect, and a command sent meanwhile is still answered.

The bot reaches Synapse through a small HTTP proxy in this process, which can answer
the bot's sync with 502 Bad Gateway, as a proxy in front of a homeserver that went
away would; members' clients talk to Synapse directly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from tests.matrix.deployment import WITHIN, MakeBot, body, room_with_bot, said
from tests.matrix.homeserver import Synapse
from tests.matrix.member import MakeMember
from tests.scrape import Said, assert_no_label_holds, sample

HOP_BY_HOP = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}
)


class SyncCutter:
    """A reverse proxy to `upstream`. `cut()` makes the bot's sync fail once: the long
    poll in flight, or else the next one, is answered 502."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self._cut = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        # A client gone (the bot stopped) ends its request here too, long poll or not.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def cut(self) -> None:
        self._cut.set()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/sync"):
            return await self._sync(request)
        return await self._pass(request)

    async def _sync(self, request: web.Request) -> web.StreamResponse:
        passing = asyncio.ensure_future(self._pass(request))
        cut = asyncio.ensure_future(self._cut.wait())
        await asyncio.wait({passing, cut}, return_when=asyncio.FIRST_COMPLETED)
        if cut.done() and self._cut.is_set():
            self._cut.clear()  # once
            passing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await passing
            return web.Response(status=502, text="Bad Gateway")
        cut.cancel()
        return await passing

    async def _pass(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with self._session.request(
            request.method,
            self.upstream + request.rel_url.path_qs,
            headers=headers,
            data=await request.read(),
            timeout=aiohttp.ClientTimeout(total=None),
        ) as upstream:
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=upstream.status, body=await upstream.read(), headers=kept)


@contextlib.asynccontextmanager
async def watching(*names: str) -> AsyncIterator[Said]:
    said = Said(WITHIN)
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addHandler(said)
        logger.setLevel(logging.INFO)
    try:
        yield said
    finally:
        for logger in loggers:
            logger.removeHandler(said)
            logger.setLevel(logging.NOTSET)


async def test_a_sync_that_fails_and_works_again_is_counted_as_a_reconnect(
    synapse: Synapse, members: MakeMember, bot: MakeBot
) -> None:
    alice = await members("alice")
    proxy = SyncCutter(synapse.url)
    await proxy.start()
    try:
        async with (
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
    finally:
        await proxy.close()
    assert sample(after, "folkmoot_platform_reconnects_total", platform="matrix") == 1
    assert sample(after, "folkmoot_commands_total", kind="ShowStatus", outcome="ok") == 1
    assert_no_label_holds(after, "alice", alice.user_id, room, "coop")
