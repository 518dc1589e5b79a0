"""The outbox dispatcher: reads committed events in order and announces them in every
room bound to their community, on every platform.

Delivery is at-least-once: a row is marked delivered only after every room took it,
and each delivery carries a key that stays the same on retry, so the platforms'
idempotency (Matrix transaction ids, Discord nonces) makes it effectively-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta

from governance.domain.events import Event
from governance.service.deps import Deps
from governance.service.ports import OutboxRow, Outlet, UnitOfWorkFactory
from governance.text.render import render_event

log = logging.getLogger(__name__)

BATCH = 100
MAX_BACKOFF = timedelta(minutes=10)
POLL_SECONDS = 5.0
CLAIM_FOR = timedelta(minutes=2)
"""How long a claimed row is left to its deliverer before another process may retry it."""


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


class Dispatcher:
    def __init__(self, uow: UnitOfWorkFactory, deps: Deps, outlets: Mapping[str, Outlet]) -> None:
        self._uow = uow
        self._deps = deps
        self._outlets = outlets
        self._wake = asyncio.Event()
        self._stopping = False
        self._paused: set[str] = set()

    def pause(self, platform: str) -> None:
        """Deliver nothing to `platform`, from now on, until `resume`: another instance
        holds its lease. Rows announced in a community with a room there are left for
        that instance (never marked delivered here), so none is lost."""
        self._paused.add(platform)

    def resume(self, platform: str) -> None:
        """This instance holds `platform`'s lease again: deliver there."""
        self._paused.discard(platform)
        self._wake.set()

    def wake(self) -> None:
        """Something was committed: look at the outbox soon."""
        self._wake.set()

    async def drain(self) -> int:
        """Deliver everything pending now; returns how many rows were settled."""
        settled = 0
        while True:
            async with self._uow(read_only=True) as uow:
                rows = await uow.outbox.pending(now=self._deps.clock.now(), limit=BATCH)
            if not rows:
                return settled
            progress = False
            for row in rows:
                if await self._deliver(row):
                    settled += 1
                    progress = True
            if not progress:
                return settled

    async def _deliver(self, row: OutboxRow) -> bool:
        if self._paused and row.event.announce and not await self._holds_rooms(row):
            return False  # the instance holding the platform delivers it
        async with self._uow() as uow:
            now = self._deps.clock.now()
            claimed = await uow.outbox.claim(row.id, now=now, until=now + CLAIM_FOR)
            await uow.commit()
        if not claimed:  # another instance is delivering it
            return False
        error = await self._announce(row.id, row.event)
        async with self._uow() as uow:
            now = self._deps.clock.now()
            if error is None:
                await uow.outbox.delivered(row.id, at=now)
            else:
                await uow.outbox.failed(
                    row.id, retry_at=now + backoff(row.attempts + 1), error=error
                )
            await uow.commit()
        return error is None

    async def _holds_rooms(self, row: OutboxRow) -> bool:
        async with self._uow(read_only=True) as uow:
            rooms = await uow.bindings.rooms(row.event.community)
        return not any(room.platform in self._paused for room in rooms)

    async def _announce(self, row_id: int, event: Event) -> str | None:
        if not event.announce:
            return None
        try:
            message = render_event(event)
        except Exception as error:  # a bug: keep the row for a fixed version, go on
            log.exception("outbox row %d could not be rendered", row_id)
            return f"rendering failed: {error!r}"
        if message is None:
            return None
        async with self._uow(read_only=True) as uow:
            rooms = await uow.bindings.rooms(event.community)
        errors = []
        for room in rooms:
            outlet = self._outlets.get(room.platform)
            if outlet is None:
                continue
            if room.platform in self._paused:  # its lease was lost mid-row: retried later
                errors.append(f"{room}: this instance no longer holds {room.platform}")
                continue
            try:
                await outlet.post(room, message, key=f"folkmoot-{row_id}-{room}")
            except Exception as error:  # one platform's trouble never blocks another
                log.warning("delivery of outbox row %d to %s failed: %r", row_id, room, error)
                errors.append(f"{room}: {error!r}")
        return "; ".join(errors) or None

    def stop(self) -> None:
        """Finish the current pass, one more for what it woke for, then return from `run`:
        a delivery is never cut off half-way at shutdown."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until `stop`: on every wake-up, and every few seconds for retries
        and for events committed by other instances."""
        while True:
            stopping = self._stopping
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatcher pass failed; retrying")
            if stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
