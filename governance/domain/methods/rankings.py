"""Methods on ranked ballots: instant-runoff (`ranked`), Schulze (`condorcet`) and the
single transferable vote (`stv`), each with every round, path or stage shown.

Ties. With ``ties=lot`` the seed (secret until close, when it is revealed) fixes one
ordering of the options that settles every tie, eliminations included (the option later
in the lot's order is eliminated). Otherwise (and for a count made while voting is open,
which draws no lot) every way of breaking the count's ties is followed — for
instant-runoff by counting each set of eliminated options once (`possible_winners`), for
STV by replaying the count down each branch (`explore`, up to `MAX_BRANCHES`), options
with no votes being interchangeable — and if they all give the same winners the tie did
not matter and the explanation says so; if not, the result is a tie (or, with
``ties=status-quo``, no option is chosen for what is tied).

Stakeholder-class weights apply to `ranked` and `condorcet` (each ballot counts with
its class's weight). They do not apply to `stv`: its quota and transfers count whole
ballots, and a proportional method already represents groups by their size.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from governance.domain.ballot import Choice
from governance.domain.methods.base import (
    BallotShape,
    Method,
    Tally,
    Weights,
    count_quorum,
    list_names,
    plural,
    stop_early,
    unsettled,
    winners_result,
)
from governance.domain.methods.irv import IrvCount, count_irv, possible_winners
from governance.domain.methods.profile import Draw, Profile, collapse
from governance.domain.methods.schulze import count_schulze
from governance.domain.methods.stv import SCALE, StvCount, StvStage, count_stv
from governance.domain.policy import Policy, Strength, TieRule
from governance.domain.result import Result, TallyTable
from governance.domain.tiebreak import lot_order

MAX_BRANCHES = 256
"""How many ways of breaking ties an STV count follows before it reports the tie
without following the rest."""

C = TypeVar("C")


class _Undecided(Exception):
    def __init__(self, ways: int) -> None:
        self.ways = ways


@dataclass(frozen=True, slots=True)
class Explored(Generic[C]):
    """Every way of breaking a count's ties: the counts and the ties met on the way."""

    counts: tuple[C, ...]
    symmetric: tuple[tuple[frozenset[int], ...], ...]
    """Per count: groups of interchangeable options one of which was excluded (not
    branched on: any of them could have gone)."""
    ties: tuple[tuple[tuple[int, ...], str], ...]
    """(tied options, what about) for each tie met on the first path."""
    complete: bool


def explore(run: Callable[[Draw], C]) -> Explored[C]:
    """Run a count under every way of settling the ties it meets (depth first).

    Of interchangeable options (``"exclude-symmetric"``) one branch stands for all, and
    the group is recorded instead: see `_outcome`."""
    found: list[C] = []
    symmetric: list[tuple[frozenset[int], ...]] = []
    first_ties: list[tuple[tuple[int, ...], str]] = []
    stack: list[tuple[int, ...]] = [()]
    complete = True
    while stack:
        script = stack.pop()
        if len(found) >= MAX_BRANCHES:
            complete = False
            break
        step = 0
        groups: list[frozenset[int]] = []

        def draw(
            tied: tuple[int, ...],
            why: str,
            script: tuple[int, ...] = script,
            groups: list[frozenset[int]] = groups,
        ) -> int:
            nonlocal step
            if why == "exclude-symmetric":
                groups.append(frozenset(tied))
                return tied[-1]
            if not found and len(first_ties) == step:
                first_ties.append((tied, why))
            if step < len(script):
                step += 1
                return tied[script[step - 1]]
            raise _Undecided(len(tied))

        try:
            found.append(run(draw))
            symmetric.append(tuple(groups))
        except _Undecided as branch:
            stack.extend((*script, k) for k in reversed(range(branch.ways)))
    return Explored(tuple(found), tuple(symmetric), tuple(first_ties), complete)


def lot_draw(policy: Policy, options: tuple[str, ...]) -> tuple[Draw, list[int]]:
    """The lot's draw: the option later in the seed's ordering is eliminated, and the one
    earlier goes first; also returns the ordering (option indexes)."""
    assert policy.lot_seed is not None
    order = [options.index(name) for name in lot_order(policy.lot_seed, options)]
    rank = {option: i for i, option in enumerate(order)}

    def draw(tied: tuple[int, ...], why: str) -> int:
        if why.startswith("exclude"):
            return max(tied, key=rank.__getitem__)
        return min(tied, key=rank.__getitem__)

    return draw, order


