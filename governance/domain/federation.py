"""Federations: communities whose voters are member communities.

A federation proposal opens, when its vote opens, a vote inside each member community
(its *part*): the same method, options and method settings (seats, dots, threshold,
ties), but each community's own roll, quorum and classes. When the federation's vote
closes, each part closes with it, and each member community's result becomes its one
ballot at federation level:

- verdict methods: passed → the method's word for (yes, consent, agree); rejected →
  its word against (no, object, block, with the part's summary as the reason); no
  quorum, tied, no ballots at all or anything else → its abstaining word (abstain,
  stand-aside). The
  non-binding advice and sense-check give the view most of its members gave.
- option methods: the part's winner(s) (choice, approval), its order (ranked,
  condorcet, stv: winners first, then the rest by their count), its winners at the top
  score and the rest at the lowest (score), its dots spread in proportion to its own
  count (dots). A part with no winner (no quorum, tied, no ballots) abstains: it casts
  no ballot.

Ballots are weighted equally, or by each member community's roll when its part opened
(``member_weights = "members"``). At federation level there is no quorum and no class:
every member community is on its roll and each gives its result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from governance.domain.ballot import Choice
from governance.domain.ids import CommunityId, ProposalNumber
from governance.domain.lifecycle import ClosedAs, Status
from governance.domain.methods import BallotShape, Method, plural
from governance.domain.policy import Policy
from governance.domain.result import Result, TallyTable


class Weighting(StrEnum):
    EQUAL = "equal"
    """Each member community weighs the same."""
    MEMBERS = "members"
    """Each member community weighs its number of voters when its part opened."""


@dataclass(frozen=True, slots=True)
class Federation:
    id: CommunityId
    members: tuple[CommunityId, ...]
    weighting: Weighting = Weighting.EQUAL

    def weight(self, roll: int) -> int:
        return 1 if self.weighting is Weighting.EQUAL else roll


def check_federations(declared: Mapping[str, Sequence[str]], known: Sequence[str]) -> None:
    """Raise `ValueError` naming the problem: a member community that is not declared,
    one listed twice, a federation listing itself, or a cycle of federations."""
    names = set(known)
    for federation, members in declared.items():
        for member in members:
            if member == federation:
                raise ValueError(f"federation {federation} lists itself among its members")
            if member not in names:
                raise ValueError(
                    f"federation {federation}: member community {member!r} is not declared "
                    "(add a [[communities]] entry for it)"
                )
        twice = sorted({m for m in members if list(members).count(m) > 1})
        if twice:
            raise ValueError(f"federation {federation} lists {twice[0]} twice")
    # A cycle: following member links from a federation leads back to it.
    for start in declared:
        path = [start]
        stack = [(start, iter(declared[start]))]
        while stack:
            _, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                continue
            if child == start:
                raise ValueError(
                    "federations form a cycle: " + " → ".join([*path, start]) + " (a "
                    "community cannot be, through others, a member of itself)"
                )
            if child in declared and child not in path:
                path.append(child)
                stack.append((child, iter(declared[child])))


@dataclass(frozen=True, slots=True)
class Part:
    """One member community's part of a federation proposal."""

    community: CommunityId
    number: ProposalNumber
    """The part's number in its own community."""
    roll: int
    """Its voters when it opened."""
    weight: int
    status: Status
    result: Result | None


FOR = {"majority": "yes", "consent": "consent", "consensus": "agree"}
AGAINST = {"majority": "no", "consent": "object", "consensus": "block"}
ABSTAIN = {
    "majority": "abstain",
    "consent": "stand-aside",
    "consensus": "abstain",
    "advice": "abstain",
    "sense-check": "unsure",
}


def ballot_of(
    method: Method, options: tuple[str, ...], policy: Policy, part: Part
) -> tuple[Choice | None, str]:
    """The part's ballot at federation level and how it reads (``yes``, ``Acorn``,
    ``abstains (no quorum)``); None: it casts no ballot."""
    result = part.result
    why = _why(part)
    if method.shape is BallotShape.VERDICT:
        word, reason = _verdict(method, part)
        needs = {v.word: v.needs_reason for v in method.verdicts}
        choice = Choice(verdict=word, reason=reason if needs.get(word) else None)
        text = word if why is None or word != ABSTAIN.get(method.name) else f"{word} ({why})"
        return choice, text
    if result is None or not result.winners or result.closed_as is not ClosedAs.DECIDED:
        return None, f"abstains ({why or 'no winner'})"
    index = {name: i for i, name in enumerate(options)}
    winners = [index[w] for w in result.winners if w in index]
    counts = {label: n for label, n in result.counts}
    if method.shape is BallotShape.ONE_OPTION:
        choice = Choice(options=(winners[0],))
    elif method.shape is BallotShape.OPTION_SET:
        choice = Choice(options=tuple(sorted(winners)))
    elif method.shape is BallotShape.RANKING:
        rest = sorted(
            (i for i in range(len(options)) if i not in winners),
            key=lambda i: (-counts.get(options[i], 0), i),
        )
        choice = Choice(options=(*winners, *rest))
    elif method.shape is BallotShape.SCORES:
        low, high = method.score_range
        choice = Choice(marks=tuple(high if i in winners else low for i in range(len(options))))
    else:  # dots: the budget spread as the part's own dots were
        choice = Choice(marks=_spread(options, counts, policy.dot_budget))
    choice = method.check_ballot(choice, options, policy)
    return choice, _describe(method, options, choice)


