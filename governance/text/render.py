"""Rendering domain events and results into neutral messages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from governance.domain.events import (
    AccountsLinked,
    DeliberationEnding,
    DeliberationOpened,
    DeliberationRescheduled,
    Event,
    OutcomeRecorded,
    ProposalCancelled,
    ProposalClosed,
    ProposalCreated,
    ProposalEdited,
    ProposalWithdrawn,
    ReminderDue,
    StoryHidden,
    SummaryRecorded,
    VotingExtended,
    VotingOpened,
)
from governance.domain.methods import METHODS, BallotShape, plural
from governance.domain.policy import Policy, Strength, TieRule, Visibility, format_share
from governance.domain.result import Result
from governance.domain.timing import format_local
from governance.text.messages import BallotForm, Block, Deadline, Message, Poll, Table
from governance.text.prompts import render_prompt


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


def policy_line(method: str, policy: Policy, roll_size: int | None, *, communities: int = 0) -> str:
    """`roll_size` None: voting has not opened, so there is no roll yet. `communities`:
    a federation's roll, its member communities."""
    roll = "fixed when voting opens" if roll_size is None else plural(roll_size, "member")
    if communities:
        roll = plural(communities, "member community", "member communities")
    parts = [f"Method: {method}", f"roll: {roll}"]
    if policy.secret:
        parts.append("secret ballot")
    parts.append(f"results: {policy.results.value}")
    if policy.seats > 1:
        parts.append(f"seats: {policy.seats}")
    if method == "dots":
        parts.append(f"dots: {policy.dot_budget} each")
    if policy.strength is not Strength.MARGINS:
        parts.append(f"strength: {policy.strength.value}")
    if policy.ties is TieRule.LOT and policy.lot_commitment is not None:
        parts.append(
            f"ties: by lot, from a seed revealed at close whose SHA-256 is {policy.lot_commitment}"
        )
    weights = [f"{r.name} {format_share(r.weight)}" for r in policy.classes if r.weight]
    if weights:
        parts.append("class weights: " + ", ".join(weights))
    quorums = [f"{r.name} {r.quorum.describe()}" for r in policy.classes if r.quorum]
    if quorums:
        parts.append("class quorums: " + ", ".join(quorums))
    return "; ".join(parts) + "."


def options_line(options: tuple[str, ...]) -> str:
    return "Options: " + ", ".join(f"{chr(65 + i)} {o}" for i, o in enumerate(options))


def deliberation_hint(number: int, *, summary: bool = True) -> str:
    """What the author or a moderator can do before voting (a summary: in deliberation)."""
    then = f"!summary {number} <text>, " if summary else ""
    return (
        f"Author or moderator: !edit {number} title|body|options …, {then}"
        f"!open {number} to vote now."
    )


def render_deliberation(event: Event) -> Message | None:
    """Announcements of deliberation events; None for other events."""
    match event:
        case DeliberationOpened():
            blocks: list[Block] = [
                f"Proposed by {event.author}."
                + ("" if event.by is None else f" Deliberation opened by {event.by}.")
            ]
            if event.body:
                blocks.append(event.body)
            if event.options:
                blocks.append(options_line(event.options))
            blocks.append(deliberation_hint(event.number))
            return Message(
                f"#{event.number} {event.title} — in deliberation until "
                f"{when(event.ends_at, event.timezone)}, then voting",
                tuple(blocks),
                deadline=Deadline("Deliberation ends", event.ends_at),
            )
        case DeliberationRescheduled():
            return Message(
                f"#{event.number} {event.title} — deliberation now runs until "
                f"{when(event.ends_at, event.timezone)}",
                (
                    f"New timebox set by {event.by} "
                    f"(it was to end {when(event.was, event.timezone)}).",
                ),
            )
        case ProposalEdited():
            changed = {
                "title": f"New title: {event.text}",
                "body": event.text,
                "options": options_line(event.options),
            }[event.field]
            return Message(
                f"#{event.number} {event.title} — {event.field} edited by {event.by} "
                f"(version {event.version})",
                (changed,),
            )
        case SummaryRecorded():
            return Message(
                f"#{event.number} {event.title} — summary by {event.by}", (event.summary,)
            )
    return None


