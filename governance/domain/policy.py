"""How a proposal is decided, besides its method: quorum, threshold, seats, secrecy,
result visibility and the tie rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from governance.domain.errors import InvalidProposal

MAX_SEATS = 20


class TieRule(StrEnum):
    REPORT = "report"
    STATUS_QUO = "status-quo"
    LOT = "lot"


class Visibility(StrEnum):
    LIVE = "live"
    VOTED = "voted"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Quorum:
    """Either a share of the voter roll or a number of ballots."""

    share: Fraction | None = None
    count: int | None = None

    def needed(self, roll_size: int) -> int:
        if self.count is not None:
            return self.count
        assert self.share is not None
        needed = self.share * roll_size
        return int(needed) if needed.denominator == 1 else int(needed) + 1

    def describe(self) -> str:
        if self.count is not None:
            return f"{self.count} ballot{'s' if self.count != 1 else ''}"
        assert self.share is not None
        return format_share(self.share)


def format_share(share: Fraction) -> str:
    """`Fraction(1, 2)` → ``50%``, `Fraction(2, 3)` → ``2/3``."""
    percent = share * 100
    if percent.denominator == 1:
        return f"{percent.numerator}%"
    return f"{share.numerator}/{share.denominator}"


@dataclass(frozen=True, slots=True)
class Policy:
    quorum: Quorum | None = None
    threshold: Fraction | None = None
    """None means the default: strictly more than half. A set threshold is met at ≥."""
    seats: int = 1
    dots: int | None = None
    secret: bool = False
    results: Visibility = Visibility.LIVE
    ties: TieRule = TieRule.REPORT
    lot_seed: str | None = None
    allow_change: bool = True

    def __post_init__(self) -> None:
        if self.threshold is not None and not (0 < self.threshold <= 1):
            raise InvalidProposal("A threshold must be more than 0 and at most 100%.")
        if self.quorum is not None:
            if self.quorum.share is not None and not (0 < self.quorum.share <= 1):
                raise InvalidProposal("A quorum share must be more than 0 and at most 100%.")
            if self.quorum.count is not None and self.quorum.count < 1:
                raise InvalidProposal("A quorum count must be at least 1.")
        if not 1 <= self.seats <= MAX_SEATS:
            raise InvalidProposal(f"Seats must be between 1 and {MAX_SEATS}.")
        if self.secret and self.results is not Visibility.CLOSED:
            raise InvalidProposal(
                "A secret vote shows its results only after close (results=closed)."
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "quorum": None
            if self.quorum is None
            else {
                "share": None if self.quorum.share is None else str(self.quorum.share),
                "count": self.quorum.count,
            },
            "threshold": None if self.threshold is None else str(self.threshold),
            "seats": self.seats,
            "dots": self.dots,
            "secret": self.secret,
            "results": self.results.value,
            "ties": self.ties.value,
            "lot_seed": self.lot_seed,
            "allow_change": self.allow_change,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Policy:
        q = data.get("quorum")
        quorum = (
            None
            if q is None
            else Quorum(
                share=None if q["share"] is None else Fraction(q["share"]), count=q["count"]
            )
        )
        return cls(
            quorum=quorum,
            threshold=None if data.get("threshold") is None else Fraction(data["threshold"]),
            seats=data.get("seats", 1),
            dots=data.get("dots"),
            secret=data.get("secret", False),
            results=Visibility(data.get("results", "live")),
            ties=TieRule(data.get("ties", "report")),
            lot_seed=data.get("lot_seed"),
            allow_change=data.get("allow_change", True),
        )
