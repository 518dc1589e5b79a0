"""Domain events: what happened, in the past tense. Frozen, and free of story text;
secret votes' events carry neither the voter nor the choice."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from governance.domain.ids import CommunityId, MemberId, PromptNumber, ProposalNumber

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


@dataclass(frozen=True, slots=True)
class Event:
    community: CommunityId
    announce: ClassVar[bool] = True
    """Whether the event is announced in the community's rooms (others are for
    internal subscribers, e.g. live tallies)."""
    in_prompt_thread: ClassVar[bool] = False
    """Said, in each room, in the latest thread of the prompt its ``prompt`` field
    names (where the room has none, in the room itself). A thread that is gone (deleted)
    gives the delivery up, like any channel that is gone."""

    def to_json(self) -> dict[str, Any]:
        # Field by field rather than `asdict`: events are shallow, and this is on the
        # path of every vote.
        data: dict[str, Any] = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            data[name] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            if isinstance(value, str) and f.type in ("datetime", "datetime | None"):
                value = datetime.fromisoformat(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class ProposalCreated(Event):
    number: ProposalNumber
    title: str
    body: str
    author: str
    method: str
    options: tuple[str, ...]
    policy: dict[str, Any]
    status: str
    closes_at: datetime | None
    timezone: str
    roll_size: int
    ballot_hint: str
    federation: tuple[str, ...] = ()
    """A federation proposal's parts in its member communities (``bakery #4``): nobody
    votes on it directly."""
    part_of: str | None = None
    """The federation proposal this is the community's part of (``coop-fed #3``)."""


@dataclass(frozen=True, slots=True)
class VotingOpened(Event):
    number: ProposalNumber
    title: str
    closes_at: datetime
    timezone: str
    roll_size: int
    ballot_hint: str
    by: str | None = None
    """Who opened it early (``!open``); None when it opened on its own."""
    method: str = ""
    options: tuple[str, ...] = ()
    policy: dict[str, Any] | None = None
    stories: int = 0
    """Stories linked to the proposal so far."""
    federation: tuple[str, ...] = ()
    """A federation proposal's parts in its member communities (``bakery #4``)."""


@dataclass(frozen=True, slots=True)
class VoteCast(Event):
    announce: ClassVar[bool] = False
    number: ProposalNumber
    voter: MemberId
    choice: dict[str, Any]
    changed: bool


@dataclass(frozen=True, slots=True)
class VoteWithdrawn(Event):
    announce: ClassVar[bool] = False
    number: ProposalNumber
    voter: MemberId


@dataclass(frozen=True, slots=True)
class BallotReceived(Event):
    """A secret ballot arrived: no voter, no choice."""

    announce: ClassVar[bool] = False
    number: ProposalNumber


@dataclass(frozen=True, slots=True)
class VotingExtended(Event):
    number: ProposalNumber
    title: str
    closes_at: datetime
    timezone: str
    reason: str
    by: str


@dataclass(frozen=True, slots=True)
class ProposalClosed(Event):
    number: ProposalNumber
    title: str
    method: str
    result: dict[str, Any]
    early_reason: str | None
    by: str | None
    stories: int = 0
    """Stories linked to the proposal by its close."""


@dataclass(frozen=True, slots=True)
class ProposalCancelled(Event):
    number: ProposalNumber
    title: str
    reason: str
    by: str


@dataclass(frozen=True, slots=True)
class ProposalWithdrawn(Event):
    number: ProposalNumber
    title: str
    by: str


@dataclass(frozen=True, slots=True)
class OutcomeRecorded(Event):
    number: ProposalNumber
    title: str
    statement: str
    by: str


@dataclass(frozen=True, slots=True)
class ReminderDue(Event):
    """A reminder to the roll members who have not voted; they are found when it is
    sent, so someone who votes meanwhile is not reminded. Delivered privately."""

    announce: ClassVar[bool] = False
    number: ProposalNumber
    title: str
    closes_at: datetime
    timezone: str
    ballot_hint: str
    offset: str | None
    """The community's offset it is for (``24h``), or None when a moderator asked."""


@dataclass(frozen=True, slots=True)
class DeliberationEnding(Event):
    """A reminder in the rooms that a deliberation's timebox is running out."""

    number: ProposalNumber
    title: str
    opens_at: datetime
    timezone: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        ProposalCreated,
        VotingOpened,
        VoteCast,
        VoteWithdrawn,
        BallotReceived,
        VotingExtended,
        ProposalClosed,
        ProposalCancelled,
        ProposalWithdrawn,
        OutcomeRecorded,
        ReminderDue,
        DeliberationEnding,
    )
}


