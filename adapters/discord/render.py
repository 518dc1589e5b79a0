"""A neutral `Message` as a Discord message: an embed (title, description, tables as
code blocks), within Discord's limits, and never a ping: every send carries
``AllowedMentions.none()``, so ``@everyone`` or a mention in a title shows as text."""

from __future__ import annotations

import hashlib

import discord

from governance.text.messages import Block, Deadline, Message, Table

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
TALLY = "Live tally"
NO_PINGS = discord.AllowedMentions.none()


def _block(block: str | Table) -> str:
    if isinstance(block, Table):
        return "```\n" + "\n".join(block.plain()).replace("```", "'''") + "\n```"
    return discord.utils.escape_markdown(block)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timestamp(deadline: Deadline) -> str:
    """Shown in each reader's own zone and language, and counting down."""
    at = int(deadline.at.timestamp())
    return f"<t:{at}:f> (<t:{at}:R>)"


def embed(message: Message) -> discord.Embed:
    title = (message.title or "")[:TITLE_LIMIT] or None
    description = "\n".join(_block(b) for b in message.blocks)
    card = discord.Embed(title=title, description=cut(description, DESCRIPTION_LIMIT) or None)
    if message.deadline is not None:
        card.add_field(name=message.deadline.label, value=timestamp(message.deadline))
    return card


def with_tally(card: discord.Embed, tally: tuple[Block, ...]) -> discord.Embed:
    """`card` with its live tally field set to `tally` (or removed, if empty)."""
    card = card.copy()
    for index, existing in reversed(list(enumerate(card.fields))):
        if existing.name == TALLY:
            card.remove_field(index)
    if tally:
        value = cut("\n".join(_block(b) for b in tally), FIELD_LIMIT)
        card.add_field(name=TALLY, value=value, inline=False)
    return card


def text(message: Message, limit: int = 2000) -> str:
    """The message as plain content (ephemeral replies, DMs)."""
    plain = message.plain()
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def nonce(key: str) -> str:
    """A Discord nonce (at most 25 characters) that is the same for every retry of a
    delivery, so a retried send posts once (discord.py sends ``enforce_nonce``)."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]