def _describe(method: Method, options: tuple[str, ...], choice: Choice) -> str:
    separator = ":" if method.shape is BallotShape.DOTS else "="
    return choice.describe(
        options, ranking=method.shape is BallotShape.RANKING, separator=separator
    )


def _spread(
    options: tuple[str, ...], counts: Mapping[str, int], budget: int
) -> tuple[int | None, ...]:
    """`budget` dots in proportion to `counts`, by largest remainder (ties: option order)."""
    total = sum(counts.get(o, 0) for o in options)
    if total == 0:
        return tuple(None for _ in options)
    exact = [counts.get(o, 0) * budget for o in options]
    dots = [e // total for e in exact]
    left = budget - sum(dots)
    order = sorted(range(len(options)), key=lambda i: (-(exact[i] % total), i))
    for i in order[:left]:
        dots[i] += 1
    return tuple(d if d else None for d in dots)


def _why(part: Part) -> str | None:
    if part.status is Status.CANCELLED:
        return "its part was cancelled"
    if part.status is Status.WITHDRAWN:
        return "its part was withdrawn"
    if part.result is None:
        return "no result"
    if part.result.ballots == 0:
        return "no ballots"
    return {
        ClosedAs.NO_QUORUM: "no quorum",
        ClosedAs.TIED: "tied",
    }.get(part.result.closed_as)


def _verdict(method: Method, part: Part) -> tuple[str, str | None]:
    result = part.result
    abstain = ABSTAIN.get(method.name, method.verdicts[-1].word)
    if result is None:
        return abstain, None
    reason = f"{part.community}: {result.summary}"
    if result.ballots == 0:
        return abstain, None
    if not method.binding:
        ranked = sorted(
            ((n, -i, word) for i, (word, n) in enumerate(result.counts) if n),
            reverse=True,
        )
        if not ranked:
            return abstain, None
        return ranked[0][2], reason
    if result.closed_as is ClosedAs.PASSED:
        return FOR[method.name], None
    if result.closed_as is ClosedAs.REJECTED:
        return AGAINST[method.name], reason
    return abstain, None


def federate(
    method: Method,
    options: tuple[str, ...],
    policy: Policy,
    parts: Sequence[Part],
    weighting: Weighting,
) -> Result:
    """The federation's result: each part's result as its ballot, weighted, with a table
    of every member community's part."""
    level = replace(policy, quorum=None, classes=())
    ballots: list[Choice] = []
    weights: list[int] = []
    rows: list[tuple[str, ...]] = []
    for part in parts:
        choice, text = ballot_of(method, options, level, part)
        if choice is not None:
            ballots.append(choice)
            weights.append(part.weight)
        summary = "—" if part.result is None else part.result.summary
        if part.status is not Status.CLOSED:
            summary = f"{part.status.value}"
        rows.append((f"{part.community} #{part.number}", summary, str(part.weight), text))
    if weighting is Weighting.EQUAL:
        result = method.tally(ballots, options, level, len(parts))
    elif method.takes_weights:
        result = method.tally(ballots, options, level, len(parts), weights)
    else:  # stv takes no weights: each part's ballot counts as many times as it weighs
        copies = [b for b, w in zip(ballots, weights, strict=True) for _ in range(w)]
        result = method.tally(copies, options, level, sum(weights))
    table = TallyTable(
        "Member communities",
        ("community", "its result", "weight", "its vote here"),
        tuple(rows),
    )
    how = (
        "each weighs the same"
        if weighting is Weighting.EQUAL
        else "each weighs its number of voters when its part opened"
    )
    members = plural(len(parts), "member community", "member communities")
    lines = (
        f"A federation vote: each of {members} "
        f"voted in its own rooms, and its result counts as its vote here ({how}).",
    )
    explanation = result.explanation
    summary = result.summary
    if weighting is Weighting.MEMBERS:  # the methods' words for weighted counts
        summary = summary.replace("by class weight", "by membership weight")
        explanation = tuple(
            line.replace("By class weight", "By membership weight") for line in explanation
        )
    return replace(
        result,
        summary=summary,
        tables=(table, *result.tables),
        explanation=(*lines, *explanation),
    )
