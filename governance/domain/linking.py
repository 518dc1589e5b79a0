"""Linked accounts: one person, several accounts (Matrix, Discord, or two on one
platform), one member with one role, one class and one ballot per proposal.

``!link`` gives a member a one-time code; ``!link <code>`` from another account joins
that account to the member. Codes are short-lived, single use, and kept only as a keyed
hash; wrong tries are limited per account. The member who asked for the code keeps its
role and class: linking never gives anyone a role they did not already hold on the
account that asked. ``!unlink`` splits an account off again, as a new member.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from governance.domain.errors import GovernanceError
from governance.domain.ids import CommunityId, MemberId

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
"""No 0/O, 1/I/L, U: a code read aloud or copied by hand survives."""
CODE_LENGTH = 10
"""30^10 ≈ 2^49 codes: with a few tries an hour per account, guessing is hopeless."""
CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
"""Refused codes per account per `TRY_WINDOW`; the next try is refused unread."""
TRY_WINDOW = timedelta(hours=1)
USED_KEPT = timedelta(days=1)
"""How long a used or expired code is kept, so a second use is told apart."""


class LinkError(GovernanceError):
    pass


def new_code(random_bytes: bytes) -> str:
    """A code from `random_bytes` (at least `CODE_LENGTH` bytes), shown as ``ABCDE-FGHJK``."""
    if len(random_bytes) < CODE_LENGTH:
        raise ValueError("not enough randomness for a link code")
    # 256 is not a multiple of 30: drop the bias by using 240 = 8 × 30 values.
    letters: list[str] = []
    pool = list(random_bytes)
    while len(letters) < CODE_LENGTH:
        if not pool:
            raise ValueError("not enough randomness for a link code")
        byte = pool.pop()
        if byte < 240:
            letters.append(CODE_ALPHABET[byte % len(CODE_ALPHABET)])
    half = CODE_LENGTH // 2
    return "".join(letters[:half]) + "-" + "".join(letters[half:])


def normalise_code(text: str) -> str | None:
    """The code as typed, without dashes, spaces or case; None if it cannot be one."""
    letters = "".join(ch for ch in text.upper() if ch not in "- \t")
    if len(letters) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in letters):
        return None
    return letters


def code_hash(key: bytes, community: CommunityId, code: str) -> str:
    """What is stored of a code: keyed by a key kept outside the database, so the
    database alone cannot be searched for a live code."""
    normal = normalise_code(code)
    assert normal is not None, "hash only well-formed codes"
    message = f"link:{community}:{normal}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class LinkCode:
    id: int
    community: CommunityId
    member: MemberId
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def check(self, now: datetime) -> None:
        if self.used_at is not None:
            raise LinkError(
                "That code was used already; each code works once. Ask for a new one "
                "with !link from the account you are linking to."
            )
        if now >= self.expires_at:
            raise LinkError(
                "That code has expired (codes last 10 minutes). Ask for a new one with "
                "!link from the account you are linking to."
            )


def later(a: tuple[datetime | None, int], b: tuple[datetime | None, int]) -> bool:
    """Whether ballot `a` was cast after ballot `b`, each as (cast at, row id): by time
    where both have one (open votes), else by row id (secret votes keep no time; their
    rows are written anew on each change, so the id orders the last changes)."""
    if a[0] is not None and b[0] is not None and a[0] != b[0]:
        return a[0] > b[0]
    return a[1] > b[1]


def erased_name(member: MemberId) -> str:
    return f"erased member {member}"
