"""The config file: community defaults checked on load and applied to proposals; the
Discord shard keys checked on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.bootstrap import App, ensure_binding
from bot.config import CommunityConfig, ConfigError, DiscordConfig, Settings, load_file_config
from governance.domain.ids import CommunityId, RoomRef
from governance.service.clocks import SimulatedClock
from tests.chat import Chat, RecordingOutlet


@pytest.mark.parametrize("quorum", ["50%", "2/3", "12"])
def test_a_quorum_is_a_share_or_a_count(quorum: str) -> None:
    assert CommunityConfig(name="c", quorum=quorum).quorum == quorum


@pytest.mark.parametrize("quorum", ["abc", "0", "150%", "9" * 20])
def test_a_bad_quorum_is_refused_naming_it(quorum: str) -> None:
    with pytest.raises(ValidationError) as info:
        CommunityConfig(name="c", quorum=quorum)
    assert f"quorum={quorum[:30]}" in str(info.value)


def test_a_bad_longest_vote_is_refused_on_load() -> None:
    with pytest.raises(ValidationError) as info:
        CommunityConfig(name="c", max_vote="forever")
    assert "max_vote=forever is not a length" in str(info.value)


def test_the_built_in_prompts_are_off_unless_set() -> None:
    plain = CommunityConfig(name="c")
    assert (plain.welcome_prompt, plain.outcome_prompt_after) == (None, None)
    on = CommunityConfig(
        name="c", welcome_prompt="  What brought you here? ", outcome_prompt_after="3w"
    )
    assert (on.welcome_prompt, on.outcome_prompt_after) == ("What brought you here?", "3w")


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"welcome_prompt": ""}, "The welcome_prompt is empty."),
        ({"welcome_prompt": "x" * 301}, "The welcome_prompt is 301 characters; the limit is 300."),
        ({"welcome_prompt": "Why\u202e?"}, "bidirectional control character (U+202E)"),
        ({"outcome_prompt_after": "soon"}, "“soon” is not a delay for outcome prompts"),
        ({"outcome_prompt_after": "60w"}, "at most 52 weeks"),
    ],
)
def test_bad_built_in_prompt_settings_are_refused_on_load(
    settings: dict[str, str], error: str
) -> None:
    with pytest.raises(ValidationError) as info:
        CommunityConfig(name="c", **settings)  # type: ignore[arg-type]
    assert error in str(info.value)


@pytest.mark.parametrize(
    ("weights", "quorums", "error"),
    [
        (
            {"workers": 60, "users": 30},
            {},
            "Class weights must add up to 100%; these add up to 90%",
        ),
        ({"workers": 0, "users": 100}, {}, "weights=: workers:0 is not a weight"),
        ({}, {"users": "lots"}, "quorum of users=lots is not a share"),
    ],
)
def test_bad_class_weights_or_quorums_are_refused_on_load(
    weights: dict[str, int | str], quorums: dict[str, int | str], error: str
) -> None:
    with pytest.raises(ValidationError) as info:
        CommunityConfig(name="c", weights=weights, class_quorum=quorums)
    assert error in str(info.value)


async def test_configured_class_weights_apply_unless_a_proposal_sets_its_own(
    app: App, clock: SimulatedClock, outlet: RecordingOutlet
) -> None:
    room = RoomRef("test", "guild-room")
    await ensure_binding(app, room, CommunityId("guild"))
    chat = Chat(app, clock, outlet, room, CommunityId("guild"))
    await chat.join("ana", admin=True)
    for name, klass in [("ana", "workers"), ("ben", "users"), ("cy", "users")]:
        if name != "ana":
            await chat.join(name)
        await chat.ok("ana", f"!class {name} {klass}")
    # guild's longest vote is 14 days (max_vote), not the default 90.
    assert (await chat.fails("ana", "!propose Too long vote=15d")).splitlines()[0] == (
        "The end 2026-12-08 09:00 UTC is more than 14 days away, the longest this community "
        "lets a period run."
    )
    await chat.ok("ana", "!propose Weighted by default")
    await chat.ok("ana", "!propose Heads count weights=workers:50 users:50 class-quorum=users:2")
    await chat.ok("ana", "!propose Elect one method=stv options=X | Y | Z")
    for number in (1, 2):
        await chat.ok("ana", f"!vote {number} yes")
        await chat.ok("ben", f"!vote {number} no")
    await chat.ok("ben", "!vote 3 X")
    await chat.advance(days=7)
    closed = {text.splitlines()[0]: text.splitlines()[1] for text in outlet.texts()[-3:]}
    # workers 60 % × all yes; users 40 % × all no.
    assert closed["#1 Weighted by default — voting closed"] == (
        "Passed — 60% yes, 40% no by class weight."
    )
    # The proposal's own classes replace the defaults: its users quorum is 2 of 2.
    assert closed["#2 Heads count — voting closed"] == "No quorum — users: 1 of 2 voted, 2 needed."
    # STV takes no weights, but the configured users quorum (1) still applies: it is met.
    assert closed["#3 Elect one — voting closed"] == "Winner: X"


async def test_the_community_defaults_apply_to_its_proposals(
    app: App, clock: SimulatedClock, outlet: RecordingOutlet
) -> None:
    room = RoomRef("test", "coop-room")
    await ensure_binding(app, room, CommunityId("coop"))
    chat = Chat(app, clock, outlet, room, CommunityId("coop"))
    for name in ("ana", "ben", "cy"):
        await chat.join(name, admin=name == "ana")
    await chat.ok("ana", "!propose Use the Berlin defaults")
    await chat.ok("ana", "!vote 1 yes")
    # default_vote="3d" in Europe/Berlin; the quorum of 2 ballots is not reached.
    await chat.advance(days=3)
    assert chat.outlet.texts()[-1].splitlines()[:2] == [
        "#1 Use the Berlin defaults — voting closed",
        "No quorum — 1 of 3 voted.",
    ]
    assert "Quorum: 2 needed (2 ballots) — not reached." in chat.outlet.texts()[-1]
    assert chat.outlet.texts()[0].startswith(
        "#1 Use the Berlin defaults — voting open until 2026-11-26 10:00 CET"
    )


@pytest.mark.parametrize(
    ("shards", "error"),
    [
        ({"shard_count": 0}, "shard_count = 0: a bot runs at least 1 shard"),
        ({"shard_ids": [0]}, "shard_ids needs shard_count"),
        ({"shard_count": 2, "shard_ids": []}, "shard_ids = []: list this process's shards"),
        (
            {"shard_count": 2, "shard_ids": [2]},
            "shard_ids: 2 is not a shard of shard_count = 2 (they are 0 to 1)",
        ),
        ({"shard_count": 4, "shard_ids": [-1]}, "shard_ids: -1 is not a shard of shard_count"),
        ({"shard_count": 4, "shard_ids": [3, 1, 3]}, "shard_ids: 3 listed more than once"),
        ({"shard_count": True}, "shard_count\n  Input should be a valid integer"),
    ],
)
def test_bad_discord_shards_are_refused_naming_the_key(shards: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as info:
        DiscordConfig(**shards)
    assert error in str(info.value)


def test_discord_shards_are_optional_and_kept_in_order() -> None:
    assert DiscordConfig().shard_count is None and DiscordConfig().shard_ids is None
    assert DiscordConfig(shard_count=3).shard_ids is None  # one process runs all three
    # The set names this process's lease: [2, 0] and [0, 2] must be one set.
    assert DiscordConfig(shard_count=4, shard_ids=[2, 0]).shard_ids == [0, 2]


def test_a_shard_outside_the_count_stops_loading_the_file(tmp_path: Path) -> None:
    path = tmp_path / "folkmoot.toml"
    path.write_text("[discord]\nshard_count = 2\nshard_ids = [1, 2]\n")
    with pytest.raises(ConfigError) as info:
        load_file_config(path)
    assert f"config file {path}: 1 validation error for FileConfig\ndiscord\n" in str(info.value)
    assert "shard_ids: 2 is not a shard of shard_count = 2" in str(info.value)
    path.write_text("[discord]\nshard_count = 2\nshard_ids = [1]\n")
    discord = load_file_config(path).discord
    assert discord is not None and (discord.shard_count, discord.shard_ids) == (2, [1])


def test_the_database_url_can_come_from_a_file_and_its_password_is_redacted(
    tmp_path: Path,
) -> None:
    url_file = tmp_path / "database-url"
    url_file.write_text("postgresql://folkmoot:s3cret-pw@db.internal/folkmoot\n")
    settings = Settings(database_url_file=url_file)
    assert settings.db_url() == "postgresql://folkmoot:s3cret-pw@db.internal/folkmoot"
    assert "s3cret-pw" in settings.secret_values()  # so the logs replace it
    # The variable wins over the file, as for the tokens.
    assert Settings(database_url="sqlite:///x.db", database_url_file=url_file).db_url() == (
        "sqlite:///x.db"
    )
    with pytest.raises(ConfigError, match="FOLKMOOT_DATABASE_URL_FILE: cannot read"):
        Settings(database_url_file=tmp_path / "missing").db_url()
    (tmp_path / "blank").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        Settings(database_url_file=tmp_path / "blank").db_url()
