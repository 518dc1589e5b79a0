"""A vote's card, and how the bot edits it (``m.replace``) later, after a restart too.

The card's own parts (title, blocks, poll) travel in its event under `KEY`, beside the
rendered body, so the bot reads them back from the homeserver to edit it: while the
vote is open and its results are live, the provisional tally goes under it (and into its
poll's question); at close its title and vote line give way to the result, so the room
shows a closed vote as closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.matrix import polls
from governance.text.messages import Block, Message, Poll, Table
from governance.text.render import vote_line

KEY = "org.folkmoot.card"
KIND = "m.room.message"
"""A card's row in the ``platform_polls`` table, beside its poll's (kind: event type)."""


@dataclass(frozen=True, slots=True)
class Card:
    proposal: int
    title: str | None
    blocks: tuple[Block, ...]
    """As the core wrote them (without the poll's note)."""
    poll: Poll | None

    def message(self, *more: Block) -> Message:
        """The card as posted (with its poll's note), `more` under it."""
        note = () if self.poll is None else (polls.note(self.poll),)
        return Message(self.title, (*self.blocks, *note, *more))


def card(message: Message, proposal: int) -> Card:
    return Card(proposal, message.title, message.blocks, message.poll)


def _block(block: Block) -> Any:
    if isinstance(block, Table):
        return {"header": list(block.header), "rows": [list(row) for row in block.rows]}
    return block


def stored(card: Card) -> dict[str, Any]:
    """`card` as the value of `KEY` in its event."""
    poll = card.poll
    return {
        "proposal": card.proposal,
        "title": card.title,
        "blocks": [_block(b) for b in card.blocks],
        "poll": None
        if poll is None
        else {
            "question": poll.question,
            "answers": [list(answer) for answer in poll.answers],
            "max_selections": poll.max_selections,
        },
    }


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _read_block(value: Any) -> Block | None:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("rows"), list):
        return None
    header = _strings(value.get("header"))
    rows = [_strings(row) for row in value["rows"]]
    if header is None or any(row is None for row in rows):
        return None
    return Table(header, tuple(row for row in rows if row is not None))


def _read_poll(value: Any, proposal: int) -> Poll | None:
    if not isinstance(value, dict) or not isinstance(value.get("question"), str):
        return None
    answers = value.get("answers")
    most = value.get("max_selections")
    if not isinstance(answers, list) or not isinstance(most, int):
        return None
    pairs = [_strings(a) for a in answers]
    if any(p is None or len(p) != 2 for p in pairs):
        return None
    return Poll(proposal, value["question"], tuple((p[0], p[1]) for p in pairs if p), most)


def read(content: dict[str, Any]) -> Card | None:
    """The card kept in an event's content; None if it holds none (or a damaged one)."""
    value = content.get(KEY)
    if not isinstance(value, dict):
        return None
    proposal, title, raw = value.get("proposal"), value.get("title"), value.get("blocks")
    if not isinstance(proposal, int) or not (title is None or isinstance(title, str)):
        return None
    if not isinstance(raw, list):
        return None
    blocks = [_read_block(b) for b in raw]
    if any(b is None for b in blocks):
        return None
    poll = None if value.get("poll") is None else _read_poll(value["poll"], proposal)
    return Card(proposal, title, tuple(b for b in blocks if b is not None), poll)


def summary(result: Message) -> str:
    """The result's first line (the reason of an early close left out)."""
    for block in result.blocks:
        if isinstance(block, str) and not block.startswith("Reason:"):
            return block
    return result.title or ""


def closed(card: Card, result: Message) -> Message:
    """The card once voting is over: the result's title, the card's lines without the
    way to vote, then the result."""
    vote = vote_line(card.proposal, "")
    kept = tuple(b for b in card.blocks if not (isinstance(b, str) and b.startswith(vote)))
    return Message(result.title, (*kept, *result.blocks))


def live_question(poll: Poll, tally: tuple[Block, ...]) -> str:
    """The poll's question with the official tally so far (text votes included)."""
    first = next((b for b in tally if isinstance(b, str)), None)
    return poll.question if first is None else f"{poll.question} — {first}"


def closed_question(poll: Poll, result: Message) -> str:
    return f"{poll.question} — closed: {summary(result)}"
