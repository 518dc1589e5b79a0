"""What a voter chose, in a form every method understands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Choice:
    """A ballot's content.

    `verdict` is a word of a verdict method (``yes``, ``object``, ``block`` …);
    `options` are option indexes (one for ``choice``, a sorted set for ``approval``);
    `reason` is required by some verdicts (an objection, a block).
    """

    verdict: str | None = None
    options: tuple[int, ...] = ()
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.verdict is not None:
            data["v"] = self.verdict
        if self.options:
            data["o"] = list(self.options)
        if self.reason is not None:
            data["r"] = self.reason
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Choice:
        return cls(verdict=data.get("v"), options=tuple(data.get("o", ())), reason=data.get("r"))

    def describe(self, options: tuple[str, ...]) -> str:
        """How the choice reads back to the voter: ``yes``, ``Acorn``, ``object (too costly)``."""
        if self.verdict is not None:
            text = self.verdict
        else:
            text = ", ".join(options[i] for i in self.options) or "no option"
        return f"{text} — “{self.reason}”" if self.reason else text