POLL_METHODS = frozenset({"majority", "choice", "approval"})


def poll_for(
    number: int, title: str, method: str, options: tuple[str, ...], policy: Policy
) -> Poll | None:
    """The native poll for an open vote with live results; never for a secret vote or
    one whose results are hidden (a poll shows every answer as it comes)."""
    if method not in POLL_METHODS or policy.secret or policy.results is not Visibility.LIVE:
        return None
    if method == "majority":
        answers = tuple((word, word) for word in ("yes", "no", "abstain"))
    else:
        answers = tuple((chr(65 + i), option) for i, option in enumerate(options))
    most = len(answers) if method == "approval" else 1
    return Poll(number, f"#{number} {title}", answers, most)


def ballot_form(
    number: int, title: str, method_name: str, options: tuple[str, ...], policy: Policy
) -> BallotForm | None:
    """How to vote on an open proposal with buttons and forms; None for a method this
    version does not know (an event from a newer one)."""
    method = METHODS.get(method_name)
    if method is None:
        return None
    if method.shape is BallotShape.VERDICT:
        answers = tuple((v.word, v.word) for v in method.verdicts)
    else:
        answers = tuple((chr(65 + i), option) for i, option in enumerate(options))
    marks = (0, policy.dot_budget) if method.shape is BallotShape.DOTS else method.score_range
    return BallotForm(
        number,
        title,
        method.shape.value,
        answers,
        reasons=tuple(v.word for v in method.verdicts if v.needs_reason),
        marks=marks,
        secret=policy.secret,
    )


def federation_lines(event: ProposalCreated | VotingOpened) -> tuple[str, ...]:
    """A federation proposal's voters and where they vote; a part's federation."""
    lines: tuple[str, ...] = ()
    part_of = event.part_of if isinstance(event, ProposalCreated) else None
    if part_of:
        lines += (
            f"This is {event.community}'s part of federation proposal {part_of}: "
            f"{event.community}'s result counts as its vote there.",
        )
    if event.federation:
        lines += (
            "Voters: the member communities, each on its own part, in its own rooms — "
            + ", ".join(event.federation)
            + ". Each one's result counts as its vote here; vote in your own community.",
        )
    return lines


def _voting_card(
    event: ProposalCreated | VotingOpened, blocks: tuple[Block, ...], policy: Policy
) -> Message:
    assert event.closes_at is not None
    if event.federation:  # nobody votes here: no poll, no ballot, no vote line
        return Message(
            f"#{event.number} {event.title} — federation vote open until "
            f"{when(event.closes_at, event.timezone)}",
            tuple(
                b for b in blocks if not (isinstance(b, str) and b.startswith(("Vote:", "Roll:")))
            ),
            deadline=Deadline("Voting closes", event.closes_at),
        )
    return Message(
        f"#{event.number} {event.title} — voting open until "
        f"{when(event.closes_at, event.timezone)}",
        blocks,
        poll=poll_for(event.number, event.title, event.method, tuple(event.options), policy),
        ballot=ballot_form(event.number, event.title, event.method, tuple(event.options), policy),
        deadline=Deadline("Voting closes", event.closes_at),
    )


def stories_line(number: int, count: int) -> tuple[str, ...]:
    """How many stories speak to a proposal, and how to read them (none: nothing)."""
    if count == 0:
        return ()
    return (f"Stories about it: {plural(count, 'story', 'stories')} — !stories proposal:{number}",)


