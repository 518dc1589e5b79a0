"""Platform leases: one process at a time holds each platform connection.

A lease is named ``platform:account`` (``record:/srv/folkmoot/deliveries.jsonl``; later
``matrix:@bot:example.org``, ``discord:shards:0,1/4``). The process holding it connects to
that platform and delivers announcements there; the others keep running (commands,
due work, closes) and try again every few seconds.

- **PostgreSQL**: a session-level advisory lock, ``pg_try_advisory_lock(key)``, held
  on a connection of its own for as long as the lease is held. The key is a stable
  64-bit hash of the name (SHA-256, not Python's per-process ``hash``). When the holder
  dies, its connection drops and PostgreSQL frees the lock; the next try of another
  instance takes it. When the holder's own lease connection is lost, it learns at once
  (the driver's termination callback, and a check on every retry) and stops delivering.
- **SQLite**: every process sharing the file is on one host, so an exclusive
  ``flock`` on a lock file beside the database plays the advisory lock (the kernel
  frees it when the holder dies). An in-memory database, or a system without
  ``fcntl``, is one process by nature: the lease is always granted.

Nothing here logs the database URL or any secret; lease names are logged as given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import BigInteger, and_, bindparam, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from governance.store import tables as t

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0
"""Seconds a liveness check of the lease connection may take before it counts as lost."""


def lease_key(name: str) -> int:
    """The advisory-lock key of a lease: signed 64 bits of SHA-256, the same in every
    process and release (namespaced, so it cannot meet a community's sequence lock)."""
    digest = hashlib.sha256(b"folkmoot-lease:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Lease(Protocol):
    """One platform connection's lease. ``take`` tries once and never waits."""

    name: str

    @property
    def held(self) -> bool: ...

    async def take(self) -> bool: ...

    async def check(self) -> bool:
        """Whether the lease is still held; False (and no longer held) if it was lost."""
        ...

    async def release(self) -> None: ...


class PostgresLease:
    def __init__(
        self, engine: AsyncEngine, name: str, *, on_drop: Callable[[], None] | None = None
    ) -> None:
        self.name = name
        self.key = lease_key(name)
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._on_drop = on_drop
        self._forget_listener: Callable[[], None] = lambda: None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def take(self) -> bool:
        if self._conn is not None:
            return True
        conn = await self._engine.connect()
        try:
            # No transaction stays open on the lease connection: the lock is the
            # session's, and an idle-in-transaction session would hold back vacuum.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = bool(await conn.scalar(select(func.pg_try_advisory_lock(self.key))))
            if got:
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                listener = self._listener(conn)
                raw.add_termination_listener(listener)
                self._forget_listener = lambda: raw.remove_termination_listener(listener)
        except BaseException:
            await _discard(conn)
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    def _listener(self, conn: AsyncConnection) -> Callable[[Any], None]:
        def terminated(_connection: Any) -> None:
            """The driver saw the lease connection end: the lock is gone with it."""
            if self._conn is not conn:
                return
            self._conn = None
            asyncio.get_running_loop().create_task(_discard(conn))
            if self._on_drop is not None:
                self._on_drop()

        return terminated

    async def check(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await conn.scalar(select(1))
        except Exception as error:
            log.info("lease %s: its connection failed (%s)", self.name, type(error).__name__)
            if self._conn is conn:
                self._conn = None
                await _discard(conn)
            return False
        return self._conn is conn

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            self._forget_listener()  # the connection may go back to the pool
        # Closing the session would free the lock too; unlocking first lets the
        # connection go back to the pool clean.
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await conn.scalar(select(func.pg_advisory_unlock(self.key)))
        except Exception:
            await _discard(conn)
        else:
            await conn.close()


async def _discard(conn: AsyncConnection) -> None:
    """Close a connection for good (never back to the pool): its session and any lock
    it held end with it."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


class FileLease:
    """An exclusive ``flock`` on a lock file; the kernel drops it with the process."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    async def take(self) -> bool:
        if self._fd is not None:
            return True
        assert fcntl is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    async def check(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


class GrantedLease:
    """A database only this process can open: the lease is always this process's."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    async def take(self) -> bool:
        self._held = True
        return True

    async def check(self) -> bool:
        return self._held

    async def release(self) -> None:
        self._held = False


def make_lease(
    engine: AsyncEngine, name: str, *, on_drop: Callable[[], None] | None = None
) -> Lease:
    """The lease named `name` on `engine`'s database. `on_drop` is called, synchronously
    and at once, if a held PostgreSQL lease loses its connection."""
    if engine.dialect.name == "postgresql":
        return PostgresLease(engine, name, on_drop=on_drop)
    database = make_url(str(engine.url)).database
    if fcntl is None or database in (None, "", ":memory:") or database.startswith("file:"):
        return GrantedLease(name)
    db = Path(database).resolve()
    return FileLease(name, db.with_name(f"{db.name}.lease-{lease_key(name) & (2**64 - 1):016x}"))


async def lease_holder(engine: AsyncEngine, name: str) -> int | None:
    """The server process id holding lease `name` (PostgreSQL), or None if no one does."""
    unsigned = lease_key(name) & (2**64 - 1)
    query = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND objsubid = 1 AND classid::bigint = :high AND objid::bigint = :low"
    ).bindparams(
        bindparam("high", unsigned >> 32, type_=BigInteger),
        bindparam("low", unsigned & 0xFFFFFFFF, type_=BigInteger),
    )
    async with engine.connect() as conn:
        pid = await conn.scalar(query)
    return None if pid is None else int(pid)


async def forget_claims(engine: AsyncEngine, platform: str) -> int:
    """Free the claims on open deliveries to `platform`.

    Called by a process that has just taken `platform`'s lease: only the lease holder
    claims them, so any claim left is its dead (or cut-off) predecessor's, and the
    delivery is made again now (with the same idempotency key) instead of after the
    claim runs out."""
    d = t.deliveries
    async with engine.begin() as conn:
        done = await conn.execute(
            update(d)
            .where(
                and_(
                    d.c.platform == platform,
                    d.c.delivered_at.is_(None),
                    d.c.dead_at.is_(None),
                    d.c.claimed_until.is_not(None),
                )
            )
            .values(claimed_until=None)
        )
    return int(done.rowcount)


class LeaseKeeper:
    """Holds one lease for as long as it can, and tries for it while someone else does.

    `taken` runs when the lease is won (before it counts as held for delivery);
    `lost` runs, synchronously, the moment it is lost."""

    def __init__(
        self,
        make: Callable[[Callable[[], None]], Lease],
        *,
        retry: float,
        taken: Callable[[], Awaitable[None]],
        lost: Callable[[], None],
    ) -> None:
        self._lease = make(self._dropped)
        self._retry = retry
        self._taken = taken
        self._lost = lost
        self.failure: str | None = None
        """Why taking over failed the last time (the platform would not connect)."""
        self._holding = False
        self._nudge = asyncio.Event()
        self._waiting_logged = False

    @property
    def name(self) -> str:
        return self._lease.name

    @property
    def holding(self) -> bool:
        return self._holding

    def _dropped(self) -> None:
        self._lose("its database connection was lost")
        self._nudge.set()

    def _lose(self, why: str) -> None:
        if self._holding:
            self._holding = False
            self._lost()
            log.info("lease %s lost (%s); delivery there stops, retrying", self.name, why)

    async def run(self) -> None:
        """Check or try again every `retry` seconds (at once when the connection drops),
        until cancelled. Call `attempt` first for a first try without waiting."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), timeout=self._retry)
            self._nudge.clear()
            await self.attempt()

    async def attempt(self) -> None:
        """Take the lease if it is free, or check it is still held; never raises (the
        database being away is logged and tried again)."""
        try:
            await self._step()
        except Exception as error:
            self._lose(type(error).__name__)
            with contextlib.suppress(Exception):
                await self._lease.release()
            log.warning(
                "lease %s: could not take or check it (%s); retrying in %g s",
                self.name,
                type(error).__name__,
                self._retry,
            )

    async def _step(self) -> None:
        if self._holding:
            if not await self._lease.check():
                self._lose("its connection failed a check")
            return
        if not await self._lease.take():
            if not self._waiting_logged:
                log.info(
                    "lease %s is held by another instance; trying every %g s",
                    self.name,
                    self._retry,
                )
                self._waiting_logged = True
            return
        try:
            await self._taken()
        except BaseException as error:
            self.failure = str(error) or type(error).__name__
            self._lost()  # undo what taking over had started (a connection, delivery)
            await self._lease.release()
            raise
        self.failure = None
        if not self._lease.held:  # lost while taking over: undo, and try again
            self._lost()
            return
        self._holding = True
        self._waiting_logged = False
        log.info("lease %s taken; this instance delivers there now", self.name)

    async def release(self) -> None:
        """Give the lease up (at shutdown, after the last delivery)."""
        if self._holding:
            self._holding = False
            self._lost()
            log.info("lease %s released", self.name)
        await self._lease.release()
