"""``folkmoot run``: every configured adapter, the scheduler and the outbox dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

from adapters.record.outlet import RecordingOutlet
from bot.bootstrap import bootstrap, ensure_binding
from bot.config import ConfigError, FileConfig, Settings
from bot.scheduler import SchedulerWakeup
from governance.domain.ids import CommunityId, RoomRef
from governance.service.clocks import SystemClock
from governance.service.ports import Outlet
from governance.store.engine import make_engine

log = logging.getLogger(__name__)


SHUTDOWN_SECONDS = 20.0


class NoAdapterConfigured(Exception):
    pass


NO_ADAPTER = (
    "no platform adapter is configured, so there is nothing to run. Configure one in the "
    "file named by FOLKMOOT_CONFIG: [record] path=… (a JSON Lines recording of every "
    "announcement). The Matrix adapter ([matrix]: homeserver, user_id; "
    "FOLKMOOT_MATRIX_PASSWORD or FOLKMOOT_MATRIX_TOKEN) and the Discord adapter "
    "([discord]; FOLKMOOT_DISCORD_TOKEN) are not part of this version yet. "
    "To try folkmoot without a platform, run `folkmoot console`."
)


def settle_memory() -> None:
    """Move what start-up built (modules, metadata, compiled queries) out of the garbage
    collector's view: a full collection then scans only what serving creates, and its
    pauses stop being the vote latency's p99 (33–44 ms → none; docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


def _outlets(config: FileConfig) -> dict[str, Outlet]:
    outlets: dict[str, Outlet] = {}
    if config.record is not None:
        outlets["record"] = RecordingOutlet(config.record.path)
    return outlets


def _record_rooms(config: FileConfig) -> list[tuple[RoomRef, CommunityId]]:
    if config.record is None:
        return []
    rooms = []
    known = {c.name for c in config.communities}
    for item in config.record.rooms:
        community, sep, room = item.partition("=")
        if not sep or community not in known or not room:
            raise ConfigError(
                f"[record] rooms: {item!r} must be community=room with a configured community"
            )
        rooms.append((RoomRef("record", room), CommunityId(community)))
    return rooms


async def run_bot(settings: Settings, config: FileConfig, stop: asyncio.Event | None = None) -> int:
    outlets = _outlets(config)
    if not outlets:
        raise NoAdapterConfigured(NO_ADAPTER)
    rooms = _record_rooms(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url(), synchronous=settings.sqlite_synchronous)
    app = await bootstrap(
        engine=engine, clock=SystemClock(), outlets=outlets, communities=config.communities
    )
    settle_memory()
    wakeup = SchedulerWakeup(app.governance.run_due)
    app.deps.wakeup = wakeup
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    dispatcher = asyncio.create_task(app.dispatcher.run(), name="outbox-dispatcher")
    try:
        for room, community in rooms:
            await ensure_binding(app, room, community)
        wakeup.start()
        # Whatever fell due while we were down runs now; the scheduler takes it from here.
        ran = await app.governance.run_due()
        log.info(
            "folkmoot running with %s; %d missed item(s) ran at start",
            ", ".join(sorted(outlets)),
            ran,
        )
        await stop.wait()
    finally:
        wakeup.shutdown()
        app.dispatcher.stop()
        try:
            await asyncio.wait_for(dispatcher, timeout=SHUTDOWN_SECONDS)
        except TimeoutError:
            log.warning("announcements still pending at shutdown are sent at the next start")
        await app.close()
    return 0
