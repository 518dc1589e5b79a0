"""How a proposal is decided, besides its method: quorum, threshold, seats, secrecy,
result visibility and the tie rule."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

from governance.domain.errors import InvalidProposal
from governance.domain.tiebreak import commitment

MAX_SEATS = 20
MAX_DOTS = 100
DEFAULT_DOTS = 10
MAX_CLASSES = 20


class TieRule(StrEnum):
    REPORT = "report"
    STATUS_QUO = "status-quo"
    LOT = "lot"


class Strength(StrEnum):
    """How the Schulze method measures a pairwise defeat."""

    MARGINS = "margins"
    WINNING = "winning-votes"


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
    """`Fraction(1, 2)` → ``50%``, `Fraction(2, 3)` → ``2/3``, `Fraction(1, 8)` → ``12.5%``."""
    percent = share * 100
    if percent.denominator == 1:
        return f"{percent.numerator}%"
    if (percent * 10).denominator == 1:
        return f"{float(percent):.1f}%"
    return f"{share.numerator}/{share.denominator}"


@dataclass(frozen=True, slots=True)
class ClassRule:
    """A stakeholder class's part in a decision: its weight and, optionally, its quorum."""

    name: str
    weight: Fraction | None = None
    """A share of the result (the weights of a policy add up to 1); None: no weighting."""
    quorum: Quorum | None = None


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
    """Secret until the vote closes (`to_json` leaves it out unless told to reveal it)."""
    lot_commitment: str | None = None
    """The SHA-256 of `lot_seed`, published from the start; set from the seed when one is
    given, kept alone in a policy whose seed is `sealed`."""
    allow_change: bool = True
    strength: Strength = Strength.MARGINS
    classes: tuple[ClassRule, ...] = ()
    """Stakeholder classes with a weight or a quorum of their own (the multi-stakeholder
    co-op: workers 40 %, users 30 %, …)."""

    @property
    def weighted(self) -> bool:
        return any(rule.weight is not None for rule in self.classes)

    @property
    def dot_budget(self) -> int:
        return DEFAULT_DOTS if self.dots is None else self.dots

    def sealed(self) -> Policy:
        """This policy without its lot's seed (its commitment kept): what a count made
        while voting is open may use, so no lot is drawn before close."""
        return replace(self, lot_seed=None)

    def __post_init__(self) -> None:
        if self.lot_seed is not None and self.lot_commitment is None:
            object.__setattr__(self, "lot_commitment", commitment(self.lot_seed))
        # A seed that does not match its published commitment (changed in the store) is
        # kept as it is: the close says the lot cannot be trusted (`reveal_line`).
        if self.threshold is not None and not (0 < self.threshold <= 1):
            raise InvalidProposal("A threshold must be more than 0 and at most 100%.")
        if self.quorum is not None:
            check_quorum(self.quorum)
        if not 1 <= self.seats <= MAX_SEATS:
            raise InvalidProposal(f"Seats must be between 1 and {MAX_SEATS}.")
        if self.secret and self.results is not Visibility.CLOSED:
            raise InvalidProposal(
                "A secret vote shows its results only after close (results=closed)."
            )
        if self.dots is not None and not 1 <= self.dots <= MAX_DOTS:
            raise InvalidProposal(f"dots= must be between 1 and {MAX_DOTS}.")
        check_classes(self.classes)

    def to_json(self, *, reveal: bool = False) -> dict[str, Any]:
        """The policy as members may read it; the lot's seed only with `reveal` (after
        close, and for the database)."""
        data: dict[str, Any] = {
            "quorum": _quorum_json(self.quorum),
            "threshold": None if self.threshold is None else str(self.threshold),
            "seats": self.seats,
            "dots": self.dots,
            "secret": self.secret,
            "results": self.results.value,
            "ties": self.ties.value,
            "allow_change": self.allow_change,
            "strength": self.strength.value,
            "classes": [
                {
                    "name": rule.name,
                    "weight": None if rule.weight is None else str(rule.weight),
                    "quorum": _quorum_json(rule.quorum),
                }
                for rule in self.classes
            ],
        }
        if self.lot_commitment is not None:
            data["lot_commitment"] = self.lot_commitment
        if reveal and self.lot_seed is not None:
            data["lot_seed"] = self.lot_seed
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Policy:
        return cls(
            quorum=_quorum_from_json(data.get("quorum")),
            threshold=None if data.get("threshold") is None else Fraction(data["threshold"]),
            seats=data.get("seats", 1),
            dots=data.get("dots"),
            secret=data.get("secret", False),
            results=Visibility(data.get("results", "live")),
            ties=TieRule(data.get("ties", "report")),
            lot_seed=data.get("lot_seed"),
            lot_commitment=data.get("lot_commitment"),
            allow_change=data.get("allow_change", True),
            strength=Strength(data.get("strength", "margins")),
            classes=tuple(
                ClassRule(
                    c["name"],
                    None if c.get("weight") is None else Fraction(c["weight"]),
                    _quorum_from_json(c.get("quorum")),
                )
                for c in data.get("classes", ())
            ),
        )


def _quorum_json(quorum: Quorum | None) -> dict[str, Any] | None:
    if quorum is None:
        return None
    return {"share": None if quorum.share is None else str(quorum.share), "count": quorum.count}


def _quorum_from_json(data: dict[str, Any] | None) -> Quorum | None:
    if data is None:
        return None
    share = data.get("share")
    return Quorum(share=None if share is None else Fraction(share), count=data.get("count"))


def check_quorum(quorum: Quorum, what: str = "quorum") -> None:
    if quorum.share is not None and not (0 < quorum.share <= 1):
        raise InvalidProposal(f"A {what} share must be more than 0 and at most 100%.")
    if quorum.count is not None and quorum.count < 1:
        raise InvalidProposal(f"A {what} count must be at least 1.")


def check_classes(classes: tuple[ClassRule, ...]) -> None:
    """Weights must all be set or all absent, be positive and add up to 100 %."""
    if len(classes) > MAX_CLASSES:
        raise InvalidProposal(f"At most {MAX_CLASSES} stakeholder classes; {len(classes)} given.")
    names = [rule.name for rule in classes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidProposal(f"The class {twice[0]} is named twice.")
    for rule in classes:
        if rule.quorum is not None:
            check_quorum(rule.quorum, f"{rule.name} quorum")
    weights = [rule.weight for rule in classes if rule.weight is not None]
    if not weights:
        return
    for rule in classes:
        if rule.weight is not None and rule.weight <= 0:
            raise InvalidProposal(
                f"The weight of {rule.name} must be more than 0; leave the class out instead."
            )
    total = sum(weights, Fraction(0))
    if total != 1:
        listed = ", ".join(
            f"{rule.name} {format_share(rule.weight)}" for rule in classes if rule.weight
        )
        raise InvalidProposal(
            f"Class weights must add up to 100%; these add up to {format_share(total)} ({listed})."
        )
