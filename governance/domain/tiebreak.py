"""Ties settled by lot: a published seed fixes one ordering of the options, so anyone
can redraw it (SHA-256 of ``seed NUL label``, smallest first)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def lot_order(seed: str, labels: Iterable[str]) -> list[str]:
    """The lot's ordering of `labels`: earlier wins a tie."""
    return sorted(labels, key=lambda label: hashlib.sha256(f"{seed}\0{label}".encode()).digest())
