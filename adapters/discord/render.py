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
ENDED = "How it ended"
VOTE_LINE = "Vote:"
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


def final_card(card: discord.Embed, ending: Message) -> discord.Embed:
    """An open vote's card once it has ended (closed, cancelled, withdrawn): the
    ending's title, the card's words without how to vote, and the result in short (the
    ending's words before its first table); no countdown, no live tally."""
    kept = [line for line in (card.description or "").split("\n") if not line.startswith(VOTE_LINE)]
    final = discord.Embed(
        title=cut(ending.title or card.title or "", TITLE_LIMIT) or None,
        description="\n".join(kept) or None,
        colour=card.colour,
    )
    short: list[str] = []
    for block in ending.blocks:
        if isinstance(block, Table) or len(short) == 2:
            break
        short.append(_block(block))
    said = "\n".join(short) or _block(ending.title or "Ended.")
    final.add_field(name=ENDED, value=cut(said, FIELD_LIMIT), inline=False)
    return final


def is_final(card: discord.Embed) -> bool:
    """Whether `card` shows how its vote ended (no live tally goes on it any more)."""
    return any(f.name == ENDED for f in card.fields)


def text(message: Message, limit: int = 2000) -> str:
    """The message as plain content (ephemeral replies, DMs)."""
    plain = message.plain()
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def nonce(key: str) -> str:
    """A Discord nonce (at most 25 characters) that is the same for every retry of a
    delivery, so a retried send posts once (discord.py sends ``enforce_nonce``)."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]
