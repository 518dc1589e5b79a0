"""A platform event is marked handled in the transaction that applies it: a process
killed at any point of a vote's path loses no ballot (the replay counts it), and a
replayed event changes nothing and answers nothing.

The kill test runs the core in a subprocess (tests/service/crash_driver.py) that
SIGKILLs itself after its N-th database step, for every N along a vote's path; then
the same event is replayed by another process's core, as Matrix hands a sync's events
again after a restart (the sync token was not advanced)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import func, select

from bot.bootstrap import App, bootstrap
from governance.domain.ids import AccountRef
from governance.service.ports import PlatformEvent
from governance.store import tables as t
from governance.store.engine import make_engine
from tests.chat import Chat
from tests.conftest import COMMUNITIES, START, postgres_only

ROOT = Path(__file__).resolve().parents[2]
MAX_STEPS = 120
"""More than a vote's path takes: the loop stops when the driver is no longer killed."""


async def _run_driver(db_url: str, proposal: int, event_id: str, kill_at: int) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.service.crash_driver",
        db_url,
        str(proposal),
        event_id,
        str(kill_at),
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    if process.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"the driver failed ({process.returncode}): {err.decode()}")
    return process.returncode, out.decode()


async def _ballots(app: App, number: int) -> list[object]:
    p, b = t.proposals, t.ballots
    async with app.engine.connect() as conn:
        rows = await conn.execute(
            select(b.c.choice).join(p, p.c.id == b.c.proposal_id).where(p.c.number == number)
        )
        return [row.choice for row in rows]


async def _marks(app: App, event_id: str) -> int:
    e = t.platform_events
    async with app.engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(e).where(e.c.event_id == event_id)
        )
        return int(found or 0)


def _event(event_id: str) -> PlatformEvent:
    return PlatformEvent("matrix", event_id, START)


def _saying(chat: Chat, name: str) -> Callable[[str, str], Awaitable[str | None]]:
    """`name` saying a text carried by a Matrix-like event: what they are answered."""
    account = chat.account(name)

    async def say(text: str, event_id: str) -> str | None:
        reply = await chat.app.governance.handle_text(
            chat.room, account, text, START, event=_event(event_id)
        )
        return None if reply is None else reply.message.plain()

    return say


async def test_a_vote_killed_between_any_two_writes_is_counted_once_on_replay(
    chat: Chat, db_url: str
) -> None:
    bob = chat.account("bob")
    outcomes: list[str] = []
    for kill_at in range(1, MAX_STEPS):
        title = f"Killed at step {kill_at}"
        await chat.ok("alice", f"!propose {title}")
        number = kill_at
        event_id = f"$vote-{kill_at}"
        code, out = await _run_driver(db_url, number, event_id, kill_at)
        # Restarted: the same event comes again (the sync token was not advanced).
        again = await chat.app.governance.handle_text(
            chat.room, bob, f"!vote {number} yes", START, event=_event(event_id)
        )
        ballots = await _ballots(chat.app, number)
        marks = await _marks(chat.app, event_id)
        assert (ballots, marks) == ([{"v": "yes"}], 1), (
            f"killed at step {kill_at}: ballots {ballots}, marks {marks}"
        )
        if code == 0:
            # Not killed: it answered, and the replay answers nothing.
            assert "recorded" in out, out
            assert again is None
            break
        # Killed: the replay answers if the first try had not committed the ballot.
        outcomes.append("replay answered" if again is not None else "replay silent")
    else:
        raise AssertionError(f"the driver was still killed after {MAX_STEPS} steps")
    # Killed at any step up to the vote's one commit, the replay counts and answers the
    # vote; killed after it, the vote is there and the replay says nothing.
    assert len(outcomes) >= 5, outcomes
    assert outcomes == ["replay answered"] * (len(outcomes) - 1) + ["replay silent"], outcomes


async def test_a_replayed_event_changes_nothing_and_answers_nothing(chat: Chat) -> None:
    await chat.ok("alice", "!propose Replays")
    say = _saying(chat, "bob")

    first = await say("!vote 1 yes", "$a")
    assert first is not None and "recorded" in first
    assert await say("!vote 1 yes", "$a") is None
    # A later event by the same member changes the ballot; its replay changes it no more.
    changed = await say("!vote 1 no", "$b")
    assert changed is not None and "changed" in changed
    assert await say("!vote 1 no", "$b") is None
    assert await say("!vote 1 yes", "$a") is None  # an old event again: still nothing
    assert await _ballots(chat.app, 1) == [{"v": "no"}]
    # A command that writes (a proposal), a query and a refusal: each answered once.
    proposed = await say("!propose Only once", "$c")
    assert proposed is not None and await say("!propose Only once", "$c") is None
    async with chat.app.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(t.proposals)) == 2
    assert await say("!status 1", "$d") is not None
    assert await say("!status 1", "$d") is None
    refused = await say("!vote 99 yes", "$e")
    assert refused is not None and await say("!vote 99 yes", "$e") is None
    assert await say("!frobnicate", "$f") is not None
    assert await say("!frobnicate", "$f") is None
    for event_id in "abcdef":
        assert await _marks(chat.app, f"${event_id}") == 1


async def test_a_refusal_that_commits_is_answered_once(chat: Chat) -> None:
    """A wrong link code is counted (a commit) before it is refused: the member is told
    what was wrong all the same, and the replay of that event says nothing."""
    await chat.ok("bob", "!status")  # bob is a member
    say = _saying(chat, "bob")

    wrong = await say("!link ABCDE-FGHJK", "$wrong")
    assert wrong is not None and "not one I gave" in wrong
    assert await say("!link ABCDE-FGHJK", "$wrong") is None
    assert await _marks(chat.app, "$wrong") == 1


async def test_without_an_event_every_message_is_handled(chat: Chat) -> None:
    """The console and Discord interactions pass no event: nothing is skipped."""
    await chat.ok("alice", "!propose No events")
    assert "recorded" in await chat.ok("bob", "!vote 1 yes")
    assert "already" in await chat.ok("bob", "!vote 1 yes")
    async with chat.app.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(t.platform_events)) == 0


@postgres_only
async def test_two_instances_given_the_same_event_handle_it_once(chat: Chat, db_url: str) -> None:
    await chat.ok("alice", "!propose Two instances, one event")
    other = await bootstrap(
        engine=make_engine(db_url), clock=chat.clock, outlets={}, communities=COMMUNITIES
    )
    try:
        apps = [chat.app, other]
        bob = AccountRef(chat.room.platform, "bob")
        replies = await asyncio.gather(
            *(
                apps[i % 2].governance.handle_text(
                    chat.room, bob, "!vote 1 yes", START, event=_event(f"$same-{i // 2}")
                )
                for i in range(20)
            )
        )
    finally:
        await other.close()
    answered = [r for r in replies if r is not None]
    assert len(answered) == 10, [r.message.plain() for r in answered]
    assert await _ballots(chat.app, 1) == [{"v": "yes"}]
