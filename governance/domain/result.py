"""The explained result of a vote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from governance.domain.lifecycle import ClosedAs


@dataclass(frozen=True, slots=True)
class Result:
    """What a method concluded and why.

    `summary` begins with one of SPEC.md's words: ``Passed``, ``Rejected``,
    ``No quorum``, ``Tied``, ``Winner: …``, ``Winners: …``, ``Concluded``.
    `counts` is the tally table in display order; `explanation` the lines a member
    reads to check the result by hand.
    """

    closed_as: ClosedAs
    summary: str
    counts: tuple[tuple[str, int], ...]
    ballots: int
    roll: int
    quorum_reached: bool
    winners: tuple[str, ...] = ()
    explanation: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = field(default=())
    """(verdict, reason) pairs, e.g. the objections that stood, without voters' names."""

    def to_json(self) -> dict[str, Any]:
        return {
            "closed_as": self.closed_as.value,
            "summary": self.summary,
            "counts": [list(c) for c in self.counts],
            "ballots": self.ballots,
            "roll": self.roll,
            "quorum_reached": self.quorum_reached,
            "winners": list(self.winners),
            "explanation": list(self.explanation),
            "reasons": [list(r) for r in self.reasons],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(
            closed_as=ClosedAs(data["closed_as"]),
            summary=data["summary"],
            counts=tuple((str(label), int(n)) for label, n in data["counts"]),
            ballots=data["ballots"],
            roll=data["roll"],
            quorum_reached=data["quorum_reached"],
            winners=tuple(data["winners"]),
            explanation=tuple(data["explanation"]),
            reasons=tuple((str(v), str(r)) for v, r in data["reasons"]),
        )
