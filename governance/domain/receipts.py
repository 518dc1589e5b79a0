"""Receipts for secret ballots: proof that a ballot is *in* the count, never what it was.

Each voter in a secret vote is told a random code with their receipt, privately. The
store keeps the code in a table with no voter column; while the vote is open the row is
found again (to replace the code when the voter changes or withdraws their ballot)
through a keyed holder tag, made with the proposal's secret key like the ballot's own
tag but with a different label, so the receipt's row and the ballot's row share no
value a query could join on. At close the key is destroyed, the holder tags are
cleared and the rows rewritten in code order; the sorted list of codes is published
with the result (and chained into the decision log), one code per counted ballot.

A code names no ballot: it proves inclusion only, so no one can be made to prove how
they voted with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from governance.domain.ids import MemberId

CODE_BYTES = 7
"""Random bytes drawn per code; its first 10 base32 characters (50 bits) are the code."""
CODE_LENGTH = 10


def new_code(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh receipt code, e.g. ``K7QX2MBD4R``, from the injected source of randomness."""
    raw = random_bytes(CODE_BYTES)
    return base64.b32encode(raw).decode("ascii")[:CODE_LENGTH]


def shown(code: str) -> str:
    """A code as people read it: ``K7QXM-BD4R2``."""
    return f"{code[:5]}-{code[5:]}"


def receipt_holder(key: bytes, member: MemberId) -> str:
    """The keyed tag that finds a voter's receipt while the vote is open (never the
    ballot's tag: a different label, so the two rows cannot be joined without the key)."""
    return "r" + hmac.new(key, f"receipt:{member}".encode(), hashlib.sha256).hexdigest()
