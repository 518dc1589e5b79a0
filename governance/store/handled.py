"""Marks of handled platform events (`platform_events`), written inside the unit of
work that applies the event's command, so the mark and the effect commit together."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects import postgresql, sqlite

from governance.service.ports import PlatformEvent
from governance.store import tables as t
from governance.store.repositories import _Repo

E = t.platform_events
_CHUNK = 300


class HandledEventRepo(_Repo):
    unsaved = False

    async def mark(self, events: Sequence[PlatformEvent]) -> set[PlatformEvent]:
        wanted = {(e.platform, e.event_id): e for e in events}
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        new: set[PlatformEvent] = set()
        rows = list(wanted.values())
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            query = (
                dialect.insert(E)
                .values(
                    [
                        {"platform": e.platform, "event_id": e.event_id, "seen_at": e.seen_at}
                        for e in chunk
                    ]
                )
                .on_conflict_do_nothing()
                .returning(E.c.platform, E.c.event_id)
            )
            for row in await self.conn.execute(query):
                new.add(wanted[(str(row.platform), str(row.event_id))])
        if new:
            self.unsaved = True
        return new
