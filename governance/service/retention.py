"""Retention: what folkmoot keeps only as long as it is useful.

Delivered announcements (outbox rows whose every delivery went out, and those
deliveries) and the ids of platform events already handled (kept so a replay is not
handled twice) are removed once older than the policy's ages, in batches of one
transaction each, so a large backlog never holds the writer for long. The decision log
is never touched; nor are dead letters (undelivered until an admin sees them) or
anything still waiting to go out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from governance.service.ports import Pruned, Retention

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    delivered_after: timedelta = timedelta(days=30)
    """Delivered announcements older than this go."""
    seen_events_after: timedelta = timedelta(days=30)
    """Handled-event ids older than this go."""
    batch: int = 500
    """Rows per transaction."""
    max_batches: int = 1000
    """At most this many batches of each kind per run; the next run goes on."""


async def prune(retention: Retention, now: datetime, policy: RetentionPolicy) -> Pruned:
    """One retention run at `now`: every batch until none is full (or `max_batches`)."""
    outbox = deliveries = events = 0
    before = now - policy.delivered_after
    for _ in range(policy.max_batches):
        done = await retention.prune_delivered(before=before, limit=policy.batch)
        outbox += done.outbox
        deliveries += done.deliveries
        if done.outbox < policy.batch:
            break
    before = now - policy.seen_events_after
    for _ in range(policy.max_batches):
        done = await retention.prune_seen_events(before=before, limit=policy.batch)
        events += done.platform_events
        if done.platform_events < policy.batch:
            break
    total = Pruned(outbox=outbox, deliveries=deliveries, platform_events=events)
    if outbox or events:
        log.info(
            "retention: %d delivered announcement(s), %d delivery row(s) and %d handled "
            "event id(s) removed",
            outbox,
            deliveries,
            events,
        )
    return total
