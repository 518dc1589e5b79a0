"""``folkmoot doctor``: is this installation ready to run?

One line per check: ``ok``, ``FAIL`` (with a fix), ``warn`` (with a fix; does not fail
the run) or ``skip`` (not configured, or an earlier check failed). The exit code is 1
when any check failed, else 0. Nothing is changed: no migration, no new file, and a
Matrix login by password is logged out again.

Each platform is checked against the rooms the database binds on it: on Matrix, that
the bot has joined each of them; on Discord, that each bound channel still exists and
that the bot holds there the permissions the adapter uses (computed from the guild's
roles, the bot's roles and the channel's overwrites, as Discord computes them)."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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
from bot.private import shared_paths
from governance.store import tables as t
from governance.store.engine import is_sqlite, make_engine
from governance.store.migrate import alembic_config, current, head

if TYPE_CHECKING:
    from nio import AsyncClient  # imported when Matrix is checked: it is slow to import

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


@dataclass(frozen=True)
class Bound:
    """The rooms the database binds, by platform, each with its community; or, in
    ``unread``, why they could not be read (then the room checks are skipped)."""

    rooms: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    unread: str | None = None

    def on(self, platform: str) -> Sequence[tuple[str, str]]:
        return self.rooms.get(platform, ())


async def diagnose(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    config = _config(settings, checks)
    checks.extend(_environment())
    database, bound = await _database(settings)
    checks.extend(database)
    checks.append(_disk(settings.data_dir))
    checks.append(_private(settings.data_dir))
    if config is None:
        checks.append(skip("matrix: the config file did not load"))
        checks.append(skip("discord: the config file did not load"))
        return checks
    if config.matrix is None:
        checks.append(skip("matrix: not configured"))
    else:
        checks.extend(await _matrix(settings, config.matrix, bound))
    if config.discord is None:
        checks.append(skip("discord: not configured"))
    else:
        checks.extend(await _discord(settings, config.discord, bound))
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
    n = len(config.communities)
    checks.append(ok(f"config: {where}, {n} {'community' if n == 1 else 'communities'}"))
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


async def _database(settings: Settings) -> tuple[list[Check], Bound]:
    url = settings.db_url()
    if is_sqlite(url):
        path = Path(url.split("///", 1)[1]) if "///" in url else None
        if path is not None and not path.exists():
            return [
                fail(f"database: no SQLite database at {path}", "run folkmoot migrate"),
                skip("migrations: no database"),
                skip("clock: no database"),
            ], Bound(unread="no database")
    try:
        engine = make_engine(url, synchronous=settings.sqlite_synchronous)
    except Exception as error:
        return [
            fail(f"database: {_first_line(error)}", "correct FOLKMOOT_DATABASE_URL"),
            skip("migrations: no database"),
            skip("clock: no database"),
        ], Bound(unread="no database")
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
            ], Bound(unread="the database is unreachable")
        checks = [ok(f"database: reachable ({engine.dialect.name})")]
        at = await current(engine)
        checks.append(_migrations(at))
        checks.append(await _clock(engine))
        return checks, await _bound(engine, at)
    finally:
        await engine.dispose()


async def _bound(engine: AsyncEngine, at: str | None) -> Bound:
    """Every binding, read only; any schema that has the table will do."""
    if at is None:
        return Bound(unread="the database has no schema yet")
    query = select(t.bindings.c.platform, t.bindings.c.room_id, t.bindings.c.community_id)
    try:
        async with engine.connect() as conn:
            rows = (await _within(conn.execute(query.order_by(t.bindings.c.room_id)))).all()
    except Exception as error:
        return Bound(unread=f"the bindings are unreadable ({_first_line(error)})")
    rooms: dict[str, list[tuple[str, str]]] = {}
    for platform, room_id, community in rows:
        rooms.setdefault(str(platform), []).append((str(room_id), str(community)))
    return Bound(rooms)


def _migrations(at: str | None) -> Check:
    newest = head()
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


def _private(data_dir: Path) -> Check:
    """Group or world access to the data directory or a file in it (keys, the
    database): a warning that names the paths, as `run` takes that access away."""
    if not data_dir.is_dir():
        return skip("privacy: no data directory")
    shared = shared_paths(data_dir)
    if not shared:
        return ok(f"privacy: {data_dir} and everything in it are the owner's alone")
    named = ", ".join(f"{path} ({stat.S_IMODE(path.lstat().st_mode):o})" for path in shared[:3])
    more = f" and {len(shared) - 3} more" if len(shared) > 3 else ""
    return Check(
        "warn",
        f"privacy: others may read {named}{more}",
        f"chmod -R go-rwx {data_dir} (folkmoot run, console and migrate do it at start)",
    )


# ------------------------------------------------------------------ Matrix


async def _matrix(settings: Settings, m: MatrixConfig, bound: Bound) -> list[Check]:
    store = settings.data_dir / "matrix"
    checks = [_matrix_store(store, settings.data_dir)]
    keys = _encryption_store(store, m.user_id)
    try:
        password, token = settings.secret("matrix_password"), settings.secret("matrix_token")
    except ConfigError as error:
        checks.append(fail(f"matrix login: {error}", "make the file readable"))
        return [*checks, *_matrix_offline(bound, keys, "no login")]
    session = _saved_session(store, m.user_id)
    if not (session or token or password):
        checks.append(
            fail(
                "matrix login: no credentials",
                "set FOLKMOOT_MATRIX_PASSWORD or FOLKMOOT_MATRIX_TOKEN",
            )
        )
        return [*checks, *_matrix_offline(bound, keys, "no login")]
    try:
        checks.extend(await _within(_matrix_online(m, session, token, password, bound, keys)))
    except Exception as error:
        checks.append(
            fail(
                f"matrix login: {m.homeserver} unreachable ({type(error).__name__})",
                "check [matrix] homeserver and this host's network",
            )
        )
        checks.extend(_matrix_offline(bound, keys, "the homeserver is unreachable"))
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


@dataclass(frozen=True)
class StoreKeys:
    """The identity keys the encryption store holds for the saved session's device."""

    session: Path
    device_id: str
    file: str
    ed25519: str
    shared: bool
    """nio's flag: the keys were published to the homeserver."""


