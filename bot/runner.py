"""``folkmoot run``: every configured adapter, the scheduler and the outbox dispatcher.

Several instances may run on one PostgreSQL database. Each claims due work row by row
and reads the database's clock (governance.store.clock), so they agree on what is
due. Each platform connection is held by one instance at a time under a lease
(governance.store.lease): the others deliver nothing there, leave those rows to the
holder, and take over when it dies. On Discord the connection is one set of shards:
instances running other shards hold other leases, and every holder delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta

import discord
import yarl
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.discord.adapter import DiscordAdapter, DiscordSettings
from adapters.matrix.adapter import MatrixAdapter, MatrixSettings
from adapters.record.outlet import RecordingOutlet
from bot import logs
from bot.bootstrap import App, author_key, bootstrap, ensure_binding
from bot.config import ConfigError, DiscordConfig, FileConfig, Settings
from bot.health import HealthServer, lease_probe
from bot.metrics import Metrics
from bot.private import private_data_dir
from bot.scheduler import SchedulerWakeup
from governance.domain.ids import CommunityId, RoomRef
from governance.service.dispatcher import Dispatcher
from governance.service.ports import Clock, Outlet
from governance.service.retention import RetentionPolicy, prune
from governance.store.clock import DatabaseClock
from governance.store.engine import make_engine
from governance.store.lease import Lease, LeaseKeeper, forget_claims, make_lease
from governance.store.platform_state import PlatformState
from governance.store.retention import SqlRetention

log = logging.getLogger(__name__)


SHUTDOWN_SECONDS = 20.0


class NoAdapterConfigured(Exception):
    pass


NO_ADAPTER = (
    "no platform adapter is configured, so there is nothing to run. Configure one in the "
    "file named by FOLKMOOT_CONFIG: [matrix] homeserver=…, user_id=… (with "
    "FOLKMOOT_MATRIX_PASSWORD or FOLKMOOT_MATRIX_TOKEN in the environment), or [record] "
    "path=… (a JSON Lines recording of every announcement), or [discord] (with "
    "FOLKMOOT_DISCORD_TOKEN). "
    "To try folkmoot without a platform, run `folkmoot console`."
)


class AdapterStartError(Exception):
    """A platform adapter cannot start (bad credentials, unreachable server)."""


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


def _matrix(
    settings: Settings, config: FileConfig, app: App, metrics: Metrics
) -> MatrixAdapter | None:
    if config.matrix is None:
        return None
    m = config.matrix
    return MatrixAdapter(
        MatrixSettings(
            homeserver=m.homeserver,
            user_id=m.user_id,
            store_dir=settings.data_dir / "matrix",
            password=settings.secret("matrix_password"),
            token=settings.secret("matrix_token"),
            device_name=m.device_name,
            invite_from=tuple(m.invite_from),
            power_roles=dict(m.power_levels),
        ),
        app.governance,
        PlatformState(app.factory, "matrix"),
        on_reconnect=metrics.reconnected("matrix"),
    )


def _discord_settings(settings: Settings, config: FileConfig) -> DiscordSettings | None:
    if config.discord is None:
        return None
    d = config.discord
    token = settings.secret("discord_token")
    if not token:
        raise ConfigError("[discord] needs a bot token: set FOLKMOOT_DISCORD_TOKEN")
    return DiscordSettings(
        token=token,
        guilds=tuple(d.guilds),
        role_names=dict(d.roles),
        class_names=dict(d.classes),
        message_content=d.message_content,
        server_admins=d.server_admins,
        shard_count=d.shard_count,
        shard_ids=tuple(d.shard_ids) if d.shard_ids is not None else None,
    )


class DiscordConnection:
    """This process's Discord shards, connected while their lease is held.

    A discord.py client does not connect again once closed, so each time the lease is
    taken a new one connects (and becomes the outlet the dispatcher sends through);
    losing the lease closes the one connected then. Each one's gateway reconnects and
    first answers to interactions are counted in `metrics`."""

    def __init__(
        self,
        d: DiscordConfig,
        discord_settings: DiscordSettings,
        app: App,
        outlets: dict[str, Outlet],
        metrics: Metrics | None = None,
    ) -> None:
        if d.api_base is not None:
            discord.http.Route.BASE = d.api_base.rstrip("/")
        if d.gateway is not None:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(d.gateway)
        self._settings = discord_settings
        self._app = app
        self._outlets = outlets
        self._metrics = metrics or Metrics()
        self._used = False
        self.bot = self._new()

    def _new(self) -> DiscordAdapter:
        app = self._app
        bot = DiscordAdapter(
            self._settings,
            app.governance,
            PlatformState(app.factory, "discord"),
            on_reconnect=self._metrics.reconnected("discord"),
            on_first_response=self._metrics.answered("discord"),
        )
        self._outlets["discord"] = bot  # the dispatcher reads this mapping
        return bot

    async def connect(self) -> None:
        if self._used:
            self.bot = self._new()
        self._used = True
        await self.bot.start_adapter()

    def disconnect(self) -> Awaitable[None]:
        """Close the client connected now (not one a later `connect` makes)."""
        return self.bot.stop_adapter()


def _lease_names(config: FileConfig, discord_settings: DiscordSettings | None) -> dict[str, str]:
    """Each outlet's lease, named ``platform:account``: one connection, one holder. On
    Discord the connection is this process's set of shards (``discord:shards:all``,
    ``discord:shards:0,1/4``): processes running other shards hold other leases."""
    names: dict[str, str] = {}
    if config.record is not None:
        names["record"] = f"record:{config.record.path.resolve()}"
    if config.matrix is not None:
        names["matrix"] = f"matrix:{config.matrix.user_id}"
    if discord_settings is not None:
        names["discord"] = f"discord:shards:{discord_settings.shard_set}"
    return names


def _sole_holder(platform: str, discord_settings: DiscordSettings | None) -> bool:
    """Whether the holder of `platform`'s lease is the only instance delivering there.
    Processes that split Discord's shards each hold a lease of their own and all
    deliver (posting is REST, to any channel, from any process; deliveries are claimed
    row by row), so none may take another's claims as its dead predecessor's."""
    return platform != "discord" or discord_settings is None or discord_settings.shard_ids is None


Connection = tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]
"""How to connect a platform when its lease is taken, and disconnect it when lost."""


def _keeper(
    engine: AsyncEngine,
    dispatcher: Dispatcher,
    platform: str,
    name: str,
    retry: float,
    connection: Connection | None = None,
    *,
    sole: bool = True,
) -> LeaseKeeper:
    """`sole`: the lease holder is the platform's only deliverer, so claims left on its
    deliveries are the last holder's, freed at once; otherwise they run out
    (dispatcher.CLAIM_FOR) before another instance sends them again."""

    async def taken() -> None:
        if connection is not None:
            await connection[0]()  # e.g. the Matrix backlog, handled before anything else
        if sole:
            freed = await forget_claims(engine, platform)
            if freed:
                log.info("%d announcement(s) left half-sent by the last holder go out again", freed)
        dispatcher.resume(platform)

    def lost() -> None:
        dispatcher.pause(platform)
        if connection is not None:
            disconnecting = asyncio.ensure_future(connection[1]())
            _PENDING.add(disconnecting)
            disconnecting.add_done_callback(_PENDING.discard)

    def make(on_drop: Callable[[], None]) -> Lease:
        return make_lease(engine, name, on_drop=on_drop)

    return LeaseKeeper(make, retry=retry, taken=taken, lost=lost)


_PENDING: set[asyncio.Future[None]] = set()


async def _watch_due(app: App, wakeup: SchedulerWakeup, every: float) -> None:
    """Wake for due work other instances added: each instance wakes itself for what it
    schedules, but if it stops, its wake-ups stop with it."""
    while True:
        await asyncio.sleep(every)
        try:
            upcoming = await app.governance.next_due()
        except Exception as error:
            log.warning("could not read the next due instant (%s)", type(error).__name__)
            continue
        if upcoming is not None:
            wakeup.due_at(upcoming)


async def _keep_time(clock: DatabaseClock, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await clock.sync()
        except Exception as error:
            log.warning("could not read the database's clock (%s)", type(error).__name__)


def retention_policy(settings: Settings) -> RetentionPolicy:
    age = timedelta(days=settings.retention_days)
    return RetentionPolicy(delivered_after=age, seen_events_after=age)


async def _prune_on_schedule(app: App, clock: Clock, settings: Settings) -> None:
    """Retention (governance.service.retention): at start, then every
    ``prune_every_seconds``."""
    retention, policy = SqlRetention(app.factory), retention_policy(settings)
    while True:
        try:
            await prune(retention, clock.now(), policy)
        except Exception as error:
            log.warning("retention run failed (%s); trying again later", type(error).__name__)
        await asyncio.sleep(settings.prune_every_seconds)


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


def _connected(
    platform: str, matrix: MatrixAdapter | None, discord_link: DiscordConnection | None
) -> Callable[[], bool] | None:
    """Whether the adapter holding `platform` is connected (for /healthz)."""
    if platform == "matrix" and matrix is not None:
        return lambda: matrix._sync_task is not None and not matrix._sync_task.done()
    if platform == "discord" and discord_link is not None:
        return lambda: discord_link.bot.is_ready() and not discord_link.bot.is_closed()
    return None


async def run_bot(settings: Settings, config: FileConfig, stop: asyncio.Event | None = None) -> int:
    level, fmt = settings.log_settings(config)
    with logs.configured(level, fmt, settings.secret_values()):
        return await _run(settings, config, stop)


async def _run(settings: Settings, config: FileConfig, stop: asyncio.Event | None) -> int:
    outlets = _outlets(config)
    if not outlets and config.matrix is None and config.discord is None:
        raise NoAdapterConfigured(NO_ADAPTER)
    rooms = _record_rooms(config)
    discord_settings = _discord_settings(settings, config)  # its token, before anything starts
    private_data_dir(settings.data_dir)
    engine = make_engine(settings.db_url(), synchronous=settings.sqlite_synchronous)
    clock = DatabaseClock(engine)
    try:
        await clock.sync()
        app = await bootstrap(
            engine=engine,
            clock=clock,
            outlets=outlets,
            communities=config.communities,
            author_key=author_key(settings.data_dir),
        )
    except BaseException:
        await engine.dispose()
        raise
    if config.discord is not None:
        app.governance.deps.platform_classes = frozenset(config.discord.classes.values())
    settle_memory()
    wakeup = SchedulerWakeup(app.governance.run_due, clock)
    app.deps.wakeup = wakeup
    metrics = Metrics()
    app.deps.observer = metrics.observer(clock)
    app.deps.on_due_ran = metrics.due_ran(clock)
    health = HealthServer(engine, clock, metrics, outbox_max_age=settings.outbox_max_age(config))
    connections: dict[str, Connection] = {}
    matrix = _matrix(settings, config, app, metrics)
    if matrix is not None:
        outlets["matrix"] = matrix  # the dispatcher reads this mapping
        connections["matrix"] = (matrix.start, matrix.stop)
    discord_link = None
    if config.discord is not None and discord_settings is not None:
        discord_link = DiscordConnection(config.discord, discord_settings, app, outlets, metrics)
        connections["discord"] = (discord_link.connect, discord_link.disconnect)
    connections = {p: (metrics.counting_connects(p, c[0]), c[1]) for p, c in connections.items()}
    # Nothing is delivered to a platform before its lease is taken.
    keepers = []
    for platform, name in _lease_names(config, discord_settings).items():
        health.platforms[platform] = lambda: "starting"
        app.dispatcher.pause(platform)
        keepers.append(
            _keeper(
                engine,
                app.dispatcher,
                platform,
                name,
                settings.lease_retry_seconds,
                connections.get(platform),
                sole=_sole_holder(platform, discord_settings),
            )
        )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    dispatcher = asyncio.create_task(app.dispatcher.run(), name="outbox-dispatcher")
    background = [
        asyncio.create_task(_keep_time(clock, settings.clock_sync_seconds)),
        asyncio.create_task(_watch_due(app, wakeup, settings.due_poll_seconds)),
        asyncio.create_task(_prune_on_schedule(app, clock, settings), name="retention"),
    ]
    try:
        address = settings.http_address(config)
        if address is not None:  # before connecting anywhere: a port in use stops us here
            await health.start(*address)
        for room, community in rooms:
            await ensure_binding(app, room, community)
        for platform, keeper in zip(list(health.platforms), keepers, strict=True):
            await keeper.attempt()
            if keeper.failure is not None:  # bad credentials, an unreachable server…
                raise AdapterStartError(f"{keeper.name}: {keeper.failure}")
            background.append(asyncio.create_task(keeper.run(), name=f"lease {keeper.name}"))
            health.platforms[platform] = lease_probe(
                keeper, _connected(platform, matrix, discord_link)
            )
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
        await health.stop()
        wakeup.shutdown()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        app.dispatcher.stop()
        try:
            await asyncio.wait_for(dispatcher, timeout=SHUTDOWN_SECONDS)
        except TimeoutError:
            log.warning("announcements still pending at shutdown are sent at the next start")
        for keeper in keepers:
            with contextlib.suppress(Exception):
                await keeper.release()
        if matrix is not None:
            await matrix.stop()
        if discord_link is not None:
            await discord_link.disconnect()
        await app.close()
    return 0
