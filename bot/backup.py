"""``folkmoot backup`` and ``folkmoot restore``: one archive file holding the database
and the data directory's other state, taken while the bot may be running.

The archive is a gzipped tar whose first member is ``manifest.json`` (format version,
schema revision, created_at, and each member's size and SHA-256), followed by:

- ``database/folkmoot.db``: an SQLite snapshot made with SQLite's online backup API
  (one consistent read transaction; writers carry on beside it), or
  ``database/folkmoot.pgdump``: a ``pg_dump --format=custom`` of a PostgreSQL database;
- ``data/author-key``: the key of anonymous stories' author tags;
- ``data/matrix/…``: the Matrix session, sync token and encryption store (an SQLite
  file in it is copied with the backup API too).

Restore reads and checks the whole archive before it writes anything, and writes only
into an empty data directory (and, for PostgreSQL, an empty database).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from governance.store.engine import is_sqlite, make_engine
from governance.store.migrate import alembic_config, current, head

FORMAT = 1
"""The archive format this code writes and the newest it reads."""
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/folkmoot.db"
PGDUMP_MEMBER = "database/folkmoot.pgdump"
DATA_PREFIX = "data/"
MATRIX_DIR = "matrix"
AUTHOR_KEY = "author-key"
SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal")
"""An SQLite database's companions: the backup API's snapshot already holds their
content, and a stale one beside a restored database would corrupt it."""
DOCS = "README, “Backup and restore”"
CHUNK = 1 << 20


class BackupError(Exception):
    """A refusal, said to the operator in one line; nothing was written."""


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    size: int
    sha256: str


# ---------------------------------------------------------------------------
# Backup


def backup(settings: Settings, destination: Path) -> dict[str, Any]:
    """Write the archive to `destination` (which must not exist); return its manifest."""
    if destination.exists():
        raise BackupError(f"{destination} already exists; name a new file")
    url = settings.db_url()
    parent = destination.resolve().parent
    if not parent.is_dir():
        raise BackupError(f"the directory {parent} does not exist")
    with tempfile.TemporaryDirectory(prefix=".folkmoot-backup-", dir=parent) as work:
        staged = Path(work)
        files: dict[str, Path] = {}
        if is_sqlite(url):
            database = staged / "folkmoot.db"
            revision = _sqlite_snapshot(_sqlite_path(url), database)
            files[SQLITE_MEMBER] = database
            kind = "sqlite"
            secret = _sqlite_open_secret_votes(database)
        else:
            dump = staged / "folkmoot.pgdump"
            before = asyncio.run(_pg_open_secret_votes(url))
            revision = _pg_dump(url, dump)
            files[PGDUMP_MEMBER] = dump
            kind = "postgresql"
            # Any vote open at some point of the dump may be in it.
            secret = sorted(set(before) | set(asyncio.run(_pg_open_secret_votes(url))))
        files.update(_data_files(settings.data_dir, staged / "data"))
        members = [_member(name, path) for name, path in files.items()]
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "database": kind,
            "schema_revision": revision,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "members": [{"name": m.name, "size": m.size, "sha256": m.sha256} for m in members],
            "open_secret_votes": secret,
        }
        partial = staged / "archive.tar.gz"
        _write_archive(partial, manifest, files)
        # The archive holds secrets (the author key, the Matrix token): this user only.
        os.chmod(partial, 0o600)
        try:
            os.link(partial, destination)  # never replaces a file made meanwhile
        except FileExistsError:
            raise BackupError(f"{destination} already exists; name a new file") from None
        except OSError:
            shutil.copyfile(partial, destination)
            os.chmod(destination, 0o600)
    return manifest


_OPEN_SECRET_VOTES = (
    "SELECT p.community_id, p.number FROM proposal_keys k "
    "JOIN proposals p ON p.id = k.proposal_id ORDER BY p.community_id, p.number"
)
"""The secret votes whose keys a copy of the database holds: those open when it was made."""


def _sqlite_open_secret_votes(database: Path) -> list[str]:
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute(_OPEN_SECRET_VOTES).fetchall()
    except sqlite3.OperationalError:  # a schema from before secret votes
        rows = []
    finally:
        connection.close()
    return [f"{community} #{number}" for community, number in rows]


async def _pg_open_secret_votes(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            if not await conn.scalar(text("SELECT to_regclass('proposal_keys') IS NOT NULL")):
                return []  # a database not migrated yet
            rows = (await conn.execute(text(_OPEN_SECRET_VOTES))).all()
    except DBAPIError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise BackupError(f"cannot read the database: {reason}") from None
    finally:
        await engine.dispose()
    return [f"{community} #{number}" for community, number in rows]


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_snapshot(source: Path, target: Path) -> str | None:
    """A consistent copy of `source` made with the online backup API, checked."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source} (FOLKMOOT_DATA_DIR / DATABASE_URL)")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            # pages=-1: every page in one step, under one read transaction, so the copy
            # is one committed state even while the bot writes.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")
            (check,) = dst.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise BackupError(f"the database at {source} fails its own check: {check}")
            try:
                row = dst.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError:
                row = None
        finally:
            dst.close()
    except sqlite3.Error as error:
        raise BackupError(f"cannot read the database at {source}: {error}") from None
    finally:
        src.close()
    return str(row[0]) if row else None


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for pg_dump / pg_restore, and its password kept out of argv."""
    parsed: URL = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
        parsed = parsed.set(password=None)
    return parsed.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client tools (the server's "
            f"major version or newer), or follow the manual path in the {DOCS}"
        )
    return found


def _pg_dump(url: str, target: Path) -> str | None:
    tool = _tool("pg_dump")
    revision = asyncio.run(_pg_revision(url))
    uri, env = _libpq(url)
    done = subprocess.run(
        [tool, "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), uri],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {_first_line(done.stderr)}")
    return revision


async def _pg_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return await current(engine)
    except DBAPIError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise BackupError(f"cannot read the database: {reason}") from None
    finally:
        await engine.dispose()


def _data_files(data_dir: Path, staged: Path) -> dict[str, Path]:
    """The data directory's state besides the database: name in the archive → file to
    read (an SQLite file is first snapshot into `staged`)."""
    found: dict[str, Path] = {}
    key = data_dir / AUTHOR_KEY
    if key.is_file():
        found[DATA_PREFIX + AUTHOR_KEY] = key
    matrix = data_dir / MATRIX_DIR
    if matrix.is_dir():
        for path in sorted(matrix.rglob("*")):
            if not path.is_file() or path.name.endswith(SIDE_FILES):
                continue
            relative = path.relative_to(data_dir).as_posix()
            if _is_sqlite_file(path):
                copy = staged / relative
                copy.parent.mkdir(parents=True, exist_ok=True)
                _sqlite_snapshot(path, copy)
                found[DATA_PREFIX + relative] = copy
            else:
                found[DATA_PREFIX + relative] = path
    return found


def _is_sqlite_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def _member(name: str, path: Path) -> Member:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Member(name, size, digest.hexdigest())


def _write_archive(target: Path, manifest: dict[str, Any], files: dict[str, Path]) -> None:
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    with tarfile.open(target, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(body)
        info.mode = 0o600
        info.mtime = int(datetime.now(UTC).timestamp())
        archive.addfile(info, io.BytesIO(body))
        for entry in manifest["members"]:
            path = files[entry["name"]]
            info = tarfile.TarInfo(entry["name"])
            info.size = entry["size"]
            info.mode = 0o600
            info.mtime = int(path.stat().st_mtime)
            with path.open("rb") as handle:
                archive.addfile(info, handle)


# ---------------------------------------------------------------------------
# Restore


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """Check the archive whole, then restore it; return its manifest."""
    manifest = verify(source)
    url = settings.db_url()
    _check_fits(manifest, url)
    data_dir = settings.data_dir
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(
            f"the data directory {data_dir} is not empty: restore only into an empty or "
            "new one (FOLKMOOT_DATA_DIR); nothing was changed"
        )
    if manifest["database"] == "sqlite":
        target = _sqlite_path(url)
        if target.exists():
            raise BackupError(f"a database already exists at {target}; nothing was changed")
    else:
        asyncio.run(_pg_check_empty(url))
        _tool("pg_restore")
    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix=".folkmoot-restore-", dir=data_dir) as work:
            dump = Path(work) / "folkmoot.pgdump"
            for name, stream in _members(source, manifest):
                if name == PGDUMP_MEMBER:
                    path = dump
                elif name == SQLITE_MEMBER:
                    path = _sqlite_path(url)
                else:
                    path = data_dir / PurePosixPath(name).relative_to(DATA_PREFIX.rstrip("/"))
                _write_private(path, stream, data_dir, written)
            if manifest["database"] == "postgresql":
                _pg_restore(url, dump)
    except BaseException:
        for path in reversed(written):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if created:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    return manifest


def verify(source: Path) -> dict[str, Any]:
    """Read the whole archive and check its manifest and every member's checksum;
    write nothing. Raise BackupError naming what is wrong."""
    manifest: dict[str, Any] | None = None
    for name, stream in _read(source):
        if manifest is None:
            if name != MANIFEST:
                raise BackupError(f"{source} is not a folkmoot backup (no manifest first)")
            manifest = _parse_manifest(source, stream.read())
            expected = {m.name: m for m in _manifest_members(source, manifest)}
            seen: set[str] = set()
            continue
        entry = expected.get(name)
        if entry is None or name in seen:
            raise BackupError(f"{source} holds {name!r}, which its manifest does not list")
        _check_member(source, entry, stream)
        seen.add(name)
    if manifest is None:
        raise BackupError(f"{source} is empty: not a folkmoot backup")
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"{source} is truncated: {', '.join(missing)} missing")
    return manifest


def _check_fits(manifest: dict[str, Any], url: str) -> None:
    revision = manifest["schema_revision"]
    if revision is not None:
        scripts = ScriptDirectory.from_config(alembic_config())
        try:
            known = scripts.get_revision(revision) is not None
        except CommandError:
            known = False
        if not known:
            raise BackupError(
                f"this backup's database schema ({revision}) is newer than this folkmoot "
                f"knows (up to {head()}): restore it with the folkmoot that made it or a "
                "newer one; nothing was changed"
            )
    wanted = "sqlite" if is_sqlite(url) else "postgresql"
    if manifest["database"] != wanted:
        raise BackupError(
            f"this backup holds a {manifest['database']} database but the configured one "
            f"(FOLKMOOT_DATABASE_URL) is {wanted}; nothing was changed"
        )


def _parse_manifest(source: Path, body: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
    except ValueError:
        raise BackupError(f"{source}: its manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise BackupError(f"{source}: its manifest has no format version")
    if manifest["format"] > FORMAT:
        raise BackupError(
            f"{source} is in backup format {manifest['format']}, newer than this folkmoot "
            f"reads ({FORMAT}); nothing was changed"
        )
    if manifest.get("database") not in ("sqlite", "postgresql"):
        raise BackupError(f"{source}: its manifest names no known database kind")
    revision = manifest.get("schema_revision")
    if revision is not None and not isinstance(revision, str):
        raise BackupError(f"{source}: its manifest's schema revision is not a string")
    return manifest


def _manifest_members(source: Path, manifest: dict[str, Any]) -> list[Member]:
    members: list[Member] = []
    database = SQLITE_MEMBER if manifest["database"] == "sqlite" else PGDUMP_MEMBER
    try:
        for entry in manifest["members"]:
            member = Member(str(entry["name"]), int(entry["size"]), str(entry["sha256"]))
            if not _safe_name(member.name, database):
                raise BackupError(f"{source}: its manifest names an unsafe path {member.name!r}")
            members.append(member)
    except (KeyError, TypeError, ValueError):
        raise BackupError(f"{source}: its manifest's member list is malformed") from None
    if database not in {m.name for m in members}:
        raise BackupError(f"{source}: its manifest lists no database")
    return members


def _safe_name(name: str, database: str) -> bool:
    if name == database:
        return True
    path = PurePosixPath(name)
    return (
        name.startswith(DATA_PREFIX)
        and not path.is_absolute()
        and ".." not in path.parts
        and len(path.parts) > 1
        and "\\" not in name
    )


def _check_member(source: Path, entry: Member, stream: Readable) -> None:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise BackupError(f"{source} is corrupted: {entry.name} does not match its checksum")


@contextmanager
def _archive_errors(source: Path) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise BackupError(f"{source} does not exist") from None
    except (EOFError, tarfile.ReadError) as error:
        raise BackupError(f"{source} is truncated or not a backup ({error})") from None
    except gzip.BadGzipFile as error:
        raise BackupError(f"{source} is corrupted or not a backup ({error})") from None
    except (zlib.error, tarfile.TarError, OSError) as error:
        raise BackupError(f"{source} is corrupted ({error})") from None


def _read(source: Path) -> Iterator[tuple[str, Readable]]:
    """Each regular member's name and content, in order; then the gzip stream is read
    to its end, so its own CRC and length are checked too (a cut in the padding)."""
    with _archive_errors(source), gzip.open(source, "rb") as raw:
        with tarfile.open(fileobj=raw, mode="r|") as archive:
            for info in archive:
                if not info.isfile():
                    raise BackupError(f"{source} holds {info.name!r}, which is not a file")
                stream = archive.extractfile(info)
                assert stream is not None
                yield info.name, _Guarded(stream, source)
        while raw.read(CHUNK):
            pass


class _Guarded:
    """A member's content whose read errors (a corrupted or cut stream) are refusals."""

    def __init__(self, inner: Readable, source: Path) -> None:
        self.inner = inner
        self.source = source

    def read(self, n: int = -1, /) -> bytes:
        with _archive_errors(self.source):
            return self.inner.read(n)