ENCRYPTION = "matrix encryption store"


def _encryption_store(store: Path, user_id: str) -> Check | StoreKeys:
    """What the adapter would resume with: ``session.json`` names the account and its
    device, and nio keeps that device's keys in ``<user_id>_<device_id>.db`` beside it.
    Read only (the database is opened read-only; nothing is made)."""
    path = store / "session.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ok(f"{ENCRYPTION}: no saved session yet (the first start makes the device's keys)")
    except OSError as error:
        return fail(
            f"{ENCRYPTION}: {path} is unreadable ({error.strerror})",
            "give the user folkmoot runs as read access to it",
        )
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), str) and data[key] for key in ("user_id", "device_id", "token")
    ):
        return fail(
            f"{ENCRYPTION}: {path} is not a session folkmoot saved",
            "move it away; the next start logs in again, as a new device",
        )
    owner, device = data["user_id"], data["device_id"]
    if owner != user_id:
        return fail(
            f"{ENCRYPTION}: {store} holds the session and keys of {owner}, "
            f"not of [matrix] user_id {user_id}",
            f"if the bot's account is {owner}, set [matrix] user_id to it; otherwise move "
            f"{store} away (a start as {user_id} would replace {owner}'s session)",
        )
    db = store / f"{user_id}_{device}.db"
    new_device = (
        f"restore {db.name} from a backup of {store}, or move {path.name} away so that "
        "the next start logs in as a new device (messages encrypted for the old one stay "
        "unreadable to the bot)"
    )
    if not db.is_file():
        return fail(f"{ENCRYPTION}: no keys for device {device} ({db.name} is missing)", new_device)
    try:
        keys = _stored_keys(db, user_id, device)
    except Exception as error:
        return fail(f"{ENCRYPTION}: {db.name} is unreadable ({_first_line(error)})", new_device)
    if keys is None:
        return fail(f"{ENCRYPTION}: {db.name} holds no keys for device {device}", new_device)
    return keys


def _stored_keys(db: Path, user_id: str, device: str) -> StoreKeys | None:
    from nio import AsyncClientConfig
    from nio.crypto import OlmAccount

    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        row = conn.execute(
            "SELECT account, shared FROM accounts WHERE user_id = ? AND device_id = ?",
            (user_id, device),
        ).fetchone()
    if row is None:
        return None
    pickled, shared = row
    # The adapter keeps nio's default pickle key.
    account = OlmAccount.from_pickle(bytes(pickled), AsyncClientConfig().pickle_key, bool(shared))
    ed25519 = account.identity_keys["ed25519"]
    return StoreKeys(db.parent / "session.json", device, db.name, ed25519, bool(shared))


