"""Real-time wake-ups with APScheduler 3.x.

The database holds every due instant; the scheduler holds one job, at the earliest
instant anyone asked about, and its run processes everything due then. Nothing is
lost if a wake-up is late or missed: the next run, or the start-up run, catches up.

Due instants are in the bot's clock (the database's, in ``folkmoot run``); APScheduler
runs on this host's clock, so each instant is turned into "that far from now" here.
Otherwise a host clock an hour fast would wake an hour early and find nothing due,
again and again, and one an hour slow would close every vote an hour late.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from governance.service.ports import Clock

log = logging.getLogger(__name__)

JOB_ID = "folkmoot-due-work"


class SchedulerWakeup:
    def __init__(self, run_due: Callable[[], Awaitable[int]], clock: Clock | None = None) -> None:
        self._run_due = run_due
        self._clock = clock
        self._scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self._next: datetime | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def due_at(self, moment: datetime) -> None:
        """Wake at `moment` unless an earlier wake-up is already set."""
        if self._next is not None and self._next <= moment and self._scheduler.get_job(JOB_ID):
            return
        self._next = moment
        self._scheduler.add_job(
            self._wake, "date", run_date=self._local(moment), id=JOB_ID, replace_existing=True
        )

    def _local(self, moment: datetime) -> datetime:
        """`moment` of the bot's clock as an instant of this host's clock."""
        if self._clock is None:
            return moment
        return datetime.now(UTC) + (moment - self._clock.now())

    async def _wake(self) -> None:
        self._next = None
        async with self._lock:
            try:
                ran = await self._run_due()
                log.debug("due work: %d item(s) ran", ran)
            except Exception:
                log.exception("due work failed; retrying in 5 s")
                self.due_at(_soon())


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=5)
