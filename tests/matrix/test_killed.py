"""A vote on a real Synapse whose `folkmoot run` is SIGKILLed the moment its event's
mark as handled is committed (tests/matrix/killed_run.py): the restarted bot syncs
from its last position again, and the vote is counted, once. (The test at every step
of a vote's path is tests/service/test_crash_between_writes.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from pathlib import Path

from tests.matrix.deployment import WITHIN, Bot, MakeBot, body, bound_room, said
from tests.matrix.member import MakeMember, relates_to

ROOT = Path(__file__).resolve().parents[2]


def _config(bot: Bot, admin: str) -> Path:
    """`bot`'s settings as a config file, for `folkmoot run` in a process of its own."""
    path = bot.data.parent / "killed.toml"
    path.write_text(
        f'[[communities]]\nname = "coop"\nadmins = ["matrix:{admin}"]\n\n'
        f'[matrix]\nhomeserver = "{bot.synapse.url}"\nuser_id = "{bot.user_id}"\n'
        f'invite_from = [":{bot.synapse.server_name}"]\n',
        encoding="utf-8",
    )
    return path


async def _killed_run(bot: Bot, admin: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "FOLKMOOT_DATA_DIR": str(bot.data),
        "FOLKMOOT_DATABASE_URL": bot.db_url,
        "FOLKMOOT_CONFIG": str(_config(bot, admin)),
        "FOLKMOOT_MATRIX_PASSWORD": bot.password,
        "FOLKMOOT_LOG_LEVEL": "INFO",
        "FOLKMOOT_LOG_FORMAT": "text",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.matrix.killed_run",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert process.stderr is not None
    async with asyncio.timeout(WITHIN * 3):
        while line := (await process.stderr.readline()).decode():
            if "folkmoot running" in line:
                return process
    raise AssertionError(f"folkmoot run ended before it started ({process.returncode})")


async def test_a_vote_killed_once_its_event_is_marked_is_counted_after_the_restart(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    _, proposed = await said(alice, room, "!propose Fix the roof")
    assert relates_to(proposed).get("key") == "✅", body(proposed)
    await folkmoot.stop()

    process = await _killed_run(folkmoot, alice.user_id)
    try:
        await bob.send_text(room, "!vote 1 yes")
        await asyncio.wait_for(process.wait(), timeout=WITHIN)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    # That run (under this process's umask, 022) made the data directory private: the
    # encryption store, the session, the sync position and the database among it.
    shared = {
        path.relative_to(folkmoot.data).as_posix(): oct(stat.S_IMODE(path.stat().st_mode))
        for path in [folkmoot.data, *folkmoot.data.rglob("*")]
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    }
    assert shared == {}
    assert (folkmoot.data / "matrix" / "sync-token").exists()

    await folkmoot.start()  # syncs again from before the vote: the event comes back
    _, status = await said(bob, room, "!status 1")
    assert "Your vote: yes." in body(status)
    assert await folkmoot.ballots(1) == 1
