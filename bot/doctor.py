"""``folkmoot doctor``: is this installation ready to run?

One line per check: ``ok``, ``FAIL`` (with a fix), ``warn`` (with a fix; does not fail
the run) or ``skip`` (not configured, or an earlier check failed). The exit code is 1
when any check failed, else 0. Nothing is changed: no migration, no new file, and a
Matrix login by password is logged out again."""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import shutil
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

import aiohttp
import discord.http
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import (
    ConfigError,
    DiscordConfig,
    FileConfig,
    MatrixConfig,
    Settings,
    load_file_config,
)
from governance.store.engine import is_sqlite, make_engine
from governance.store.migrate import alembic_config, current, head

MIN_FREE_BYTES = 100 * 1024 * 1024
"""Below this much free space in the data directory, the disk check fails."""
MAX_CLOCK_SKEW = 5.0
"""Seconds between this host's clock and the database's before the clock check warns."""
TIMEOUT = 10.0
"""Seconds any one network check (database, Matrix, Discord) may take."""
MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)
"""Application flags GATEWAY_MESSAGE_CONTENT and GATEWAY_MESSAGE_CONTENT_LIMITED."""

Status = Literal["ok", "FAIL", "warn", "skip"]
T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    status: Status
    what: str
    fix: str | None = None

    def line(self) -> str:
        fix = f" -- fix: {self.fix}" if self.fix else ""
        return f"{self.status:<4}  {self.what}{fix}"


def ok(what: str) -> Check:
    return Check("ok", what)


def fail(what: str, fix: str) -> Check:
    return Check("FAIL", what, fix)


def skip(what: str) -> Check:
    return Check("skip", what)


def run(settings: Settings) -> int:
    """Print every check; 1 if any failed."""
    checks = asyncio.run(diagnose(settings))
    for check in checks:
        print(check.line(), flush=True)
    failed = sum(check.status == "FAIL" for check in checks)
    print(f"{failed} failed, {len(checks)} checks" if failed else f"all {len(checks)} checks ok")
    return 1 if failed else 0


