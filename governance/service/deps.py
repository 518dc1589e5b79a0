"""What handlers need besides the unit of work: time, randomness and wake-up hooks."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from governance.domain.federation import Federation
from governance.domain.ids import CommunityId
from governance.service.ports import Clock, DueItem, Observer, Outcome, UnitOfWork, Wakeup

log = logging.getLogger(__name__)

SCRUB_RETRY_WAITS: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
"""Seconds between tries of a scrub that failed: a long reader may hold the WAL."""


async def _nothing() -> None:
    return None


class _NoWakeup:
    def due_at(self, moment: datetime) -> None:
        return None


class _NoObserver:
    def handling(self) -> AbstractContextManager[object]:
        return nullcontext()

    def on_command(self, kind: str, outcome: Outcome) -> None:
        return None

    def on_reply(self, platform: str, sent_at: datetime) -> None:
        return None


@dataclass(slots=True)
class Deps:
    clock: Clock
    wakeup: Wakeup = field(default_factory=_NoWakeup)
    random_bytes: Callable[[int], bytes] = os.urandom
    author_key: bytes = field(default_factory=lambda: os.urandom(32))
    """Keys anonymous stories' links to their authors. Kept outside the database (a
    file beside it), so the database alone does not say who told what."""
    scrub_store: Callable[[], Awaitable[None]] = lambda: _nothing()
    """Run after a deletion for good is committed (a story's words, a secret vote's key
    and tags): the store drops its old copies (SQLite: fold and empty the WAL;
    PostgreSQL: vacuum). Use `scrub`, which never raises."""
    on_events: Callable[[], None] = lambda: None
    """Called after a commit that wrote events to the outbox (wakes the dispatcher)."""
    on_due_ran: Callable[[Sequence[DueItem]], None] = lambda items: None
    """Called right after the commit of due items that ran (for lateness figures:
    the call's time minus each item's ``due_at``)."""
    observer: Observer = field(default_factory=_NoObserver)
    """Told of each command `Governance` handles: its kind and outcome, and when its
    reply is ready (for the command counts, the latency figures and the logs)."""

    federations: dict[CommunityId, Federation] = field(default_factory=dict)
    """The configured federations, by name: communities whose voters are communities."""

    platform_classes: frozenset[str] = frozenset()
    """Stakeholder classes the platforms' configuration maps roles to (Discord's
    ``classes``): declared, so ``weights=`` may name one before any member holds it."""

    due_idle: asyncio.Event = field(default_factory=asyncio.Event)
    """Clear while due work runs: the outbox dispatcher waits for it, so a burst of
    closes is not slowed by announcing the closes already made (they go right after)."""

    due_runs: int = 0
    """How many due-work runs are going on (`due_idle` is set when none is)."""

    _scrub_retry: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    """The background retry of a scrub that failed, while it runs (one at a time)."""

    def __post_init__(self) -> None:
        self.due_idle.set()

    async def scrub(self) -> None:
        """`scrub_store`, with a failure logged: what was deleted is gone from the
        tables; the store's copies go at a retry in the background (a reader held the
        WAL, a table was locked), or at the next withdrawal's or seal's scrub."""
        try:
            await self.scrub_store()
        except Exception as error:
            log.warning("could not scrub the store after a deletion (%s); retrying", error)
            if self._scrub_retry is None or self._scrub_retry.done():
                self._scrub_retry = asyncio.create_task(self._retry_scrub(), name="scrub")

    async def scrub_settled(self) -> None:
        """Return once no retry of a failed scrub is pending (at stop, and in tests)."""
        if self._scrub_retry is not None:
            await asyncio.shield(self._scrub_retry)

    async def _retry_scrub(self) -> None:
        for wait in SCRUB_RETRY_WAITS:
            await asyncio.sleep(wait)
            try:
                await self.scrub_store()
            except Exception as error:
                log.info("the store's scrub failed again (%s)", error)
                continue
            log.info("the store was scrubbed at a retry")
            return
        log.warning("the store's scrub kept failing; the next withdrawal or seal tries again")

    async def commit(self, uow: UnitOfWork, *, events: bool = True) -> None:
        """Commit, then wake up by the earliest due work the commit added or moved."""
        await uow.commit()
        if uow.due.scheduled:
            self.wakeup.due_at(min(uow.due.scheduled))
        if events:
            self.on_events()