class _Ranked(Method):
    shape = BallotShape.RANKING

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        if not self.takes_weights:
            weights = None
        plain = collapse(ballots)
        profile = plain if weights is None else collapse(ballots, weights)
        first = [0] * len(options)
        for ranking, n in plain.items():
            first[ranking[0]] += n
        counts = tuple(zip(options, first, strict=True))
        t = count_quorum(len(ballots), roll_size, policy, weights)
        if (early := stop_early(t, counts, ballots)) is not None:
            return early
        return self.count(profile, options, policy, t, counts)

    @abstractmethod
    def count(
        self,
        profile: Profile,
        options: tuple[str, ...],
        policy: Policy,
        t: Tally,
        counts: tuple[tuple[str, int], ...],
    ) -> Result:
        """The explained result of a collapsed, quorate, non-empty `profile`."""


def _votes(t: Tally, points: int) -> str:
    return t.show(points) if t.unit is not None else str(points)


class Ranked(_Ranked):
    name = "ranked"
    description = (
        "rank the options; instant-runoff: the last-placed is eliminated until one has a majority"
    )

    def count(
        self,
        profile: Profile,
        options: tuple[str, ...],
        policy: Policy,
        t: Tally,
        counts: tuple[tuple[str, int], ...],
    ) -> Result:
        n = len(options)
        lines = list(t.lines)
        if policy.ties is TieRule.LOT and policy.lot_seed is not None:
            draw, order = lot_draw(policy, options)
            count = count_irv(profile, n, draw)
            if any(r.tied for r in count.rounds):
                lines.append(
                    f"Ties are settled by lot: seed {policy.lot_seed} orders the options "
                    f"{' > '.join(options[i] for i in order)}; the later one is eliminated."
                )
            lines += _irv_lines(count, options, t)
            return winners_result(
                [options[count.winner]], counts, t, lines, (_irv_table(count, options, t),)
            )
        drawn: list[tuple[int, ...]] = []

        def first_way(tied: tuple[int, ...], why: str) -> int:
            drawn.append(tied)
            return tied[-1]

        count = count_irv(profile, n, first_way)
        lines += _irv_lines(count, options, t)
        table = (_irv_table(count, options, t),)
        if not drawn:
            return winners_result([options[count.winner]], counts, t, lines, table)
        winners, complete = possible_winners(profile, n)
        winners |= {count.winner}  # the way shown is one of the ways
        if len(winners) == 1 and complete:
            lines.append(
                f"However the ties for elimination are broken, {options[count.winner]} wins."
            )
            return winners_result([options[count.winner]], counts, t, lines, table)
        names = [options[w] for w in sorted(winners)]
        lines.append("The rounds above follow one way of breaking the ties.")
        lines.append(
            "Tie: "
            + "; ".join(
                f"{list_names([options[i] for i in tied])} tied for fewest" for tied in drawn
            )
            + f". Depending on which is eliminated, {list_names(names)} could win."
            + ("" if complete else " (Too many ties to follow every one.)")
        )
        return unsettled(names, policy, counts, t, lines, table)


def _irv_table(count: IrvCount, options: tuple[str, ...], t: Tally) -> TallyTable:
    header = ("option", *(f"round {r.number}" for r in count.rounds))
    rows = [
        (
            option,
            *("—" if r.totals[i] is None else _votes(t, r.totals[i] or 0) for r in count.rounds),
        )
        for i, option in enumerate(options)
    ]
    rows.append(("exhausted", *(_votes(t, r.exhausted) for r in count.rounds)))
    return TallyTable("Instant-runoff rounds", header, tuple(rows))


def _irv_lines(count: IrvCount, options: tuple[str, ...], t: Tally) -> list[str]:
    lines: list[str] = []
    for r in count.rounds:
        parts: list[str] = []
        if r.moved or r.newly_exhausted:
            moved = [f"{_votes(t, k)} to {options[c]}" for c, k in r.moved]
            if r.newly_exhausted:
                moved.append(f"{_votes(t, r.newly_exhausted)} exhausted (no option left)")
            parts.append("transferred: " + ", ".join(moved))
        active = sum(v for v in r.totals if v is not None)
        if r.eliminated:
            out = [options[i] for i in r.eliminated]
            low = r.totals[r.eliminated[0]] or 0
            if r.tied:
                why = (
                    f"{list_names([options[i] for i in r.tied])} tied for fewest "
                    f"({_votes(t, low)}); {out[0]} is eliminated"
                )
            elif low == 0 and len(out) > 1:
                why = f"{list_names(out)} have no votes and are eliminated together"
            else:
                why = f"{out[0]} has the fewest votes ({_votes(t, low)}) and is eliminated"
            parts.append(f"no option has more than half of {_votes(t, active)}; {why}")
        else:
            winner = options[count.winner]
            best = r.totals[count.winner] or 0
            if count.majority:
                parts.append(
                    f"{winner} has {_votes(t, best)} of {_votes(t, active)} ballots still "
                    "counting, more than half: elected"
                )
            else:
                parts.append(f"{winner} is the last option left: elected")
        lines.append(f"Round {r.number}: " + "; ".join(parts) + ".")
    return lines


