"""`folkmoot backup` and `folkmoot restore`, run as an operator runs them: the real
command in a process of its own, beside a bot that keeps taking votes."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import shutil
import sqlite3
import stat
import tarfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.bootstrap import author_key
from governance.service.clocks import SimulatedClock
from governance.store import tables as t
from governance.store.engine import make_engine
from tests.cli.test_cli import folkmoot, room_at
from tests.conftest import START, postgres_only, scratch_database

VOTERS = 30
HEAD_START = 10
"""Votes acknowledged before the backup starts; the rest arrive while it runs."""


def _env(data_dir: Path, db_url: str | None = None) -> dict[str, str]:
    return {"FOLKMOOT_DATA_DIR": str(data_dir), "FOLKMOOT_DATABASE_URL": db_url or ""}


def _restore_env(backend: str, tmp_path: Path, other_db: str) -> dict[str, str]:
    """Where a restore goes: a new data directory and, on PostgreSQL, an empty database."""
    return _env(tmp_path / "restored", other_db if backend == "postgresql" else None)


@pytest.fixture
async def other_db(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A second empty database to restore into (on SQLite: the restored data dir's)."""
    if backend == "sqlite":
        yield ""
        return
    async with scratch_database("folkmoot_restore") as url:
        yield url


def _platform_state(data_dir: Path) -> dict[str, bytes]:
    """What the Matrix adapter and the stories keep beside the database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    author_key(data_dir)
    matrix = data_dir / "matrix"
    matrix.mkdir()
    session = matrix / "session.json"
    fd = os.open(session, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"user_id": "@bot:example.org", "device_id": "DEV", "token": "s3cret"}, out)
    (matrix / "sync-token").write_text("s72594_4483_1934")
    return {
        name: (data_dir / name).read_bytes()
        for name in ("author-key", "matrix/session.json", "matrix/sync-token")
    }


async def test_a_backup_during_a_vote_burst_restores_every_committed_ballot(
    backend: str, db_url: str, other_db: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    kept = _platform_state(data)
    # The encryption store is an SQLite file too, open (its last write only in the WAL).
    crypto = sqlite3.connect(data / "matrix" / "@bot:example.org_DEV.db")
    crypto.execute("PRAGMA journal_mode=WAL")
    crypto.execute("CREATE TABLE olm_sessions (id TEXT)")
    crypto.execute("INSERT INTO olm_sessions VALUES ('session-1')")
    crypto.commit()
    async with room_at(db_url, SimulatedClock(START)) as chat:
        await chat.join("alice", admin=True)
        voters = [f"v{i:02}" for i in range(VOTERS)]
        for name in voters:
            await chat.join(name)
        await chat.ok("alice", "!propose Keep a backup vote=2d")

        acknowledged: list[str] = []
        head_start = asyncio.Event()
        backup_done = asyncio.Event()
        during = 0

        async def vote(name: str) -> None:
            nonlocal during
            choice = "yes"
            while True:  # vote, then keep changing it until the backup is done
                reply = await chat.app.governance.handle_text(
                    chat.room, chat.account(name), f"!vote 1 {choice}", chat.clock.now()
                )
                assert reply is not None and reply.ok, reply
                if name not in acknowledged:
                    acknowledged.append(name)
                if head_start.is_set() and not backup_done.is_set():
                    during += 1
                if len(acknowledged) >= HEAD_START:
                    head_start.set()
                if backup_done.is_set():
                    return
                choice = "no" if choice == "yes" else "yes"

        # A first wave votes; the others start when the backup does.
        first = [asyncio.create_task(vote(name)) for name in voters[:HEAD_START]]
        await head_start.wait()
        committed = set(acknowledged)  # every vote whose reply came back so far
        later = [asyncio.create_task(vote(name)) for name in voters[HEAD_START:]]
        archive = tmp_path / "folkmoot.backup"
        code, out, err = await folkmoot(
            "backup", str(archive), env=_env(data, db_url), cwd=tmp_path
        )
        backup_done.set()
        await asyncio.gather(*first, *later)
        assert code == 0, err
        assert "backup written" in out
        assert during > 0, "no vote was taken while the backup ran"
    crypto.close()

    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    env = _restore_env(backend, tmp_path, other_db)
    code, out, err = await folkmoot("restore", str(archive), env=env, cwd=tmp_path)
    assert code == 0, err
    code, out, err = await folkmoot("verify-log", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "demo:" in out and "chain intact" in out

    restored = tmp_path / "restored"
    for name, content in kept.items():
        assert (restored / name).read_bytes() == content
    for name in ("author-key", "matrix/session.json"):
        assert stat.S_IMODE((restored / name).stat().st_mode) == 0o600
    store = sqlite3.connect(restored / "matrix" / "@bot:example.org_DEV.db")
    try:
        assert store.execute("SELECT id FROM olm_sessions").fetchall() == [("session-1",)]
    finally:
        store.close()
    assert not list((restored / "matrix").glob("*-wal"))

    url = other_db if backend == "postgresql" else f"sqlite:///{restored / 'folkmoot.db'}"
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(t.accounts.c.account_id)
                .join(t.ballots, t.ballots.c.member_id == t.accounts.c.member_id)
                .where(t.ballots.c.proposal_id == 1)
            )
            with_ballot = {row.account_id for row in rows}
    finally:
        await engine.dispose()
    assert committed <= with_ballot, sorted(committed - with_ballot)
    assert with_ballot <= set(voters)


async def _sqlite_backup(tmp_path: Path) -> Path:
    """A backup of a small community's SQLite data directory."""
    data = tmp_path / "data"
    _platform_state(data)
    db_url = f"sqlite:///{data / 'folkmoot.db'}"
    async with room_at(db_url, SimulatedClock(START)) as chat:
        await chat.join("alice", admin=True)
        await chat.ok("alice", "!propose Buy bread")
        await chat.ok("alice", "!vote 1 yes")
    archive = tmp_path / "folkmoot.backup"
    code, _, err = await folkmoot("backup", str(archive), env=_env(data), cwd=tmp_path)
    assert code == 0, err
    return archive


