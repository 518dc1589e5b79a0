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

    due_idle: asyncio.Event = field(default_factory=asyncio.Event)
    """Clear while due work runs: the outbox dispatcher waits for it, so a burst of
    closes is not slowed by announcing the closes already made (they go right after)."""

    due_runs: int = 0
    """How many due-work runs are going on (`due_idle` is set when none is)."""

    def __post_init__(self) -> None:
        self.due_idle.set()

    async def scrub(self) -> None:
        """`scrub_store`, with a failure logged: what was deleted is gone from the
        tables, and the next scrub (a withdrawal's, a seal's) does it all again."""
        try:
            await self.scrub_store()
        except Exception:
            log.warning("could not scrub the store after a deletion", exc_info=True)

    async def commit(self, uow: UnitOfWork, *, events: bool = True) -> None:
        """Commit, then wake up by the earliest due work the commit added or moved."""
        await uow.commit()
        if uow.due.scheduled:
            self.wakeup.due_at(min(uow.due.scheduled))
        if events:
            self.on_events()
