"""`folkmoot doctor`: one line per check, a fix for each failure, exit 1 on any.

The healthy and broken SQLite setups run the real command in a process of its own;
the Discord checks run in this process against the loopback fake (its fixture points
discord.py's REST base at it). The Matrix checks need a homeserver: they are in
tests/matrix/test_doctor.py, against Synapse."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest
from sqlalchemy import text

from bot.bootstrap import bootstrap, ensure_binding
from bot.config import CommunityConfig, Settings
from bot.doctor import Check, diagnose
from governance.domain.ids import CommunityId, RoomRef
from governance.service.clocks import SystemClock
from governance.store.engine import make_engine
from governance.store.migrate import head, upgrade
from tests.cli.test_cli import folkmoot
from tests.discord.conftest import discord_fake
from tests.discord.fake import FakeChannel, FakeDiscord, FakeRole

__all__ = ["discord_fake"]  # the fixture, used by name below


def _env(data_dir: Path, config: Path | None = None) -> dict[str, str]:
    env = {"FOLKMOOT_DATA_DIR": str(data_dir), "FOLKMOOT_DATABASE_URL": ""}
    if config is not None:
        env["FOLKMOOT_CONFIG"] = str(config)
    return env


def _made(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


async def _migrated(data_dir: Path, revision: str = "head") -> str:
    _made(data_dir)
    url = f"sqlite:///{data_dir / 'folkmoot.db'}"
    engine = make_engine(url)
    try:
        await upgrade(engine, revision)
    finally:
        await engine.dispose()
    return url


def _lines(out: str, status: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(status)]


async def test_a_healthy_sqlite_setup_is_all_ok(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, _, err = await folkmoot("migrate", env=_env(data), cwd=tmp_path)
    assert code == 0, err
    code, out, err = await folkmoot("doctor", env=_env(data), cwd=tmp_path)
    assert code == 0, out + err
    assert not _lines(out, "FAIL") and not _lines(out, "warn")
    for what in ("config:", "database:", "migrations: at head", "clock:", "disk:"):
        assert any(what in line for line in _lines(out, "ok")), (what, out)
    assert "skip  matrix: not configured" in out and "skip  discord: not configured" in out


async def test_no_database_yet_says_to_migrate(tmp_path: Path) -> None:
    data = _made(tmp_path / "data")
    code, out, _ = await folkmoot("doctor", env=_env(data), cwd=tmp_path)
    assert code == 1
    assert "FAIL  database: no SQLite database" in out and "fix: run folkmoot migrate" in out
    assert not (data / "folkmoot.db").exists()  # the doctor made nothing


async def test_an_unknown_config_key_is_named_with_the_closest_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await _migrated(data)
    config = tmp_path / "folkmoot.toml"
    config.write_text('[[communities]]\nname = "demo"\ntimezon = "UTC"\n[discord]\nguild = [1]\n')
    code, out, err = await folkmoot("doctor", env=_env(data, config), cwd=tmp_path)
    assert code == 1 and "Traceback" not in err
    [line] = _lines(out, "FAIL")
    assert "unknown key communities[0].timezon (did you mean timezone?)" in line
    assert "unknown key discord.guild (did you mean guilds?)" in line
    assert "fix: correct" in line
    # The database checks still run; the platforms wait for a config that loads.
    assert "ok    migrations: at head" in out
    assert "skip  discord: the config file did not load" in out


async def test_other_commands_name_the_unknown_key_too(tmp_path: Path) -> None:
    config = tmp_path / "folkmoot.toml"
    config.write_text('[log]\nlevle = "debug"\n')
    code, _, err = await folkmoot("migrate", env=_env(tmp_path, config), cwd=tmp_path)
    assert code == 2 and "unknown key log.levle (did you mean level?)" in err


async def test_a_database_behind_head_says_to_migrate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await _migrated(data, "0005")
    code, out, _ = await folkmoot("doctor", env=_env(data), cwd=tmp_path)
    assert code == 1
    [line] = _lines(out, "FAIL")
    assert f"at 0005, behind head {head()}" in line and "fix: run folkmoot migrate" in line


async def test_a_database_from_a_newer_folkmoot_is_refused_never_migrated_down(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    url = await _migrated(data)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()
    code, out, _ = await folkmoot("doctor", env=_env(data), cwd=tmp_path)
    assert code == 1
    [line] = _lines(out, "FAIL")
    assert "at 9999, newer than this folkmoot knows" in line
    assert "never migrate down" in line and "folkmoot migrate" not in line
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT version_num FROM alembic_version")) == "9999"
    finally:
        await engine.dispose()


async def bind(data: Path, *rooms: RoomRef) -> None:
    """The rooms bound to community coop in the data directory's database (migrated)."""
    engine = make_engine(f"sqlite:///{data / 'folkmoot.db'}")
    app = await bootstrap(
        engine=engine, clock=SystemClock(), outlets={}, communities=[CommunityConfig(name="coop")]
    )
    try:
        for room in rooms:
            await ensure_binding(app, room, CommunityId("coop"))
    finally:
        await app.close()