async def diagnose(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    config = _config(settings, checks)
    checks.extend(_environment())
    checks.extend(await _database(settings))
    checks.append(_disk(settings.data_dir))
    if config is None:
        checks.append(skip("matrix: the config file did not load"))
        checks.append(skip("discord: the config file did not load"))
        return checks
    if config.matrix is None:
        checks.append(skip("matrix: not configured"))
    else:
        checks.extend(await _matrix(settings, config.matrix))
    if config.discord is None:
        checks.append(skip("discord: not configured"))
    else:
        checks.extend(await _discord(settings, config.discord))
    return checks


# ------------------------------------------------------------------ configuration


def _config(settings: Settings, checks: list[Check]) -> FileConfig | None:
    path = settings.config_path()
    try:
        config = load_file_config(path)
    except ConfigError as error:
        checks.append(fail(f"config: {error}", f"correct {path} (FOLKMOOT_CONFIG)"))
        return None
    where = str(path) if path is not None else "no file (FOLKMOOT_CONFIG unset), defaults"
    checks.append(ok(f"config: {where}, {len(config.communities)} communities"))
    return config


def _environment() -> list[Check]:
    """``FOLKMOOT_*`` variables no setting reads: a typo leaves a default in force."""
    known = {f"FOLKMOOT_{name.upper()}" for name in Settings.model_fields}
    found = []
    for name in sorted(os.environ):
        if not name.startswith("FOLKMOOT_") or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        if close:
            found.append(
                Check(
                    "warn",
                    f"environment: {name} is not a folkmoot setting (did you mean {close[0]}?)",
                    f"rename it {close[0]}",
                )
            )
    return found


# ------------------------------------------------------------------ database


async def _database(settings: Settings) -> list[Check]:
    url = settings.db_url()
    if is_sqlite(url):
        path = Path(url.split("///", 1)[1]) if "///" in url else None
        if path is not None and not path.exists():
            return [
                fail(f"database: no SQLite database at {path}", "run folkmoot migrate"),
                skip("migrations: no database"),
                skip("clock: no database"),
            ]
    try:
        engine = make_engine(url, synchronous=settings.sqlite_synchronous)
    except Exception as error:
        return [
            fail(f"database: {_first_line(error)}", "correct FOLKMOOT_DATABASE_URL"),
            skip("migrations: no database"),
            skip("clock: no database"),
        ]
    try:
        try:
            async with engine.connect() as conn:
                await _within(conn.execute(text("SELECT 1")))
        except Exception as error:
            return [
                fail(
                    f"database: unreachable ({_first_line(error)})",
                    "check FOLKMOOT_DATABASE_URL and that the database server is up",
                ),
                skip("migrations: database unreachable"),
                skip("clock: database unreachable"),
            ]
        checks = [ok(f"database: reachable ({engine.dialect.name})")]
        checks.append(await _migrations(engine))
        checks.append(await _clock(engine))
        return checks
    finally:
        await engine.dispose()


async def _migrations(engine: AsyncEngine) -> Check:
    at, newest = await current(engine), head()
    if at is None:
        return fail("migrations: the database has no schema yet", "run folkmoot migrate")
    if at == newest:
        return ok(f"migrations: at head ({newest})")
    try:
        known = ScriptDirectory.from_config(alembic_config()).get_revision(at) is not None
    except CommandError:
        known = False
    if not known:
        return fail(
            f"migrations: the database is at {at}, newer than this folkmoot knows (up to {newest})",
            "run the folkmoot version that wrote it (upgrade this one); never migrate down",
        )
    return fail(
        f"migrations: the database is at {at}, behind head {newest}", "run folkmoot migrate"
    )


async def _clock(engine: AsyncEngine) -> Check:
    async with engine.connect() as conn:
        before = datetime.now(UTC)
        if engine.dialect.name == "postgresql":
            value = await conn.scalar(select(func.clock_timestamp()))
        else:
            value = await conn.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
        after = datetime.now(UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    if not isinstance(value, datetime):
        return skip(f"clock: the database's clock reads {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = before + (after - before) / 2
    skew = (value - local).total_seconds()
    if abs(skew) > MAX_CLOCK_SKEW:
        side = "behind" if skew > 0 else "ahead of"
        return Check(
            "warn",
            f"clock: this host's clock is {abs(skew):.1f} s {side} the database's",
            "keep both clocks synchronised with NTP (e.g. timedatectl set-ntp true)",
        )
    return ok(f"clock: within {MAX_CLOCK_SKEW:g} s of the database's ({skew:+.2f} s)")


# ------------------------------------------------------------------ data directory


def _disk(data_dir: Path) -> Check:
    if not data_dir.is_dir():
        return fail(
            f"data directory: {data_dir} does not exist",
            "create it or set FOLKMOOT_DATA_DIR, then run folkmoot migrate",
        )
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return fail(
            f"data directory: {data_dir} is not writable",
            "give the user folkmoot runs as write access to it",
        )
    free = shutil.disk_usage(data_dir).free
    mib = free // (1024 * 1024)
    if free < MIN_FREE_BYTES:
        return fail(
            f"disk: {mib} MiB free in {data_dir} (needs {MIN_FREE_BYTES // (1024 * 1024)} MiB)",
            "free some space, or move FOLKMOOT_DATA_DIR to a larger disk",
        )
    return ok(f"disk: {mib} MiB free in {data_dir}")


# ------------------------------------------------------------------ Matrix


async def _matrix(settings: Settings, m: MatrixConfig) -> list[Check]:
    store = settings.data_dir / "matrix"
    checks = [_matrix_store(store, settings.data_dir)]
    try:
        password, token = settings.secret("matrix_password"), settings.secret("matrix_token")
    except ConfigError as error:
        return [*checks, fail(f"matrix login: {error}", "make the file readable")]
    session = _saved_session(store, m.user_id)
    if not (session or token or password):
        return [
            *checks,
            fail(
                "matrix login: no credentials",
                "set FOLKMOOT_MATRIX_PASSWORD or FOLKMOOT_MATRIX_TOKEN",
            ),
        ]
    try:
        checks.append(await _within(_matrix_login(m, session, token, password)))
    except Exception as error:
        checks.append(
            fail(
                f"matrix login: {m.homeserver} unreachable ({type(error).__name__})",
                "check [matrix] homeserver and this host's network",
            )
        )
    return checks


def _matrix_store(store: Path, data_dir: Path) -> Check:
    if store.is_dir():
        if os.access(store, os.W_OK | os.X_OK):
            return ok(f"matrix store: {store} is writable")
        return fail(
            f"matrix store: {store} is not writable",
            "give the user folkmoot runs as write access to it",
        )
    if store.exists():
        return fail(f"matrix store: {store} is not a directory", "move it away")
    if data_dir.is_dir() and os.access(data_dir, os.W_OK | os.X_OK):
        return ok(f"matrix store: {store} will be made on first start")
    return fail(f"matrix store: {store} cannot be made", "make the data directory writable")


def _saved_session(store: Path, user_id: str) -> tuple[str, str] | None:
    try:
        data = json.loads((store / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("user_id") != user_id:
        return None
    return str(data.get("device_id", "")), str(data.get("token", ""))


async def _matrix_login(
    m: MatrixConfig,
    session: tuple[str, str] | None,
    token: str | None,
    password: str | None,
) -> Check:
    from nio import (
        AsyncClient,
        AsyncClientConfig,
        JoinedRoomsResponse,
        LoginResponse,
        WhoamiResponse,
    )

    config = AsyncClientConfig(max_timeouts=1, request_timeout=TIMEOUT)
    client = AsyncClient(m.homeserver, m.user_id, config=config)
    try:
        how = None
        for name, candidate in (("the saved session", session and session[1]), ("token", token)):
            if not candidate:
                continue
            client.access_token = candidate
            who = await client.whoami()
            if isinstance(who, WhoamiResponse) and who.user_id == m.user_id:
                how = name
                break
        logged_in = False
        if how is None:
            if not password:
                return fail(
                    f"matrix login: the access token was refused for {m.user_id}",
                    "set a valid FOLKMOOT_MATRIX_TOKEN, or FOLKMOOT_MATRIX_PASSWORD",
                )
            response = await client.login(password=password, device_name="folkmoot doctor")
            if not isinstance(response, LoginResponse):
                message = getattr(response, "message", response)
                return fail(
                    f"matrix login: as {m.user_id} failed ({message})",
                    "check FOLKMOOT_MATRIX_PASSWORD and [matrix] user_id",
                )
            how, logged_in = "password", True
        rooms = await client.joined_rooms()
        joined = len(rooms.rooms) if isinstance(rooms, JoinedRoomsResponse) else "?"
        if logged_in:
            await client.logout()  # the doctor's device goes again
        return ok(f"matrix login: {m.user_id} by {how}, in {joined} rooms")
    finally:
        await client.close()


# ------------------------------------------------------------------ Discord


async def _discord(settings: Settings, d: DiscordConfig) -> list[Check]:
    try:
        token = settings.secret("discord_token")
    except ConfigError as error:
        return [fail(f"discord token: {error}", "make the file readable")]
    if not token:
        return [fail("discord token: not set", "set FOLKMOOT_DISCORD_TOKEN")]
    base = (d.api_base or discord.http.Route.BASE).rstrip("/")
    headers = {"Authorization": f"Bot {token}"}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            return await _discord_checks(http, base, d)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return [
            fail(
                f"discord token: {base} unreachable ({type(error).__name__})",
                "check this host's network (and [discord] api_base, if set)",
            )
        ]


async def _discord_checks(http: aiohttp.ClientSession, base: str, d: DiscordConfig) -> list[Check]:
    async with http.get(f"{base}/users/@me") as response:
        if response.status == 401:
            return [
                fail(
                    "discord token: refused (401 Unauthorized)",
                    "reset the token (Developer Portal, Bot, Reset Token) and set "
                    "FOLKMOOT_DISCORD_TOKEN to the new one",
                )
            ]
        if response.status != 200:
            return [
                fail(
                    f"discord token: /users/@me answered {response.status}",
                    "try again later; check https://discordstatus.com",
                )
            ]
        me = await response.json()
    checks = [ok(f"discord token: accepted, the bot is {me.get('username')} ({me.get('id')})")]
    for guild in d.guilds:
        async with http.get(f"{base}/guilds/{guild}/members/{me['id']}") as response:
            if response.status == 200:
                checks.append(ok(f"discord guild {guild}: the bot is a member"))
            else:
                checks.append(
                    fail(
                        f"discord guild {guild}: not visible to the bot ({response.status})",
                        "invite the bot with the OAuth2 URL (scopes bot and "
                        "applications.commands), or correct [discord] guilds",
                    )
                )
    checks.append(await _intent(http, base, d))
    return checks


async def _intent(http: aiohttp.ClientSession, base: str, d: DiscordConfig) -> Check:
    async with http.get(f"{base}/oauth2/applications/@me") as response:
        if response.status != 200:
            return skip(f"discord intents: the application's flags unreadable ({response.status})")
        flags = (await response.json()).get("flags")
    if not isinstance(flags, int):
        return skip("discord intents: the application's flags unreadable")
    enabled = bool(flags & MESSAGE_CONTENT_FLAGS)
    if d.message_content and not enabled:
        return fail(
            "discord intents: message_content = true but the Message Content Intent is off",
            "enable it (Developer Portal, Bot, Privileged Gateway Intents), or set "
            "[discord] message_content = false",
        )
    if d.message_content:
        return ok("discord intents: message content asked and enabled")
    state = "enabled but not asked" if enabled else "not asked"
    return ok(f"discord intents: message content {state} (slash commands only)")


# ------------------------------------------------------------------ helpers


async def _within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, TIMEOUT)


def _first_line(error: BaseException) -> str:
    reason = str(getattr(error, "orig", None) or error)
    return reason.splitlines()[0] if reason else type(error).__name__
