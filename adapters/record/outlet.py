"""The recording adapter: appends every delivery, with its idempotency key, to a JSON
Lines file. For tests and dry runs of ``folkmoot run``; enabled by ``[record]``."""

from __future__ import annotations

import json
from pathlib import Path

from governance.domain.ids import AccountRef, RoomRef
from governance.text.messages import Message


class RecordingOutlet:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        self._append({"room": str(room), "key": key, "text": message.plain()})

    async def open_thread(self, room: RoomRef, message: Message, *, key: str) -> str:
        """Record the thread's first message; its id is derived from the key, so a
        retry names the same thread (as a platform's idempotency would)."""
        thread = f"thread-{key}"
        self._append({"room": str(room), "key": key, "text": message.plain(), "thread": thread})
        return thread

    async def post_in_thread(
        self, room: RoomRef, thread: str, message: Message, *, key: str
    ) -> None:
        self._append({"room": str(room), "key": key, "text": message.plain(), "in": thread})

    async def tell(self, account: AccountRef, message: Message, *, key: str) -> None:
        self._append({"to": str(account), "key": key, "text": message.plain()})

    def _append(self, record: dict[str, str]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        # One unbuffered append per line: lines of several processes never interleave.
        with self._path.open("ab", buffering=0) as out:
            out.write(line.encode())
