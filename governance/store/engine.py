"""Engines for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``: it survives a process crash, not
a power cut (``FOLKMOOT_SQLITE_SYNCHRONOUS=FULL`` survives both, at some cost). Every
SQLite transaction begins IMMEDIATE, so a transaction that reads and then writes
holds the write lock from the start and never fails half-way with "database is locked";
a read-only one begins deferred and reads beside the writer.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
READ_ONLY = "folkmoot_read_only"
BUSY_TIMEOUT_MS = 30_000
"""How long an SQLite connection waits for the write lock (or a checkpoint's readers)."""
"""Execution option of a connection whose transaction only reads: on SQLite it begins
deferred, so it reads a snapshot beside the writer instead of queueing for its lock."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def async_url(url: str) -> str:
    """Accept plain URLs too: ``sqlite:///x.db`` → aiosqlite, ``postgresql://`` → asyncpg."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, synchronous: str = "NORMAL", **kwargs: Any) -> AsyncEngine:
    """An engine whose errors and SQL logging never show bound values: a secret vote's
    key, keyed tags, choices and receipt codes are parameters, and must not reach a log
    or an error report."""
    url = async_url(url)
    kwargs.setdefault("hide_parameters", True)
    # aiosqlite logs every statement with its values at DEBUG: never let it.
    driver_log = logging.getLogger("aiosqlite")
    if driver_log.level < logging.INFO:
        driver_log.setLevel(logging.INFO)
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    if synchronous.upper() not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
    memory = make_url(url).database in (None, "", ":memory:")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted rows (a destroyed secret-ballot key, a sealed ballot) are overwritten,
        # not left readable in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
