"""The proposal aggregate: its text, method, policy and lifecycle.

Ballots are not held here (a big vote has thousands); `cast` decides about one ballot
given what the store knows about that voter.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime

from governance.domain.ballot import Choice
from governance.domain.errors import GovernanceError, InvalidBallot, InvalidProposal, NotAllowed
from governance.domain.ids import CommunityId, MemberId, ProposalId, ProposalNumber
from governance.domain.lifecycle import ClosedAs, Move, Status, next_status, state_words
from governance.domain.members import Member, Role
from governance.domain.methods import BallotShape, Method, method_named
from governance.domain.policy import Policy
from governance.domain.result import Result

MAX_TITLE = 200
MAX_BODY = 4_000
MAX_REASON = 1_000
MAX_OUTCOME = 4_000


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_text(
    label: str, text: str, limit: int, *, required: bool = True, multiline: bool = False
) -> str:
    """Strip `text` and enforce SPEC.md's limits, naming the part and its length.

    Right-to-left letters are welcome; control characters and bidirectional
    overrides (which can make text read differently from what it says) are refused.
    """
    text = text.strip()
    for ch in text:
        if ch in "\n\t" and multiline:
            continue
        if unicodedata.category(ch) == "Cs":
            raise InvalidProposal(
                f"The {label} contains a broken character (U+{ord(ch):04X}, half of a "
                "character pair); remove it."
            )
        if unicodedata.category(ch) == "Cc":
            raise InvalidProposal(
                f"The {label} contains a control character (U+{ord(ch):04X}); remove it."
            )
        if ch in BIDI_CONTROLS:
            raise InvalidProposal(
                f"The {label} contains a bidirectional control character (U+{ord(ch):04X}), "
                "which can disguise text; remove it."
            )
    if required and not text:
        raise InvalidProposal(f"The {label} is empty.")
    if len(text) > limit:
        raise InvalidProposal(f"The {label} is {len(text):,} characters; the limit is {limit:,}.")
    return text


@dataclass(slots=True)
class Proposal:
    id: ProposalId
    community: CommunityId
    number: ProposalNumber
    title: str
    body: str
    author: MemberId
    method_name: str
    options: tuple[str, ...]
    policy: Policy
    status: Status
    created_at: datetime
    vote_length: str
    """The length of voting as written (``3d``, ``2026-12-01 18:00``), applied when it opens."""
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    closed_as: ClosedAs | None = None
    roll_size: int = 0
    result: Result | None = field(default=None)
    encrypted_origin: bool = False
    """Proposed in an encrypted room (or part of a federation proposal that was): what
    is said of it goes to the community's encrypted rooms only."""

    @property
    def method(self) -> Method:
        return method_named(self.method_name)

    @property
    def ref(self) -> str:
        return f"#{self.number}"

    def describe(self, choice: Choice) -> str:
        """A ballot as its voter reads it back: ``Birch > Acorn``, ``yes``, ``Acorn=5``."""
        shape = self.method.shape
        separator = ":" if shape is BallotShape.DOTS else "="
        return choice.describe(
            self.options, ranking=shape is BallotShape.RANKING, separator=separator
        )

    @property
    def status_words(self) -> str:
        """``is a draft``, ``is closed``, ``was withdrawn``: the state, as a sentence ends."""
        return state_words(self.status)

    @property
    def ballot_hint(self) -> str:
        return self.method.ballot_hint(self.options, self.policy)

    def move(self, move: Move) -> None:
        self.status = next_status(self.status, move)

    def open_voting(self, *, now: datetime, closes_at: datetime, roll_size: int) -> None:
        self.move(Move.OPEN_VOTING)
        self.opened_at = now
        self.closes_at = closes_at
        self.roll_size = roll_size

    def check_ballot(
        self, *, choice: Choice, on_roll: bool, previous: Choice | None, sent_at: datetime
    ) -> Choice:
        """Decide whether a ballot counts; returns it normalised, or raises."""
        if self.status is not Status.VOTING:
            if self.status is Status.CLOSED:
                raise GovernanceError(f"Voting on {self.ref} has closed.")
            if self.status in (Status.DRAFT, Status.DELIBERATION):
                raise GovernanceError(f"Voting on {self.ref} has not opened yet.")
            raise GovernanceError(f"{self.ref} {self.status.value}; there is nothing to vote on.")
        assert self.closes_at is not None
        if sent_at > self.closes_at:
            raise GovernanceError(f"Voting on {self.ref} has closed.")
        if not on_roll:
            raise NotAllowed(
                f"You are not on the voter roll of {self.ref}: it was fixed when voting "
                "opened, with the members who held the member role then."
            )
        choice = self.method.check_ballot(choice, self.options, self.policy)
        if choice.reason is not None:
            try:
                reason = check_text("reason", choice.reason, MAX_REASON)
            except InvalidProposal as error:  # the same rules as titles, as a ballot error
                raise InvalidBallot(error.message) from None
            choice = replace(choice, reason=reason)
        if previous is not None and not self.policy.allow_change and previous != choice:
            raise GovernanceError(f"Votes on {self.ref} cannot be changed.")
        return choice

    def check_unvote(self, sent_at: datetime) -> None:
        if self.status is not Status.VOTING or (
            self.closes_at is not None and sent_at > self.closes_at
        ):
            raise GovernanceError(f"Voting on {self.ref} is not open; the ballot stays as it was.")
        if not self.policy.allow_change:
            raise GovernanceError(f"Votes on {self.ref} cannot be changed.")

    def extend(self, *, new_end: datetime, now: datetime) -> None:
        self.move(Move.EXTEND)
        assert self.closes_at is not None
        if new_end <= self.closes_at or new_end <= now:
            raise InvalidProposal("An extension must move the end later.")
        self.closes_at = new_end

    def close(self, *, result: Result, now: datetime) -> None:
        self.move(Move.CLOSE)
        self.closed_at = now
        self.closed_as = result.closed_as
        self.result = result

    def withdraw(self, *, by: Member, now: datetime) -> None:
        if by.id != self.author:
            raise NotAllowed(
                f"Only the author of {self.ref} can withdraw it; a moderator can cancel it."
            )
        self.move(Move.WITHDRAW)
        self.closed_at = now

    def cancel(self, *, by: Member, now: datetime) -> None:
        by.require(Role.MODERATOR, "cancel a proposal")
        self.move(Move.CANCEL)
        self.closed_at = now

    def check_author_or_moderator(self, member: Member, action: str) -> None:
        if member.id != self.author and member.role < Role.MODERATOR:
            raise NotAllowed(f"Only the author of {self.ref} or a moderator can {action}.")

    def edit(self, *, by: Member, field: str, text: str, options: tuple[str, ...]) -> bool:
        """Change the title, body or options before voting opens; False if nothing
        changed. Options are checked by the method (and its policy) as at proposing."""
        self.check_author_or_moderator(by, "edit it")
        next_status(self.status, Move.EDIT)
        if field == "title":
            title = check_text("title", text, MAX_TITLE)
            changed, self.title = title != self.title, title
        elif field == "body":
            body = check_text("body", text, MAX_BODY, multiline=True)
            changed, self.body = body != self.body, body
        elif field == "options":
            new = tuple(check_text("option", o, 100) for o in options)
            self.method.check_options(new)
            self.method.check_policy(self.policy, new)
            changed, self.options = new != self.options, new
        else:  # the grammar lets only these through
            raise InvalidProposal(f"“{field[:30]}” cannot be edited; edit title, body or options.")
        return changed

    def check_outcome_by(self, member: Member) -> None:
        if member.id != self.author and member.role < Role.MODERATOR:
            raise NotAllowed(
                f"Only the author of {self.ref} or a moderator can record its outcome."
            )
        next_status(self.status, Move.RECORD_OUTCOME)
