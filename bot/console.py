"""Wiring for ``folkmoot console``: SQLite (or the configured database), a simulated
clock and the console adapter."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console.outlet import ConsoleOutlet
from adapters.console.session import COMMUNITY, ROOM, ConsoleSession
from bot import console_clock
from bot.bootstrap import author_key, bootstrap, ensure_binding
from bot.config import CommunityConfig, FileConfig, Settings
from bot.private import private_data_dir
from governance.service.clocks import SimulatedClock
from governance.store import tables as t
from governance.store.engine import make_engine


def console_community(config: FileConfig) -> CommunityConfig:
    """The console plays the community called "demo": the configured one, or a default."""
    for community in config.communities:
        if community.name == COMMUNITY:
            return community
    return CommunityConfig(name=COMMUNITY)


async def run_console(
    settings: Settings, config: FileConfig, *, start: datetime | None = None
) -> int:
    private_data_dir(settings.data_dir)
    kept = console_clock.saved(settings.data_dir)
    clock = SimulatedClock(console_clock.start_time(settings.data_dir, start))
    outlet = ConsoleOutlet(lambda text: print(text, flush=True), settings.data_dir / "exports")
    demo = console_community(config)
    communities = [c for c in config.communities if c.name != COMMUNITY] + [demo]
    engine = make_engine(settings.db_url(), synchronous=settings.sqlite_synchronous)
    app = await bootstrap(
        engine=engine,
        clock=clock,
        outlets={"console": outlet},
        communities=communities,
        author_key=author_key(settings.data_dir),
    )
    try:
        if kept is None and start is None:
            # A data directory from before the clock was kept: go on from its record.
            latest = await _latest_record(engine)
            if latest is not None and latest > clock.now():
                clock.set(latest)
        console_clock.save(settings.data_dir, clock.now())
        await ensure_binding(app, ROOM, COMMUNITY)
        session = ConsoleSession(
            app.governance,
            app.dispatcher,
            clock,
            outlet,
            zone=ZoneInfo(demo.timezone),
            on_time=lambda moment: console_clock.save(settings.data_dir, moment),
        )
        interactive = sys.stdin.isatty()
        if interactive:
            print(
                "folkmoot console — community “demo”. /help for console commands, "
                "!help for folkmoot's. Start with /as <name>.\n"
                "A !propose takes the lines after it as its body; an empty line ends it."
            )
        loop = asyncio.get_running_loop()

        async def read_line() -> str | None:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            return line or None

        def prompt(text: str) -> None:
            print(text, end="", flush=True)

        await session.run(read_line, prompt if interactive else None)
    finally:
        await app.close()
    return 0


async def _latest_record(engine: AsyncEngine) -> datetime | None:
    """When the decision log's newest entry was made, if it has any."""
    async with engine.connect() as conn:
        found = await conn.scalar(select(func.max(t.decision_log.c.at)))
    if found is None:
        return None
    try:
        return datetime.fromisoformat(str(found)).astimezone(UTC)
    except ValueError:
        return None