class Condorcet(_Ranked):
    name = "condorcet"
    description = (
        "rank the options; Schulze: the option that beats every other head to head, "
        "else the strongest chain of wins"
    )

    def count(
        self,
        profile: Profile,
        options: tuple[str, ...],
        policy: Policy,
        t: Tally,
        counts: tuple[tuple[str, int], ...],
    ) -> Result:
        n = len(options)
        count = count_schulze(profile, n, policy.strength)
        letters = [chr(65 + i) for i in range(n)]
        key = "  ".join(f"{letters[i]} {o}" for i, o in enumerate(options))

        def matrix(title: str, cells: tuple[tuple[int, ...], ...]) -> TallyTable:
            rows = tuple(
                (
                    letters[a],
                    *("—" if a == b else _votes(t, cells[a][b]) for b in range(n)),
                )
                for a in range(n)
            )
            return TallyTable(title, ("", *letters), rows)

        measure = "margins" if policy.strength is Strength.MARGINS else "winning votes"
        tables = (
            matrix("Head to head: ballots ranking the row above the column", count.pairwise),
            matrix(f"Strongest paths ({measure})", count.paths),
        )
        lines = [*t.lines, f"Options: {key}."]
        if count.condorcet_winner is not None:
            lines.append(
                f"{options[count.condorcet_winner]} beats every other option head to head "
                "(the Condorcet winner)."
            )
        else:
            lines.append(
                "No option beats every other head to head; the strongest chains of wins "
                f"decide, a chain as strong as its weakest link ({measure})."
            )
        for w in count.winners:
            lines.append(
                f"{options[w]}'s strongest paths are at least as strong as every path back "
                f"to it: p[{letters[w]}][x] ≥ p[x][{letters[w]}] for every x."
            )
        names = [options[w] for w in count.winners]
        if len(names) == 1:
            return winners_result(names, counts, t, lines, tables)
        if policy.ties is TieRule.LOT and policy.lot_seed is not None:
            order = lot_order(policy.lot_seed, names)
            lines.append(
                f"Tie settled by lot: seed {policy.lot_seed} orders them {' > '.join(order)}."
            )
            return winners_result(order[:1], counts, t, lines, tables)
        lines.append(f"Tie: {list_names(names)} each have paths at least as strong as any back.")
        return unsettled(names, policy, counts, t, lines, tables)


class Stv(_Ranked):
    name = "stv"
    description = "rank the options; single transferable vote (Scottish STV rules) for seats=k"
    seats = True
    takes_weights = False

    def count(
        self,
        profile: Profile,
        options: tuple[str, ...],
        policy: Policy,
        t: Tally,
        counts: tuple[tuple[str, int], ...],
    ) -> Result:
        n, seats = len(options), policy.seats
        lines = list(t.lines)
        if policy.ties is TieRule.LOT and policy.lot_seed is not None:
            draw, order = lot_draw(policy, options)
            count = count_stv(profile, n, seats, draw)
            if any(s.tie == "lot" for s in count.stages):
                lines.append(
                    f"Ties are settled by lot: seed {policy.lot_seed} orders the options "
                    f"{' > '.join(options[i] for i in order)}."
                )
            lines += _stv_lines(count, options)
            return winners_result(
                [options[i] for i in count.elected], counts, t, lines, (_stv_table(count, options),)
            )
        explored = explore(lambda draw: count_stv(profile, n, seats, draw))
        count = explored.counts[0]
        lines += _stv_lines(count, options)
        table = (_stv_table(count, options),)
        outcomes = [
            _outcome(c.elected, groups)
            for c, groups in zip(explored.counts, explored.symmetric, strict=True)
        ]
        if len(set(outcomes)) == 1 and not outcomes[0][1] and explored.complete:
            if explored.ties:
                lines.append("The ties the rules leave to a lot do not change who is elected.")
            return winners_result([options[i] for i in count.elected], counts, t, lines, table)
        sure = frozenset.intersection(*(fixed for fixed, _ in outcomes))
        maybe = sorted(frozenset.union(*(fixed | open_ for fixed, open_ in outcomes)) - sure)
        if not maybe:  # every path followed agreed, but not every path was followed
            maybe = sorted(set(range(n)) - sure)
        lines.append(
            "The rules leave a tie to a lot, and the lot would decide who is elected among "
            f"{list_names([options[i] for i in maybe])}."
            + ("" if explored.complete else " (Too many ties to follow every one.)")
        )
        names = [options[i] for i in maybe]
        elected = tuple(options[i] for i in count.elected if i in sure)
        summary = (
            f"Tied — {list_names(names)} for {plural(seats - len(sure), 'seat')}; "
            f"{', '.join(elected)} elected."
            if elected
            else None
        )
        return unsettled(names, policy, counts, t, lines, table, summary, elected)


