"""A test-only process that takes one vote the way the Matrix adapter hands it to the
core (the text of a poll response or of ``!vote``, with its platform event) and kills
itself with SIGKILL right after its N-th database step: a statement run, or a commit
about to be made. The last step is the answer ready to be sent. With N past the last
step it finishes, and prints the answer.

    python -m tests.service.crash_driver DB_URL PROPOSAL EVENT_ID N
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from sqlalchemy import event

from bot.bootstrap import bootstrap
from governance.domain.ids import AccountRef, CommunityId
from governance.service.clocks import SimulatedClock
from governance.service.ports import PlatformEvent
from governance.store.engine import make_engine
from tests.conftest import COMMUNITIES, ROOM, START

VOTER = AccountRef(ROOM.platform, "bob")


class Killer:
    """Counts the database steps; SIGKILLs this process at step `at`."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.steps = 0

    def step(self, *_: Any) -> None:
        self.steps += 1
        if self.steps == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


async def main(url: str, proposal: int, event_id: str, at: int) -> None:
    engine = make_engine(url)
    app = await bootstrap(
        engine=engine,
        clock=SimulatedClock(START),
        outlets={},
        communities=COMMUNITIES,
        migrate=False,
    )
    killer = Killer(at)
    event.listen(engine.sync_engine, "after_cursor_execute", killer.step)
    event.listen(engine.sync_engine, "commit", killer.step)
    try:
        reply = await app.governance.handle_text(
            ROOM,
            VOTER,
            f"!vote {proposal} yes",
            START,
            community=CommunityId("demo"),
            event=PlatformEvent("matrix", event_id, START),
        )
        killer.step()  # the answer is ready; a kill here loses only the answer
        print(f"steps={killer.steps}")
        print(f"answer={'' if reply is None else reply.message.plain()}")
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
