"""Matrix polls (MSC3381), in the stable and the unstable (Element's) event types.

A poll start carries the proposal's answers with the ballot words as their ids
(``yes``, or an option's letter), so a response is read back as ``!vote <n> <ids>``;
a response with no answer takes the ballot back. The poll is a shortcut: the card
says the bot's own tally is the official one.
"""

from __future__ import annotations

from typing import Any

from governance.text.messages import Poll

START = "m.poll.start"
UNSTABLE_START = "org.matrix.msc3381.poll.start"
RESPONSES = ("m.poll.response", "org.matrix.msc3381.poll.response")
END = {START: "m.poll.end", UNSTABLE_START: "org.matrix.msc3381.poll.end"}
NOTE = "Answering the poll casts your vote; folkmoot's tally is the official one."
_TEXT = "org.matrix.msc1767.text"


def _fallback(poll: Poll) -> str:
    lines = [poll.question, *(f"{i}. {text}" for i, (_, text) in enumerate(poll.answers, 1))]
    return "\n".join(lines)


def starts(poll: Poll) -> dict[str, dict[str, Any]]:
    """The content of each poll start, by event type."""
    kind = poll.max_selections
    stable = {
        "m.poll": {
            "kind": "m.disclosed",
            "max_selections": kind,
            "question": {"m.text": [{"body": poll.question}]},
            "answers": [
                {"m.id": answer_id, "m.text": [{"body": text}]} for answer_id, text in poll.answers
            ],
        },
        "m.text": [{"body": _fallback(poll)}],
    }
    unstable = {
        UNSTABLE_START: {
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": kind,
            "question": {_TEXT: poll.question},
            "answers": [{"id": answer_id, _TEXT: text} for answer_id, text in poll.answers],
        },
        _TEXT: _fallback(poll),
    }
    return {START: stable, UNSTABLE_START: unstable}


def end(kind: str, poll_event: str, text: str) -> tuple[str, dict[str, Any]]:
    """The end of a poll of event type `kind`: (event type, content)."""
    relation = {"rel_type": "m.reference", "event_id": poll_event}
    if kind == START:
        return END[kind], {"m.relates_to": relation, "m.text": [{"body": text}]}
    return END[kind], {"m.relates_to": relation, END[kind]: {}, _TEXT: text}


def response(content: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(the poll's event id, the chosen answer ids) of a response, or None if malformed."""
    relation = content.get("m.relates_to")
    if not isinstance(relation, dict) or relation.get("rel_type") != "m.reference":
        return None
    poll_event = relation.get("event_id")
    if not isinstance(poll_event, str):
        return None
    answers = content.get("m.selections")
    if answers is None:
        unstable = content.get(RESPONSES[1])
        answers = unstable.get("answers") if isinstance(unstable, dict) else None
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        return None
    return poll_event, answers
