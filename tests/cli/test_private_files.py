"""The data directory holds keys and the database: it is 0700 and every file in it
0600 after `folkmoot run` or `console`, even under a shell's umask of 022 and with
files an earlier version left readable; `folkmoot doctor` names a file others can
read."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from pathlib import Path

from tests.cli.test_cli import TIMEOUT

PERMISSIVE = 0o022


async def _spawn(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """`folkmoot` under the usual umask (022), as from a shell."""
    environment = {**os.environ, **env}
    environment.pop("FOLKMOOT_DATABASE_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
        cwd=cwd,
        umask=PERMISSIVE,
    )


def _modes(top: Path) -> dict[str, str]:
    """Each path under `top` (and `top`), relative, with its permission bits."""
    found = {".": oct(stat.S_IMODE(top.stat().st_mode))}
    for path in top.rglob("*"):
        found[path.relative_to(top).as_posix()] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def _left_by_an_earlier_version(data: Path) -> None:
    """A data directory as made under umask 022: 0755 folders, 0644 files."""
    (data / "exports").mkdir(parents=True)
    data.chmod(0o755)
    (data / "exports").chmod(0o755)
    for path in (data / "author-key", data / "exports" / "old.md"):
        path.write_bytes(b"x" * 32)
        path.chmod(0o644)


def _private(modes: dict[str, str], data: Path) -> None:
    files = {p: m for p, m in modes.items() if not (data / p).is_dir()}
    folders = {p: m for p, m in modes.items() if (data / p).is_dir()}
    assert set(files.values()) == {oct(0o600)}, files
    assert set(folders.values()) == {oct(0o700)}, folders


async def test_console_leaves_every_file_in_the_data_directory_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _left_by_an_earlier_version(data)
    process = await _spawn(
        "console",
        "--start",
        "2026-11-23T09:00+00:00",
        env={"FOLKMOOT_DATA_DIR": str(data)},
        cwd=tmp_path,
    )
    script = "/as alice\n!propose Paint the shop\n\n!export decisions md\n\n"
    out, err = await asyncio.wait_for(process.communicate(script.encode()), TIMEOUT)
    assert process.returncode == 0, err.decode()
    assert "file written" in out.decode()
    modes = _modes(data)
    assert {"folkmoot.db", "author-key", "exports/old.md"} <= set(modes)
    assert any(p.startswith("exports/demo-decisions") for p in modes), modes
    _private(modes, data)


async def test_run_leaves_every_file_in_the_data_directory_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _left_by_an_earlier_version(data)
    config = tmp_path / "folkmoot.toml"
    config.write_text(
        f'[[communities]]\nname = "demo"\n\n[record]\npath = "{tmp_path}/record.jsonl"\n'
    )
    env = {
        "FOLKMOOT_DATA_DIR": str(data),
        "FOLKMOOT_CONFIG": str(config),
        "FOLKMOOT_LOG_LEVEL": "INFO",
    }
    process = await _spawn("run", env=env, cwd=tmp_path)
    assert process.stderr is not None
    try:

        async def started() -> None:
            assert process.stderr is not None
            while line := (await process.stderr.readline()).decode():
                if "folkmoot running" in line:
                    return
            raise AssertionError("folkmoot run ended before it started")

        await asyncio.wait_for(started(), timeout=TIMEOUT)
        # While it runs: the database and its write-ahead log are there, and private.
        modes = _modes(data)
        assert {"folkmoot.db", "folkmoot.db-wal", "folkmoot.db-shm"} <= set(modes), modes
        _private(modes, data)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=TIMEOUT)
    assert process.returncode == 0
    _private(_modes(data), data)


async def test_doctor_names_a_file_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"FOLKMOOT_DATA_DIR": str(data)}
    migrate = await _spawn("migrate", env=env, cwd=tmp_path)
    await asyncio.wait_for(migrate.communicate(), TIMEOUT)
    assert migrate.returncode == 0
    doctor = await _spawn("doctor", env=env, cwd=tmp_path)
    out, _ = await asyncio.wait_for(doctor.communicate(), TIMEOUT)
    assert f"ok    privacy: {data} and everything in it are the owner's alone" in out.decode()

    (data / "folkmoot.db").chmod(0o644)
    doctor = await _spawn("doctor", env=env, cwd=tmp_path)
    out, _ = await asyncio.wait_for(doctor.communicate(), TIMEOUT)
    assert doctor.returncode == 0  # a warning: folkmoot works, but others may read it
    assert (
        f"warn  privacy: others may read {data / 'folkmoot.db'} (644) -- fix: chmod -R go-rwx "
        f"{data}"
    ) in out.decode()
