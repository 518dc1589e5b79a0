"""A test-only `folkmoot run` that SIGKILLs itself as soon as a transaction that marked
a Matrix event handled has committed (when its connection goes back to the pool):
once that mark is in the database, the process dies before doing anything else, as on
an OOM kill or a ``docker kill``.

    python -m tests.matrix.killed_run      (configured like `folkmoot run`)
"""

from __future__ import annotations

import os
import signal
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

from bot import cli


class KillOnceMarked:
    def __init__(self) -> None:
        self.marking: set[int] = set()
        self.committed: set[int] = set()

    def statement(self, conn: Connection, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO PLATFORM_EVENTS"):
            self.marking.add(id(conn.connection.dbapi_connection))

    def commit(self, conn: Connection) -> None:
        key = id(conn.connection.dbapi_connection)
        if key in self.marking:
            self.committed.add(key)

    def rollback(self, conn: Connection) -> None:
        self.marking.discard(id(conn.connection.dbapi_connection))

    def checkin(self, dbapi_connection: Any, _record: Any) -> None:
        if id(dbapi_connection) in self.committed:
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    watch = KillOnceMarked()
    event.listen(Engine, "before_cursor_execute", watch.statement)
    event.listen(Engine, "commit", watch.commit)
    event.listen(Engine, "rollback", watch.rollback)
    event.listen(Pool, "checkin", watch.checkin)
    raise SystemExit(cli.main(["run"]))
