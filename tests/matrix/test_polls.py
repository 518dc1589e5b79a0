"""A vote as a Matrix poll on a real Synapse: one poll per proposal, in the form Element
renders; its card and poll edited (``m.replace``) as ballots come, text votes and poll
answers alike, a burst of them in one edit; at close both edited to show the result,
then the poll ended. Polls an earlier version posted in both forms are still counted
and ended."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import nio
import pytest

from adapters.matrix import adapter
from tests.matrix.deployment import WITHIN, Bot, MakeBot, body, bound_room, from_bot, said
from tests.matrix.member import MakeMember, Member, content, event_type, relates_to

START = "org.matrix.msc3381.poll.start"
END = "org.matrix.msc3381.poll.end"
TEXT = "org.matrix.msc1767.text"


def new_content(event: nio.Event) -> dict[str, Any]:
    value = content(event).get("m.new_content", {})
    return value if isinstance(value, dict) else {}


def card_edit(bot: Bot, card: str, *texts: str) -> Callable[[nio.Event], bool]:
    """The bot's edit of message `card` to a text holding every one of `texts`."""
    return lambda e: (
        e.sender == bot.user_id
        and event_type(e) == "m.room.message"
        and relates_to(e) == {"rel_type": "m.replace", "event_id": card}
        and all(text in str(new_content(e).get("body", "")) for text in texts)
    )


def question(event: nio.Event) -> str:
    start = new_content(event).get(START, {})
    return str(start.get("question", {}).get(TEXT, "")) if isinstance(start, dict) else ""


def poll_edit(bot: Bot, poll: str, *texts: str) -> Callable[[nio.Event], bool]:
    """The bot's edit of poll `poll` to a question holding every one of `texts`."""
    return lambda e: (
        e.sender == bot.user_id
        and event_type(e) == START
        and relates_to(e) == {"rel_type": "m.replace", "event_id": poll}
        and all(text in question(e) for text in texts)
    )


def position(member: Member, event: nio.Event) -> int:
    return next(i for i, (_, seen) in enumerate(member.events) if seen is event)


async def test_one_poll_whose_card_and_question_follow_the_tally_and_show_the_close(
    members: MakeMember, bot: MakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "LIVE_EDIT_EVERY", 0.2)
    folkmoot, room, (alice, bob, carol) = await bound_room(members, bot, "alice", "bob", "carol")
    await said(alice, room, "!propose Paint the shop vote=1d")
    card = await alice.wait_for(room, from_bot(folkmoot, "#1 Paint the shop"), within=WITHIN)
    assert "Answer the poll below, or vote with !vote 1 yes: both count" in body(card)
    poll = await alice.wait_for(room, type=START, sender=folkmoot.user_id, within=WITHIN)
    asked = content(poll)[START]
    assert asked["kind"] == "org.matrix.msc3381.poll.disclosed"
    assert asked["question"][TEXT] == "#1 Paint the shop"

    # A text vote: the card shows the tally under it, the poll's question too.
    await said(bob, room, "!vote 1 yes")
    live = await alice.wait_for(
        room, card_edit(folkmoot, card.event_id, "Provisional", "1 yes, 0 no"), within=WITHIN
    )
    assert new_content(live)["body"].startswith("#1 Paint the shop — voting open until")
    assert body(live).startswith("* #1 Paint the shop")  # for clients without edits
    assert content(live)["m.mentions"] == {}
    edited = await alice.wait_for(
        room, poll_edit(folkmoot, poll.event_id, "1 yes, 0 no"), within=WITHIN
    )
    answers = new_content(edited)[START]["answers"]
    assert [a["id"] for a in answers] == ["yes", "no", "abstain"]  # the same poll
    # A poll answer is counted the same.
    await carol.send_poll_response(room, poll.event_id, ["no"], unstable=True)
    await alice.wait_for(room, card_edit(folkmoot, card.event_id, "1 yes, 1 no"), within=WITHIN)
    await alice.wait_for(room, poll_edit(folkmoot, poll.event_id, "1 yes, 1 no"), within=WITHIN)

    await folkmoot.due_now(1)
    result = await alice.wait_for(room, from_bot(folkmoot, "voting closed"), within=WITHIN)
    summary = body(result).splitlines()[1]
    closed = await alice.wait_for(
        room, card_edit(folkmoot, card.event_id, "— voting closed", summary), within=WITHIN
    )
    text = new_content(closed)["body"]
    assert text.startswith("#1 Paint the shop — voting closed")
    assert "Proposed by" in text and "Vote: !vote" not in text and "Answer the poll" not in text
    ended = await alice.wait_for(
        room, poll_edit(folkmoot, poll.event_id, "closed:", summary), within=WITHIN
    )
    end = await alice.wait_for(room, type=END, sender=folkmoot.user_id, within=WITHIN)
    assert relates_to(end) == {"rel_type": "m.reference", "event_id": poll.event_id}
    assert content(end)[TEXT] == summary
    assert position(alice, ended) < position(alice, end)  # an edit after the end is ignored
    # One poll per proposal: never a stable one beside it.
    assert not alice.received(room, lambda e: event_type(e) in ("m.poll.start", "m.poll.end"))


async def test_a_burst_of_ballots_is_one_edit(
    members: MakeMember, bot: MakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = 3.0
    monkeypatch.setattr(adapter, "LIVE_EDIT_EVERY", every)
    names = ("alice", "bob", "carol", "dave")
    folkmoot, room, (alice, *voters) = await bound_room(members, bot, *names)
    await said(alice, room, "!propose Paint the shop vote=1d")
    card = await alice.wait_for(room, from_bot(folkmoot, "#1 Paint the shop"), within=WITHIN)
    for voter in voters:
        await said(voter, room, "!vote 1 yes")
    await alice.wait_for(room, card_edit(folkmoot, card.event_id, "3 yes, 0 no"), within=WITHIN)
    await asyncio.sleep(every + 0.5)  # nothing more is coming
    edits = alice.received(room, card_edit(folkmoot, card.event_id))
    assert 1 <= len(edits) <= 2  # the first ballot at once, the rest together


async def test_polls_posted_in_both_forms_by_an_earlier_version_count_and_are_ended(
    members: MakeMember, bot: MakeBot
) -> None:
    folkmoot, room, (alice, bob) = await bound_room(members, bot, "alice", "bob")
    await said(alice, room, "!propose Plant a hedge vote=2d")
    poll = await alice.wait_for(room, type=START, sender=folkmoot.user_id, within=WITHIN)
    answers = [("yes", "yes"), ("no", "no"), ("abstain", "abstain")]
    stable = await alice.send_poll_start(room, "#1 Plant a hedge", answers)
    await folkmoot.polls_as_before(room, 1, stable)
    await bob.send_poll_response(room, stable, ["no"])  # an answer to the old form counts
    await alice.wait_for(
        room, lambda e: e.sender == folkmoot.user_id and relates_to(e).get("key") == "✅"
    )
    _, status = await said(bob, room, "!status 1")
    assert "Your vote: no." in body(status)

    await folkmoot.due_now(1)
    await alice.wait_for(room, from_bot(folkmoot, "voting closed"), within=WITHIN)
    ends = {
        relates_to(await alice.wait_for(room, type=kind, sender=folkmoot.user_id)).get("event_id")
        for kind in ("m.poll.end", END)
    }
    assert ends == {stable, poll.event_id}
