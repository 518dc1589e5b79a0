"""Rendering domain events and results into neutral messages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from governance.domain.events import (
    DeliberationEnding,
    Event,
    OutcomeRecorded,
    ProposalCancelled,
    ProposalClosed,
    ProposalCreated,
    ProposalWithdrawn,
    ReminderDue,
    VotingExtended,
    VotingOpened,
)
from governance.domain.methods import plural
from governance.domain.policy import Policy, Strength, format_share
from governance.domain.result import Result
from governance.domain.timing import format_local
from governance.text.messages import Block, Message, Table


def when(moment: datetime, timezone: str) -> str:
    return format_local(moment, ZoneInfo(timezone))


_COUNTED_AS = {"condorcet": "first preferences", "dots": "dots"}
_SHOWN_IN_TABLES = frozenset({"ranked", "stv", "score"})
"""Methods whose own tables already hold the counts (round 1, stage 1, scores)."""


def result_blocks(result: Result, method: str) -> tuple[Block, ...]:
    """Summary, the tally, every table of rounds, stages or classes, then the reasons."""
    blocks: list[Block] = [result.summary]
    if result.counts and method not in _SHOWN_IN_TABLES:
        header = ("choice", _COUNTED_AS.get(method, "votes"))
        blocks.append(Table(header, tuple((label, str(n)) for label, n in result.counts)))
    for table in result.tables:
        blocks += [f"{table.title}:", Table(table.header, table.rows)]
    return (*blocks, *result.explanation)


def vote_line(number: int, hint: str) -> str:
    return f"Vote: !vote {number} {hint}"


def policy_line(method: str, policy: Policy, roll_size: int) -> str:
    parts = [f"Method: {method}", f"roll: {plural(roll_size, 'member')}"]
    if policy.secret:
        parts.append("secret ballot")
    parts.append(f"results: {policy.results.value}")
    if policy.seats > 1:
        parts.append(f"seats: {policy.seats}")
    if method == "dots":
        parts.append(f"dots: {policy.dot_budget} each")
    if policy.strength is not Strength.MARGINS:
        parts.append(f"strength: {policy.strength.value}")
    weights = [f"{r.name} {format_share(r.weight)}" for r in policy.classes if r.weight]
    if weights:
        parts.append("class weights: " + ", ".join(weights))
    quorums = [f"{r.name} {r.quorum.describe()}" for r in policy.classes if r.quorum]
    if quorums:
        parts.append("class quorums: " + ", ".join(quorums))
    return "; ".join(parts) + "."


def render_event(event: Event) -> Message | None:
    """The announcement for `event`, or None if it is not announced."""
    match event:
        case ProposalCreated() if event.status == "voting":
            assert event.closes_at is not None
            blocks: list[Block] = [f"Proposed by {event.author}."]
            if event.body:
                blocks.append(event.body)
            if event.options:
                blocks.append(
                    "Options: "
                    + ", ".join(f"{chr(65 + i)} {o}" for i, o in enumerate(event.options))
                )
            blocks += [
                policy_line(event.method, Policy.from_json(event.policy), event.roll_size),
                vote_line(event.number, event.ballot_hint),
            ]
            return Message(
                f"#{event.number} {event.title} — voting open until "
                f"{when(event.closes_at, event.timezone)}",
                tuple(blocks),
            )
        case ProposalCreated():
            return Message(
                f"#{event.number} {event.title} — proposed by {event.author}, in {event.status}",
                (event.body,) if event.body else (),
            )
        case VotingOpened():
            return Message(
                f"#{event.number} {event.title} — voting open until "
                f"{when(event.closes_at, event.timezone)}",
                (
                    f"Roll: {plural(event.roll_size, 'member')}.",
                    vote_line(event.number, event.ballot_hint),
                ),
            )
        case VotingExtended():
            return Message(
                f"#{event.number} {event.title} — voting extended by {event.by} until "
                f"{when(event.closes_at, event.timezone)}",
                (f"Reason: {event.reason}",),
            )
        case ProposalClosed():
            result = Result.from_json(event.result)
            head = "closed early by " + str(event.by) if event.early_reason else "voting closed"
            blocks = list(result_blocks(result, event.method))
            if event.early_reason:
                blocks.insert(0, f"Reason: {event.early_reason}")
            return Message(f"#{event.number} {event.title} — {head}", tuple(blocks))
        case ProposalCancelled():
            return Message(
                f"#{event.number} {event.title} — cancelled by {event.by}",
                (f"Reason: {event.reason}",),
            )
        case ProposalWithdrawn():
            return Message(f"#{event.number} {event.title} — withdrawn by {event.by}")
        case OutcomeRecorded():
            return Message(
                f"#{event.number} {event.title} — outcome recorded by {event.by}",
                (event.statement,),
            )
        case ReminderDue():
            return reminder(event)
        case DeliberationEnding():
            return Message(
                f"Reminder: the deliberation on #{event.number} {event.title} ends "
                f"{when(event.opens_at, event.timezone)}; voting opens then.",
                (f"The author or a moderator can sum it up first: !summary {event.number} <text>",),
            )
    return None


def reminder(event: ReminderDue) -> Message:
    """A private reminder: when the vote closes, and the one command that votes."""
    return Message(
        f"Reminder: you have not voted on #{event.number} {event.title}; voting closes "
        f"{when(event.closes_at, event.timezone)}.",
        (vote_line(event.number, event.ballot_hint),),
    )
