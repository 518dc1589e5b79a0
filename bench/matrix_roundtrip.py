"""Round trip through folkmoot on a real Synapse, beside Synapse's own two-hop echo.

A member sends ``!status 1`` and waits for the bot's reply; in the same run, the same
member sends a plain message that a second, plain client answers on receipt. Both are
two hops through the homeserver (member → server → responder → server → member), so
their ratio is what folkmoot adds: its handling, its database read, its rendering.

    python -m bench.matrix_roundtrip            # 60 rounds of each, interleaved
    python -m bench.matrix_roundtrip --rounds 20

It starts its own Synapse (the test suite's, from ``.venv-synapse``), the bot as
``folkmoot run`` composes it (SQLite), and two member clients; it stops them all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.config import CommunityConfig, FileConfig, MatrixConfig, Settings
from bot.runner import run_bot
from tests.matrix.homeserver import register, start_synapse
from tests.matrix.member import Member, content, relates_to

TARGET = 1.5
WITHIN = 20.0


def _answers(sent: str, sender: str | None = None) -> Callable[[Any], bool]:
    """An event relating to `sent`: a reaction on it or a reply to it (from `sender`)."""

    def match(event: Any) -> bool:
        rel = relates_to(event)
        related = sent in (rel.get("event_id"), rel.get("m.in_reply_to", {}).get("event_id"))
        return related and (sender is None or event.sender == sender)

    return match


def _pong(sender: str, k: int) -> Callable[[Any], bool]:
    return lambda event: bool(event.sender == sender and content(event).get("body") == f"pong {k}")


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _echo(responder: Member, room: str, stop: asyncio.Event) -> None:
    """Answer every ``ping`` at once, as plainly as a client can."""
    answered = 0
    while not stop.is_set():
        try:
            ping = await responder.wait_for(
                room, lambda e: str(content(e).get("body", "")).startswith("ping "), within=1.0
            )
        except TimeoutError:
            continue
        await responder.send_text(room, "pong " + str(content(ping)["body"])[5:])
        answered += 1


async def measure(rounds: int, directory: Path) -> tuple[list[float], list[float]]:
    synapse = start_synapse(directory / "synapse")
    members: list[Member] = []
    stop_bot = asyncio.Event()
    bot_task: asyncio.Task[int] | None = None
    try:
        bot_id, bot_password = register(synapse, "folkmoot")
        ids = [register(synapse, name) for name in ("alice", "bob")]
        alice, bob = (Member(synapse.url, uid, pw) for uid, pw in ids)
        members += [alice, bob]
        for member in members:
            await member.start()
        settings = Settings(
            data_dir=directory / "bot",
            database_url=f"sqlite:///{directory / 'bot.db'}",
            matrix_password=bot_password,  # type: ignore[arg-type]
            log_level="WARNING",
        )
        config = FileConfig(
            communities=[CommunityConfig(name="coop", admins=[f"matrix:{alice.user_id}"])],
            matrix=MatrixConfig(
                homeserver=synapse.url, user_id=bot_id, invite_from=[f":{synapse.server_name}"]
            ),
        )
        bot_task = asyncio.create_task(run_bot(settings, config, stop_bot))
        room = await alice.create_room(invite=[bot_id, bob.user_id])
        await bob.wait_for_invite(room)
        await bob.join(room)
        await alice.wait_for_membership(room, bot_id)
        for command in ("!bind coop", "!propose Measure the round trip vote=7d"):
            sent = await alice.send_text(room, command)
            await alice.wait_for(room, _answers(sent, bot_id), within=WITHIN)
        stop_echo = asyncio.Event()
        echo = asyncio.create_task(_echo(bob, room, stop_echo))
        bot_times: list[float] = []
        echo_times: list[float] = []
        for k in range(rounds):
            started = time.perf_counter()
            sent = await alice.send_text(room, "!status 1")
            await alice.wait_for(room, _answers(sent, bot_id), within=WITHIN)
            bot_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            await alice.send_text(room, f"ping {k}")
            await alice.wait_for(room, _pong(bob.user_id, k), within=WITHIN)
            echo_times.append(time.perf_counter() - started)
        stop_echo.set()
        await echo
        return bot_times, echo_times
    finally:
        stop_bot.set()
        if bot_task is not None:
            await asyncio.wait_for(bot_task, timeout=WITHIN)
        for member in members:
            await member.close()
        synapse.stop()


def report(bot_times: list[float], echo_times: list[float]) -> bool:
    bot_median, echo_median = statistics.median(bot_times), statistics.median(echo_times)
    ratio = bot_median / echo_median
    print(f"folkmoot Matrix round trip — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{len(bot_times)} rounds of each, interleaved, on one Synapse on 127.0.0.1")
    print(f"{'':28}{'median ms':>10}{'p95 ms':>10}")
    for label, values in (
        ("!status 1 → bot's reply", bot_times),
        ("ping → plain client's pong", echo_times),
    ):
        median, p95 = statistics.median(values) * 1000, _quantile(values, 0.95) * 1000
        print(f"{label:28}{median:>10.1f}{p95:>10.1f}")
    met = ratio <= TARGET
    print(f"ratio of medians {ratio:.2f} (target ≤ {TARGET}): {'met' if met else 'NOT met'}")
    return met


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matrix_roundtrip")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="folkmoot-bench-") as directory:
        bot_times, echo_times = await measure(args.rounds, Path(directory))
    report(bot_times, echo_times)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
