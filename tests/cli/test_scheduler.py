"""Real-time wake-ups: APScheduler wakes the bot at the next due instant."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bot.scheduler import SchedulerWakeup
from governance.service.clocks import SimulatedClock


async def test_the_wakeup_runs_due_work_at_the_earliest_instant_asked_for() -> None:
    woke: asyncio.Queue[datetime] = asyncio.Queue()

    async def run_due() -> int:
        await woke.put(datetime.now(UTC))
        return 1

    wakeup = SchedulerWakeup(run_due)
    wakeup.start()
    try:
        asked = datetime.now(UTC)
        wakeup.due_at(asked + timedelta(hours=1))
        wakeup.due_at(asked + timedelta(milliseconds=200))  # earlier: replaces the hour
        wakeup.due_at(asked + timedelta(minutes=5))  # later: the earlier one stands
        first = await asyncio.wait_for(woke.get(), timeout=10)
        assert first >= asked + timedelta(milliseconds=200)
        assert woke.empty()
        # A moment already past (work missed while busy) runs at once.
        wakeup.due_at(datetime.now(UTC) - timedelta(minutes=1))
        await asyncio.wait_for(woke.get(), timeout=10)
    finally:
        wakeup.shutdown()


async def test_instants_of_a_clock_that_disagrees_with_this_host_wake_that_far_from_now() -> None:
    """The bot runs on the database's clock; APScheduler on this host's. A deadline 0.2 s
    away by the database wakes in 0.2 s, whether this host is an hour fast or slow."""
    for skew in (timedelta(hours=1), -timedelta(hours=1)):
        woke = asyncio.Event()

        async def run_due(woke: asyncio.Event = woke) -> int:
            woke.set()
            return 0

        database = SimulatedClock(datetime.now(UTC) + skew)
        wakeup = SchedulerWakeup(run_due, database)
        wakeup.start()
        try:
            asked = time.monotonic()
            wakeup.due_at(database.now() + timedelta(milliseconds=200))
            await asyncio.wait_for(woke.wait(), timeout=10)  # not an hour late
            assert time.monotonic() - asked >= 0.15  # nor an hour early
        finally:
            wakeup.shutdown()
