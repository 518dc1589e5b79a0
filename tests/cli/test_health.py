"""`folkmoot run`'s /healthz and /metrics, over real HTTP, and a port already in use."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert

import bot.runner
from bot.bootstrap import App
from bot.config import FileConfig, HttpConfig, RecordConfig, Settings
from bot.health import HealthServer
from bot.metrics import Metrics
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.service.app import Governance
from governance.service.clocks import SystemClock
from governance.store import tables as t
from governance.store.engine import make_engine
from tests.chat import Chat
from tests.cli.test_cli import TIMEOUT, folkmoot
from tests.conftest import COMMUNITIES
from tests.scrape import Said, assert_no_label_holds, sample

HALL = RoomRef("record", "hall")


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Governance]]:
    """`run_bot` in this process with a record outlet and the endpoint on a free port:
    its base URL, and the Governance the adapters would call."""
    apps: list[App] = []
    bootstrap = bot.runner.bootstrap

    async def keep(**parts: Any) -> App:
        apps.append(await bootstrap(**parts))
        return apps[-1]

    monkeypatch.setattr(bot.runner, "bootstrap", keep)
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    config = FileConfig(
        communities=COMMUNITIES,
        record=RecordConfig(path=tmp_path / "record.jsonl", rooms=["demo=hall"]),
        http=HttpConfig(port=0),
    )
    said = Said(TIMEOUT)
    watched = [logging.getLogger(name) for name in ("bot.health", "bot.runner")]
    for logger in watched:
        logger.addHandler(said)
        logger.setLevel(logging.INFO)
    stop = asyncio.Event()
    task = asyncio.create_task(bot.runner.run_bot(settings, config, stop))
    try:
        listening = await said.said("health and metrics at")
        await said.said("folkmoot running")
        port = listening.args[1]  # type: ignore[index]
        yield f"http://127.0.0.1:{port}", apps[0].governance
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=TIMEOUT) == 0
        for logger in watched:
            logger.removeHandler(said)
            logger.setLevel(logging.NOTSET)


async def test_healthz_and_metrics_over_http_change_after_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        running(tmp_path, monkeypatch) as (base, governance),
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {
                "status": "ok",
                "database": "ok",
                "outbox": "ok",
                "platforms": {"record": "connected"},
            }
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            before = await response.text()
        assert sample(before, "folkmoot_votes_cast_total") == 0
        assert sample(before, "folkmoot_open_proposals", status="voting") == 0
        assert sample(before, "folkmoot_database_up") == 1

        clock = SystemClock()
        for name in ("alice", "bob"):
            ctx = Context(AccountRef("record", name), HALL, CommunityId("demo"), clock.now())
            role = Role.ADMIN if name == "alice" else None
            assert (await governance.handle(Join(ctx, name, role=role))).ok

        async def say(name: str, text: str) -> bool:
            reply = await governance.handle_text(
                HALL, AccountRef("record", name), text, clock.now()
            )
            assert reply is not None
            return reply.ok

        assert await say("alice", "!propose Fix the roof vote=1d")
        assert await say("bob", "!vote 1 yes")
        assert not await say("bob", "!vote 99 yes")  # no such proposal: refused
        assert not await say("bob", "!frobnicate")  # not a command at all: refused

        async with http.get(f"{base}/metrics") as response:
            after = await response.text()
        assert sample(after, "folkmoot_votes_cast_total") == 1
        assert sample(after, "folkmoot_commands_total", kind="CastVote", outcome="ok") == 1
        assert sample(after, "folkmoot_commands_total", kind="CastVote", outcome="refused") == 1
        assert sample(after, "folkmoot_commands_total", kind="Join", outcome="ok") == 2
        assert sample(after, "folkmoot_commands_total", kind="unparsed", outcome="refused") == 1
        assert sample(after, "folkmoot_open_proposals", status="voting") == 1
        count = sample(after, "folkmoot_interaction_latency_seconds_count", platform="record")
        assert count == 6
        for metric in ("outbox_depth", "outbox_oldest_age_seconds", "dead_letters"):
            assert sample(after, f"folkmoot_{metric}") is not None, metric
        # Labels come from fixed sets: no member, account, room or choice in them.
        assert_no_label_holds(after, "alice", "bob", "yes", "hall", "roof", "99")


async def test_healthz_names_the_part_that_is_down(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    server = HealthServer(engine, SystemClock(), Metrics())
    server.platforms = {"matrix": lambda: "down", "discord": lambda: "standby"}
    await server.start("127.0.0.1", 0)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{server.port}/healthz") as response,
        ):
            assert response.status == 503
            assert await response.json() == {
                "status": "down",
                "database": "ok",
                "outbox": "unknown",  # a database with no tables: never migrated
                "platforms": {"discord": "standby", "matrix": "down"},
                "down": ["platform matrix"],
            }
    finally:
        await server.stop()
        await engine.dispose()


async def test_a_port_in_use_stops_run_with_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "folkmoot.toml"
    config.write_text(f'[[communities]]\nname = "demo"\n\n[record]\npath = "{tmp_path}/r.jsonl"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "FOLKMOOT_CONFIG": str(config),
            "FOLKMOOT_DATA_DIR": str(tmp_path),
            "FOLKMOOT_HTTP_PORT": str(port),
        }
        code, _, err = await folkmoot("run", env=env, cwd=tmp_path)
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "already in use" in err
    assert "FOLKMOOT_HTTP_PORT" in err
    assert "Traceback" not in err
    # Nothing was connected or delivered before it stopped.
    assert not (tmp_path / "r.jsonl").exists()
    assert json.loads(err.splitlines()[0]) if err.startswith("{") else True


async def test_healthcheck_asks_where_run_serves_and_fails_when_anything_is_down(
    tmp_path: Path,
) -> None:
    """The container's HEALTHCHECK: `folkmoot healthcheck`, as a real process."""
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    server = HealthServer(engine, SystemClock(), Metrics())
    state = {"matrix": "connected"}
    server.platforms = {"matrix": lambda: state["matrix"]}
    await server.start("127.0.0.1", 0)
    # Served on every interface, as in the image: asked on loopback.
    env = {"FOLKMOOT_HTTP_PORT": str(server.port), "FOLKMOOT_HTTP_HOST": "0.0.0.0"}
    try:
        code, out, _ = await folkmoot("healthcheck", env=env, cwd=tmp_path)
        assert code == 0 and json.loads(out)["status"] == "ok"
        state["matrix"] = "down"
        code, out, _ = await folkmoot("healthcheck", env=env, cwd=tmp_path)
        assert code == 1 and out.startswith("503: ") and "platform matrix" in out
    finally:
        await server.stop()
        await engine.dispose()
    code, out, _ = await folkmoot("healthcheck", env=env, cwd=tmp_path)
    assert code == 1 and f"no answer from http://127.0.0.1:{server.port}/healthz" in out
    code, out, _ = await folkmoot("healthcheck", env={}, cwd=tmp_path)
    assert code == 1 and "/healthz is off; set FOLKMOOT_HTTP_PORT" in out


