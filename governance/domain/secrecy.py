"""Secret ballots: the link between a voter and a ballot exists only as a keyed tag.

While a secret vote is open, the bot can tell whether a member has voted (for one
ballot per member, and for reminders) by recomputing the tag with the proposal's key.
The key is destroyed at close; after that the stored tags cannot be linked back.
"""

from __future__ import annotations

import hashlib
import hmac

from governance.domain.ids import MemberId


def open_voter_key(member: MemberId) -> str:
    return f"m{member}"


def secret_voter_key(key: bytes, member: MemberId) -> str:
    return "s" + hmac.new(key, str(member).encode(), hashlib.sha256).hexdigest()
