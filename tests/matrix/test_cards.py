"""A vote's card kept in its event and edited from it (no homeserver needed)."""

from __future__ import annotations

import json

from adapters.matrix import cards, polls, render
from governance.text.messages import Message, Poll, Table

POLL = Poll(12, "#12 Paint the shop", (("yes", "yes"), ("no", "no"), ("abstain", "abstain")), 1)
CARD = cards.Card(
    12,
    "#12 Paint the shop — voting open until 2026-12-06 15:35 UTC",
    ("Proposed by ana.", "Blue, <b>not</b> red.", "Vote: !vote 12 yes, no or abstain"),
    POLL,
)
RESULT = Message(
    "#12 Paint the shop — closed early by bo",
    ("Reason: we agree", "Passed — 2 yes, 0 no.", Table(("choice", "votes"), (("yes", "2"),))),
    ends_poll=12,
)


def kept(card: cards.Card) -> dict[str, object]:
    """The card's content as the homeserver gives it back (JSON both ways)."""
    body = {**render.content(card.message()), cards.KEY: cards.stored(card)}
    return dict(json.loads(json.dumps(body)))


def test_a_card_read_back_from_its_event_is_the_card() -> None:
    assert cards.read(kept(CARD)) == CARD
    table = cards.Card(3, None, ("x", Table(("a", "b"), (("1", "2"),))), None)
    assert cards.read(kept(table)) == table


def test_an_event_without_a_card_or_with_a_damaged_one_has_none() -> None:
    assert cards.read(render.content(Message("#1 hello"))) is None
    damaged = kept(CARD)
    damaged[cards.KEY] = {**cards.stored(CARD), "blocks": [{"rows": "no"}]}
    assert cards.read(damaged) is None
    assert cards.read({cards.KEY: {"proposal": "12", "title": None, "blocks": []}}) is None


def test_the_card_says_text_votes_count_too() -> None:
    assert CARD.message().blocks[-1] == polls.note(POLL)
    assert "or vote with !vote 12 yes: both count" in polls.note(POLL)


def test_a_closed_card_shows_the_result_instead_of_the_way_to_vote() -> None:
    closed = cards.closed(CARD, RESULT)
    assert closed.title == "#12 Paint the shop — closed early by bo"
    assert closed.blocks == (
        "Proposed by ana.",
        "Blue, <b>not</b> red.",
        *RESULT.blocks,
    )
    assert cards.summary(RESULT) == "Passed — 2 yes, 0 no."
    assert (
        cards.closed_question(POLL, RESULT) == "#12 Paint the shop — closed: Passed — 2 yes, 0 no."
    )


def test_an_edit_replaces_the_whole_content_and_falls_back_to_a_starred_copy() -> None:
    body = render.content(Message("#1 hello", ("<b>there</b>",)))
    edit = render.replacement(body, "$card")
    assert edit["m.new_content"] == body
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$card"}
    assert edit["body"] == "* #1 hello\n<b>there</b>"
    assert edit["formatted_body"].startswith("* <p><strong>")
    assert "&lt;b&gt;there" in edit["formatted_body"] and edit["m.mentions"] == {}
    poll = polls.edit("$poll", POLL, "#12 Paint the shop — so far")
    start = poll["m.new_content"][polls.START]
    assert start["question"] == {"org.matrix.msc1767.text": "#12 Paint the shop — so far"}
    assert [a["id"] for a in start["answers"]] == ["yes", "no", "abstain"]
    assert poll["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$poll"}
