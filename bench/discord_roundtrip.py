"""Vote buttons on Discord, over the wire: how soon the bot answers a click, and how
soon the vote is committed, with 1, 10 and 100 members clicking within one second.

    python -m bench.discord_roundtrip              # sizes 1, 10, 100
    python -m bench.discord_roundtrip --sizes 100 --rounds 5 [--even] [--with-dispatcher]

The loopback Discord fake of the test suite (``tests/discord/fake.py``) runs in a
process of its own (``bench/_discord_fake_proc.py``) with its own event loop; the bot
runs in this process as the tests' ``deployed`` fixture composes it: ``bootstrap()``
with SQLite in a temporary directory and the real ``SystemClock``, then
``settle_memory()`` as ``folkmoot run`` does, and the real ``DiscordAdapter`` (discord.py's
own HTTP and gateway code, pointed at the fake through ``discord.http.Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``). The outbox dispatcher is drained once per round,
as the tests do; ``--with-dispatcher`` runs it beside instead, as ``folkmoot run`` does.

Per size N (a fresh fake process and a fresh database each): N guild members each run
``/status`` first, so all are community members before any vote opens. Then, per
round, member 0 runs ``/propose … vote=7d``, the card with its buttons is posted, and
every member *k* clicks ``folkmoot:vote:<n>:<yes|no|abstain>`` once, the clicks
independent and uniform at random over one second (``--even``: at t0 + k/N s), sent
open loop from the fake's loop.

Measured in the fake's process, on its clock, from the moment the INTERACTION_CREATE
frame is written to the bot's socket:

- first response: until the interaction callback POST arrived (the bot defers);
- vote committed: until the first follow-up POST to the interaction's webhook arrived.
  That follow-up is the ephemeral receipt, which the bot sends only after the vote's
  group has committed, so this is an upper bound on commit time as seen from Discord.

Reference, in this process against the same fake and the same clicks (the same seeded
arrival times): a bare ``discord.AutoShardedClient`` that defers each interaction on
receipt and follows up at once (no database, no governance). The ratio ours ÷
reference is what folkmoot adds. While each burst runs, a task in this process sleeps
5 ms again and again; the longest extra wait is reported as the loop's longest stall.

After each round the script checks that every click was answered (callback 200, type
5, a receipt naming the right choice) and that ``/status`` counts N ballots of N; it
stops with an error otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import multiprocessing
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord.adapter import DiscordAdapter, DiscordSettings
from bench._discord_fake_proc import Timing, serve
from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig
from bot.runner import settle_memory
from governance.domain.ids import CommunityId, RoomRef
from governance.service.clocks import SystemClock
from governance.store.engine import make_engine
from governance.store.platform_state import PlatformState

SIZES = (1, 10, 100)
SPREAD = 1.0
TICK = 0.005
SAMPLES = 100
"""Default rounds per size: enough rounds for about this many clicks (at least 3)."""
CHOICES = ("yes", "no", "abstain")
TARGET_P95_MS = 50.0
TARGET_SIZE = 100
ASK_WITHIN = 120.0
_PROPOSED = re.compile(r"Proposed as #(\d+)\.")


class BenchError(Exception):
    """Set-up or a check went wrong: the figures would mean nothing."""


def progress(text: str) -> None:
    print(text, end="", file=sys.stderr, flush=True)


def _percentile(values: Sequence[float], q: int) -> float:
    """Nearest-rank percentile (q in 1..100): the smallest value with q % at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[rank - 1]


def _choice(k: int) -> str:
    return CHOICES[k % len(CHOICES)]


def arrivals(members: int, round_: int, even: bool) -> list[float]:
    """When member k clicks, in seconds after the burst's start: independent and uniform
    over ``SPREAD`` (seeded by size and round, so the reference and the bot get the same
    clicks), or evenly spaced k·SPREAD/N with ``even``."""
    if even:
        return [k * SPREAD / members for k in range(members)]
    rng = random.Random(f"{members}/{round_}")
    return [rng.uniform(0.0, SPREAD) for _ in range(members)]


# --------------------------------------------------------------------------- the fake's process


