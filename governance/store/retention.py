"""Pruning what is done with (the port `Retention`): delivered outbox rows with their
deliveries, and the ids of platform events handled long ago.

Left alone: the decision log; dead letters (a delivery given up on keeps its outbox
row until an admin has seen it); anything not yet routed or delivered; and the newest
outbox row, always. SQLite gives a new row the highest id in use plus one, so were the
newest deleted its id would come back, and with it the delivery key
(``folkmoot-<outbox id>-<channel>``) a platform may still remember: the new message
would be taken for a retry of the old one and dropped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, func, or_, select, tuple_

from governance.service.ports import Pruned
from governance.store import tables as t
from governance.store.uow import SqlUnitOfWorkFactory


class SqlRetention:
    def __init__(self, factory: SqlUnitOfWorkFactory) -> None:
        self._factory = factory

    async def prune_delivered(self, *, before: datetime, limit: int) -> Pruned:
        o, d = t.outbox, t.deliveries
        pending = exists().where(
            d.c.outbox_id == o.c.id,
            or_(d.c.delivered_at.is_(None), d.c.delivered_at >= before),
        )
        newest = select(func.max(o.c.id)).scalar_subquery()
        query = (
            select(o.c.id)
            .where(
                o.c.routed_at.is_not(None),
                o.c.routed_at < before,
                o.c.created_at < before,
                o.c.id < newest,
                ~pending,
            )
            # Oldest routed first, as ix_outbox_unrouted (routed_at, id) holds them: so
            # both databases read only the rows past the cut-off. By id, SQLite would
            # walk the whole table to avoid a sort.
            .order_by(o.c.routed_at, o.c.id)
            .limit(limit)
        )
        async with self._factory() as uow:
            conn = uow.connection
            ids = list(await conn.scalars(query))
            if not ids:
                return Pruned()
            gone = await conn.execute(
                delete(d).where(d.c.outbox_id.in_(ids), d.c.delivered_at.is_not(None))
            )
            # Checked again in the delete: a row is removed only while nothing of it waits.
            rows = await conn.execute(
                delete(o).where(o.c.id.in_(ids), ~exists().where(d.c.outbox_id == o.c.id))
            )
            await uow.commit()
        return Pruned(outbox=rows.rowcount, deliveries=gone.rowcount)

    async def prune_seen_events(self, *, before: datetime, limit: int) -> Pruned:
        e = t.platform_events
        query = (
            select(e.c.platform, e.c.event_id)
            .where(e.c.seen_at < before)
            .order_by(e.c.seen_at)
            .limit(limit)
        )
        async with self._factory() as uow:
            conn = uow.connection
            keys = [tuple(r) for r in await conn.execute(query)]
            if not keys:
                return Pruned()
            done = await conn.execute(
                delete(e).where(tuple_(e.c.platform, e.c.event_id).in_(keys), e.c.seen_at < before)
            )
            await uow.commit()
        return Pruned(platform_events=done.rowcount)