def _members(source: Path, manifest: dict[str, Any]) -> Iterator[tuple[str, Readable]]:
    """The listed members again, each checked as it is read (the file could have
    changed since `verify`); a mismatch raises after the member was read."""
    expected = {m.name: m for m in _manifest_members(source, manifest)}
    for name, stream in _read(source):
        if name == MANIFEST:
            continue
        entry = expected[name]
        checked = _Hashing(stream)
        yield name, checked
        checked.drain()
        if checked.size != entry.size or checked.digest.hexdigest() != entry.sha256:
            raise BackupError(f"{source} changed while it was restored: {name}")


class _Hashing:
    def __init__(self, inner: Readable) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        chunk = self.inner.read(n)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _write_private(path: Path, stream: Readable, data_dir: Path, written: list[Path]) -> None:
    """Write a file readable by this user only (the author key, the Matrix session and
    the database all are secrets), making its directories 0700; record what was made."""
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for directory in missing:
        directory.mkdir(mode=0o700)
        written.append(directory)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written.append(path)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(stream, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(path, 0o600)


async def _pg_check_empty(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname "
                        "NOT IN ('pg_catalog', 'information_schema')"
                    )
                )
            ).scalar_one()
    except DBAPIError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise BackupError(f"cannot reach the database to restore into: {reason}") from None
    finally:
        await engine.dispose()
    if tables:
        raise BackupError(
            f"the configured database is not empty ({tables} tables): restore only into "
            "a new, empty database (FOLKMOOT_DATABASE_URL); nothing was changed"
        )