class FakeProcess:
    """The fake in a child process (spawned: nothing of this loop is inherited)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(
            target=serve, args=(child,), name="discord-fake", daemon=True
        )
        self.process.start()
        child.close()

    async def ask(self, operation: str, **kwargs: Any) -> Any:
        def receive() -> tuple[str, Any]:
            if not self._conn.poll(ASK_WITHIN):
                raise BenchError(f"the fake did not answer {operation} within {ASK_WITHIN:g} s")
            answer: tuple[str, Any] = self._conn.recv()
            return answer

        try:
            self._conn.send((operation, kwargs))
            status, result = await asyncio.to_thread(receive)
        except (OSError, EOFError) as error:
            raise BenchError(f"the fake's process is gone ({error!r}) during {operation}") from None
        if status != "ok":
            raise BenchError(f"the fake's {operation} failed:\n{result}")
        return result

    async def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(BenchError):
                await self.ask("stop")
        await asyncio.to_thread(self.process.join, 10.0)
        if self.process.is_alive():  # only our own child, by its pid
            self.process.terminate()
            await asyncio.to_thread(self.process.join, 5.0)
        self._conn.close()


def point_discord_at(info: dict[str, Any]) -> None:
    discord.http.Route.BASE = info["base_url"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(info["gateway_url"])


async def _no_identify_wait(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s before every IDENTIFY but the first; not against the fake."""


# --------------------------------------------------------------------------- results


class LoopWatch:
    """While a burst runs: a task on this loop sleeps ``TICK`` again and again, and a
    stall is how much longer a sleep took (with the share of it this process spent on
    CPU: low means the OS ran other processes); and every garbage collection is timed."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_cpu = 0.0
        self.gc_pauses: list[float] = []
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before, cpu = loop.time(), time.process_time()
            await asyncio.sleep(TICK)
            stall = loop.time() - before - TICK
            if stall > self.longest:
                self.longest = stall
                self.longest_cpu = (time.process_time() - cpu) / (stall + TICK)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append(time.perf_counter() - self._gc_started)

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._run(), name="loop-watch")

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@dataclass(slots=True)
class Side:
    """The clicks of one size, for the bot or for the reference."""

    timings: list[Timing] = field(default_factory=list)
    watch: LoopWatch = field(default_factory=LoopWatch)

    @property
    def first(self) -> list[float]:
        return [t.callback - t.dispatched for t in self.timings if t.callback is not None]

    @property
    def committed(self) -> list[float]:
        return [t.followup - t.dispatched for t in self.timings if t.followup is not None]

    @property
    def lag(self) -> list[float]:
        return [t.dispatched - t.scheduled for t in self.timings]

    def ms(self, which: str, q: int) -> float:
        values: list[float] = getattr(self, which)
        if q == 50:
            return statistics.median(values) * 1000
        return _percentile(values, q) * 1000


@dataclass(slots=True)
class Size:
    members: int
    rounds: int
    bot: Side = field(default_factory=Side)
    reference: Side = field(default_factory=Side)


def check(timings: list[Timing], members: int, number: int, expected: str | None) -> None:
    if len(timings) != members:
        raise BenchError(f"{len(timings)} of {members} clicks on #{number} were sent")
    for t in timings:
        if t.callback_status != 200 or t.callback_type != 5:
            raise BenchError(
                f"member {t.member}'s click on #{number} was answered with "
                f"{t.callback_status} type {t.callback_type}, not a 200 defer (type 5)"
            )
        wanted = expected or f"Your vote on #{number} is recorded: {_choice(t.member)}."
        if t.followup_content != wanted:
            raise BenchError(
                f"member {t.member}'s receipt on #{number} was {t.followup_content!r}, "
                f"not {wanted!r}"
            )


async def burst(
    fake: FakeProcess, side: Side, message: int, number: int, offsets: list[float]
) -> list[Timing]:
    choices = [_choice(k) for k in range(len(offsets))]
    side.watch.start()
    try:
        timings: list[Timing] = await fake.ask(
            "burst", message=message, number=number, choices=choices, offsets=offsets
        )
    finally:
        await side.watch.stop()
    return timings


# --------------------------------------------------------------------------- the reference


class Reference(discord.AutoShardedClient):
    """A bare client: defers each interaction the moment it arrives, then follows up."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("ok", ephemeral=True)


async def run_reference(
    fake: FakeProcess, info: dict[str, Any], size: Size, plan: argparse.Namespace
) -> None:
    client = Reference()
    client.before_identify_hook = _no_identify_wait  # type: ignore[method-assign]
    runner: asyncio.Task[None] | None = None
    try:
        await client.login(info["token"])
        runner = asyncio.create_task(client.connect(), name="reference-gateway")
        await asyncio.wait_for(client.wait_until_ready(), 30.0)
        settle_memory()
        for number in range(1, size.rounds + 1):
            message = await fake.ask("plain_card", number=number)
            offsets = arrivals(size.members, number, plan.even)
            timings = await burst(fake, size.reference, message, number, offsets)
            check(timings, size.members, number, "ok")
            size.reference.timings += timings
    finally:
        await client.close()
        if runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await runner


