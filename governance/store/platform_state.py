"""What a platform adapter keeps in the database besides governance: the polls and cards
it posted for each proposal and the direct room it shares with each member. (The events
it has handled are marked by the core, with their effect: `governance.store.handled`.)"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from governance.store import tables as t
from governance.store.uow import SqlUnitOfWorkFactory


class PlatformState:
    def __init__(self, factory: SqlUnitOfWorkFactory, platform: str) -> None:
        self._factory = factory
        self._platform = platform

    async def remember_poll(self, room_id: str, proposal: int, event_id: str, kind: str) -> None:
        async with self._factory() as uow:
            conn = uow.connection
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            values = {
                "platform": self._platform,
                "event_id": event_id,
                "room_id": room_id,
                "proposal": proposal,
                "kind": kind,
            }
            await conn.execute(
                dialect.insert(t.platform_polls).values(values).on_conflict_do_nothing()
            )
            await uow.commit()

    async def poll(self, room_id: str, event_id: str) -> int | None:
        """The proposal a poll in `room_id` was posted for."""
        async with self._factory(read_only=True) as uow:
            return await uow.connection.scalar(
                select(t.platform_polls.c.proposal).where(
                    t.platform_polls.c.platform == self._platform,
                    t.platform_polls.c.event_id == event_id,
                    t.platform_polls.c.room_id == room_id,
                )
            )

    async def polls_of(self, room_id: str, proposal: int) -> list[tuple[str, str]]:
        """(event id, event type) of the polls posted for `proposal` in `room_id`."""
        p = t.platform_polls
        async with self._factory(read_only=True) as uow:
            rows = await uow.connection.execute(
                select(p.c.event_id, p.c.kind).where(
                    p.c.platform == self._platform,
                    p.c.room_id == room_id,
                    p.c.proposal == proposal,
                )
            )
            return [(r.event_id, r.kind) for r in rows]

    async def direct_room(self, account_id: str) -> str | None:
        async with self._factory(read_only=True) as uow:
            return await uow.connection.scalar(
                select(t.direct_rooms.c.room_id).where(
                    t.direct_rooms.c.platform == self._platform,
                    t.direct_rooms.c.account_id == account_id,
                )
            )

    async def forget_direct_room(self, account_id: str) -> None:
        async with self._factory() as uow:
            await uow.connection.execute(
                t.direct_rooms.delete().where(
                    t.direct_rooms.c.platform == self._platform,
                    t.direct_rooms.c.account_id == account_id,
                )
            )
            await uow.commit()

    async def remember_direct_room(self, account_id: str, room_id: str) -> None:
        async with self._factory() as uow:
            await uow.connection.execute(
                t.direct_rooms.delete().where(
                    t.direct_rooms.c.platform == self._platform,
                    t.direct_rooms.c.account_id == account_id,
                )
            )
            await uow.connection.execute(
                insert(t.direct_rooms).values(
                    platform=self._platform, account_id=account_id, room_id=room_id
                )
            )
            await uow.commit()