def _pg_restore(url: str, dump: Path) -> None:
    tool = _tool("pg_restore")
    uri, env = _libpq(url)
    done = subprocess.run(
        [
            tool,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            uri,
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {_first_line(done.stderr)}")


def _first_line(text_: str) -> str:
    lines = [line for line in text_.splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


# ---------------------------------------------------------------------------
# The commands


def run(command: str, settings: Settings, file: str) -> int:
    """``folkmoot backup <file>`` or ``folkmoot restore <file>``."""
    return (backup_command if command == "backup" else restore_command)(settings, file)


def backup_command(settings: Settings, file: str) -> int:
    try:
        manifest = backup(settings, Path(file))
    except BackupError as error:
        print(f"folkmoot: backup refused: {error}", file=sys.stderr)
        return 2
    print(
        f"backup written to {file}: {manifest['database']} at schema "
        f"{manifest['schema_revision']}, {len(manifest['members'])} files"
    )
    if manifest["open_secret_votes"]:
        print(
            "it holds the keys of secret votes still open ("
            + ", ".join(manifest["open_secret_votes"])
            + "): whoever holds this file can link their ballots to voters, even after "
            "they close. Keep it as private as the database, and replace it with a "
            "backup made after they close"
        )
    return 0


def restore_command(settings: Settings, file: str) -> int:
    try:
        manifest = restore(settings, Path(file))
    except BackupError as error:
        print(f"folkmoot: restore refused: {error}", file=sys.stderr)
        return 2
    print(
        f"restored {file} (made {manifest['created_at']}, schema "
        f"{manifest['schema_revision']}) into {settings.data_dir}; "
        "`folkmoot migrate` brings an older schema up to date"
    )
    return 0
