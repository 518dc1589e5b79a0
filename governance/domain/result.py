"""The explained result of a vote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from governance.domain.lifecycle import ClosedAs


@dataclass(frozen=True, slots=True)
class TallyTable:
    """A table a member reads to check a count: rounds, stages, pairwise wins, classes.

    Plain strings, so every platform can lay it out its own way (an HTML table, an
    embed field, aligned console columns)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "header": list(self.header),
            "rows": [list(r) for r in self.rows],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TallyTable:
        return cls(
            str(data["title"]),
            tuple(str(h) for h in data["header"]),
            tuple(tuple(str(c) for c in row) for row in data["rows"]),
        )


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
    tables: tuple[TallyTable, ...] = ()
    """Rounds, stages, the pairwise matrix, the per-class breakdown: in reading order."""

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
            "tables": [table.to_json() for table in self.tables],
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
            tables=tuple(TallyTable.from_json(t) for t in data.get("tables", ())),
        )
