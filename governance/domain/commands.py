"""Commands: what a member asks for, as frozen dataclasses. Each carries its `Context`:
who asked, where, and when by the platform's own clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from governance.domain.ballot import Choice
from governance.domain.ids import AccountRef, CommunityId, PromptNumber, ProposalNumber, RoomRef
from governance.domain.members import Role
from governance.domain.policy import ClassRule, Quorum, Strength, TieRule, Visibility
from governance.domain.prompts import Recurring
from governance.domain.stories import Consent
from governance.domain.timing import Deadline, Length


@dataclass(frozen=True, slots=True)
class Context:
    actor: AccountRef
    room: RoomRef
    community: CommunityId | None
    sent_at: datetime
    encrypted: bool = False
    """Whether the room it was said in is end-to-end encrypted (the adapter knows; a
    platform without encryption leaves it False)."""


@dataclass(frozen=True, slots=True)
class Command:
    ctx: Context


@dataclass(frozen=True, slots=True)
class Join(Command):
    """An account appears in a bound room (adapters send it; the console on `/as`)."""

    display_name: str
    is_bot: bool = False
    role: Role | None = None
    """A trusted adapter's choice of first role (the console's first member is admin);
    configured admins are admins whatever this says."""


@dataclass(frozen=True, slots=True)
class Propose(Command):
    title: str
    body: str = ""
    method: str | None = None
    options: tuple[str, ...] = ()
    deliberate: Length | None = None
    vote: Deadline | None = None
    quorum: Quorum | None = None
    threshold: Fraction | None = None
    seats: int | None = None
    dots: int | None = None
    secret: bool = False
    results: Visibility | None = None
    ties: TieRule | None = None
    strength: Strength | None = None
    classes: tuple[ClassRule, ...] = ()
    """Class weights (``weights=``) and class quorums (``class-quorum=``), merged by name."""
    draft: bool = False
    """Keep it as a draft: nothing opens until a moderator's ``!deliberate`` or an ``!open``."""


@dataclass(frozen=True, slots=True)
class CastVote(Command):
    number: ProposalNumber
    ballot: str | Choice
    """Text as typed (parsed against the proposal's method), or a structured choice
    from a button or poll."""


@dataclass(frozen=True, slots=True)
class Unvote(Command):
    number: ProposalNumber


@dataclass(frozen=True, slots=True)
class ShowStatus(Command):
    number: ProposalNumber | None = None


@dataclass(frozen=True, slots=True)
class ListProposals(Command):
    pass


@dataclass(frozen=True, slots=True)
class ShowResults(Command):
    number: ProposalNumber


@dataclass(frozen=True, slots=True)
class CloseEarly(Command):
    number: ProposalNumber
    reason: str


@dataclass(frozen=True, slots=True)
class Extend(Command):
    number: ProposalNumber
    by: Length
    reason: str


@dataclass(frozen=True, slots=True)
class Cancel(Command):
    number: ProposalNumber
    reason: str


@dataclass(frozen=True, slots=True)
class Withdraw(Command):
    number: ProposalNumber


@dataclass(frozen=True, slots=True)
class RecordOutcome(Command):
    number: ProposalNumber
    statement: str


@dataclass(frozen=True, slots=True)
class Bind(Command):
    """Bind the room to a community; one that makes the community's rooms a mix of
    encrypted and unencrypted ones only with `confirm`."""

    community_name: str
    confirm: bool = False


@dataclass(frozen=True, slots=True)
class Unbind(Command):
    """Unbind `room` (None: the room it is said in) from its community; the community's
    last room only with `confirm`."""

    room: RoomRef | None = None
    confirm: bool = False


@dataclass(frozen=True, slots=True)
class SetRole(Command):
    member: str
    role: str


@dataclass(frozen=True, slots=True)
class FollowPlatformRole(Command):
    """The platform changed the actor's role (a Discord role, a Matrix power level,
    mapped by the config): their folkmoot role follows. Rolls already frozen stay."""

    role: Role


@dataclass(frozen=True, slots=True)
class FollowPlatformClass(Command):
    """The platform gives the actor a stakeholder class (a Discord role mapped by the
    config), or none: their class follows. Rolls already frozen stay."""

    stakeholder_class: str | None


@dataclass(frozen=True, slots=True)
class SetClass(Command):
    member: str
    stakeholder_class: str