# --------------------------------------------------------------------------- the bot


async def deploy(info: dict[str, Any], directory: Path) -> tuple[App, DiscordAdapter]:
    """As the tests' ``deployed`` fixture, plus ``settle_memory()`` as ``folkmoot run``."""
    outlets: dict[str, Any] = {}
    app = await bootstrap(
        engine=make_engine(f"sqlite:///{directory / 'folkmoot.db'}"),
        clock=SystemClock(),
        outlets=outlets,
        communities=[CommunityConfig(name="coop")],
    )
    settle_memory()
    bot = DiscordAdapter(
        DiscordSettings(token=info["token"], guilds=(info["guild"],)),
        app.governance,
        PlatformState(app.factory, "discord"),
    )
    bot.before_identify_hook = _no_identify_wait  # type: ignore[method-assign]
    outlets["discord"] = bot
    await ensure_binding(app, RoomRef("discord", str(info["channel"])), CommunityId("coop"))
    try:
        await bot.start_adapter()
    except BaseException:
        await app.close()
        raise
    return app, bot


async def run_bot(
    fake: FakeProcess,
    info: dict[str, Any],
    size: Size,
    directory: Path,
    plan: argparse.Namespace,
) -> None:
    app, bot = await deploy(info, directory)
    dispatcher: asyncio.Task[None] | None = None
    if plan.with_dispatcher:  # as folkmoot run: woken by every commit that made events
        dispatcher = asyncio.create_task(app.dispatcher.run(), name="outbox-dispatcher")
    try:
        for member in range(size.members):  # each one a member before voting opens
            await fake.ask("slash", member=member, name="status")
        for round_ in range(1, size.rounds + 1):
            proposed = await fake.ask(
                "slash", member=0, name="propose", args=f"Round {round_} of the bench vote=7d"
            )
            found = _PROPOSED.fullmatch(proposed)
            if found is None:
                raise BenchError(f"/propose answered {proposed!r}")
            number = int(found[1])
            if dispatcher is None:
                await app.dispatcher.drain()
            message = await fake.ask("card", number=number)
            offsets = arrivals(size.members, round_, plan.even)
            timings = await burst(fake, size.bot, message, number, offsets)
            check(timings, size.members, number, None)
            status = await fake.ask("slash", member=0, name="status", args=str(number))
            wanted = f"Ballots so far: {size.members} of {size.members}."
            if wanted not in status:
                raise BenchError(f"/status {number} says {status!r}, not {wanted!r}")
            size.bot.timings += timings
    finally:
        if dispatcher is not None:
            app.dispatcher.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(dispatcher, 10.0)
        await bot.stop_adapter()
        await app.close()


async def run_size(members: int, rounds: int, directory: Path, plan: argparse.Namespace) -> Size:
    size = Size(members, rounds)
    fake = FakeProcess()
    try:
        info = await fake.ask("setup", members=members)
        point_discord_at(info)
        progress(f"{members} member(s), {rounds} round(s): reference …")
        await run_reference(fake, info, size, plan)
        progress(" bot …")
        await run_bot(fake, info, size, directory, plan)
        progress(
            f" first response p95 {size.bot.ms('first', 95):.1f} ms "
            f"(reference {size.reference.ms('first', 95):.1f} ms)\n"
        )
    finally:
        await fake.stop()
    return size


# --------------------------------------------------------------------------- report