async def _refused(archive: Path, target: Path, *words: str) -> str:
    code, out, err = await folkmoot("restore", str(archive), env=_env(target), cwd=archive.parent)
    assert code == 2, (out, err)
    assert "restore refused" in err and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


async def test_a_truncated_backup_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    archive = await _sqlite_backup(tmp_path)
    whole = archive.read_bytes()
    for keep in (len(whole) // 2, len(whole) - 9, 100):
        cut = tmp_path / f"cut-{keep}.backup"
        cut.write_bytes(whole[:keep])
        await _refused(cut, tmp_path / "restored", "truncated")
        assert not (tmp_path / "restored").exists()


async def test_a_corrupted_backup_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    archive = await _sqlite_backup(tmp_path)
    whole = bytearray(archive.read_bytes())
    for at in (len(whole) // 3, len(whole) // 2, len(whole) - 5):
        bad = bytearray(whole)
        bad[at] ^= 0x5A
        corrupted = tmp_path / f"bad-{at}.backup"
        corrupted.write_bytes(bytes(bad))
        err = await _refused(corrupted, tmp_path / "restored")
        assert "corrupted" in err or "truncated" in err, err
        assert not (tmp_path / "restored").exists()
    other = tmp_path / "notes.txt"
    other.write_text("not a backup")
    await _refused(other, tmp_path / "restored", "not a backup")
    assert not (tmp_path / "restored").exists()


async def test_a_member_that_does_not_match_its_checksum_is_refused(tmp_path: Path) -> None:
    archive = await _sqlite_backup(tmp_path)

    def tamper(name: str, content: bytes) -> bytes:
        return b"\x00" * len(content) if name == "data/author-key" else content

    forged = _rewrite(archive, tmp_path / "forged.backup", member=tamper)
    await _refused(forged, tmp_path / "restored", "corrupted", "data/author-key")
    assert not (tmp_path / "restored").exists()


async def test_restore_into_a_non_empty_data_directory_is_refused(tmp_path: Path) -> None:
    archive = await _sqlite_backup(tmp_path)
    target = tmp_path / "in-use"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    await _refused(archive, target, "not empty")
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "mine"
    # The live data directory itself, too.
    before = sorted(p.name for p in (tmp_path / "data").iterdir())
    await _refused(archive, tmp_path / "data", "not empty")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == before


async def test_restore_into_an_existing_empty_directory_works(tmp_path: Path) -> None:
    archive = await _sqlite_backup(tmp_path)
    target = tmp_path / "empty"
    target.mkdir()
    code, _, err = await folkmoot("restore", str(archive), env=_env(target), cwd=tmp_path)
    assert code == 0, err
    async with room_at(f"sqlite:///{target / 'folkmoot.db'}", SimulatedClock(START)) as chat:
        assert "Your vote: yes." in await chat.ok("alice", "!status 1")


async def test_a_backup_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    archive = await _sqlite_backup(tmp_path)

    def newer(manifest: dict[str, object]) -> dict[str, object]:
        return {**manifest, "schema_revision": "9999"}

    future = _rewrite(archive, tmp_path / "future.backup", manifest=newer)
    await _refused(future, tmp_path / "restored", "9999", "newer")
    assert not (tmp_path / "restored").exists()

    def later_format(manifest: dict[str, object]) -> dict[str, object]:
        return {**manifest, "format": 99}

    future = _rewrite(archive, tmp_path / "format.backup", manifest=later_format)
    await _refused(future, tmp_path / "restored", "format 99")
    assert not (tmp_path / "restored").exists()


async def test_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    archive = await _sqlite_backup(tmp_path)
    before = archive.read_bytes()
    code, _, err = await folkmoot("backup", str(archive), env=_env(tmp_path / "data"), cwd=tmp_path)
    assert code == 2 and "already exists" in err
    assert archive.read_bytes() == before


async def test_backup_of_a_missing_database_says_where_it_looked(tmp_path: Path) -> None:
    code, _, err = await folkmoot(
        "backup", str(tmp_path / "b"), env=_env(tmp_path / "nothing"), cwd=tmp_path
    )
    assert code == 2 and "no database at" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()


@postgres_only
async def test_postgresql_without_pg_dump_names_the_documented_path(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    async with room_at(db_url, SimulatedClock(START)) as chat:
        await chat.join("alice", admin=True)
    env = {**_env(tmp_path / "data", db_url), "PATH": str(tmp_path / "no-tools")}
    code, _, err = await folkmoot("backup", str(tmp_path / "b"), env=env, cwd=tmp_path)
    assert code == 2, err
    assert "pg_dump is not on PATH" in err and "Backup and restore" in err
    assert not (tmp_path / "b").exists()


@postgres_only
async def test_postgresql_restore_into_a_database_in_use_is_refused(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    async with room_at(db_url, SimulatedClock(START)) as chat:
        await chat.join("alice", admin=True)
    archive = tmp_path / "pg.backup"
    code, _, err = await folkmoot(
        "backup", str(archive), env=_env(tmp_path / "data", db_url), cwd=tmp_path
    )
    assert code == 0, err
    target = tmp_path / "restored"
    code, _, err = await folkmoot("restore", str(archive), env=_env(target, db_url), cwd=tmp_path)
    assert code == 2 and "not empty" in err, err
    assert not target.exists()


def _rewrite(
    source: Path,
    target: Path,
    *,
    manifest: object = None,
    member: object = None,
) -> Path:
    """A copy of the archive `source` with its manifest and members passed through the
    given functions (checksums left as they were)."""
    with gzip.open(source, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as old:
        entries: list[tuple[str, bytes]] = []
        for info in old:
            stream = old.extractfile(info)
            assert stream is not None
            entries.append((info.name, stream.read()))
    with tarfile.open(target, "w:gz") as new:
        for name, content in entries:
            if name == "manifest.json" and callable(manifest):
                content = json.dumps(manifest(json.loads(content))).encode()
            elif callable(member):
                content = member(name, content)
            info = tarfile.TarInfo(name)
            info.size = len(content)
            new.addfile(info, io.BytesIO(content))
    return target


async def test_a_backup_made_while_a_secret_vote_is_open_says_it_holds_its_key(
    db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite") and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    data = tmp_path / "data"
    data.mkdir()
    async with room_at(db_url, SimulatedClock(START)) as chat:
        await chat.join("alice", admin=True)
        await chat.ok("alice", "!propose Elect a treasurer options=Ana | Ben secret vote=1d")
        await chat.ok("alice", "!propose Buy bread")
        await chat.ok("alice", "!vote 1 Ana")
    archive = tmp_path / "open.backup"
    code, out, err = await folkmoot("backup", str(archive), env=_env(data, db_url), cwd=tmp_path)
    assert code == 0, err
    assert "it holds the keys of secret votes still open (demo #1): whoever holds" in out
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        assert json.load(member)["open_secret_votes"] == ["demo #1"]
    async with room_at(db_url, SimulatedClock(START + timedelta(days=1, minutes=1))) as chat:
        await chat.app.governance.run_due()
    closed = tmp_path / "closed.backup"
    code, out, err = await folkmoot("backup", str(closed), env=_env(data, db_url), cwd=tmp_path)
    assert code == 0, err
    assert "secret" not in out
