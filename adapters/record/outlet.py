"""The recording adapter: appends every delivery, with its idempotency key, to a JSON
Lines file. For tests and dry runs of ``folkmoot run``; enabled by ``[record]``."""

from __future__ import annotations

import json
from pathlib import Path

from governance.domain.ids import RoomRef
from governance.text.messages import Message


class RecordingOutlet:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        line = json.dumps(
            {"room": str(room), "key": key, "text": message.plain()}, ensure_ascii=False
        )
        # One unbuffered append per line: lines of several processes never interleave.
        with self._path.open("ab", buffering=0) as out:
            out.write((line + "\n").encode())
