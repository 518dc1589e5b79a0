"""The store's side of linked accounts and erasure (`governance.service.identity`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from governance.domain.ballot import Choice
from governance.domain.ids import AccountRef, CommunityId, MemberId, ProposalId
from governance.domain.linking import LinkCode
from governance.domain.members import Member
from governance.domain.proposal import Proposal
from governance.domain.stories import Story


@dataclass(frozen=True, slots=True)
class BallotRow:
    """A ballot as stored, with what tells which of two is the later."""

    id: int
    voter_key: str
    choice: Choice
    cast_at: datetime | None
    stakeholder_class: str | None


class Identity(Protocol):
    # One-time codes and the limit on tries.
    async def add_code(
        self,
        community: CommunityId,
        member: MemberId,
        code_hash: str,
        *,
        at: datetime,
        expires_at: datetime,
        keep_after: datetime,
    ) -> None:
        """Store a new code for `member`, dropping the member's unused ones and every
        code that expired before `keep_after`."""
        ...

    async def code(self, code_hash: str) -> LinkCode | None: ...
    async def use_code(self, code: int, *, at: datetime) -> bool:
        """Mark the code used; False if it was used already (by a racing try)."""
        ...

    async def refused(self, account: AccountRef, *, at: datetime, keep_after: datetime) -> None:
        """Count a refused code from `account`; forget tries made before `keep_after`."""
        ...

    async def tries(self, account: AccountRef, *, since: datetime) -> list[datetime]:
        """When `account`'s refused codes after `since` were tried, oldest first."""
        ...

    # Accounts and members.
    async def attach(self, community: CommunityId, account: AccountRef, member: MemberId) -> None:
        """Make `account` one of `member`'s (a new account row, or one moved)."""
        ...

    async def move_accounts(self, absorbed: MemberId, into: MemberId) -> None: ...
    async def mark_merged(self, absorbed: MemberId, into: MemberId) -> None:
        """The absorbed member keeps its row (closed votes refer to it), off every roll."""
        ...

    async def absorbed(self, member: MemberId) -> list[Member]:
        """The members merged into `member` (by linking their accounts to it)."""
        ...

    async def split(
        self, community: CommunityId, account: AccountRef, display_name: str, *, at: datetime
    ) -> Member:
        """Move `account` to a new member of its own (member role, no class)."""
        ...

    async def erase(self, member: MemberId, display_name: str, *, at: datetime) -> list[AccountRef]:
        """Replace the member's name, drop its role and class, delete its accounts, their
        link codes, tries, direct rooms and pending private deliveries; returns the
        accounts deleted."""
        ...

    # Ballots and rolls of open votes.
    async def open_votes(self, community: CommunityId) -> list[Proposal]:
        """The community's proposals in voting."""
        ...

    async def ballots(self, proposal: ProposalId, keys: Sequence[str]) -> dict[str, BallotRow]: ...
    async def rekey(
        self,
        proposal: ProposalId,
        old_key: str,
        new_key: str,
        member: MemberId | None,
        stakeholder_class: str | None,
    ) -> None:
        """Give a ballot to another voter key (and member, for an open vote)."""
        ...

    async def drop_ballot(self, proposal: ProposalId, key: str) -> None: ...
    async def move_roll(self, proposal: ProposalId, absorbed: MemberId, into: MemberId) -> None: ...
    async def drop_from_roll(self, proposal: ProposalId, member: MemberId) -> None:
        """Take one entry off the roll, and one from the proposal's roll size."""
        ...

    async def move_history(
        self, proposals: Sequence[ProposalId], absorbed: MemberId, into: MemberId
    ) -> None: ...

    # Stories.
    async def stories_by(self, community: CommunityId, member: MemberId, tag: str) -> list[Story]:
        """The member's stories: by author, or anonymous with the member's `tag`."""
        ...

    async def move_stories(
        self, community: CommunityId, absorbed: MemberId, into: MemberId, tags: tuple[str, str]
    ) -> int:
        """Give the absorbed member's stories to `into`; anonymous ones by re-keying
        their author tag (`tags`: old, new). Returns how many moved."""
        ...

    async def scrub_name(self, community: CommunityId, name: str, replacement: str) -> int:
        """Replace a member's display name where events kept it (``author`` and ``by``
        of the outbox's events); returns how many events changed."""
        ...