async def test_healthz_is_degraded_while_an_announcement_waits_too_long(chat: Chat) -> None:
    """A delivery failing for minutes (a room the bot cannot post in) is retried for a
    day; /healthz says so once the oldest waiting announcement is older than the limit,
    and is ok again once it is delivered, or given up on (a dead letter)."""
    server = HealthServer(chat.app.engine, chat.clock, Metrics(), outbox_max_age=300)
    server.platforms = {"test": lambda: "connected"}
    await server.start("127.0.0.1", 0)

    async def health() -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{server.port}/healthz") as response,
        ):
            return response.status, await response.json()

    try:
        chat.outlet.fail_rooms.add(chat.room)
        await chat.ok("alice", "!propose Fix the roof")
        assert await health() == (
            200,
            {"status": "ok", "database": "ok", "outbox": "ok", "platforms": {"test": "connected"}},
        )
        chat.clock.set(chat.clock.now() + timedelta(seconds=299))
        assert (await health())[0] == 200
        chat.clock.set(chat.clock.now() + timedelta(seconds=2))
        assert await health() == (
            503,
            {
                "status": "degraded",
                "database": "ok",
                "outbox": "stale",
                "platforms": {"test": "connected"},
                "degraded": ["outbox"],
            },
        )
        chat.outlet.fail_rooms.clear()
        await chat.app.dispatcher.drain()
        assert (await health())[1]["status"] == "ok"

        # Stuck again, then given up on: a dead letter waits for no delivery.
        chat.outlet.fail_rooms.add(chat.room)
        await chat.ok("alice", "!propose Paint the door")
        chat.clock.set(chat.clock.now() + timedelta(minutes=10))
        assert (await health())[1]["status"] == "degraded"
        chat.outlet.gone_rooms.add(chat.room)
        await chat.app.dispatcher.drain()
        assert await health() == (
            200,
            {"status": "ok", "database": "ok", "outbox": "ok", "platforms": {"test": "connected"}},
        )
    finally:
        await server.stop()


async def test_healthz_counts_an_announcement_not_yet_routed(chat: Chat) -> None:
    """An announcement the dispatcher has not routed to any room yet (routing keeps
    failing, or no dispatcher runs) waits as much as one a room refuses."""
    server = HealthServer(chat.app.engine, chat.clock, Metrics(), outbox_max_age=300)
    await server.start("127.0.0.1", 0)

    async def status() -> str:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{server.port}/healthz") as response,
        ):
            return str((await response.json())["outbox"])

    try:
        async with chat.app.engine.begin() as conn:
            await conn.execute(
                insert(t.outbox).values(
                    community_id=str(chat.community),
                    kind="ProposalCreated",
                    payload={},
                    created_at=chat.clock.now(),
                )
            )
        assert await status() == "ok"
        chat.clock.set(chat.clock.now() + timedelta(seconds=301))
        assert await status() == "stale"
    finally:
        await server.stop()


def test_the_outbox_age_limit_is_set_by_the_environment_or_the_file() -> None:
    file = FileConfig(http=HttpConfig(port=0, outbox_max_age=60))
    assert Settings(_env_file=None).outbox_max_age(FileConfig()) == 300  # type: ignore[call-arg]
    assert Settings(_env_file=None).outbox_max_age(file) == 60  # type: ignore[call-arg]
    env = Settings(_env_file=None, health_outbox_max_age_seconds=90)  # type: ignore[call-arg]
    assert env.outbox_max_age(file) == 90
