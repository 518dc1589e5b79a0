"""What Discord's autocompletion and ballot forms show, kept in memory.

Discord gives an autocomplete or a modal three seconds and no defer, so they answer
from here, never from the database: which community each channel belongs to, and
each community's drafts, deliberations and open votes with their ballot forms. It is
loaded at start, learns every card the bot posts and every proposal it ends, and is
read again after each command (other than a vote) handled in a community, with the
community's channels: one unbound meanwhile, from anywhere, is dropped then. A channel
found unbound when someone uses it is forgotten at once.
"""

from __future__ import annotations

from typing import Protocol

from governance.domain.ids import CommunityId, RoomRef
from governance.service.queries import Pending
from governance.text.messages import BallotForm, Message


class Source(Protocol):
    async def bindings_on(self, platform: str) -> list[tuple[RoomRef, CommunityId]]: ...
    async def rooms_of(self, community: CommunityId) -> list[RoomRef]: ...
    async def pending(self, community: CommunityId) -> list[Pending]: ...


class Menus:
    def __init__(self, source: Source, platform: str) -> None:
        self._source = source
        self._platform = platform
        self._communities: dict[str, CommunityId] = {}
        self._pending: dict[CommunityId, dict[int, Pending]] = {}

    async def load(self) -> None:
        """Every bound channel and its community's pending proposals."""
        for room, community in await self._source.bindings_on(self._platform):
            self._communities[room.room_id] = community
        for community in set(self._communities.values()):
            await self._refresh(community)

    # ------------------------------------------------------------------ reading

    def community(self, channel_id: str) -> CommunityId | None:
        return self._communities.get(channel_id)

    def channels(self, community: CommunityId) -> list[str]:
        return sorted(c for c, owner in self._communities.items() if owner == community)

    def pending(self, channel_id: str) -> list[Pending]:
        """Newest first."""
        community = self._communities.get(channel_id)
        if community is None:
            return []
        return sorted(self._pending.get(community, {}).values(), key=lambda p: -p.number)

    def form(self, channel_id: str, number: int) -> BallotForm | None:
        community = self._communities.get(channel_id)
        found = self._pending.get(community, {}).get(number) if community else None
        return None if found is None else found.form

    # ------------------------------------------------------------------ learning

    async def refresh(self, channel_id: str, community: CommunityId) -> None:
        """`channel_id` is bound to `community` (perhaps since just now): read its
        channels (dropping those unbound meanwhile) and pending proposals again."""
        self._communities[channel_id] = community
        bound = {
            room.room_id
            for room in await self._source.rooms_of(community)
            if room.platform == self._platform
        }
        for channel, owner in list(self._communities.items()):
            if owner == community and channel not in bound:
                del self._communities[channel]
        await self._refresh(community)

    def forget(self, channel_id: str) -> None:
        """`channel_id` is bound to no community (any more): nothing is offered there."""
        community = self._communities.pop(channel_id, None)
        if community is not None and community not in self._communities.values():
            self._pending.pop(community, None)

    def posted(self, channel_id: str, message: Message) -> None:
        """The bot posted `message` in `channel_id`: a card opens a vote, a result (or
        a cancellation) ends one."""
        community = self._communities.get(channel_id)
        if community is None:
            return
        known = self._pending.setdefault(community, {})
        if message.ballot is not None:
            form = message.ballot
            known[form.proposal] = Pending(form.proposal, form.title, "voting", form)
        if message.ends_poll is not None:
            known.pop(message.ends_poll, None)

    async def _refresh(self, community: CommunityId) -> None:
        found = await self._source.pending(community)
        self._pending[community] = {p.number: p for p in found}
