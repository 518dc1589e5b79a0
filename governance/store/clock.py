"""The database's clock, read locally: what every instance of ``folkmoot run`` calls now.

Instances on different hosts may disagree about the time; the database decides. Each
instance measures how far the database's clock (``clock_timestamp()``) is from its
own steady clock and adds that offset to every reading, so all instances read the
same time within a round trip, whatever their hosts' clocks say. Everything that
compares with "now" — which due work is claimed (``due_at <= now``), when a vote
closed, when an outbox row may be retried — then compares against the database's
time:

- A vote never closes before its deadline as the database sees it: the offset is
  measured as if the database had answered at the very end of the round trip, so the
  local reading is never ahead of the database's clock (up to the local clock's drift
  between two measurements, a few parts per million over ``sync_seconds``). A host
  clock that is stepped (NTP, a resumed VM) does not move it: the local side is
  the monotonic clock.
- Two instances never both close a vote, clocks or no clocks: the claim of a due row
  is a row lock (``FOR UPDATE SKIP LOCKED``) inside the closing transaction, the
  close is a conditional update (``WHERE status = 'voting'``), and a closed vote's due
  rows are gone.

On SQLite the database is a file on this host, so its clock is this host's clock and
the offset stays zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.service.ports import Clock

log = logging.getLogger(__name__)

WARN_SKEW = timedelta(seconds=1)


class SteadyClock:
    """Wall time as of construction, advanced by the monotonic clock: never stepped."""

    def __init__(self, ticks: Callable[[], float] = time.monotonic) -> None:
        self._ticks = ticks
        self._start = datetime.now(UTC)
        self._start_ticks = ticks()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._ticks() - self._start_ticks)


class DatabaseClock:
    def __init__(self, engine: AsyncEngine, *, local: Clock | None = None) -> None:
        self._engine = engine
        self._local: Clock = local if local is not None else SteadyClock()
        self._offset = timedelta(0)
        self._postgres = engine.dialect.name == "postgresql"

    @property
    def offset(self) -> timedelta:
        """How far the database's clock is ahead of this process's (at the last sync)."""
        return self._offset

    def now(self) -> datetime:
        return self._local.now() + self._offset

    async def sync(self) -> timedelta:
        """Measure the database's clock again; returns the new offset."""
        if not self._postgres:
            return self._offset
        async with self._engine.connect() as conn:
            database = await conn.scalar(select(func.clock_timestamp()))
        after = self._local.now()
        assert isinstance(database, datetime)
        # The database read its clock somewhere in the round trip; taking the end of it
        # makes the offset, and so every reading, never run ahead of the database.
        offset = database.astimezone(UTC) - after
        if abs(offset) > WARN_SKEW and abs(offset - self._offset) > WARN_SKEW:
            log.warning(
                "this host's clock is %.1f s %s the database's; folkmoot uses the database's",
                abs(offset.total_seconds()),
                "behind" if offset > timedelta(0) else "ahead of",
            )
        self._offset = offset
        return offset
