"""Real-time wake-ups: APScheduler wakes the bot at the next due instant."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_SUBMITTED

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


async def test_a_wakeup_asked_for_while_due_work_runs_is_not_lost() -> None:
    # Due work sets the next wake-up before it returns; under a burst of closes that
    # moment comes while the run is still going. It must run after, not be skipped.
    started: asyncio.Queue[int] = asyncio.Queue()
    release = asyncio.Event()
    runs = 0

    async def run_due() -> int:
        nonlocal runs
        runs += 1
        await started.put(runs)
        if runs == 1:
            wakeup.due_at(datetime.now(UTC) - timedelta(seconds=1))  # due already
            await release.wait()
        return 1

    wakeup = SchedulerWakeup(run_due)
    fired: asyncio.Queue[object] = asyncio.Queue()
    # Each time APScheduler takes the job (or skips it): the test's own observation.
    wakeup._scheduler.add_listener(fired.put_nowait, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES)
    wakeup.start()
    try:
        wakeup.due_at(datetime.now(UTC))
        assert await asyncio.wait_for(started.get(), timeout=10) == 1
        # The first wake-up, then the one set inside the run, due while it still runs.
        for _ in range(2):
            await asyncio.wait_for(fired.get(), timeout=10)
        release.set()
        assert await asyncio.wait_for(started.get(), timeout=10) == 2
    finally:
        wakeup.shutdown()
