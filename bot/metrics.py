"""Prometheus metrics for ``folkmoot run``, in a registry of their own.

Every label comes from a fixed set — a command's class name, an outcome, a platform
name, a proposal status — never a member's name, an account id, a room or a choice.
What the database knows (open proposals, the outbox, dead letters) is read when
scraped, with a few indexed counts.

The core reports its commands through its `Observer` port (`Metrics.observer`); the
adapters report reconnects and first answers through callbacks (`Metrics.reconnected`,
`Metrics.answered`). Nothing is wrapped or patched.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import logs
from governance.domain.commands import CastVote
from governance.service.ports import Clock, DueItem, Observer, Outcome
from governance.store import tables as t

log = logging.getLogger(__name__)

PLATFORMS = frozenset({"matrix", "discord", "record", "console"})
OPEN_STATUSES = ("draft", "deliberation", "voting")
VOTE = CastVote.__name__


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
        self.first_response = Histogram(
            "folkmoot_first_response_seconds",
            "From a Discord interaction's creation (its id's timestamp) to the bot's "
            "first answer to it: a defer, a modal or a message. Discord allows 3 s.",
            ["platform"],
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0),
            registry=r,
        )
        self.reconnects = Counter(
            "folkmoot_platform_reconnects",
            "Platform connections made again: a lease taken back, a Discord shard's "
            "gateway session resumed or identified again, a Matrix sync that succeeded "
            "after failing.",
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

    def command(self, kind: str, outcome: Outcome) -> None:
        """`kind` is a command's class name or ``unparsed``: a fixed set."""
        self.commands.labels(kind, outcome).inc()
        log.debug("command %s: %s", kind, outcome)  # never who, where or what was chosen
        if kind == VOTE and outcome == "ok":
            self.votes.inc()

    def observer(self, clock: Clock) -> Observer:
        """For `Deps.observer`: counts and times every command the core handles, and
        gives each an event id for the logs."""
        return _CommandObserver(self, clock)

    def reconnected(self, platform: str) -> Callable[[], None]:
        """For an adapter's `on_reconnect`: counts its connection made again."""
        counter = self.reconnects.labels(platform_label(platform))  # shown from the start
        return lambda: counter.inc()

    def answered(self, platform: str) -> Callable[[float], None]:
        """For an adapter's `on_first_response`: the seconds from an interaction's
        creation to the bot's first answer."""
        histogram = self.first_response.labels(platform_label(platform))
        return lambda seconds: histogram.observe(max(0.0, seconds))

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
        reconnected = self.reconnected(platform)

        async def counted() -> None:
            nonlocal connected
            await connect()
            if connected:
                reconnected()
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
        oldest = [as_utc(x) for x in (unrouted_oldest, pending_oldest) if x is not None]
        self.outbox_age.set(max(0.0, (now - min(oldest)).total_seconds()) if oldest else 0.0)
        self.dead_letters.set(int(dead or 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def as_utc(moment: datetime | str) -> datetime:
    """An aggregate over a UTC column comes back naive (or as text on SQLite)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class _CommandObserver:
    """`Metrics` as the core's `Observer`."""

    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self._metrics = metrics
        self._clock = clock

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        event = logs.new_event_id()
        try:
            yield
        finally:
            logs.event_id.reset(event)

    def on_command(self, kind: str, outcome: Outcome) -> None:
        self._metrics.command(kind, outcome)

    def on_reply(self, platform: str, sent_at: datetime) -> None:
        seconds = (self._clock.now() - sent_at).total_seconds()
        self._metrics.latency.labels(platform_label(platform)).observe(max(0.0, seconds))
