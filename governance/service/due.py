"""Due work: every timed thing is a row; this runs what is due, in time order.

Each item is claimed and processed in its own transaction (on PostgreSQL the claim
skips rows another instance holds), and closing is a conditional update, so a late
wake-up, a restart or a second instance closes a vote exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from governance.domain.errors import InvalidProposal
from governance.domain.lifecycle import Status
from governance.domain.proposal import Proposal
from governance.service import reminders
from governance.service.deps import Deps
from governance.service.lifecycle_ops import (
    CLOSE,
    OPEN_VOTING,
    cancel_unopenable,
    close_vote,
    open_voting,
)
from governance.service.ports import ConflictError, DueItem, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(days=1)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failure, at most a day."""
    return min(timedelta(minutes=2 ** min(attempts, 11)), MAX_RETRY_DELAY)


async def run_due(uow_factory: UnitOfWorkFactory, deps: Deps, *, limit: int = 10_000) -> int:
    ran = 0
    while ran < limit:
        item: DueItem | None = None
        now = deps.clock.now()
        try:
            async with uow_factory() as uow:
                item = await uow.due.claim(now)
                if item is None:
                    break
                await _run_one(uow, deps, item, now)
                await uow.due.done(item.id, at=now)
                await deps.commit(uow)
        except ConflictError:
            log.info("due work met another writer's change; trying again")
        except Exception:
            if item is None:
                raise
            # One item's failure must not hold up every close due after it.
            log.exception(
                "due %s for proposal %s failed (attempt %d); retrying later",
                item.kind,
                item.proposal,
                item.attempts + 1,
            )
            async with uow_factory() as uow:
                await uow.due.postpone(item.id, to=now + retry_delay(item.attempts))
                await uow.commit()
        ran += 1
    async with uow_factory(read_only=True) as uow:
        upcoming = await uow.due.next_due()
    if upcoming is not None:
        deps.wakeup.due_at(upcoming)
    return ran


async def _run_one(uow: UnitOfWork, deps: Deps, item: DueItem, now: datetime) -> None:
    kind = item.kind
    proposal = await uow.proposals.get_by_id(item.proposal, lock=True)
    if proposal is None:
        return
    if kind == CLOSE and proposal.status is Status.VOTING:
        await close_vote(uow, proposal, now=now)
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