def _outcome(
    elected: tuple[int, ...], groups: tuple[frozenset[int], ...]
) -> tuple[frozenset[int], frozenset[int]]:
    """Who is elected for sure on this path, and the options that share seats by lot: an
    interchangeable group only partly elected could have been elected in any of its
    other arrangements."""
    fixed, open_ = set(elected), set[int]()
    for group in groups:
        if fixed & group and not group <= fixed:
            fixed -= group
            open_ |= group
    return frozenset(fixed), frozenset(open_)


def _scaled(value: int) -> str:
    whole, frac = divmod(value, SCALE)
    return str(whole) if not frac else f"{whole}.{frac:05d}".rstrip("0")


def _stv_table(count: StvCount, options: tuple[str, ...]) -> TallyTable:
    header = ("option", *(f"stage {s.number}" for s in count.stages))
    rows = [
        (option, *(_scaled(s.totals[i]) for s in count.stages)) for i, option in enumerate(options)
    ]
    rows.append(("non-transferable", *(_scaled(s.non_transferable) for s in count.stages)))
    rows.append(("lost to fractions", *(_scaled(s.lost) for s in count.stages)))
    return TallyTable("STV stages", header, tuple(rows))


def _moved(before: StvStage, stage: StvStage, options: tuple[str, ...]) -> str:
    """What a stage's transfer brought each option, and what found no next preference
    or was lost to the ignored fractions."""
    parts = [
        f"{_scaled(now - then)} to {options[i]}"
        for i, (then, now) in enumerate(zip(before.totals, stage.totals, strict=True))
        if now > then
    ]
    for label, then, now in (
        ("non-transferable", before.non_transferable, stage.non_transferable),
        ("lost to fractions", before.lost, stage.lost),
    ):
        if now > then:
            parts.append(f"{_scaled(now - then)} {label}")
    return " (" + ", ".join(parts) + ")" if parts else " (no ballot moves)"


def _stv_lines(count: StvCount, options: tuple[str, ...]) -> list[str]:
    lines = [
        f"Seats: {count.seats}. Quota: {count.valid} valid ballots ÷ ({count.seats} + 1), "
        f"fraction ignored, + 1 = {count.quota} (Droop; Scottish STV rule 46).",
    ]
    before: StvStage | None = None
    for stage in count.stages:
        if stage.action == "first":
            text = "first preferences counted"
        elif stage.action == "surplus":
            assert stage.subject is not None and before is not None
            total = before.totals[stage.subject]
            surplus = total - count.quota * SCALE
            text = (
                f"the surplus of {options[stage.subject]}, {_scaled(surplus)} of "
                f"{_scaled(total)}, is transferred: every ballot they hold moves on at its "
                f"value × {_scaled(surplus)} ÷ {_scaled(total)}, to five decimals"
            )
        else:
            assert stage.subject is not None
            text = (
                f"{options[stage.subject]} has the fewest votes and is excluded; their "
                "ballots move on at their current value"
            )
        if before is not None:
            text += _moved(before, stage, options)
        before = stage
        if stage.tie and stage.tied:
            equal = list_names([options[i] for i in stage.tied])
            how = (
                "the most recent earlier stage at which they differed decides"
                if stage.tie == "look-back"
                else "the rules leave it to a lot"
            )
            text += f" ({equal} were equal; {how})"
        if stage.elected:
            text += f"; elected: {', '.join(options[i] for i in stage.elected)}"
        lines.append(f"Stage {stage.number}: {text}.")
    if count.last_vacancies:
        lines.append(
            "The count ended early: the options still in it fill the last vacancies "
            "(rule 52), or, with one seat left, one option has more votes than all the "
            "others together plus every surplus not yet transferred."
        )
    return lines
