"""Moving a simulated clock: every due item up to the new time runs, in time order,
and its announcements go out, before this returns (the console's ``/clock``)."""

from __future__ import annotations

from datetime import datetime

from governance.service.app import Governance
from governance.service.clocks import SimulatedClock
from governance.service.dispatcher import Dispatcher


async def advance(
    governance: Governance, dispatcher: Dispatcher, clock: SimulatedClock, target: datetime
) -> None:
    while (due := await governance.next_due()) is not None and due <= target:
        clock.set(due)
        await governance.run_due()
        await dispatcher.drain()
    clock.set(target)
    await dispatcher.drain()