def _matrix_offline(bound: Bound, keys: Check | StoreKeys, why: str) -> list[Check]:
    rooms = bound.unread or ("no room is bound yet" if not bound.on("matrix") else why)
    encryption = (
        keys
        if isinstance(keys, Check)
        else skip(f"{ENCRYPTION}: device {keys.device_id}'s keys not compared ({why})")
    )
    return [skip(f"matrix rooms: not checked, {rooms}"), encryption]


async def _matrix_online(
    m: MatrixConfig,
    session: tuple[str, str] | None,
    token: str | None,
    password: str | None,
    bound: Bound,
    keys: Check | StoreKeys,
) -> list[Check]:
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
        if how is None:
            if not password:
                return [
                    fail(
                        f"matrix login: the access token was refused for {m.user_id}",
                        "set a valid FOLKMOOT_MATRIX_TOKEN, or FOLKMOOT_MATRIX_PASSWORD",
                    ),
                    *_matrix_offline(bound, keys, "no login"),
                ]
            response = await client.login(password=password, device_name="folkmoot doctor")
            if not isinstance(response, LoginResponse):
                message = getattr(response, "message", response)
                return [
                    fail(
                        f"matrix login: as {m.user_id} failed ({message})",
                        "check FOLKMOOT_MATRIX_PASSWORD and [matrix] user_id",
                    ),
                    *_matrix_offline(bound, keys, "no login"),
                ]
            how = "password"
        try:
            rooms = await client.joined_rooms()
            joined = set(rooms.rooms) if isinstance(rooms, JoinedRoomsResponse) else None
            count = "? rooms" if joined is None else _count(len(joined), "room")
            checks = [ok(f"matrix login: {m.user_id} by {how}, in {count}")]
            checks.extend(_matrix_rooms(m, bound, joined))
            checks.append(await _published_keys(client, m.user_id, keys, how))
        finally:
            if how == "password":
                await client.logout()  # the doctor's device goes again
        return checks
    finally:
        await client.close()


def _matrix_rooms(m: MatrixConfig, bound: Bound, joined: set[str] | None) -> list[Check]:
    """Each room bound on Matrix is one the bot has joined (else it hears nothing there,
    and what is announced to it is given up into !undelivered)."""
    if bound.unread:
        return [skip(f"matrix rooms: not checked, {bound.unread}")]
    rooms = bound.on("matrix")
    if not rooms:
        return [skip("matrix rooms: not checked, no room is bound yet")]
    if joined is None:
        return [skip("matrix rooms: not checked, the joined rooms are unreadable")]
    missing = [(room, community) for room, community in rooms if room not in joined]
    inside = len(rooms) - len(missing)
    checks = []
    if not missing:
        checks.append(ok(f"matrix rooms: the bot is in {_each(inside, 'bound room')}"))
    elif inside:
        checks.append(ok(f"matrix rooms: the bot is in {_count(inside, 'other bound room')}"))
    allowed = "" if m.invite_from else " (none is now: set [matrix] invite_from)"
    for room, community in missing:
        checks.append(
            fail(
                f"matrix room {room} (bound to {community}): the bot is not in it",
                f"invite {m.user_id} to it from an account [matrix] invite_from "
                f"allows{allowed}; if the room is given up, unbind it from another room "
                f"of {community}: !unbind matrix:{room} (on Discord, /unbind)",
            )
        )
    return checks


async def _published_keys(
    client: AsyncClient, user_id: str, keys: Check | StoreKeys, how: str
) -> Check:
    """The store's keys are the ones the homeserver gives out for the device: others
    encrypt for the bot with those, so a store that lost them cannot read what it is sent."""
    if isinstance(keys, Check):
        return keys
    device = keys.device_id
    if how != "the saved session":
        return skip(
            f"{ENCRYPTION}: device {device}'s keys not compared, its saved session was "
            "refused (the next start logs in again)"
        )
    response = await client.send(
        "POST",
        "/_matrix/client/v3/keys/query",
        json.dumps({"device_keys": {user_id: [device]}}),
        headers={
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "application/json",
        },
    )
    try:
        answer = await response.json(content_type=None)
    except ValueError:
        answer = None
    if response.status != 200 or not isinstance(answer, dict):
        return skip(f"{ENCRYPTION}: the homeserver's keys unreadable ({response.status})")
    published = (
        answer.get("device_keys", {}).get(user_id, {}).get(device, {}).get("keys", {})
    ).get(f"ed25519:{device}")
    new_device = (
        f"move {keys.session} away so that the next start logs in as a new device "
        "(messages encrypted for the old one stay unreadable to the bot)"
    )
    if published is None:
        if keys.shared:
            return fail(
                f"{ENCRYPTION}: the homeserver holds no keys for device {device}, "
                f"though {keys.file} says they were published",
                new_device,
            )
        return ok(f"{ENCRYPTION}: device {device}; the next start publishes its keys")
    if published != keys.ed25519:
        return fail(
            f"{ENCRYPTION}: the keys in {keys.file} are not those the homeserver holds "
            f"for device {device}",
            f"restore that device's store from a backup, or {new_device}",
        )
    return ok(f"{ENCRYPTION}: device {device}, its keys match the homeserver's")


