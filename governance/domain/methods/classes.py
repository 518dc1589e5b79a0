"""Stakeholder classes: a quorum of their own, and results combined by weight.

The multi-stakeholder co-op gives each class a share of the decision (workers 40 %,
users 30 %, …) whatever its size. Each class's own result is shown, and the combined
result counts every ballot with its class's weight divided by that class's number of
ballots, so each class that voted weighs exactly its share. Weights are made whole
numbers (times the least common multiple of the class sizes and the weights'
denominators), so every method counts them exactly, with no rounding.

A class that cast no ballots cannot weigh anything: the classes that voted share the
whole in proportion to their weights, and the explanation says so. Ballots of members
in no weighted class do not count in the weighted result (and are counted in the
overall quorum); the explanation says how many.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from governance.domain.ballot import Choice
from governance.domain.lifecycle import ClosedAs
from governance.domain.methods.base import Method, count_quorum, list_names, plural
from governance.domain.policy import ClassRule, Policy, format_share
from governance.domain.result import Result, TallyTable

NO_CLASS = "no class"


@dataclass(frozen=True, slots=True)
class ClassBallots:
    """The ballots of one stakeholder class (None: members with no class) and the number
    of its members on the frozen roll."""

    name: str | None
    roll: int
    ballots: Sequence[Choice]


def decide(
    method: Method,
    classes: Sequence[ClassBallots],
    options: tuple[str, ...],
    policy: Policy,
) -> Result:
    """The result of a vote whose ballots are grouped by the voters' classes."""
    everyone = [b for c in classes for b in c.ballots]
    roll = sum(c.roll for c in classes)
    if not policy.classes:
        return method.tally(everyone, options, policy, roll)
    by_name = {c.name: c for c in classes}
    quorum_lines, failed = _class_quorums(policy.classes, by_name)
    if policy.weighted and not failed and count_quorum(len(everyone), roll, policy).quorum_reached:
        return _weighted(method, policy, by_name, options, everyone, roll, quorum_lines)
    overall = method.tally(everyone, options, replace(policy, classes=()), roll)
    if overall.closed_as is ClosedAs.NO_QUORUM:
        return replace(overall, explanation=(*overall.explanation, *quorum_lines))
    if failed:
        return Result(
            ClosedAs.NO_QUORUM,
            f"No quorum — {failed[0]}.",
            overall.counts,
            len(everyone),
            roll,
            False,
            explanation=(*count_quorum(len(everyone), roll, policy).lines, *quorum_lines),
        )
    return replace(overall, explanation=(*overall.explanation, *quorum_lines))


def _class_quorums(
    rules: tuple[ClassRule, ...], by_name: dict[str | None, ClassBallots]
) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    failed: list[str] = []
    for rule in rules:
        if rule.quorum is None:
            continue
        group = by_name.get(rule.name)
        cast, size = (0, 0) if group is None else (len(group.ballots), group.roll)
        needed = rule.quorum.needed(size)
        reached = cast >= needed
        lines.append(
            f"Quorum of {rule.name}: {needed} of {size} needed ({rule.quorum.describe()}), "
            f"{cast} voted — {'reached' if reached else 'not reached'}."
        )
        if not reached:
            failed.append(f"{rule.name}: {cast} of {size} voted, {needed} needed")
    return lines, failed


def _weighted(
    method: Method,
    policy: Policy,
    by_name: dict[str | None, ClassBallots],
    options: tuple[str, ...],
    everyone: list[Choice],
    roll: int,
    quorum_lines: list[str],
) -> Result:
    plain_policy = replace(policy, classes=(), quorum=None)
    weights = {rule.name: rule.weight for rule in policy.classes if rule.weight is not None}
    voting = [
        (name, w, by_name[name])
        for name, w in weights.items()
        if by_name.get(name) and by_name[name].ballots
    ]
    lines = list(count_quorum(len(everyone), roll, policy).lines) + quorum_lines
    rows = []
    for name, weight in weights.items():
        group = by_name.get(name)
        if group is None or not group.ballots:
            rows.append(
                (
                    name,
                    format_share(weight),
                    f"0 of {0 if group is None else group.roll}",
                    "no ballots",
                )
            )
            continue
        own = method.tally(group.ballots, options, plain_policy, group.roll)
        rows.append(
            (name, format_share(weight), f"{len(group.ballots)} of {group.roll}", own.summary)
        )
    table = TallyTable(
        "By stakeholder class", ("class", "weight", "ballots", "result"), tuple(rows)
    )
    silent = [name for name in weights if name not in {v[0] for v in voting}]
    if silent:
        lines.append(
            f"{list_names(silent)} cast no ballots, so the classes that voted share the "
            "whole in proportion to their weights."
        )
    outside = sum(len(g.ballots) for name, g in by_name.items() if name not in weights)
    if outside:
        lines.append(
            f"{plural(outside, 'ballot')} from members in no weighted class "
            f"({list_names(sorted(n or NO_CLASS for n in by_name if n not in weights))}) "
            "are not counted in the weighted result."
        )
    if not voting:
        return Result(
            ClosedAs.REJECTED,
            "Rejected — no ballots from the weighted classes.",
            (),
            len(everyone),
            roll,
            True,
            explanation=tuple(lines),
            tables=(table,),
        )
    sizes = math.lcm(*(len(g.ballots) for _, _, g in voting))
    denominators = math.lcm(*(w.denominator for _, w, _ in voting))
    ballots: list[Choice] = []
    per_ballot: list[int] = []
    for _, weight, group in voting:
        each = weight * sizes * denominators / len(group.ballots)
        assert isinstance(each, Fraction) and each.denominator == 1
        ballots.extend(group.ballots)
        per_ballot.extend([int(each)] * len(group.ballots))
    combined = method.tally(ballots, options, plain_policy, roll, per_ballot)
    lines.append(
        "Each class counts by its weight: "
        + ", ".join(f"{name} {format_share(w)}" for name, w, _ in voting)
        + "; within a class every ballot counts the same."
    )
    lines += [line for line in combined.explanation if not line.startswith("Ballots: ")]
    return replace(
        combined,
        ballots=len(everyone),
        roll=roll,
        explanation=tuple(lines),
        tables=(table, *combined.tables),
    )