def render(
    sizes: list[Size],
    plan: argparse.Namespace,
    started: datetime,
    elapsed: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> str:
    spacing = "evenly spaced" if plan.even else "independent and uniform at random"
    beside = (
        "the outbox dispatcher running beside (as folkmoot run)"
        if plan.with_dispatcher
        else "the outbox dispatcher drained once per round"
    )
    lines = [
        f"folkmoot Discord round trip — {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, discord.py {discord.__version__}",
        "The loopback Discord fake in its own process; the bot (SQLite, DiscordAdapter, "
        f"{beside}) in this one.",
        "Per round: one proposal and its card, then every member clicks a vote button, the "
        f"clicks {spacing} over {SPREAD:g} s (open loop).",
        "Times on the fake's clock from the INTERACTION_CREATE frame written to the bot's "
        "socket: first response = until the interaction callback (the defer) arrived; "
        "committed = until the receipt follow-up arrived (the bot sends it only after the "
        "vote's commit).",
        "ref = a bare discord.AutoShardedClient in this process that defers on receipt and "
        "follows up at once (no database), against the same fake, with the same clicks.",
        "",
    ]
    sub = (
        f"{'members':>7} {'clicks':>6}   {'median':>7} {'p95':>7} {'ref p95':>8} {'p95÷ref':>8}"
        f"   {'median':>7} {'p95':>7} {'ref p95':>8} {'p95÷ref':>8}"
    )
    lines.append(f"{'':>14}   {'first response, ms':^32}   {'vote committed, ms':^32}")
    lines += [sub, "-" * len(sub)]
    for s in sizes:
        first_ratio = s.bot.ms("first", 95) / s.reference.ms("first", 95)
        commit_ratio = s.bot.ms("committed", 95) / s.reference.ms("committed", 95)
        lines.append(
            f"{s.members:>7} {len(s.bot.timings):>6}   "
            f"{s.bot.ms('first', 50):>7.1f} {s.bot.ms('first', 95):>7.1f} "
            f"{s.reference.ms('first', 95):>8.1f} {first_ratio:>7.1f}×   "
            f"{s.bot.ms('committed', 50):>7.1f} {s.bot.ms('committed', 95):>7.1f} "
            f"{s.reference.ms('committed', 95):>8.1f} {commit_ratio:>7.1f}×"
        )
    lines.append("")
    for s in sizes:
        lines.append(
            f"  {s.members} member(s), {s.rounds} round(s): ref medians "
            f"{s.reference.ms('first', 50):.1f} / {s.reference.ms('committed', 50):.1f} ms; "
            f"slowest first response {s.bot.ms('first', 100):.1f} ms (ref "
            f"{s.reference.ms('first', 100):.1f}), slowest commit "
            f"{s.bot.ms('committed', 100):.1f} ms; longest loop stall in this process "
            f"{s.bot.watch.longest * 1000:.1f} ms, {s.bot.watch.longest_cpu:.0%} on CPU "
            f"(ref {s.reference.watch.longest * 1000:.1f}); GC {len(s.bot.watch.gc_pauses)} "
            f"runs, longest {max(s.bot.watch.gc_pauses, default=0.0) * 1000:.1f} ms; "
            f"clicks sent late by the fake p95 "
            f"{_percentile(s.bot.lag + s.reference.lag, 95) * 1000:.1f} ms"
        )
    target = [s for s in sizes if s.members == TARGET_SIZE]
    if target:
        p95 = target[0].bot.ms("first", 95)
        verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
        lines.append("")
        lines.append(
            f"Target: first response p95 ≤ {TARGET_P95_MS:g} ms at {TARGET_SIZE} members on "
            f"SQLite: {p95:.1f} ms, {verdict}"
        )
    (a1, a5, a15), (b1, b5, b15) = load
    lines.append(
        f"\nTotal time {elapsed:.0f} s. Load average (1, 5, 15 min) at the start "
        f"{a1:.2f} {a5:.2f} {a15:.2f}, at the end {b1:.2f} {b5:.2f} {b15:.2f}."
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.discord_roundtrip",
        description="Vote buttons over the wire against the loopback Discord fake.",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="members per run, comma-separated (default 1,10,100)",
    )
    parser.add_argument(
        "--even",
        action="store_true",
        help="clicks evenly spaced over the second (default: independent, uniform at random)",
    )
    parser.add_argument(
        "--with-dispatcher",
        action="store_true",
        help="run the outbox dispatcher beside the bot, as folkmoot run does (default: "
        "drained once per round, as the tests do)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"proposals per size (default: enough for ~{SAMPLES} clicks, at least 3)",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers, e.g. 1,10,100")
    if not args.sizes or min(args.sizes) < 1 or (args.rounds is not None and args.rounds < 1):
        parser.error("--sizes and --rounds must be positive")
    return args


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    clock = time.perf_counter()
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    sizes: list[Size] = []
    try:
        with tempfile.TemporaryDirectory(prefix="folkmoot-bench-") as directory:
            for members in args.sizes:
                rounds = args.rounds or max(3, math.ceil(SAMPLES / members))
                where = Path(directory) / f"n{members}"
                where.mkdir()
                sizes.append(await run_size(members, rounds, where, args))
                gc.collect()
    except BenchError as error:
        progress(f"\nbenchmark failed: {error}\n")
        return 1
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
    print(render(sizes, args, started, time.perf_counter() - clock, (load_start, os.getloadavg())))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