# ------------------------------------------------------------------ Discord


async def _discord(settings: Settings, d: DiscordConfig, bound: Bound) -> list[Check]:
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
            return await _discord_checks(http, base, d, bound)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return [
            fail(
                f"discord token: {base} unreachable ({type(error).__name__})",
                "check this host's network (and [discord] api_base, if set)",
            )
        ]


async def _discord_checks(
    http: aiohttp.ClientSession, base: str, d: DiscordConfig, bound: Bound
) -> list[Check]:
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
    checks.extend(await _channels(http, base, d, str(me["id"]), bound))
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


NEEDED: tuple[tuple[str, str], ...] = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),  # announcements and cards; replies to ! commands
    ("embed_links", "Embed Links"),  # every announcement is an embed
    ("read_message_history", "Read Message History"),  # a card fetched to show its tally
    ("create_public_threads", "Create Public Threads"),  # deliberations, prompts
    ("send_messages_in_threads", "Send Messages in Threads"),
)
"""What the Discord adapter does in a bound channel, as permission flags (the names of
``discord.Permissions``) with the names Discord's settings show."""
NEEDED_FOR_TEXT_COMMANDS = (("add_reactions", "Add Reactions"),)
"""With ``message_content``: a typed ! command is acknowledged with a reaction."""
OVERWRITE_ROLE, OVERWRITE_MEMBER = 0, 1


def effective_permissions(
    *,
    guild_id: str,
    owner_id: str | None,
    roles: Mapping[str, int],
    member_id: str,
    member_roles: Sequence[str],
    overwrites: Sequence[Mapping[str, Any]],
) -> discord.Permissions:
    """A member's permissions in a channel, as Discord computes them: @everyone's and the
    member's roles' permissions together (everything for the owner or an administrator),
    then the channel's overwrites: @everyone's, the member's roles' (their denials, then
    their allowances, each taken together), and last the member's own. `roles` maps a
    role id (@everyone's is the guild's id) to its permissions."""
    if owner_id == member_id:
        return discord.Permissions.all()
    value = roles.get(guild_id, 0)
    for role in member_roles:
        value |= roles.get(role, 0)
    if discord.Permissions(value).administrator:
        return discord.Permissions.all()
    by_id = {(int(o["type"]), str(o["id"])): o for o in overwrites}

    def apply(value: int, allow: int, deny: int) -> int:
        return (value & ~deny) | allow

    everyone = by_id.get((OVERWRITE_ROLE, guild_id))
    if everyone is not None:
        value = apply(value, int(everyone["allow"]), int(everyone["deny"]))
    allow = deny = 0
    for role in member_roles:
        overwrite = by_id.get((OVERWRITE_ROLE, role))
        if overwrite is not None and role != guild_id:
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
    value = apply(value, allow, deny)
    own = by_id.get((OVERWRITE_MEMBER, member_id))
    if own is not None:
        value = apply(value, int(own["allow"]), int(own["deny"]))
    return discord.Permissions(value)


async def _channels(
    http: aiohttp.ClientSession, base: str, d: DiscordConfig, bot_id: str, bound: Bound
) -> list[Check]:
    """Each channel bound on Discord exists and grants the bot what the adapter uses."""
    if bound.unread:
        return [skip(f"discord channels: not checked, {bound.unread}")]
    channels = bound.on("discord")
    if not channels:
        return [skip("discord channels: not checked, no channel is bound yet")]
    needed = NEEDED + (NEEDED_FOR_TEXT_COMMANDS if d.message_content else ())
    guilds: dict[str, tuple[str | None, dict[str, int]] | Check] = {}
    members: dict[str, list[str] | Check] = {}
    failed: list[Check] = []
    for channel_id, community in channels:
        check = await _channel(http, base, bot_id, channel_id, community, needed, guilds, members)
        if check is not None:
            failed.append(check)
    good = len(channels) - len(failed)
    checks = []
    if good:
        where = _each(good, "bound channel") if not failed else _count(good, "other one")
        checks.append(ok(f"discord channels: the bot has what it needs in {where}"))
    return checks + failed


