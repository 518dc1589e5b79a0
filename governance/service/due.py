"""Due work: every timed thing is a row; this runs what is due, in time order.

Items are claimed and processed in batches, one transaction per batch (on PostgreSQL
the claim skips rows another instance holds), and closing is a conditional update, so
a late wake-up, a restart or a second instance closes a vote exactly once. If a batch
fails, its items run again one per transaction, and only the failing one is put off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from governance.domain.errors import InvalidProposal
from governance.domain.lifecycle import Status
from governance.domain.proposal import Proposal
from governance.service import federation, prompts, reminders
from governance.service.deps import Deps
from governance.service.lifecycle_ops import (
    CLOSE,
    OPEN_VOTING,
    cancel_unopenable,
    open_voting,
)
from governance.service.ports import ConflictError, DueItem, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(days=1)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failure, at most a day."""
    return min(timedelta(minutes=2 ** min(attempts, 11)), MAX_RETRY_DELAY)


BATCH = 100
"""Due items claimed and run per transaction. A burst of closes (10,000 votes ending
within 20 s) then costs a handful of statements per batch instead of a transaction per
close; one failing item sends only its own batch through the one-by-one path."""
YIELD_EVERY = 0.005
"""Seconds of a batch's work after which it lets the event loop run other tasks."""


async def _run_due(
    uow_factory: UnitOfWorkFactory, deps: Deps, *, limit: int = 10_000, batch: int = BATCH
) -> int:
    """Run everything due by now, earliest first, in batches; then set the wake-up for
    the next due instant. Returns how many items ran (failed ones included)."""
    ran = 0
    one_by_one = 0
    """While above zero: a batch failed, so its items run one per transaction."""
    while ran < limit:
        items: list[DueItem] = []
        now = deps.clock.now()
        size = 1 if one_by_one else min(batch, limit - ran)
        try:
            async with uow_factory() as uow:
                items = await uow.due.claim_batch(now, limit=size)
                if not items:
                    break
                # Done first: what an item does may drop its proposal's pending work
                # (a close does), which must not take the claimed row with it — the
                # row stays as the record that it ran, and its id is never reused.
                await uow.due.done_many([item.id for item in items], at=now)
                if len(items) > 1:
                    uow.write_behind()
                    await _prefetch(uow, items)
                breath = time.monotonic()
                for item in items:
                    await _run_one(uow, deps, item, now)
                    if time.monotonic() - breath > YIELD_EVERY:
                        await asyncio.sleep(0)  # the batch must not stall the loop
                        breath = time.monotonic()
                await deps.commit(uow)
            deps.on_due_ran(items)
            if uow.ballots.keys_destroyed:  # secret votes closed: no copy of their keys
                await deps.scrub()
        except ConflictError:
            log.info("due work met another writer's change; trying again")
        except Exception:
            if not items:
                raise
            if len(items) > 1:
                # Nothing of the batch was kept: run its items one by one, so the
                # failing one is found and put off, and the others go ahead.
                log.warning("a batch of %d due items failed; running them one by one", len(items))
                one_by_one = len(items)
                continue
            (item,) = items
            # One item's failure must not hold up every close due after it.
            log.exception(
                "due %s for %s %s failed (attempt %d); retrying later",
                item.kind,
                "proposal" if item.prompt is None else "prompt",
                item.proposal if item.prompt is None else item.prompt,
                item.attempts + 1,
            )
            async with uow_factory() as uow:
                await uow.due.postpone(item.id, to=now + retry_delay(item.attempts))
                await uow.commit()
        ran += max(len(items), 1)
        one_by_one = max(one_by_one - 1, 0)
    async with uow_factory(read_only=True) as uow:
        upcoming = await uow.due.next_due()
    if upcoming is not None:
        deps.wakeup.due_at(upcoming)
    return ran


async def run_due(
    uow_factory: UnitOfWorkFactory, deps: Deps, *, limit: int = 10_000, batch: int = BATCH
) -> int:
    """Run everything due by now, earliest first, in batches; then set the wake-up for
    the next due instant. Returns how many items ran (failed ones included). The outbox
    dispatcher waits meanwhile (`Deps.due_idle`)."""
    deps.due_runs += 1
    deps.due_idle.clear()
    try:
        return await _run_due(uow_factory, deps, limit=limit, batch=batch)
    finally:
        deps.due_runs -= 1
        if not deps.due_runs:
            deps.due_idle.set()


async def _prefetch(uow: UnitOfWork, items: list[DueItem]) -> None:
    """Read what the batch's items will read, in one statement each instead of one per
    item (the per-item reads in `_run_one` are then answered from it)."""
    await uow.proposals.prefetch([item.proposal for item in items if item.proposal is not None])
    closes = [item.proposal for item in items if item.kind == CLOSE and item.proposal is not None]
    if closes:
        await uow.ballots.prefetch_choices(closes)


async def _run_one(uow: UnitOfWork, deps: Deps, item: DueItem, now: datetime) -> None:
    kind = item.kind
    if item.prompt is not None:
        await prompts.run_due(uow, item, now)
        return
    assert item.proposal is not None
    proposal = await uow.proposals.get_by_id(item.proposal, lock=True)
    if proposal is None:
        return
    if kind == CLOSE and proposal.status is Status.VOTING:
        await federation.close(uow, deps, proposal, now=now)
    elif kind == OPEN_VOTING and proposal.status is Status.DELIBERATION:
        community = await uow.communities.get(proposal.community)
        assert community is not None
        try:
            await open_voting(uow, deps, proposal, community, now=now)
        except InvalidProposal as error:
            # e.g. an absolute end that passed while the bot was down: no one could vote.
            await cancel_unopenable(uow, proposal, reason=error.message, now=now)
    elif kind == reminders.REMIND and proposal.status is Status.VOTING:
        await _remind(uow, proposal, item, now)
    elif kind == reminders.REMIND_DELIBERATION and proposal.status is Status.DELIBERATION:
        await _remind_deliberation(uow, proposal, now)
    else:
        log.info("dropping due %s for #%s: it is %s now", kind, proposal.number, proposal.status)


async def _remind(uow: UnitOfWork, proposal: Proposal, item: DueItem, now: datetime) -> None:
    assert proposal.closes_at is not None
    if proposal.closes_at <= now:  # it ran late (the bot was down): the close comes next
        log.info(
            "dropping the %s reminder for #%s: its vote has ended", item.detail, proposal.number
        )
        return
    community = await uow.communities.get(proposal.community)
    assert community is not None
    await uow.outbox.add([reminders.reminder_event(proposal, community, item.detail)], at=now)


async def _remind_deliberation(uow: UnitOfWork, proposal: Proposal, now: datetime) -> None:
    assert proposal.opens_at is not None
    if proposal.opens_at <= now:
        return
    community = await uow.communities.get(proposal.community)
    assert community is not None
    await uow.outbox.add([reminders.deliberation_event(proposal, community)], at=now)
