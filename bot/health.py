"""The optional HTTP endpoint of ``folkmoot run``: ``/healthz`` and ``/metrics``.

Off unless a port is configured (``FOLKMOOT_HTTP_PORT`` or ``[http] port``); it listens
on 127.0.0.1 unless ``[http] host`` / ``FOLKMOOT_HTTP_HOST`` says otherwise.

``/healthz`` answers 200 when the database answers ``SELECT 1``, every configured
platform is connected here or held by another instance (``standby``: several
instances share one database, and one holds each platform's lease), and no
announcement has waited for delivery longer than ``outbox_max_age``; 503 otherwise,
with which part is down (``down``) or late (``degraded``: a delivery failing for
minutes, say a room the bot can no longer post in, is retried until given up, and
nothing else would show it). ``/metrics`` is Prometheus' text format (bot.metrics).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import ConfigError
from bot.metrics import Metrics, as_utc
from governance.service.ports import Clock
from governance.store import tables as t
from governance.store.lease import LeaseKeeper

log = logging.getLogger(__name__)

CHECK_SECONDS = 3.0
"""How long a health check or a scrape waits for the database."""
UP = frozenset({"ok", "connected", "standby"})
OUTBOX_MAX_AGE = 300.0
"""Seconds an announcement may wait for delivery before /healthz says degraded."""


class HttpPortInUse(ConfigError):
    """The configured port cannot be listened on; the message names it."""


Probe = Callable[[], str]
"""A platform's state: ``connected``, ``standby`` (another instance holds it),
``starting`` or ``down``."""


@dataclass(slots=True)
class HealthServer:
    engine: AsyncEngine
    clock: Clock
    metrics: Metrics
    platforms: dict[str, Probe] = field(default_factory=dict)
    outbox_max_age: float = OUTBOX_MAX_AGE
    """Seconds the oldest announcement still to deliver (routed, neither delivered nor
    given up on) may wait before /healthz says ``degraded``."""
    _runner: web.AppRunner | None = None
    port: int | None = None
    """The port listened on (the configured one, or the one chosen for port 0)."""

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.scrape)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            why = (
                "it is already in use (another folkmoot, or another program)"
                if error.errno == errno.EADDRINUSE
                else (error.strerror or type(error).__name__)
            )
            raise HttpPortInUse(
                f"cannot listen on {host}:{port} for /healthz and /metrics: {why}. "
                "Choose another port with FOLKMOOT_HTTP_PORT or [http] port, or leave it "
                "unset to run without the endpoint"
            ) from None
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        log.info("health and metrics at http://%s:%d/healthz and /metrics", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(CHECK_SECONDS), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as error:
            log.warning("health check: the database did not answer (%s)", type(error).__name__)
            return "down"
        return "ok"

    async def _outbox(self) -> str:
        """``stale`` if an announcement has waited for delivery over `outbox_max_age`:
        one not yet routed to its rooms (routing keeps failing), or a delivery still
        open (a room that keeps refusing it)."""
        d, o = t.deliveries, t.outbox
        try:
            async with asyncio.timeout(CHECK_SECONDS), self.engine.connect() as conn:
                unrouted = await conn.scalar(
                    select(func.min(o.c.created_at)).where(o.c.routed_at.is_(None))
                )
                undelivered = await conn.scalar(
                    select(func.min(o.c.created_at))
                    .select_from(d.join(o, o.c.id == d.c.outbox_id))
                    .where(d.c.delivered_at.is_(None), d.c.dead_at.is_(None))
                )
        except Exception as error:
            log.warning("health check: could not read the outbox (%s)", type(error).__name__)
            return "unknown"
        waiting = [as_utc(x) for x in (unrouted, undelivered) if x is not None]
        if not waiting:
            return "ok"
        waited = (self.clock.now() - min(waiting)).total_seconds()
        if waited <= self.outbox_max_age:
            return "ok"
        log.warning("health check: an announcement has waited %.0f s for delivery", waited)
        return "stale"

    async def healthz(self, request: web.Request) -> web.Response:
        checks = {"database": await self._database()}
        if checks["database"] == "ok":
            checks["outbox"] = await self._outbox()
        platforms = {name: probe() for name, probe in sorted(self.platforms.items())}
        down = [name for name, state in checks.items() if state not in UP and name != "outbox"]
        down += [f"platform {name}" for name, state in platforms.items() if state not in UP]
        degraded = ["outbox"] if checks.get("outbox") == "stale" else []
        status = "down" if down else "degraded" if degraded else "ok"
        body: dict[str, object] = {"status": status, **checks}
        body["platforms"] = platforms
        if down:
            body["down"] = down
        if degraded:
            body["degraded"] = degraded
        return web.Response(
            status=200 if status == "ok" else 503,
            text=json.dumps(body),
            content_type="application/json",
        )

    async def scrape(self, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                await self.metrics.refresh(self.engine, self.clock.now())
        except Exception as error:  # the figures read before stay; database_up says 0
            self.metrics.database_up.set(0)
            log.warning("metrics: could not read the database (%s)", type(error).__name__)
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def lease_probe(keeper: LeaseKeeper, connected: Callable[[], bool] | None = None) -> Probe:
    """A platform's state from its lease (and, held here, its adapter's connection)."""

    def probe() -> str:
        if keeper.holding:
            return "connected" if connected is None or connected() else "down"
        return "down" if keeper.failure is not None else "standby"

    return probe
