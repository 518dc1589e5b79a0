"""Which folkmoot room a Discord interaction or message belongs to: its channel, or
for a thread (a deliberation's, a prompt's) the channel the thread hangs under."""

from __future__ import annotations

import discord


def room_of(channel: object, channel_id: int | None) -> str:
    if isinstance(channel, discord.Thread) and channel.parent_id is not None:
        return str(channel.parent_id)
    return str(channel_id or 0)


def interaction_room(interaction: discord.Interaction) -> str:
    return room_of(interaction.channel, interaction.channel_id)
