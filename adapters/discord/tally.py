"""Live tallies on proposal cards, edited at most once per card every few seconds.

Discord limits message edits per channel; a burst of fifty votes must not become
fifty edits. After a vote, the proposal is marked: its cards are edited at once if
none was edited lately, else once the interval has passed, showing the tally as it
is then. Rate limits on the edit itself (429) are discord.py's to wait out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from governance.domain.ids import CommunityId
from governance.text.messages import Block

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 3.0

Key = tuple[CommunityId, int]
TallyOf = Callable[[CommunityId, int], Awaitable[tuple[Block, ...]]]
EditCards = Callable[[CommunityId, int, tuple[Block, ...]], Awaitable[None]]


class TallyEdits:
    def __init__(
        self, tally_of: TallyOf, edit_cards: EditCards, *, interval: float = DEFAULT_INTERVAL
    ) -> None:
        self._tally_of = tally_of
        self._edit_cards = edit_cards
        self.interval = interval
        self.pace: Callable[[], Awaitable[object]] = lambda: asyncio.sleep(self.interval)
        """What runs between two edits of a card (tests hold it on an event)."""
        self._running: dict[Key, asyncio.Task[None]] = {}
        self._dirty: set[Key] = set()

    def touch(self, community: CommunityId, number: int) -> None:
        """A ballot on `number` changed: its cards show it soon."""
        key = (community, number)
        self._dirty.add(key)
        if key not in self._running:
            self._running[key] = asyncio.create_task(self._run(key))

    async def _run(self, key: Key) -> None:
        try:
            while key in self._dirty:
                self._dirty.discard(key)
                try:
                    tally = await self._tally_of(*key)
                    if not tally:
                        return  # voting is over: the result is the card's last word
                    await self._edit_cards(*key, tally)
                except Exception:  # the next vote tries again
                    log.warning("the live tally of %s #%d was not shown", *key, exc_info=True)
                await self.pace()  # at most one edit per interval
        finally:
            self._running.pop(key, None)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
