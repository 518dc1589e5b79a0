"""Ties settled by lot: a seed fixes one ordering of the options, so anyone can redraw it
(SHA-256 of ``seed NUL label``, smallest first).

The seed is drawn when the proposal is made and kept secret until its vote closes: only
its commitment, the SHA-256 of the seed, is published before (in the proposal's card,
``!status`` and the decision log's ``proposed`` entry), so no one can know the lot in
advance, and at close the seed is revealed and anyone can check it against the
commitment and redraw the order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

LOT_SEED_BYTES = 16
"""Random bytes in a seed (shown in hex): too many to find from the commitment by trying."""


def lot_order(seed: str, labels: Iterable[str]) -> list[str]:
    """The lot's ordering of `labels`: earlier wins a tie."""
    return sorted(labels, key=lambda label: hashlib.sha256(f"{seed}\0{label}".encode()).digest())


def commitment(seed: str) -> str:
    """What is published of a lot's seed before close: its SHA-256, in hex."""
    return hashlib.sha256(seed.encode()).hexdigest()


def reveal_line(seed: str, labels: Iterable[str], published: str | None) -> str:
    """The result's line that reveals the seed at close, for anyone to check against
    `published`, the commitment shown since the vote was proposed."""
    made = commitment(seed)
    if published is not None and made != published:
        return (
            f"Lot seed: {seed}; its SHA-256 {made} is NOT the commitment published when "
            f"the vote was proposed ({published}): the seed was changed since, and this "
            "lot cannot be trusted."
        )
    return (
        f"Lot seed (secret until close): {seed}; its SHA-256 {made} is the "
        f"commitment published when the vote was proposed. The lot orders the options "
        f"{' > '.join(lot_order(seed, labels))}."
    )
