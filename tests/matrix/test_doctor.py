"""`folkmoot doctor`'s Matrix checks against a real Synapse: the login (saved session,
token, password), the bound rooms the bot is in, and the encryption store.

Where the bot has run, it ran for real (`bound_room`: started, invited, `!bind coop`),
then stopped; the doctor then reads what that run left in its data directory."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import nio

from bot.config import Settings
from bot.doctor import Check, diagnose
from tests.cli.test_cli import folkmoot
from tests.cli.test_doctor import bind
from tests.matrix.conftest import MakeMember
from tests.matrix.deployment import Bot, MakeBot, bound_room
from tests.matrix.homeserver import Synapse, register


def _config(tmp_path: Path, synapse: Synapse, user_id: str) -> Path:
    path = tmp_path / "folkmoot.toml"
    path.write_text(
        "[matrix]\n"
        f'homeserver = "{synapse.url}"\n'
        f'user_id = "{user_id}"\n'
        f'invite_from = [":{synapse.server_name}"]\n'
    )
    return path


async def _matrix_checks(
    tmp_path: Path,
    synapse: Synapse,
    user_id: str,
    *,
    data: Path,
    database_url: str | None = None,
    password: str | None = None,
    token: str | None = None,
) -> list[Check]:
    settings = Settings(
        data_dir=data,
        database_url=database_url,
        config=_config(tmp_path, synapse, user_id),
        matrix_password=password,  # type: ignore[arg-type]
        matrix_token=token,  # type: ignore[arg-type]
    )
    return [c for c in await diagnose(settings) if c.what.startswith("matrix")]


def _line(checks: list[Check], start: str) -> Check:
    [check] = [c for c in checks if c.what.startswith(start)]
    return check


def _device(bot: Bot) -> str:
    session = json.loads((bot.data / "matrix" / "session.json").read_text(encoding="utf-8"))
    return str(session["device_id"])


async def _login(synapse: Synapse, user_id: str, password: str) -> nio.AsyncClient:
    client = nio.AsyncClient(synapse.url, user_id)
    response = await client.login(password, device_name="test")
    assert isinstance(response, nio.LoginResponse), response
    return client


async def _devices(client: nio.AsyncClient) -> set[str]:
    response = await client.devices()
    assert isinstance(response, nio.DevicesResponse), response
    return {device.id for device in response.devices}


async def test_a_bot_that_ran_resumes_its_session_in_its_bound_room_with_its_keys(
    members: MakeMember, bot: MakeBot, tmp_path: Path
) -> None:
    folkmoot, _, _ = await bound_room(members, bot, "alice")
    await folkmoot.stop()
    checks = await _matrix_checks(tmp_path, folkmoot.synapse, folkmoot.user_id, data=folkmoot.data)
    assert [c.status for c in checks] == ["ok"] * 4, checks
    login = _line(checks, "matrix login")
    assert login.what == f"matrix login: {folkmoot.user_id} by the saved session, in 1 room"
    assert _line(checks, "matrix rooms").what == "matrix rooms: the bot is in the bound room"
    assert _line(checks, "matrix encryption store").what == (
        f"matrix encryption store: device {_device(folkmoot)}, its keys match the homeserver's"
    )


async def test_login_by_token_counts_the_rooms_joined(
    members: MakeMember, bot: MakeBot, synapse: Synapse, tmp_path: Path
) -> None:
    folkmoot, _, _ = await bound_room(members, bot, "alice")
    await folkmoot.stop()
    client = await _login(synapse, folkmoot.user_id, folkmoot.password)
    try:
        # A data directory of its own (no saved session), the bot's database.
        checks = await _matrix_checks(
            tmp_path,
            synapse,
            folkmoot.user_id,
            data=tmp_path / "elsewhere",
            database_url=folkmoot.db_url,
            token=client.access_token,
        )
    finally:
        await client.logout()
        await client.close()
    assert _line(checks, "matrix login") == Check(
        "ok", f"matrix login: {folkmoot.user_id} by token, in 1 room"
    )
    assert _line(checks, "matrix rooms").status == "ok"
    assert _line(checks, "matrix encryption store").what == (
        "matrix encryption store: no saved session yet (the first start makes the device's keys)"
    )


async def test_a_wrong_password_fails_with_a_fix_and_exit_code_1(
    synapse: Synapse, tmp_path: Path
) -> None:
    user_id, _ = register(synapse, f"{secrets.token_hex(3)}-folkmoot")
    data = tmp_path / "data"
    data.mkdir()
    await bind(data)  # a migrated database: only Matrix fails
    env = {
        "FOLKMOOT_DATA_DIR": str(data),
        "FOLKMOOT_DATABASE_URL": "",
        "FOLKMOOT_CONFIG": str(_config(tmp_path, synapse, user_id)),
        "FOLKMOOT_MATRIX_PASSWORD": "not-the-password",
    }
    code, out, err = await folkmoot("doctor", env=env, cwd=tmp_path)
    assert code == 1, out + err
    [failed] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert failed.startswith(f"FAIL  matrix login: as {user_id} failed (")
    assert "-- fix: check FOLKMOOT_MATRIX_PASSWORD and [matrix] user_id" in failed
    assert "1 failed" in out


async def test_a_password_login_leaves_no_device_behind(synapse: Synapse, tmp_path: Path) -> None:
    user_id, password = register(synapse, f"{secrets.token_hex(3)}-folkmoot")
    watcher = await _login(synapse, user_id, password)
    try:
        before = await _devices(watcher)
        checks = await _matrix_checks(
            tmp_path, synapse, user_id, data=tmp_path / "data", password=password
        )
        after = await _devices(watcher)
    finally:
        await watcher.logout()
        await watcher.close()
    assert _line(checks, "matrix login") == Check(
        "ok", f"matrix login: {user_id} by password, in 0 rooms"
    )
    assert after == before


async def test_a_bound_room_the_bot_was_removed_from_fails_naming_it(
    members: MakeMember, bot: MakeBot, tmp_path: Path
) -> None:
    folkmoot, room, [alice] = await bound_room(members, bot, "alice")
    await folkmoot.stop()
    kicked = await alice.client.room_kick(room, folkmoot.user_id, reason="tidying up")
    assert isinstance(kicked, nio.RoomKickResponse), kicked
    checks = await _matrix_checks(tmp_path, folkmoot.synapse, folkmoot.user_id, data=folkmoot.data)
    failed = _line(checks, "matrix room ")
    assert failed.status == "FAIL"
    assert failed.what == f"matrix room {room} (bound to coop): the bot is not in it"
    assert failed.fix is not None and failed.fix.startswith(f"invite {folkmoot.user_id} to it")
    assert failed.fix.endswith(
        f"if the room is given up, unbind it from another room of coop: !unbind matrix:{room} "
        "(on Discord, /unbind)"
    )
    assert "in 0 rooms" in _line(checks, "matrix login").what


async def test_a_store_holding_another_accounts_session_fails(
    members: MakeMember, bot: MakeBot, synapse: Synapse, tmp_path: Path
) -> None:
    folkmoot, _, _ = await bound_room(members, bot, "alice")
    await folkmoot.stop()
    # The config now names another account, the data directory still holds the first's.
    other, password = register(synapse, f"{secrets.token_hex(3)}-other")
    checks = await _matrix_checks(tmp_path, synapse, other, data=folkmoot.data, password=password)
    assert _line(checks, "matrix login").status == "ok"
    store = _line(checks, "matrix encryption store")
    assert store.status == "FAIL"
    assert store.what == (
        f"matrix encryption store: {folkmoot.data / 'matrix'} holds the session and keys of "
        f"{folkmoot.user_id}, not of [matrix] user_id {other}"
    )
    assert store.fix is not None and "set [matrix] user_id to it" in store.fix


async def test_a_store_that_lost_its_devices_keys_fails(
    members: MakeMember, bot: MakeBot, tmp_path: Path
) -> None:
    folkmoot, _, _ = await bound_room(members, bot, "alice")
    await folkmoot.stop()
    device = _device(folkmoot)
    (folkmoot.data / "matrix" / f"{folkmoot.user_id}_{device}.db").unlink()
    checks = await _matrix_checks(tmp_path, folkmoot.synapse, folkmoot.user_id, data=folkmoot.data)
    store = _line(checks, "matrix encryption store")
    assert store.status == "FAIL"
    assert store.what.startswith(f"matrix encryption store: no keys for device {device} (")
    assert store.fix is not None and "logs in as a new device" in store.fix
    assert _line(checks, "matrix login").status == "ok"  # the session itself still works
