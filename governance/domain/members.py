"""Communities, members and roles."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import IntEnum

from governance.domain.errors import GovernanceError, NotAllowed
from governance.domain.ids import AccountRef, CommunityId, MemberId

MAX_CLASS_LENGTH = 40


class Role(IntEnum):
    """Ordered: each role can do what the ones below it can."""

    OBSERVER = 0
    MEMBER = 1
    MODERATOR = 2
    ADMIN = 3

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, word: str) -> Role:
        try:
            return cls[word.strip().upper()]
        except KeyError:
            raise GovernanceError(
                f"Unknown role “{word}”. Roles: observer, member, moderator, admin."
            ) from None


def article(word: str) -> str:
    """``an admin``, ``a member``."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


@dataclass(frozen=True, slots=True)
class Community:
    id: CommunityId
    timezone: str
    default_vote: str = "7d"
    quorum: str | None = None
    admins: frozenset[str] = frozenset()
    """Accounts (``platform:id``) that are admins from the start, as configured."""
    bridge_patterns: tuple[str, ...] = ()
    """Glob patterns of bridge bots and puppets (``matrix:@discord_*``): never voters."""
    weights: str | None = None
    """Default stakeholder-class weights, as ``weights=`` takes them (``workers:40 …``)."""
    class_quorum: str | None = None
    """Default class quorums, as ``class-quorum=`` takes them (``workers:50%``)."""
    max_vote: str = "90d"
    """The longest a vote (or a deliberation, or an extension) may run, as a length."""
    reminders: tuple[str, ...] = ("24h", "1h")
    """How long before a vote closes (or a deliberation ends) reminders go, as lengths."""
    welcome_prompt: str | None = None
    """The built-in welcome prompt's question, asked privately of each new member;
    None: off."""
    outcome_prompt_after: str | None = None
    """How long after a vote closes its outcome prompt is posted (``3w``); None: off."""

    def is_configured_admin(self, account: AccountRef) -> bool:
        return str(account) in self.admins

    def is_bridge(self, account: AccountRef) -> bool:
        return any(fnmatch.fnmatchcase(str(account), p) for p in self.bridge_patterns)


@dataclass(frozen=True, slots=True)
class Member:
    id: MemberId
    community: CommunityId
    display_name: str
    role: Role
    stakeholder_class: str | None = None
    is_bot: bool = False

    @property
    def votes(self) -> bool:
        """Whether this member goes on a voter roll when voting opens."""
        return self.role >= Role.MEMBER and not self.is_bot

    def require(self, role: Role, action: str) -> None:
        if self.role < role:
            who = article(role.word) if role is max(Role) else f"{article(role.word)} or above"
            raise NotAllowed(f"Only {who} can {action}; you are {article(self.role.word)}.")
