"""A reverse proxy between the bot and Synapse, in the test's process, that fails the
bot's requests on demand as a homeserver (or a proxy in front of one) would: a sync
answered 502 Bad Gateway, a send answered 500 or refused with 403. Members' clients
talk to Synapse directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

HOP_BY_HOP = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}
)


@dataclass
class Fault:
    """Requests whose path holds `path` (and whose method is `method`) are answered
    `status`, `times` times (None: until healed)."""

    path: str
    status: int
    times: int | None
    method: str = "PUT"
    failed: int = 0

    def matches(self, request: web.Request) -> bool:
        return request.method == self.method and self.path in request.path

    def answer(self) -> web.Response:
        self.failed += 1
        if self.status in (403, 404):
            code = "M_FORBIDDEN" if self.status == 403 else "M_NOT_FOUND"
            body = {"errcode": code, "error": "refused by the test's proxy"}
            return web.Response(status=self.status, text=json.dumps(body))
        return web.Response(status=self.status, text="Bad Gateway")


class HomeserverProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self._cut = asyncio.Event()
        self._faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request the bot made through the proxy."""
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
        """Make the bot's sync fail once: the long poll in flight, or else the next one,
        is answered 502."""
        self._cut.set()

    def fail(
        self, path: str, *, status: int = 502, times: int | None = 1, method: str = "PUT"
    ) -> Fault:
        """Answer the next `times` requests whose path holds `path` with `status` (403
        and 404 with Matrix's error codes); None: every one, until `heal`."""
        fault = Fault(path, status, times, method)
        self._faults.append(fault)
        return fault

    def heal(self) -> None:
        self._faults.clear()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        for fault in self._faults:
            if fault.matches(request) and (fault.times is None or fault.failed < fault.times):
                return fault.answer()
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
async def proxy_to(upstream: str) -> AsyncIterator[HomeserverProxy]:
    proxy = HomeserverProxy(upstream)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
