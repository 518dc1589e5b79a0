"""Edits that follow ballots, at most one per proposal every few seconds.

Each ballot cast, changed or withdrawn marks its proposal; what shows it (a Discord
card's live tally, a Matrix card and poll) is edited at once if it was not edited
lately, else once the interval has passed, showing the tally as it is then: a burst of
fifty votes is one or two edits, not fifty (and not fifty against a platform's rate
limit on edits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from governance.domain.ids import CommunityId

log = logging.getLogger(__name__)

Key = tuple[CommunityId, int]
Show = Callable[[CommunityId, int], Awaitable[bool]]
"""Show proposal `number`'s tally as it is now; False when there is nothing more to show
(voting is over: the result is the card's last word)."""


class Coalesced:
    def __init__(self, show: Show, *, interval: float) -> None:
        self._show = show
        self.interval = interval
        self.pace: Callable[[], Awaitable[object]] = lambda: asyncio.sleep(self.interval)
        """What runs between two edits (tests hold it on an event)."""
        self._running: dict[Key, asyncio.Task[None]] = {}
        self._dirty: set[Key] = set()

    def touch(self, community: CommunityId, number: int) -> None:
        """A ballot on `number` changed: show it soon."""
        key = (community, number)
        self._dirty.add(key)
        if key not in self._running:
            self._running[key] = asyncio.create_task(self._run(key), name=f"live tally {key}")

    async def _run(self, key: Key) -> None:
        try:
            while key in self._dirty:
                self._dirty.discard(key)
                try:
                    if not await self._show(*key):
                        return
                except Exception:  # the next ballot tries again
                    log.warning("the live tally of %s #%d was not shown", *key, exc_info=True)
                await self.pace()  # at most one edit per interval
        finally:
            self._running.pop(key, None)

    async def close(self) -> None:
        self._dirty.clear()
        for task in list(self._running.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