async def _discord_checks(
    tmp_path: Path, token: str, guilds: list[int], bound: tuple[FakeChannel, ...] = ()
) -> list[Check]:
    data = tmp_path / "data"
    await _migrated(data)
    await bind(data, *(RoomRef("discord", str(channel.id)) for channel in bound))
    config = tmp_path / "folkmoot.toml"
    config.write_text(f"[discord]\nguilds = {guilds}\n")
    settings = Settings(data_dir=data, config=config, database_url=None, discord_token=token)
    checks = await diagnose(settings)
    return [c for c in checks if c.what.startswith("discord")]


async def test_discord_with_a_good_token_is_ok(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    checks = await _discord_checks(tmp_path, discord_fake.token, [discord_fake.guild.id])
    assert [c.status for c in checks] == ["ok", "ok", "ok", "skip"], checks
    assert "accepted" in checks[0].what
    assert f"guild {discord_fake.guild.id}: the bot is a member" in checks[1].what
    assert "message content not asked" in checks[2].what
    assert checks[3].what == "discord channels: not checked, no channel is bound yet"


async def test_discord_with_a_bad_token_fails_with_a_fix(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    [check] = await _discord_checks(tmp_path, "not-the-token", [discord_fake.guild.id])
    assert check.status == "FAIL" and "refused" in check.what
    assert check.fix is not None and "FOLKMOOT_DISCORD_TOKEN" in check.fix


async def test_discord_a_guild_the_bot_is_not_in_fails_with_a_fix(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    checks = await _discord_checks(tmp_path, discord_fake.token, [discord_fake.guild.id, 42])
    assert [c.status for c in checks] == ["ok", "ok", "FAIL", "ok", "skip"], checks
    assert "guild 42: not visible" in checks[2].what
    assert checks[2].fix is not None and "invite the bot" in checks[2].fix


async def test_discord_message_content_asked_but_off_in_the_portal_fails(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    await _migrated(data)
    config = tmp_path / "folkmoot.toml"
    config.write_text("[discord]\nmessage_content = true\n")
    settings = Settings(
        data_dir=data, config=config, database_url=None, discord_token=discord_fake.token
    )
    checks = await diagnose(settings)
    [intent] = [c for c in checks if c.what.startswith("discord intents")]
    assert intent.status == "FAIL" and intent.fix is not None
    assert "Privileged Gateway Intents" in intent.fix


# What a bot invited with folkmoot's permissions holds: its own (managed) role with them.
INVITED = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
    add_reactions=True,
)


def _invited(fake: FakeDiscord) -> FakeRole:
    """The bot's own role, holding `INVITED`, as an invite with permissions gives it."""
    role = fake.add_role("folkmoot", permissions=INVITED.value)
    fake.set_roles(fake.bot, [role])
    return role


def _channel_lines(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.what.startswith(("discord channel ", "discord channels"))]


async def test_discord_a_bound_channel_granting_what_the_bot_needs_is_ok(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    role = _invited(discord_fake)
    general, governance = discord_fake.channel("general"), discord_fake.channel("governance")
    # A role's allowance in the channel outweighs @everyone's denial there.
    discord_fake.overwrite(governance, discord_fake.guild.everyone, deny=INVITED.value)
    discord_fake.overwrite(governance, role, allow=INVITED.value)
    checks = await _discord_checks(
        tmp_path, discord_fake.token, [discord_fake.guild.id], (general, governance)
    )
    assert _channel_lines(checks) == [
        Check("ok", "discord channels: the bot has what it needs in all 2 bound channels")
    ]


async def test_discord_an_overwrite_denying_send_messages_to_the_bots_role_fails_naming_it(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    role = _invited(discord_fake)
    general, governance = discord_fake.channel("general"), discord_fake.channel("governance")
    deny = discord.Permissions(send_messages=True, embed_links=True)
    discord_fake.overwrite(governance, role, deny=deny.value)
    checks = await _discord_checks(
        tmp_path, discord_fake.token, [discord_fake.guild.id], (general, governance)
    )
    summary, failed = _channel_lines(checks)
    assert summary == Check("ok", "discord channels: the bot has what it needs in 1 other one")
    assert failed.status == "FAIL"
    assert failed.what == (
        f"discord channel #governance ({governance.id}, bound to coop): "
        "the bot lacks Send Messages, Embed Links"
    )
    assert failed.fix is not None and "#governance's permissions" in failed.fix


async def test_discord_a_member_overwrite_for_the_bot_outweighs_its_roles(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    role = _invited(discord_fake)
    governance = discord_fake.channel("governance")
    history = discord.Permissions(read_message_history=True).value
    discord_fake.overwrite(governance, role, deny=INVITED.value)
    discord_fake.overwrite(governance, discord_fake.bot, allow=INVITED.value & ~history)
    checks = await _discord_checks(
        tmp_path, discord_fake.token, [discord_fake.guild.id], (governance,)
    )
    [failed] = _channel_lines(checks)
    assert failed.status == "FAIL" and failed.what.endswith("the bot lacks Read Message History")


async def test_discord_an_administrator_role_is_ok_despite_a_denial(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    role = discord_fake.add_role("admin", permissions=discord.Permissions(administrator=True).value)
    discord_fake.set_roles(discord_fake.bot, [role])
    governance = discord_fake.channel("governance")
    everything = discord.Permissions.all().value
    discord_fake.overwrite(governance, discord_fake.guild.everyone, deny=everything)
    discord_fake.overwrite(governance, role, deny=everything)
    discord_fake.overwrite(governance, discord_fake.bot, deny=everything)
    checks = await _discord_checks(
        tmp_path, discord_fake.token, [discord_fake.guild.id], (governance,)
    )
    assert _channel_lines(checks) == [
        Check("ok", "discord channels: the bot has what it needs in the bound channel")
    ]


async def test_discord_a_deleted_bound_channel_fails_saying_it_is_gone(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _invited(discord_fake)
    governance = discord_fake.channel("governance")
    await discord_fake.delete_channel(governance)
    checks = await _discord_checks(
        tmp_path, discord_fake.token, [discord_fake.guild.id], (governance,)
    )
    [failed] = _channel_lines(checks)
    assert failed.status == "FAIL"
    assert (
        failed.what
        == f"discord channel {governance.id} (bound to coop): gone (404 Unknown Channel)"
    )
    assert failed.fix == (
        "bind coop in a channel that exists (/bind coop), then unbind this one from "
        f"there: /unbind discord:{governance.id}"
    )


async def test_discord_reactions_are_needed_only_for_typed_commands(
    discord_fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    role = _invited(discord_fake)
    governance = discord_fake.channel("governance")
    discord_fake.overwrite(governance, role, deny=discord.Permissions(add_reactions=True).value)
    checks = await _discord_checks(
        tmp_path, discord_fake.token, [discord_fake.guild.id], (governance,)
    )
    assert [c.status for c in _channel_lines(checks)] == ["ok"]
    config = tmp_path / "folkmoot.toml"
    config.write_text("[discord]\nmessage_content = true\n")
    settings = Settings(
        data_dir=tmp_path / "data",
        config=config,
        database_url=None,
        discord_token=discord_fake.token,
    )
    [failed] = _channel_lines(await diagnose(settings))
    assert failed.status == "FAIL" and failed.what.endswith("the bot lacks Add Reactions")
