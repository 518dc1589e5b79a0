"""Real-time wake-ups with APScheduler 3.x.

The database holds every due instant; the scheduler holds one job, at the earliest
instant anyone asked about. That job only kicks one worker task, which runs the due
work; a kick that comes while the worker runs makes it run once more when it is done.
Nothing is lost if a wake-up is late or missed: the next run, or the start-up run,
catches up.

(The job itself never runs the work: a date job whose time comes while the previous
run is still going is *skipped* by APScheduler under ``max_instances=1`` — it logs a
warning and the wake-up is gone, so votes due later would wait for the next restart.
The run sets the next wake-up a few milliseconds ahead while it is still going, so
under a burst of closes that is the common case.)

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
RETRY_AFTER = timedelta(seconds=5)


class SchedulerWakeup:
    def __init__(self, run_due: Callable[[], Awaitable[int]], clock: Clock | None = None) -> None:
        self._run_due = run_due
        self._clock = clock
        self._scheduler = AsyncIOScheduler(
            # The job only sets an event and returns, so instances never pile up; the
            # limit is not 1 so that even a kick overlapping another is never skipped.
            job_defaults={"coalesce": True, "max_instances": 100, "misfire_grace_time": None}
        )
        self._next: datetime | None = None
        self._kick = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the scheduler and the worker (call from inside the running loop)."""
        self._scheduler.start()
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="due-work")

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._worker is not None:
            # A run cut off here rolls back; the next start runs what it had not committed.
            self._worker.cancel()
            self._worker = None

    def due_at(self, moment: datetime) -> None:
        """Wake at `moment` unless an earlier wake-up is already set."""
        if self._next is not None and self._next <= moment and self._scheduler.get_job(JOB_ID):
            return
        self._next = moment
        self._scheduler.add_job(
            self._fire, "date", run_date=self._local(moment), id=JOB_ID, replace_existing=True
        )

    def _local(self, moment: datetime) -> datetime:
        """`moment` of the bot's clock as an instant of this host's clock."""
        if self._clock is None:
            return moment
        return datetime.now(UTC) + (moment - self._clock.now())

    def _now(self) -> datetime:
        return datetime.now(UTC) if self._clock is None else self._clock.now()

    async def _fire(self) -> None:
        # A coroutine, so APScheduler runs it on the loop (a plain function would go to
        # a thread pool, where setting an asyncio.Event is not safe).
        self._next = None
        self._kick.set()

    async def _work(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            try:
                ran = await self._run_due()
                log.debug("due work: %d item(s) ran", ran)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("due work failed; retrying in 5 s")
                self.due_at(self._now() + RETRY_AFTER)
