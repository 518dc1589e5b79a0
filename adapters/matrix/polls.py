"""Matrix polls (MSC3381) in the one form Element renders: the unstable event types.

A proposal gets one poll start, ``org.matrix.msc3381.poll.start``: a stable
``m.poll.start`` renders nothing in Element Web and is hidden by Element X, and two
starts would split the votes between two polls. Its answers carry the ballot words as
their ids (``yes``, or an option's letter), so a response is read back as
``!vote <n> <ids>``; a response with no answer takes the ballot back. Responses of both
types are accepted, as clients send either. Earlier versions also sent a stable start
beside the unstable one; those proposals' polls (both kinds, in the ``platform_polls``
table) are still counted and ended.

The poll is a shortcut: the card says text votes count too and that the bot's own
tally is the official one. The bot edits (``m.replace``) the poll's question while the
vote is open to show that tally, and once more at close, before ending it (Element X
ignores an edit after the end).
"""

from __future__ import annotations

from typing import Any

from governance.text.messages import Poll

START = "org.matrix.msc3381.poll.start"
"""The poll start the bot sends (Element's)."""
STABLE_START = "m.poll.start"
"""Sent by earlier versions beside `START`; still counted and ended."""
STARTS = (START, STABLE_START)
RESPONSES = ("org.matrix.msc3381.poll.response", "m.poll.response")
END = {START: "org.matrix.msc3381.poll.end", STABLE_START: "m.poll.end"}
_TEXT = "org.matrix.msc1767.text"
_ANSWERS = "org.matrix.msc3381.poll.response"


def note(poll: Poll) -> str:
    """The card's line under a vote that is also a poll: both ways of voting count."""
    example = poll.answers[0][0] if poll.answers else "…"
    return (
        f"Answer the poll below, or vote with !vote {poll.proposal} {example}: both "
        "count, and folkmoot's tally is the official one."
    )


def _fallback(question: str, poll: Poll) -> str:
    lines = [question, *(f"{i}. {text}" for i, (_, text) in enumerate(poll.answers, 1))]
    return "\n".join(lines)


def start(poll: Poll, question: str | None = None) -> dict[str, Any]:
    """The content of `poll`'s start (asking `question` instead of its own, for an
    edit): disclosed, so members see the answers as they come."""
    asked = poll.question if question is None else question
    return {
        START: {
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": poll.max_selections,
            "question": {_TEXT: asked},
            "answers": [{"id": answer_id, _TEXT: text} for answer_id, text in poll.answers],
        },
        _TEXT: _fallback(asked, poll),
    }


def edit(poll_event: str, poll: Poll, question: str) -> dict[str, Any]:
    """An edit (``m.replace``, sent as a `START` event) of the poll `poll_event`: the
    same answers under a new `question`."""
    new = start(poll, question)
    return {
        _TEXT: f"* {new[_TEXT]}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": poll_event},
    }


def end(kind: str, poll_event: str, text: str) -> tuple[str, dict[str, Any]]:
    """The end of a poll whose start has event type `kind`: (event type, content)."""
    relation = {"rel_type": "m.reference", "event_id": poll_event}
    if kind == STABLE_START:
        return END[kind], {"m.relates_to": relation, "m.text": [{"body": text}]}
    return END[kind], {"m.relates_to": relation, END[kind]: {}, _TEXT: text}


def response(content: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(the poll's event id, the chosen answer ids) of a response, or None if malformed.
    Either content form is read, whichever event type carried it."""
    relation = content.get("m.relates_to")
    if not isinstance(relation, dict) or relation.get("rel_type") != "m.reference":
        return None
    poll_event = relation.get("event_id")
    if not isinstance(poll_event, str):
        return None
    answers = content.get("m.selections")
    if answers is None:
        unstable = content.get(_ANSWERS)
        answers = unstable.get("answers") if isinstance(unstable, dict) else None
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        return None
    return poll_event, answers
