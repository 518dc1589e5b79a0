"""The neutral message model: what the core says, before any platform dresses it.

Adapters turn a `Message` into Matrix HTML with a plain body, a Discord embed, or
console text (`plain`). User text inside a message is data, never markup: adapters
escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


def sentence(text: str) -> str:
    """End `text` with a full stop unless it already ends a sentence (``.”``, ``?`` …)."""
    return text if text.rstrip("”’\"')").endswith((".", "!", "?", "…")) else text + "."


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def plain(self) -> list[str]:
        widths = [
            max(len(r[i]) for r in (self.header, *self.rows)) for i in range(len(self.header))
        ]

        def line(row: tuple[str, ...]) -> str:
            return "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

        return [line(self.header), *(line(r) for r in self.rows)]


Block = str | Table


@dataclass(frozen=True, slots=True)
class Poll:
    """A vote a platform can also show as its own poll (Matrix polls): answering it is
    casting ``!vote <proposal> <ids of the chosen answers>``."""

    proposal: int
    question: str
    answers: tuple[tuple[str, str], ...]
    """(id, text) pairs; the id is the ballot word: ``yes``, or an option's letter."""
    max_selections: int


@dataclass(frozen=True, slots=True)
class BallotForm:
    """How to vote on an open proposal, for platforms that offer buttons, menus and
    forms (Discord): every way of filling it in ends as ``!vote <proposal> <ballot>``.

    Unlike a `Poll`, every open vote has one, secret or not: the ballot goes to the
    bot, never to the room."""

    proposal: int
    title: str
    shape: str
    """A `BallotShape` value: verdict, one option, option set, ranking, scores, dots."""
    answers: tuple[tuple[str, str], ...]
    """(ballot word, label): a verdict's words, or each option's letter and name."""
    reasons: tuple[str, ...] = ()
    """Verdict words that need a reason."""
    marks: tuple[int, int] = (0, 0)
    """Scores: the lowest and highest score; dots: 0 and the dots each voter has."""
    secret: bool = False


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment the message is about, for platforms that show times in each reader's
    own zone (Discord's ``<t:…:R>``); the text says it in the community's zone too."""

    label: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that goes with a reply (an export): uploaded where the platform can,
    written to a file on the console."""

    name: str
    data: bytes = field(repr=False)
    media_type: str


@dataclass(frozen=True, slots=True)
class Message:
    title: str | None
    blocks: tuple[Block, ...] = ()

    poll: Poll | None = None
    """Also offer the vote as a native poll, where the platform has them."""
    ends_poll: int | None = None
    """The proposal whose native polls (and vote buttons) this message ends: its
    result, its cancellation or withdrawal."""
    ballot: BallotForm | None = None
    """The card of an open vote: how to vote on it, where a platform has forms."""
    deadline: Deadline | None = None
    attachment: Attachment | None = None

    prompt: int | None = None
    """The prompt this message posts: a posting, which opens a thread for its stories
    (the console shows it as a section of its own)."""

    def plain(self) -> str:
        lines: list[str] = [] if self.title is None else [self.title]
        for block in self.blocks:
            lines.extend(block.plain() if isinstance(block, Table) else [block])
        return "\n".join(lines)


class Audience(StrEnum):
    HERE = "here"
    """Answered in place, visible to the room (questions, help, errors)."""
    QUIET = "quiet"
    """For the actor only: a reaction or an ephemeral message (vote receipts)."""
    PRIVATE = "private"
    """For the actor only, and its words must reach them (a link code): an ephemeral
    message, or a private message where the platform has no ephemeral ones; never the
    room, never a mere reaction."""


@dataclass(frozen=True, slots=True)
class Reply:
    message: Message
    audience: Audience = Audience.HERE
    ok: bool = True
    must_read: bool = False
    """A quiet reply its actor must be able to read (a secret ballot's receipt code):
    where a quiet success is only a reaction, it is also said to them privately."""

    @classmethod
    def text(
        cls,
        text: str,
        audience: Audience = Audience.HERE,
        *,
        ok: bool = True,
        must_read: bool = False,
    ) -> Reply:
        return cls(Message(None, (text,)), audience, ok, must_read)
