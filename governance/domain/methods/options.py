"""Methods that choose among options by counting: choice, approval, score and dots.

Score and dots ballots are dense (one mark per option, None for blank), so a large
count sums columns in C (`zip(*marks)`, `filter`) instead of looping per ballot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from functools import reduce
from operator import attrgetter, iadd

from governance.domain.ballot import Choice
from governance.domain.methods.base import (
    BallotShape,
    Method,
    Weights,
    count_quorum,
    decide_top,
    plural,
    stop_early,
)
from governance.domain.policy import Policy
from governance.domain.result import Result, TallyTable

_options = attrgetter("options")
_marks = attrgetter("marks")


class _Counted(Method):
    """Choice and approval: an option's votes are the ballots (or points) naming it."""

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        points = [0] * len(options)
        plain = [0] * len(options)
        if weights is None:
            for picked, n in Counter(map(_options, ballots)).items():
                for i in picked:
                    plain[i] += n
            points = plain
        else:
            for ballot, weight in zip(ballots, weights, strict=True):
                for i in ballot.options:
                    points[i] += weight
                    plain[i] += 1
        counts = tuple(zip(options, plain, strict=True))
        t = count_quorum(len(ballots), roll_size, policy, weights)
        if (early := stop_early(t, counts, ballots)) is not None:
            return early
        lines = list(t.lines)
        if t.unit is not None:
            lines.append(
                "By class weight: "
                + ", ".join(f"{o} {t.show(p)}" for o, p in zip(options, points, strict=True))
                + "."
            )
        scored = [(o, p, t.show(p, "vote")) for o, p in zip(options, points, strict=True)]
        return decide_top(scored, policy.seats, policy, t, lines, counts)


class SingleChoice(_Counted):
    name = "choice"
    shape = BallotShape.ONE_OPTION
    description = "one option; the option with most votes wins"


class Approval(_Counted):
    name = "approval"
    shape = BallotShape.OPTION_SET
    description = "any set of options; most approvals win (top k with seats=k)"
    seats = True


def _columns(ballots: Sequence[Choice], n: int) -> list[list[int | None]]:
    """Each option's marks, one list per option. One flat list sliced n ways: zipping the
    ballots would make an iterator per ballot and wake the garbage collector."""
    flat: list[int | None] = reduce(iadd, map(_marks, ballots), [])  # extends in C
    return [flat[i::n] for i in range(n)]


class Score(Method):
    name = "score"
    shape = BallotShape.SCORES
    description = "a score from 0 to 5 per option; the highest mean of the scores given wins"
    score_range = (0, 5)

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        n = len(options)
        given = [0] * n
        if weights is None:
            columns = _columns(ballots, n)
            given = [len(col) - col.count(None) for col in columns]
            sums = [sum(filter(None, col)) for col in columns]
            mass = given
        else:
            sums, mass = [0] * n, [0] * n
            for ballot, weight in zip(ballots, weights, strict=True):
                for i, mark in enumerate(ballot.marks):
                    if mark is not None:
                        sums[i] += mark * weight
                        mass[i] += weight
                        given[i] += 1
        counts = tuple(zip(options, given, strict=True))
        t = count_quorum(len(ballots), roll_size, policy, weights)
        if (early := stop_early(t, counts, ballots)) is not None:
            return early
        means = [Fraction(s, m) if m else None for s, m in zip(sums, mass, strict=True)]
        rows = tuple(
            (option, str(n), "—" if mean is None else _mean(mean))
            for option, n, mean in zip(options, given, means, strict=True)
        )
        table = TallyTable(
            "Scores" + (" (means weighted by class)" if weights is not None else ""),
            ("option", "scored by", "mean"),
            rows,
        )
        lines = [
            *t.lines,
            "The mean counts only the scores given; a blank is not a 0.",
        ]
        scored = [
            (option, mean, f"a mean of {_mean(mean)}")
            for option, mean in zip(options, means, strict=True)
            if mean is not None
        ]
        return decide_top(scored, 1, policy, t, lines, counts, (table,))


def _mean(value: Fraction) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".") if value.denominator != 1 else str(value)


class Dots(Method):
    name = "dots"
    shape = BallotShape.DOTS
    description = "spread your dots (10 unless dots= says) over the options; most dots wins"

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        n = len(options)
        if weights is None:
            points = [sum(filter(None, col)) for col in _columns(ballots, n)]
            plain = points
        else:
            points, plain = [0] * n, [0] * n
            for ballot, weight in zip(ballots, weights, strict=True):
                for i, mark in enumerate(ballot.marks):
                    if mark:
                        points[i] += mark * weight
                        plain[i] += mark
        counts = tuple(zip(options, plain, strict=True))
        t = count_quorum(len(ballots), roll_size, policy, weights)
        if (early := stop_early(t, counts, ballots)) is not None:
            return early
        lines = [*t.lines, f"Each voter had {plural(policy.dot_budget, 'dot')} to spread."]
        if t.unit is not None:
            t = replace(t, unit=sum(points) or 1)  # weighted dots read as shares of all dots
            lines.append(
                "By class weight: "
                + ", ".join(f"{o} {t.show(p)}" for o, p in zip(options, points, strict=True))
                + "."
            )
        scored = [(o, p, t.show(p, "dot")) for o, p in zip(options, points, strict=True)]
        return decide_top(scored, 1, policy, t, lines, counts)
