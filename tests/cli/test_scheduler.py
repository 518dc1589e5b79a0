"""Real-time wake-ups: APScheduler wakes the bot at the next due instant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.scheduler import SchedulerWakeup


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
