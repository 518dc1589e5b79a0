"""A neutral `Message` as a Discord message: an embed (title, description, tables as
code blocks), within Discord's limits, and never a ping: every send carries
``AllowedMentions.none()``, so ``@everyone`` or a mention in a title shows as text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import discord

from governance.text.messages import Block, Deadline, Message, Table
from governance.text.usage import USAGE

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
TALLY = "Live tally"
ENDED = "How it ended"
VOTE_LINE = "Vote:"
NO_PINGS = discord.AllowedMentions.none()
MESSAGE_LIMIT = 2000
_TEXT_COMMAND = re.compile(
    r"(?<![\w!/])!("
    + "|".join(sorted(map(re.escape, USAGE), key=len, reverse=True))
    + r")(?![\w-])"
)


_MANAGE_STORY = re.compile(r"(?<![\w!/])!story (edit|withdraw|share|hide)\b")
"""On Discord ``/story`` opens a form; a told story is managed with ``/story-manage``."""


def _slashed(text: str) -> str:
    return _TEXT_COMMAND.sub(r"/\1", _MANAGE_STORY.sub(r"/story-manage \1", text))


def slashed(message: Message) -> Message:
    """`message` naming slash commands (``/vote 1 yes``) where the core names text
    commands (``!vote 1 yes``): without the message-content intent, ``!`` commands
    do not work on Discord."""

    def block(b: Block) -> Block:
        if isinstance(b, Table):
            return Table(b.header, tuple(tuple(map(_slashed, row)) for row in b.rows))
        return _slashed(b)

    title = None if message.title is None else _slashed(message.title)
    return replace(message, title=title, blocks=tuple(map(block, message.blocks)))


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


def texts(message: Message, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The message as plain content in as many Discord messages as it takes (the
    command list is longer than one), split between lines where it can be."""
    parts: list[str] = []
    current = ""
    for line in message.plain().split("\n"):
        while len(line) > limit:  # a line longer than a message: split where it must
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current or not parts:
        parts.append(current)
    return parts


def nonce(key: str) -> str:
    """A Discord nonce (at most 25 characters) that is the same for every retry of a
    delivery, so a retried send posts once (discord.py sends ``enforce_nonce``)."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]
