"""Slash commands registered with Discord only when they changed, by one process.

Every process that runs shards would otherwise overwrite the commands at each start
(Discord rate-limits that, and a process of an older release would put its own set
back). The process running shard 0 (all shards, unless they are split) compares the
set it has with the set Discord holds and overwrites it only when they differ.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

DISCORDS_DEFAULT = frozenset({"contexts", "integration_types"})
"""Left unset by us, filled in by Discord."""
IGNORED = frozenset({"dm_permission"})
"""Meaningless for a guild's commands (Discord may leave it out)."""


def _same(ours: object, theirs: object) -> bool:
    """Whether Discord's copy says what ours says: fields we leave unset, empty or
    false may come back filled with Discord's defaults; numbers may come back as text."""
    if isinstance(ours, Mapping):
        if not isinstance(theirs, Mapping):
            return not ours and not theirs
        return all(
            _same(value, theirs.get(key))
            for key, value in ours.items()
            if key not in IGNORED and not (value is None and key in DISCORDS_DEFAULT)
        )
    if isinstance(ours, list | tuple):
        theirs_list = list(theirs) if isinstance(theirs, list | tuple) else []
        return len(ours) == len(theirs_list) and all(
            _same(a, b) for a, b in zip(ours, theirs_list, strict=True)
        )
    if not ours:
        return not theirs
    if isinstance(ours, int) and not isinstance(ours, bool) and isinstance(theirs, str):
        return str(ours) == theirs
    return bool(ours == theirs)


def unchanged(ours: Sequence[Mapping[str, Any]], registered: Sequence[Mapping[str, Any]]) -> bool:
    """Whether `registered` (as Discord returns it) is our set of commands."""
    by_name = {str(c.get("name")): c for c in registered}
    return len(by_name) == len(ours) and all(
        str(c["name"]) in by_name and _same(c, by_name[str(c["name"])]) for c in ours
    )


async def sync_guild(
    client: discord.Client, tree: app_commands.CommandTree[Any], guild: int
) -> bool:
    """Register `tree`'s commands in `guild` unless Discord holds them already; True
    if they were registered now."""
    target = discord.Object(id=guild)
    tree.copy_global_to(guild=target)
    ours = [command.to_dict(tree) for command in tree.get_commands(guild=target)]
    assert client.application_id is not None  # known from login on
    registered = await client.http.get_guild_commands(client.application_id, guild)
    if unchanged(ours, registered):
        log.info("the slash commands of guild %d are up to date", guild)
        return False
    await tree.sync(guild=target)
    log.info("the slash commands of guild %d were registered again", guild)
    return True
