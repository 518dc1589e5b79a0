"""Edits that follow ballots, at most one per proposal every few seconds.

Each ballot cast, changed or withdrawn marks its proposal; its cards and polls are
edited at once if they were not edited lately, else once the interval has passed,
showing the tally as it is then: a burst of fifty votes is one or two edits, not fifty
events in the room (and not fifty against the homeserver's rate limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from governance.domain.ids import CommunityId

log = logging.getLogger(__name__)

Key = tuple[CommunityId, int]
Show = Callable[[CommunityId, int], Awaitable[None]]


class Coalesced:
    def __init__(self, show: Show, *, interval: float) -> None:
        self._show = show
        self.interval = interval
        self._running: dict[Key, asyncio.Task[None]] = {}
        self._dirty: set[Key] = set()

    def touch(self, community: CommunityId, number: int) -> None:
        """A ballot on `number` changed: show it soon."""
        key = (community, number)
        self._dirty.add(key)
        if key not in self._running:
            self._running[key] = asyncio.create_task(self._run(key), name=f"live {key}")

    async def _run(self, key: Key) -> None:
        try:
            while key in self._dirty:
                self._dirty.discard(key)
                try:
                    await self._show(*key)
                except Exception:  # the next ballot tries again
                    log.warning("the live tally of %s #%d was not shown", *key, exc_info=True)
                await asyncio.sleep(self.interval)
        finally:
            self._running.pop(key, None)

    async def close(self) -> None:
        self._dirty.clear()
        for task in list(self._running.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
