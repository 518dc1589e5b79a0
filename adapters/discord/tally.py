"""Live tallies on proposal cards, edited at most once per card every few seconds.

Discord limits message edits per channel; a burst of fifty votes must not become fifty
edits (`adapters.coalesce`). Rate limits on the edit itself (429) are discord.py's to
wait out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.coalesce import Coalesced
from governance.domain.ids import CommunityId
from governance.text.messages import Block

DEFAULT_INTERVAL = 3.0

TallyOf = Callable[[CommunityId, int], Awaitable[tuple[Block, ...]]]
EditCards = Callable[[CommunityId, int, tuple[Block, ...]], Awaitable[None]]


class TallyEdits(Coalesced):
    def __init__(
        self, tally_of: TallyOf, edit_cards: EditCards, *, interval: float = DEFAULT_INTERVAL
    ) -> None:
        async def show(community: CommunityId, number: int) -> bool:
            tally = await tally_of(community, number)
            if not tally:
                return False  # voting is over: the result is the card's last word
            await edit_cards(community, number, tally)
            return True

        super().__init__(show, interval=interval)
