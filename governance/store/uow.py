"""The unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from governance.service.ports import ConflictError
from governance.store.engine import READ_ONLY
from governance.store.federation import FederationRepo
from governance.store.handled import HandledEventRepo
from governance.store.identity import IdentityRepo
from governance.store.prompts import PromptRepo
from governance.store.receipts import ReceiptRepo
from governance.store.repositories import (
    BallotRepo,
    BindingRepo,
    CommunityRepo,
    DueRepo,
    LogRepo,
    MemberRepo,
    OutboxRepo,
    ProposalRepo,
    ThreadRepo,
)
from governance.store.stories import StoryRepo

# PostgreSQL's "could not serialize" and "deadlock detected".
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


class SqlUnitOfWork:
    communities: CommunityRepo
    members: MemberRepo
    bindings: BindingRepo
    proposals: ProposalRepo
    ballots: BallotRepo
    log: LogRepo
    outbox: OutboxRepo
    due: DueRepo
    threads: ThreadRepo
    prompts: PromptRepo
    receipts: ReceiptRepo
    federation: FederationRepo
    identity: IdentityRepo
    handled: HandledEventRepo

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        read_only: bool = False,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self._engine = engine
        self._read_only = read_only
        self._conn: AsyncConnection | None = None
        self._write_lock = None if read_only else write_lock
        self._locked = False

    async def __aenter__(self) -> Self:
        if self._write_lock is not None:
            await self._write_lock.acquire()
            self._locked = True
        try:
            conn = await self._engine.connect()
        except BaseException:
            self._unlock()
            raise
        try:
            if self._read_only:
                await conn.execution_options(**{READ_ONLY: True})
            await conn.begin()
        except BaseException:
            await conn.close()
            self._unlock()
            raise
        self._conn = conn
        self.communities = CommunityRepo(conn)
        self.members = MemberRepo(conn)
        self.bindings = BindingRepo(conn)
        self.proposals = ProposalRepo(conn)
        self.ballots = BallotRepo(conn)
        self.log = LogRepo(conn)
        self.outbox = OutboxRepo(conn)
        self.due = DueRepo(conn)
        self.threads = ThreadRepo(conn)
        self.stories = StoryRepo(conn)

        self.prompts = PromptRepo(conn)
        self.receipts = ReceiptRepo(conn)
        self.federation = FederationRepo(conn)
        self.identity = IdentityRepo(conn)
        self.handled = HandledEventRepo(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()
            self._unlock()
        if isinstance(exc, IntegrityError) or (
            isinstance(exc, DBAPIError) and _sqlstate(exc) in _RETRYABLE_SQLSTATES
        ):
            raise ConflictError(str(exc.orig if isinstance(exc, DBAPIError) else exc)) from exc

    def write_behind(self) -> None:
        """Hold back, until commit (or until the same table is read through its
        repository): decision-log and outbox inserts, dropped due work, and conditional
        updates of proposals read with ``proposals.prefetch`` (whose stored status the
        transaction knows, as it holds their locks). Many closes then cost a few
        statements, not a few each. Statements fail at commit instead of at the call."""
        self.proposals.write_behind = True
        self.log.write_behind = True
        self.outbox.write_behind = True
        self.due.write_behind = True

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for store modules beside the repositories."""
        assert self._conn is not None, "outside the unit of work"
        return self._conn

    def _unlock(self) -> None:
        if self._locked and self._write_lock is not None:
            self._locked = False
            self._write_lock.release()

    async def commit(self) -> None:
        assert self._conn is not None, "commit outside the unit of work"
        await self.proposals.flush()
        await self.due.flush()
        await self.log.flush()
        await self.outbox.flush()
        await self._conn.commit()
        self.handled.unsaved = False


def _sqlstate(error: DBAPIError) -> str | None:
    orig = error.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


class SqlUnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork: ...


def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    """Units of work on `engine`. On SQLite, which writes one transaction at a time, this
    process's writers queue here, in turn, rather than in SQLite's busy handler, which
    sleeps in growing steps (up to 100 ms) while it waits: with the outbox dispatcher
    writing beside a burst of closes, that alone made the closes' p99 lateness 640 ms
    instead of 144 (docs/benchmarks.md). Units of work must not nest (none do)."""
    write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    def make(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, read_only=read_only, write_lock=write_lock)

    return make