# Deliberation: what an adapter needs to open a thread, edits, timeboxes, summaries.


@dataclass(frozen=True, slots=True)
class DeliberationOpened(Event):
    """A deliberation began: adapters open its thread (and `Governance.record_thread`)."""

    number: ProposalNumber
    title: str
    body: str
    author: str
    options: tuple[str, ...]
    ends_at: datetime
    """The end of the timebox, when voting opens unless someone opens it earlier."""
    timezone: str
    by: str | None
    """The moderator who opened it; None when the proposer asked for it (``deliberate=``)."""


@dataclass(frozen=True, slots=True)
class DeliberationRescheduled(Event):
    number: ProposalNumber
    title: str
    ends_at: datetime
    was: datetime
    timezone: str
    by: str


@dataclass(frozen=True, slots=True)
class ProposalEdited(Event):
    number: ProposalNumber
    title: str
    """The title after the edit."""
    field: str
    version: int
    by: str
    text: str
    """The new title or body (empty for options)."""
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SummaryRecorded(Event):
    number: ProposalNumber
    title: str
    summary: str
    by: str


EVENT_TYPES.update(
    {
        cls.__name__: cls
        for cls in (DeliberationOpened, DeliberationRescheduled, ProposalEdited, SummaryRecorded)
    }
)


# ---------------------------------------------------------------------- stories
# Story events never carry a story's text (nor an anonymous author): the outbox keeps
# events for a while, and a withdrawn story must leave no copy. What is posted is
# read from the story itself when it is delivered.


@dataclass(frozen=True, slots=True)
class StoryShared(Event):
    """A story told to the bot privately: the bot posts it in the community's rooms
    (an anonymous one without its author), in the thread of its prompt's latest
    posting where there is one."""

    in_prompt_thread: ClassVar[bool] = True
    number: int
    prompt: int | None
    proposal: int | None


@dataclass(frozen=True, slots=True)
class StoryHidden(Event):
    """A moderator hid a story: its author is told privately."""

    announce: ClassVar[bool] = False
    number: int
    reason: str
    by: str


EVENT_TYPES.update({cls.__name__: cls for cls in (StoryShared, StoryHidden)})

# Narrative prompts. Prompt questions are moderators' words, like titles; story text
# never enters an event (stories are referred to by id).


@dataclass(frozen=True, slots=True)
class PromptPosted(Event):
    """A prompt's posting: adapters open a thread for it in every room, and the core
    records each (`uow.prompts.by_thread` maps a thread back to its prompt)."""

    prompt: PromptNumber
    question: str
    kind: str
    """A `PromptKind` value: custom or outcome (the welcome prompt is never posted)."""
    posting: int
    """Which posting this is (1 for the first); a merged catch-up counts once."""
    next_at: datetime | None
    """When it is posted next; None when nothing more is scheduled."""
    timezone: str
    proposal: ProposalNumber | None = None
    proposal_title: str | None = None


@dataclass(frozen=True, slots=True)
class PromptEnded(Event):
    """A moderator ended a prompt: said in its latest thread in each room."""

    in_prompt_thread: ClassVar[bool] = True
    prompt: PromptNumber
    question: str
    by: str


@dataclass(frozen=True, slots=True)
class MemberWelcomed(Event):
    """A new member is asked the welcome prompt, privately (routed to their first
    linked account when delivered; nothing in the rooms)."""

    announce: ClassVar[bool] = False
    member: MemberId
    prompt: PromptNumber
    question: str


EVENT_TYPES.update({cls.__name__: cls for cls in (PromptPosted, PromptEnded, MemberWelcomed)})

# Identity. Events name members by id and platforms by name, never an account id: an
# erased member's accounts must leave no copy in the outbox.


@dataclass(frozen=True, slots=True)
class AccountsLinked(Event):
    """Another account was linked to a member: each of the member's accounts is told
    privately (so a code used by someone else does not go unnoticed)."""

    announce: ClassVar[bool] = False
    member: MemberId
    platform: str
    """The platform of the account linked now."""


EVENT_TYPES.update({AccountsLinked.__name__: AccountsLinked})