async def _channel(
    http: aiohttp.ClientSession,
    base: str,
    bot_id: str,
    channel_id: str,
    community: str,
    needed: Sequence[tuple[str, str]],
    guilds: dict[str, tuple[str | None, dict[str, int]] | Check],
    members: dict[str, list[str] | Check],
) -> Check | None:
    """None if the bot has every permission in `needed` there, else the failure."""
    what = f"discord channel {channel_id} (bound to {community})"
    async with http.get(f"{base}/channels/{channel_id}") as response:
        if response.status == 404:
            return fail(
                f"{what}: gone (404 Unknown Channel)",
                f"bind {community} in a channel that exists (/bind {community}), then "
                f"unbind this one from there: /unbind discord:{channel_id}",
            )
        if response.status == 403:
            return fail(
                f"{what}: the bot cannot see it (403 Missing Access)",
                "allow View Channel for the bot (or its role) in that channel's "
                "permissions, or add the bot to its server again",
            )
        if response.status != 200:
            return fail(f"{what}: unreadable ({response.status})", "try again later")
        channel = await response.json()
    name = f"discord channel #{channel.get('name')} ({channel_id}, bound to {community})"
    guild_id = str(channel.get("guild_id") or "")
    if not guild_id:
        return None  # a direct message channel: no roles or overwrites there
    guild = guilds.get(guild_id)
    if guild is None:
        guild = guilds[guild_id] = await _guild_roles(http, base, guild_id)
    member = members.get(guild_id)
    if member is None:
        member = members[guild_id] = await _bot_roles(http, base, guild_id, bot_id)
    for answer in (guild, member):
        if isinstance(answer, Check):
            return Check(answer.status, f"{name}: {answer.what}", answer.fix)
    assert not isinstance(guild, Check) and not isinstance(member, Check)
    owner_id, roles = guild
    granted = effective_permissions(
        guild_id=guild_id,
        owner_id=owner_id,
        roles=roles,
        member_id=bot_id,
        member_roles=member,
        overwrites=channel.get("permission_overwrites") or [],
    )
    missing = [label for flag, label in needed if not getattr(granted, flag)]
    if not missing:
        return None
    return fail(
        f"{name}: the bot lacks {', '.join(missing)}",
        f"allow {'it' if len(missing) == 1 else 'them'} for the bot's role, in the "
        f"server's roles or in #{channel.get('name')}'s permissions (Edit Channel, "
        "Permissions)",
    )


async def _guild_roles(
    http: aiohttp.ClientSession, base: str, guild_id: str
) -> tuple[str | None, dict[str, int]] | Check:
    async with http.get(f"{base}/guilds/{guild_id}") as response:
        if response.status != 200:
            return fail(
                f"its server {guild_id} is not visible to the bot ({response.status})",
                "invite the bot to that server with the OAuth2 URL",
            )
        guild = await response.json()
    roles = {str(role["id"]): int(role["permissions"]) for role in guild.get("roles", [])}
    owner = guild.get("owner_id")
    return (None if owner is None else str(owner)), roles


async def _bot_roles(
    http: aiohttp.ClientSession, base: str, guild_id: str, bot_id: str
) -> list[str] | Check:
    async with http.get(f"{base}/guilds/{guild_id}/members/{bot_id}") as response:
        if response.status != 200:
            return fail(
                f"the bot is not a member of its server {guild_id} ({response.status})",
                "invite the bot to that server with the OAuth2 URL",
            )
        member = await response.json()
    until = member.get("communication_disabled_until")
    if until and datetime.fromisoformat(until) > datetime.now(UTC):
        return fail(
            f"the bot is timed out in server {guild_id} until {until}",
            "remove the time-out (the bot's member menu, Remove Timeout)",
        )
    return [str(role) for role in member.get("roles", [])]


# ------------------------------------------------------------------ helpers


async def _within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, TIMEOUT)


def _each(n: int, thing: str) -> str:
    return f"the {thing}" if n == 1 else f"all {n} {thing}s"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _first_line(error: BaseException) -> str:
    reason = str(getattr(error, "orig", None) or error)
    return reason.splitlines()[0] if reason else type(error).__name__
