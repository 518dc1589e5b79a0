"""Identifiers. Each kind of id has its own type so they cannot be mixed up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

CommunityId = NewType("CommunityId", str)
MemberId = NewType("MemberId", int)
ProposalId = NewType("ProposalId", int)
"""The store's internal key of a proposal."""
ProposalNumber = NewType("ProposalNumber", int)
"""The short number members use (`#12`), unique within a community."""
PromptId = NewType("PromptId", int)
"""The store's internal key of a narrative prompt."""
PromptNumber = NewType("PromptNumber", int)
"""The short number members use for a prompt (`#3`), unique within a community (and
counted apart from proposals)."""


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One account on one platform, e.g. ``AccountRef("matrix", "@ana:example.org")``."""

    platform: str
    account_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.account_id}"

    @classmethod
    def parse(cls, text: str) -> AccountRef:
        platform, sep, account_id = text.partition(":")
        if not sep or not platform or not account_id:
            raise ValueError(f"an account is written platform:id, not {text!r}")
        return cls(platform, account_id)


@dataclass(frozen=True, slots=True)
class RoomRef:
    """A room or channel on one platform."""

    platform: str
    room_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.room_id}"
