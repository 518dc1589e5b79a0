"""Retention: delivered announcements and old handled-event ids are pruned in batches;
the decision log, dead letters and anything undelivered stay (issue 9, point 5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from bot.config import Settings
from bot.runner import retention_policy
from governance.domain.decision_log import verify_chain
from governance.domain.ids import CommunityId
from governance.service.ports import Pruned
from governance.service.retention import RetentionPolicy, prune
from governance.store import tables as t
from governance.store.retention import SqlRetention
from tests.chat import Chat
from tests.conftest import START

DAY = timedelta(days=1)
NOW = START + 31 * DAY
"""The run's instant: the cut-off is START + 1 day, after everything the chat did."""


async def _row(
    chat: Chat,
    *,
    created: datetime,
    routed: datetime | None,
    deliveries: list[dict[str, Any]],
) -> int:
    async with chat.app.engine.begin() as conn:
        # A real event's kind and payload: the chat's first announcement's.
        template = (
            await conn.execute(
                select(t.outbox.c.kind, t.outbox.c.payload).order_by(t.outbox.c.id).limit(1)
            )
        ).one()
        row = await conn.scalar(
            insert(t.outbox)
            .values(
                community_id="demo",
                kind=template.kind,
                payload=template.payload,
                created_at=created,
                routed_at=routed,
            )
            .returning(t.outbox.c.id)
        )
        assert row is not None
        for n, d in enumerate(deliveries):
            await conn.execute(
                insert(t.deliveries).values(
                    outbox_id=row,
                    platform="test",
                    channel=f"room:test:r{n}",
                    attempts=1,
                    next_attempt_at=created,
                    **d,
                )
            )
    return row


async def _state(chat: Chat) -> tuple[set[int], set[int], set[tuple[str, str]]]:
    async with chat.app.engine.connect() as conn:
        outbox = set(await conn.scalars(select(t.outbox.c.id)))
        deliveries = set(await conn.scalars(select(t.deliveries.c.id)))
        events = {(r.platform, r.event_id) for r in await conn.execute(select(t.platform_events))}
    return outbox, deliveries, events


async def _log(chat: Chat) -> list[Any]:
    async with chat.app.uow() as uow:
        return list(await uow.log.entries(CommunityId("demo")))


async def test_pruning_removes_exactly_the_old_delivered_rows(chat: Chat) -> None:
    # Real activity: a proposal, ballots, a close; its announcements go out at once.
    await chat.ok("alice", "!propose Paint the door vote=1h")
    await chat.ok("bob", "!vote 1 yes")
    await chat.ok("carol", "!vote 1 no")
    await chat.advance(hours=2)
    log_before = await _log(chat)
    assert len(log_before) >= 4 and verify_chain(log_before) is None
    chat_rows, chat_deliveries, _ = await _state(chat)
    assert chat_rows and chat_deliveries
    async with chat.app.engine.connect() as conn:
        waiting = await conn.scalar(
            select(func.count()).where(t.deliveries.c.delivered_at.is_(None))
        )
    assert waiting == 0  # everything the chat said went out (at START…START+2h)

    old, recent = START - 40 * DAY, START + 30 * DAY
    sent = {"delivered_at": old}
    gone_old = await _row(chat, created=old, routed=old, deliveries=[sent, sent])
    private_only = await _row(chat, created=old, routed=old, deliveries=[])  # DMs forgotten
    dead = await _row(
        chat, created=old, routed=old, deliveries=[sent, {"dead_at": old, "last_error": "gone"}]
    )
    waiting_row = await _row(chat, created=old, routed=old, deliveries=[sent, {}])
    unrouted = await _row(chat, created=old, routed=None, deliveries=[])
    late = await _row(chat, created=old, routed=old, deliveries=[{"delivered_at": recent}])
    new = await _row(chat, created=recent, routed=recent, deliveries=[{"delivered_at": recent}])
    newest = await _row(chat, created=old, routed=old, deliveries=[sent])
    async with chat.app.engine.begin() as conn:
        await conn.execute(
            insert(t.platform_events),
            [
                {"platform": "matrix", "event_id": "$a", "seen_at": old},
                {"platform": "matrix", "event_id": "$b", "seen_at": START},
                {"platform": "discord", "event_id": "1", "seen_at": START},
                {"platform": "matrix", "event_id": "$new", "seen_at": recent},
                {"platform": "discord", "event_id": "2", "seen_at": recent},
            ],
        )
    rows_before, deliveries_before, _ = await _state(chat)

    retention = SqlRetention(chat.app.factory)
    policy = RetentionPolicy(batch=2)
    pruned = await prune(retention, NOW, policy)

    rows, deliveries, events = await _state(chat)
    kept = {dead, waiting_row, unrouted, late, new, newest}
    assert rows == kept
    removed = rows_before - rows
    assert removed == chat_rows | {gone_old, private_only}
    assert pruned == Pruned(
        outbox=len(removed),
        deliveries=len(deliveries_before - deliveries),
        platform_events=3,
    )
    assert chat_deliveries.isdisjoint(deliveries)
    async with chat.app.engine.connect() as conn:
        by_row = {
            r.outbox_id: r.n
            for r in await conn.execute(
                select(t.deliveries.c.outbox_id, func.count().label("n")).group_by(
                    t.deliveries.c.outbox_id
                )
            )
        }
        dead_letters = await conn.scalar(
            select(func.count()).where(t.deliveries.c.dead_at.is_not(None))
        )
    assert by_row == {dead: 2, waiting_row: 2, late: 1, new: 1, newest: 1}
    assert dead_letters == 1
    assert events == {("matrix", "$new"), ("discord", "2")}

    # The decision log is untouched and still verifies.
    log_after = await _log(chat)
    assert log_after == log_before and verify_chain(log_after) is None

    # A second run finds nothing; the admin still sees the dead letter.
    assert await prune(retention, NOW, policy) == Pruned()
    assert "last error: gone" in await chat.ok("alice", "!undelivered")

    # New announcements get fresh ids (none of a pruned row's comes back) and go out.
    before = len(chat.announced())
    await chat.ok("alice", "!propose Fix the gate")
    assert len(chat.announced()) > before
    rows_now, _, _ = await _state(chat)
    assert min(rows_now - rows) > newest


async def test_nothing_is_pruned_before_its_age(chat: Chat) -> None:
    await chat.ok("alice", "!propose Paint the door")
    rows, deliveries, _ = await _state(chat)
    assert await prune(SqlRetention(chat.app.factory), START + DAY, RetentionPolicy()) == Pruned()
    assert await _state(chat) == (rows, deliveries, set())


def test_the_schedule_and_age_come_from_settings() -> None:
    default = Settings()
    assert default.prune_every_seconds == 3600
    policy = retention_policy(default)
    assert policy.delivered_after == policy.seen_events_after == 30 * DAY
    short = retention_policy(Settings(retention_days=7))
    assert short.delivered_after == 7 * DAY
