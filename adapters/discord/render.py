"""A neutral `Message` as a Discord message: an embed (title, description, tables as
code blocks), within Discord's limits, and never a ping: every send carries
``AllowedMentions.none()``, so ``@everyone`` or a mention in a title shows as text."""

from __future__ import annotations

import hashlib

import discord

from governance.text.messages import Message, Table

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
NO_PINGS = discord.AllowedMentions.none()


def _block(block: str | Table) -> str:
    if isinstance(block, Table):
        return "```\n" + "\n".join(block.plain()).replace("```", "'''") + "\n```"
    return discord.utils.escape_markdown(block)


def embed(message: Message) -> discord.Embed:
    title = (message.title or "")[:TITLE_LIMIT] or None
    description = "\n".join(_block(b) for b in message.blocks)
    if len(description) > DESCRIPTION_LIMIT:
        description = description[: DESCRIPTION_LIMIT - 1] + "…"
    return discord.Embed(title=title, description=description or None)


def text(message: Message, limit: int = 2000) -> str:
    """The message as plain content (ephemeral replies, DMs)."""
    plain = message.plain()
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def nonce(key: str) -> str:
    """A Discord nonce (at most 25 characters) that is the same for every retry of a
    delivery, so a retried send posts once (discord.py sends ``enforce_nonce``)."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]
