"""What a voter chose, in a form every method understands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Choice:
    """A ballot's content.

    `verdict` is a word of a verdict method (``yes``, ``object``, ``block`` …);
    `options` are option indexes: one for ``choice``, a sorted set for ``approval``, a
    ranking (most preferred first) for ``ranked``, ``condorcet`` and ``stv``;
    `marks` holds one entry per option for ``score`` (0–5) and ``dots`` (how many
    dots), None where the voter left it blank — dense, so a large count can sum columns;
    `reason` is required by some verdicts (an objection, a block), optional for others.
    """

    verdict: str | None = None
    options: tuple[int, ...] = ()
    reason: str | None = None
    marks: tuple[int | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.verdict is not None:
            data["v"] = self.verdict
        if self.options:
            data["o"] = list(self.options)
        if self.reason is not None:
            data["r"] = self.reason
        if self.marks:
            data["m"] = list(self.marks)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Choice:
        return cls(
            verdict=data.get("v"),
            options=tuple(data.get("o", ())),
            reason=data.get("r"),
            marks=tuple(data.get("m", ())),
        )

    def describe(
        self, options: tuple[str, ...], *, ranking: bool = False, separator: str = "="
    ) -> str:
        """How the choice reads back to the voter: ``yes``, ``Acorn``, ``object — “too
        costly”``, ``Birch > Acorn`` (a `ranking`), ``Acorn=5, Birch=3`` (marks, written
        with `separator`: ``Acorn:3`` for dots)."""
        if self.verdict is not None:
            text = self.verdict
        elif self.marks:
            marked = [
                f"{options[i]}{separator}{m}" for i, m in enumerate(self.marks) if m is not None
            ]
            text = ", ".join(marked) or "no option"
        else:
            names = [options[i] for i in self.options]
            text = (" > " if ranking else ", ").join(names) or "no option"
        return f"{text} — “{self.reason}”" if self.reason else text
