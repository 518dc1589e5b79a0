"""Prometheus metrics for ``folkmoot run``, in a registry of their own.

Every label comes from a fixed set — a command's class name, an outcome, a platform
name, a proposal status — never a member's name, an account id, a room or a choice.
What the database knows (open proposals, the outbox, dead letters) is read when
scraped, with a few indexed counts.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import logs
from governance.domain.commands import CastVote, Command
from governance.domain.errors import GovernanceError
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.service.app import Governance
from governance.service.ports import Clock, DueItem
from governance.store import tables as t
from governance.text.messages import Reply

log = logging.getLogger(__name__)

PLATFORMS = frozenset({"matrix", "discord", "record", "console"})
OPEN_STATUSES = ("draft", "deliberation", "voting")
UNPARSED = "unparsed"
"""The kind of a command that did not parse (an unknown word, a bad argument)."""

_dispatched: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "folkmoot_dispatched", default=False
)


def platform_label(platform: str) -> str:
    return platform if platform in PLATFORMS else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "folkmoot_commands",
            "Commands handled, by kind (the command's class) and outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.votes = Counter("folkmoot_votes_cast", "Ballots cast or changed.", registry=r)
        self.latency = Histogram(
            "folkmoot_interaction_latency_seconds",
            "From the platform's timestamp of a message or interaction to its reply "
            "being ready (platform clock to ours).",
            ["platform"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0),
            registry=r,
        )
        self.lateness = Histogram(
            "folkmoot_scheduler_lateness_seconds",
            "How long after its due instant each due item (close, reminder…) was done.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0),
            registry=r,
        )
        self.reconnects = Counter(
            "folkmoot_platform_reconnects",
            "Platform connections made again after the first (a lease taken back).",
            ["platform"],
            registry=r,
        )
        self.open_proposals = Gauge(
            "folkmoot_open_proposals",
            "Proposals not yet closed, by status.",
            ["status"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "folkmoot_outbox_depth",
            "Events not yet routed plus deliveries not yet made.",
            registry=r,
        )
        self.outbox_age = Gauge(
            "folkmoot_outbox_oldest_age_seconds",
            "Age of the oldest event still to route or deliver (0 when none).",
            registry=r,
        )
        self.dead_letters = Gauge(
            "folkmoot_dead_letters", "Deliveries given up on (see !undelivered).", registry=r
        )
        self.database_up = Gauge(
            "folkmoot_database_up", "1 if the last scrape could read the database.", registry=r
        )

    def command(self, cmd: Command | None, outcome: str) -> None:
        kind = UNPARSED if cmd is None else type(cmd).__name__
        self.commands.labels(kind, outcome).inc()
        log.debug("command %s: %s", kind, outcome)  # never who, where or what was chosen
        if isinstance(cmd, CastVote) and outcome == "ok":
            self.votes.inc()

    def due_ran(self, clock: Clock) -> Callable[[Sequence[DueItem]], None]:
        """For `Deps.on_due_ran`: each item's lateness, right after its commit."""

        def observe(items: Sequence[DueItem]) -> None:
            now = clock.now()
            for item in items:
                self.lateness.observe(max(0.0, (now - item.due_at).total_seconds()))

        return observe

    def counting_connects(
        self, platform: str, connect: Callable[[], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """`connect`, counting each call after the first one that succeeded."""
        connected = False

        async def counted() -> None:
            nonlocal connected
            await connect()
            if connected:
                self.reconnects.labels(platform_label(platform)).inc()
            connected = True

        return counted

    async def refresh(self, engine: AsyncEngine, now: datetime) -> None:
        """Read the database's figures (a scrape): a handful of indexed counts."""
        p, o, d = t.proposals, t.outbox, t.deliveries
        try:
            async with engine.connect() as conn:
                statuses: dict[str, int] = dict(
                    (
                        await conn.execute(
                            select(p.c.status, func.count())
                            .where(p.c.status.in_(OPEN_STATUSES))
                            .group_by(p.c.status)
                        )
                    ).all()
                )
                unrouted, unrouted_oldest = (
                    await conn.execute(
                        select(func.count(), func.min(o.c.created_at)).where(
                            o.c.routed_at.is_(None)
                        )
                    )
                ).one()
                pending, pending_oldest = (
                    await conn.execute(
                        select(func.count(), func.min(o.c.created_at))
                        .select_from(d.join(o, o.c.id == d.c.outbox_id))
                        .where(d.c.delivered_at.is_(None), d.c.dead_at.is_(None))
                    )
                ).one()
                dead = await conn.scalar(
                    select(func.count()).select_from(d).where(d.c.dead_at.is_not(None))
                )
        except Exception:
            self.database_up.set(0)
            raise
        self.database_up.set(1)
        for status in OPEN_STATUSES:
            self.open_proposals.labels(status).set(int(statuses.get(status, 0)))
        self.outbox_depth.set(int(unrouted or 0) + int(pending or 0))
        oldest = [_aware(x) for x in (unrouted_oldest, pending_oldest) if x is not None]
        self.outbox_age.set(max(0.0, (now - min(oldest)).total_seconds()) if oldest else 0.0)
        self.dead_letters.set(int(dead or 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _aware(moment: datetime | str) -> datetime:
    """An aggregate over a UTC column comes back naive (or as text on SQLite)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def instrument(governance: Governance, metrics: Metrics, clock: Clock) -> None:
    """Count and time every command the adapters hand the core, and give each an event
    id for the logs. The adapters call `handle_text` and `handle` as before; the
    wrappers sit on this instance only."""
    dispatch = governance._dispatch
    handle_text = governance.handle_text
    handle = governance.handle

    async def counted(cmd: Command) -> Reply:
        _dispatched.set(True)
        try:
            reply = await dispatch(cmd)
        except GovernanceError:
            metrics.command(cmd, "refused")
            raise
        except Exception:
            metrics.command(cmd, "error")
            raise
        metrics.command(cmd, "ok" if reply.ok else "refused")
        return reply

    def timed(platform: str, sent_at: datetime) -> None:
        seconds = (clock.now() - sent_at).total_seconds()
        metrics.latency.labels(platform_label(platform)).observe(max(0.0, seconds))

    async def text_command(
        room: RoomRef,
        actor: AccountRef,
        text: str,
        sent_at: datetime,
        *,
        community: CommunityId | None = None,
    ) -> Reply | None:
        event = logs.new_event_id()
        flag = _dispatched.set(False)
        try:
            reply = await handle_text(room, actor, text, sent_at, community=community)
            if reply is not None:
                if not _dispatched.get():  # refused before it was a command
                    metrics.command(None, "refused")
                timed(actor.platform, sent_at)
            return reply
        finally:
            _dispatched.reset(flag)
            logs.event_id.reset(event)

    async def command(cmd: Command) -> Reply:
        event = logs.new_event_id()
        try:
            reply = await handle(cmd)
            timed(cmd.ctx.actor.platform, cmd.ctx.sent_at)
            return reply
        finally:
            logs.event_id.reset(event)

    governance._dispatch = counted  # type: ignore[method-assign]
    governance.handle_text = text_command  # type: ignore[method-assign]
    governance.handle = command  # type: ignore[method-assign]
