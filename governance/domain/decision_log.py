"""The decision log: append-only and hash-chained, one chain per community.

Each entry's hash is SHA-256 over the RFC 8785 canonical JSON of
``{"entry": <the entry>, "prev": <previous hash>}``; the first entry's ``prev`` is
`GENESIS`. Entries name members by id only and never hold story text, so erasing a
person's name or story never breaks the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import rfc8785

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class LogEntry:
    community: str
    seq: int
    at: str
    """ISO 8601 UTC instant, as stored."""
    kind: str
    proposal: int | None
    actor: int | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "proposal": self.proposal,
            "actor": self.actor,
            "data": self.data,
        }


def chain_hash(body: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(rfc8785.dumps({"entry": body, "prev": prev_hash})).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    reason: str


def verify_chain(entries: Iterable[LogEntry]) -> ChainProblem | None:
    """The first entry that breaks the chain, or None if every link holds."""
    prev = GENESIS
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainProblem(entry.seq, f"expected entry {expected_seq}, found {entry.seq}")
        if entry.prev_hash != prev:
            return ChainProblem(entry.seq, "its previous-hash does not match the entry before it")
        if chain_hash(entry.body(), prev) != entry.hash:
            return ChainProblem(entry.seq, "its content does not match its hash")
        prev = entry.hash
        expected_seq += 1
    return None
