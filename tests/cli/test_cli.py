"""The `folkmoot` command as an operator uses it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from bot import cli
from bot.bootstrap import bootstrap, ensure_binding
from governance.domain.ids import CommunityId
from governance.service.clocks import SimulatedClock
from governance.store import migrate
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.store.migrate import current, head, revisions, upgrade
from tests.chat import Chat, RecordingOutlet
from tests.conftest import COMMUNITIES, ROOM, START

TIMEOUT = 60


async def spawn(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """The real `folkmoot` command, in a process of its own."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
        cwd=cwd,
    )


async def folkmoot(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await spawn(*args, env=env, cwd=cwd)
    out, err = await asyncio.wait_for(process.communicate(), timeout=TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_help_names_every_command(tmp_path: Path) -> None:
    code, out, _ = await folkmoot("--help", env={}, cwd=tmp_path)
    assert code == 0
    for command in ("run", "console", "migrate", "verify-log"):
        assert command in out


async def test_run_without_an_adapter_says_which_keys_to_set(tmp_path: Path) -> None:
    code, _, err = await folkmoot("run", env={"FOLKMOOT_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert code == 2
    assert "no platform adapter is configured" in err
    assert "[record]" in err and "FOLKMOOT_CONFIG" in err and "Traceback" not in err


async def test_a_config_file_with_an_unknown_key_is_refused_by_name(tmp_path: Path) -> None:
    config = tmp_path / "folkmoot.toml"
    config.write_text('[[communities]]\nname = "demo"\ntimezon = "UTC"\n')
    code, _, err = await folkmoot("migrate", env={"FOLKMOOT_CONFIG": str(config)}, cwd=tmp_path)
    assert code == 2 and "timezon" in err and "Traceback" not in err


async def test_migrate_then_verify_log_finds_the_first_tampered_entry(
    chat: Chat, db_url: str, tmp_path: Path
) -> None:
    env = {"FOLKMOOT_DATABASE_URL": db_url, "FOLKMOOT_DATA_DIR": str(tmp_path)}
    code, out, _ = await folkmoot("migrate", env=env, cwd=tmp_path)
    assert code == 0 and "at revision" in out
    await chat.ok("alice", "!propose Buy bread")
    await chat.ok("alice", "!close 1 the bakery closed")
    code, out, _ = await folkmoot("verify-log", "demo", env=env, cwd=tmp_path)
    assert (code, out) == (0, "demo: 6 entries, chain intact\n")

    async with chat.app.engine.begin() as conn:
        await conn.execute(
            update(t.decision_log)
            .where(t.decision_log.c.seq == 4)
            .values(data={"title": "Buy cake"})
        )
    code, out, _ = await folkmoot("verify-log", "demo", env=env, cwd=tmp_path)
    assert code == 1
    assert out == "demo: entry 4 is bad: its content does not match its hash\n"


async def test_migrate_goes_down_only_when_told_it_may_lose_data(
    db_url: str, tmp_path: Path
) -> None:
    newest, previous = revisions()[-1], revisions()[-2]
    env = {"FOLKMOOT_DATABASE_URL": db_url, "FOLKMOOT_DATA_DIR": str(tmp_path)}
    engine = make_engine(db_url)
    try:
        await upgrade(engine)
        code, out, err = await folkmoot("migrate", "--to", previous, env=env, cwd=tmp_path)
        assert (code, out) == (2, "")
        assert f"the database is at revision {newest}; going down to {previous} drops" in err
        assert "data included" in err and "add --down" in err and "Traceback" not in err
        assert await current(engine) == newest

        code, out, _ = await folkmoot("migrate", "--to", previous, "--down", env=env, cwd=tmp_path)
        assert (code, out) == (0, f"database at revision {previous} (head {newest})\n")
        assert await current(engine) == previous
    finally:
        await engine.dispose()


async def test_migrate_help_warns_that_going_down_loses_data(tmp_path: Path) -> None:
    code, out, _ = await folkmoot("migrate", "--help", env={}, cwd=tmp_path)
    assert code == 0 and "--to REV" in out and "--down" in out
    assert "data included" in " ".join(out.split())
    code, _, err = await folkmoot("migrate", "--to", "0999", env={}, cwd=tmp_path)
    assert code == 2 and f"--to 0999: no such revision (known: 0001 to {head()})" in err
    assert not (tmp_path / "data").exists()


@asynccontextmanager
async def room_at(db_url: str, clock: SimulatedClock) -> AsyncIterator[Chat]:
    app = await bootstrap(
        engine=make_engine(db_url), clock=clock, outlets={}, communities=COMMUNITIES
    )
    try:
        await ensure_binding(app, ROOM, CommunityId("demo"))
        yield Chat(app, clock, RecordingOutlet(), ROOM, CommunityId("demo"))
    finally:
        await app.close()


async def test_run_closes_a_vote_missed_while_down_and_announces_it(
    db_url: str, tmp_path: Path
) -> None:
    # Three hours ago a one-hour vote opened; no bot has run since.
    async with room_at(db_url, SimulatedClock(datetime.now(UTC) - timedelta(hours=3))) as chat:
        await chat.join("alice", admin=True)
        await chat.ok("alice", "!propose Fix the bike shed vote=1h")
        await chat.ok("alice", "!vote 1 yes")
    record = tmp_path / "deliveries.jsonl"
    config = tmp_path / "folkmoot.toml"
    config.write_text(
        f'[[communities]]\nname = "demo"\n\n[record]\npath = "{record}"\nrooms = ["demo=hall"]\n'
    )
    env = {
        "FOLKMOOT_DATABASE_URL": db_url,
        "FOLKMOOT_CONFIG": str(config),
        "FOLKMOOT_DATA_DIR": str(tmp_path),
        "FOLKMOOT_LOG_LEVEL": "INFO",
    }
    process = await spawn("run", env=env, cwd=tmp_path)
    assert process.stderr is not None
    try:

        async def started() -> str:
            assert process.stderr is not None
            while line := (await process.stderr.readline()).decode():
                if "folkmoot running" in line:
                    return line
            raise AssertionError("folkmoot run ended before it started")

        line = await asyncio.wait_for(started(), timeout=TIMEOUT)
        assert "1 missed item(s) ran at start" in line
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=TIMEOUT)
    assert process.returncode == 0
    deliveries = [json.loads(line) for line in record.read_text().splitlines()]
    closes = [d for d in deliveries if "voting closed" in d["text"]]
    assert len(closes) == 1
    assert closes[0]["room"] == "record:hall"
    assert closes[0]["text"].splitlines()[1] == "Passed — 1 yes, 0 no."


async def test_a_restarted_bot_keeps_its_votes(db_url: str) -> None:
    clock = SimulatedClock(START)
    async with room_at(db_url, clock) as chat:
        await chat.join("ana", admin=True)
        await chat.ok("ana", "!propose Keep the records")
        await chat.ok("ana", "!vote 1 yes")
    clock.set(START + timedelta(hours=1))
    async with room_at(db_url, clock) as chat:
        assert "Your vote: yes." in await chat.ok("ana", "!status 1")


async def test_database_and_config_trouble_gets_one_clear_line(tmp_path: Path) -> None:
    code, _, err = await folkmoot(
        "migrate",
        env={"FOLKMOOT_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x"},
        cwd=tmp_path,
    )
    assert code == 2 and "Traceback" not in err
    assert "cannot use the database postgresql://u:***@127.0.0.1:1/x" in err
    assert "hunter2" not in err
    code, _, err = await folkmoot(
        "migrate", env={"FOLKMOOT_DATABASE_URL": "nonsense"}, cwd=tmp_path
    )
    assert code == 2 and "not a database URL" in err and "Traceback" not in err

    config = tmp_path / "folkmoot.toml"
    config.write_text('[[communities]]\nname = "coop"\ndefault_vote = "banana"\n')
    code, _, err = await folkmoot("run", env={"FOLKMOOT_CONFIG": str(config)}, cwd=tmp_path)
    assert code == 2 and "default_vote=banana is not a length" in err
    assert "Traceback" not in err


async def test_verify_log_names_an_unknown_community(
    chat: Chat, db_url: str, tmp_path: Path
) -> None:
    env = {"FOLKMOOT_DATABASE_URL": db_url}
    code, _, err = await folkmoot("verify-log", "nosuch", env=env, cwd=tmp_path)
    assert code == 2
    assert "there is no community called 'nosuch' in the database (known: coop, demo, guild)" in err
    code, out, _ = await folkmoot("verify-log", env=env, cwd=tmp_path)
    assert (code, out) == (
        0,
        "coop: 0 entries, chain intact\ndemo: 3 entries, chain intact\n"
        "guild: 0 entries, chain intact\n",
    )


async def test_a_database_from_a_newer_folkmoot_is_refused_in_one_line_and_left_alone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'folkmoot.db'}"
    engine = make_engine(url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        env = {"FOLKMOOT_DATABASE_URL": url, "FOLKMOOT_DATA_DIR": str(data)}
        for command in (("migrate",), ("console",)):
            code, _, err = await folkmoot(*command, env=env, cwd=tmp_path)
            assert code == 2 and "Traceback" not in err, (command, err)
            assert "at revision 9999, which this folkmoot does not know" in err
            assert "written by a newer version" in err
        assert await current(engine) == "9999"
    finally:
        await engine.dispose()


async def test_migrate_reads_the_database_url_from_a_file(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    url_file = tmp_path / "database-url"
    url_file.write_text(f"sqlite:///{database}\n")
    env = {"FOLKMOOT_DATABASE_URL_FILE": str(url_file), "FOLKMOOT_DATA_DIR": str(tmp_path)}
    code, _, err = await folkmoot("migrate", env=env, cwd=tmp_path)
    assert code == 0, err
    assert database.exists() and not (tmp_path / "folkmoot.db").exists()


def test_migrations_missing_from_an_installation_get_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As when an image or a package left out migrations/: no Alembic traceback."""
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", str(tmp_path / "no-migrations"))
    monkeypatch.setenv("FOLKMOOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FOLKMOOT_DATABASE_URL", raising=False)
    umask = os.umask(0o022)  # main sets this process's; give the other tests theirs back
    try:
        assert cli.main(["migrate"]) == 2
    finally:
        os.umask(umask)
    err = capsys.readouterr().err
    assert err.startswith("folkmoot: the database migrations cannot be read")
    assert "reinstall folkmoot" in err and "Traceback" not in err