def render_event(event: Event) -> Message | None:
    """The announcement for `event`, or None if it is not announced."""
    match event:
        case ProposalCreated() if event.status == "voting":
            assert event.closes_at is not None
            blocks: list[Block] = [f"Proposed by {event.author}.", *federation_lines(event)]
            if event.body:
                blocks.append(event.body)
            if event.options:
                blocks.append(
                    "Options: "
                    + ", ".join(f"{chr(65 + i)} {o}" for i, o in enumerate(event.options))
                )
            blocks += [
                policy_line(
                    event.method,
                    Policy.from_json(event.policy),
                    event.roll_size,
                    communities=len(event.federation or ()),
                ),
                vote_line(event.number, event.ballot_hint),
            ]
            return _voting_card(event, tuple(blocks), Policy.from_json(event.policy))
        case ProposalCreated() if event.status == "deliberation":
            return None  # its DeliberationOpened is the card
        case ProposalCreated() if event.status == "draft":
            blocks = [f"Drafted by {event.author}."]
            if event.body:
                blocks.append(event.body)
            if event.options:
                blocks.append(options_line(event.options))
            blocks += [
                f"A moderator can open a deliberation with !deliberate {event.number} 2d.",
                deliberation_hint(event.number, summary=False),
            ]
            return Message(f"#{event.number} {event.title} — draft", tuple(blocks))
        case ProposalCreated():
            return Message(
                f"#{event.number} {event.title} — proposed by {event.author}, in {event.status}",
                (event.body,) if event.body else (),
            )
        case VotingOpened():
            blocks = [
                *(() if event.by is None else (f"Opened early by {event.by}.",)),
                *federation_lines(event),
                f"Roll: {plural(event.roll_size, 'member')}.",
                vote_line(event.number, event.ballot_hint),
                *stories_line(event.number, event.stories),
            ]
            if event.policy is None:  # recorded before votes carried their policy
                return Message(
                    f"#{event.number} {event.title} — voting open until "
                    f"{when(event.closes_at, event.timezone)}",
                    tuple(blocks),
                )
            return _voting_card(event, tuple(blocks), Policy.from_json(event.policy))
        case VotingExtended():
            return Message(
                f"#{event.number} {event.title} — voting extended by {event.by} until "
                f"{when(event.closes_at, event.timezone)}",
                (f"Reason: {event.reason}",),
            )
        case ProposalClosed():
            result = Result.from_json(event.result)
            head = "closed early by " + str(event.by) if event.early_reason else "voting closed"
            blocks = [
                *result_blocks(result, event.method),
                *stories_line(event.number, event.stories),
            ]
            if event.early_reason:
                blocks.insert(0, f"Reason: {event.early_reason}")
            return Message(
                f"#{event.number} {event.title} — {head}", tuple(blocks), ends_poll=event.number
            )
        case ProposalCancelled():
            return Message(
                f"#{event.number} {event.title} — cancelled by {event.by}",
                (f"Reason: {event.reason}",),
                ends_poll=event.number,
            )
        case ProposalWithdrawn():
            return Message(
                f"#{event.number} {event.title} — withdrawn by {event.by}", ends_poll=event.number
            )
        case OutcomeRecorded():
            return Message(
                f"#{event.number} {event.title} — outcome recorded by {event.by}",
                (event.statement,),
            )
        case ReminderDue():
            return reminder(event)
        case StoryHidden():
            return Message(
                f"Your story #{event.number} was hidden by {event.by}",
                (f"Reason: {event.reason}", "It no longer shows in listings or exports."),
            )
        case AccountsLinked():
            return Message(
                f"An account on {event.platform} is now linked to you in {event.community}",
                (
                    "Your accounts are one member with one vote. If you did not do this, "
                    "tell an admin at once: someone sent the link code you asked for.",
                ),
            )
        case DeliberationEnding():
            return Message(
                f"Reminder: the deliberation on #{event.number} {event.title} ends "
                f"{when(event.opens_at, event.timezone)}; voting opens then.",
                (f"The author or a moderator can sum it up first: !summary {event.number} <text>",),
            )
    return render_deliberation(event) or render_prompt(event)


def reminder(event: ReminderDue) -> Message:
    """A private reminder: when the vote closes, and the one command that votes."""
    return Message(
        f"Reminder: you have not voted on #{event.number} {event.title}; voting closes "
        f"{when(event.closes_at, event.timezone)}.",
        (vote_line(event.number, event.ballot_hint),),
    )