@dataclass(frozen=True, slots=True)
class Remind(Command):
    """Remind the roll members who have not voted yet, now (moderators)."""

    number: ProposalNumber


@dataclass(frozen=True, slots=True)
class ShowUndelivered(Command):
    """The announcements and reminders given up on (admins)."""


@dataclass(frozen=True, slots=True)
class Help(Command):
    topic: str | None = None


# Deliberation: edits before voting, a moderator's timebox, summaries, opening early.


@dataclass(frozen=True, slots=True)
class Edit(Command):
    number: ProposalNumber
    field: str
    """``title``, ``body`` or ``options``."""
    text: str = ""
    """The new title or body."""
    options: tuple[str, ...] = ()
    """The new options, for ``options``."""


@dataclass(frozen=True, slots=True)
class Deliberate(Command):
    number: ProposalNumber
    timebox: Length | None = None
    """From now; None: the community's default vote length (a draft only)."""


@dataclass(frozen=True, slots=True)
class Summarise(Command):
    number: ProposalNumber
    text: str


@dataclass(frozen=True, slots=True)
class OpenVoting(Command):
    number: ProposalNumber


# ---------------------------------------------------------------------- stories


@dataclass(frozen=True, slots=True)
class TellStory(Command):
    text: str
    consent: Consent = Consent.COMMUNITY
    prompt: int | None = None
    proposal: ProposalNumber | None = None
    tags: tuple[str, ...] = ()
    in_thread: bool = False
    """A reply in a prompt's thread, taken as a story (the answer asks about sharing)."""
    source: str | None = None
    """The id of the chat message it was told as, on the actor's platform (a reply in a
    prompt's thread): an edit of that message edits the story, its deletion withdraws it."""


@dataclass(frozen=True, slots=True)
class EditStory(Command):
    number: int
    text: str


@dataclass(frozen=True, slots=True)
class WithdrawStory(Command):
    number: int


@dataclass(frozen=True, slots=True)
class ShareStory(Command):
    """Change how a story may be shared (its author)."""

    number: int
    consent: Consent


@dataclass(frozen=True, slots=True)
class HideStory(Command):
    number: int
    reason: str


@dataclass(frozen=True, slots=True)
class ListStories(Command):
    search: str = ""
    page: int = 1


@dataclass(frozen=True, slots=True)
class ExportStories(Command):
    format: str = "md"
    public_only: bool = False


@dataclass(frozen=True, slots=True)
class ExportDecisions(Command):
    """``!export decisions md|json|csv``: every proposal and the hash-chained log."""

    format: str = "md"


@dataclass(frozen=True, slots=True)
class ExportBallots(Command):
    """``!export ballots <id> [json|csv]``: a closed vote's anonymised ballots."""

    number: ProposalNumber
    format: str = "json"


# Narrative prompts.


@dataclass(frozen=True, slots=True)
class SchedulePrompt(Command):
    """``!prompt <question> [every=… | cron=… | once=…] [proposal=<id>]`` (moderators).
    Without a schedule the prompt is posted at once."""

    question: str
    every: Recurring | None = None
    """``every=`` or ``cron=``."""
    once: Deadline | None = None
    """``once=``: a local date and time, or the next such weekday and time."""
    proposal: ProposalNumber | None = None


@dataclass(frozen=True, slots=True)
class PausePrompt(Command):
    number: PromptNumber


@dataclass(frozen=True, slots=True)
class ResumePrompt(Command):
    number: PromptNumber


@dataclass(frozen=True, slots=True)
class EndPrompt(Command):
    number: PromptNumber


@dataclass(frozen=True, slots=True)
class EditPrompt(Command):
    number: PromptNumber
    question: str


@dataclass(frozen=True, slots=True)
class ListPrompts(Command):
    """``!prompts``: the active and paused prompts, with when each is posted next."""

    all: bool = False
    """``!prompts all``: the ended ones too."""


# Identity: linked accounts and the right to be forgotten.


@dataclass(frozen=True, slots=True)
class Link(Command):
    """``!link``: ask for a one-time code; ``!link <code>``: join this account to the
    member who asked for it."""

    code: str | None = None


@dataclass(frozen=True, slots=True)
class Unlink(Command):
    """``!unlink``: split this account off its member, as a member of its own."""


@dataclass(frozen=True, slots=True)
class Erase(Command):
    """``!erase <member>`` (admins): the member's names, accounts, open ballots and
    stories go; the decision log keeps the member's id alone."""

    member: str
