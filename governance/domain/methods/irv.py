"""Instant-runoff voting (the alternative vote) for one seat, every round kept.

Each round counts every ballot for its highest-ranked option still in the count. An
option with more than half of the ballots still counting wins. Otherwise the option
with the fewest votes is eliminated and its ballots move to their next option still in
the count; a ballot with none left is *exhausted* and counts no more (partial rankings
are allowed). Options with no votes at all are eliminated together, which can never
change the winner. A tie for fewest votes is settled by `draw`.

Ballots with the same ranking always travel together, so the count moves piles of
identical ballots (a `Profile`), never single ballots.
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.domain.methods.profile import Draw, Profile


@dataclass(frozen=True, slots=True)
class IrvRound:
    number: int
    totals: tuple[int | None, ...]
    """Votes per option this round; None for an option already eliminated."""
    exhausted: int
    """Ballots with no option left in the count, cumulative."""
    eliminated: tuple[int, ...]
    """Eliminated at the end of this round (empty in the last round)."""
    tied: tuple[int, ...] = ()
    """Options tied for fewest votes, when a draw chose among them."""
    moved: tuple[tuple[int, int], ...] = ()
    """(option, votes received) from this round's eliminations; exhausted not included."""
    newly_exhausted: int = 0


@dataclass(frozen=True, slots=True)
class IrvCount:
    winner: int
    rounds: tuple[IrvRound, ...]
    majority: bool
    """Whether the winner had more than half of the ballots still counting (rather than
    being the last option left)."""


def count_irv(profile: Profile, n_options: int, draw: Draw) -> IrvCount:
    continuing = [True] * n_options
    rankings = list(profile)
    weights = list(profile.values())
    position = [0] * len(rankings)
    piles: list[list[int]] = [[] for _ in range(n_options)]
    totals = [0] * n_options
    for bundle, ranking in enumerate(rankings):
        piles[ranking[0]].append(bundle)
        totals[ranking[0]] += weights[bundle]
    left = n_options
    exhausted = 0
    rounds: list[IrvRound] = []
    pending: tuple[tuple[int, ...], tuple[tuple[int, int], ...], int] | None = None
    while True:
        shown = tuple(totals[c] if continuing[c] else None for c in range(n_options))
        counting = [c for c in range(n_options) if continuing[c]]
        active = sum(totals[c] for c in counting)
        best = max(totals[c] for c in counting)
        if left == 1 or 2 * best > active:
            rounds.append(_round(len(rounds) + 1, shown, exhausted, (), (), pending))
            winner = next(c for c in counting if totals[c] == best)
            return IrvCount(winner, tuple(rounds), 2 * best > active)
        lowest = min(totals[c] for c in counting)
        tied = tuple(c for c in counting if totals[c] == lowest)
        drawn: tuple[int, ...] = ()
        if len(tied) == 1 or (lowest == 0 and len(tied) < left):
            out = tied  # with no votes, eliminating them together moves nothing
        else:
            out = (draw(tied, "exclude"),)
            drawn = tied
        rounds.append(_round(len(rounds) + 1, shown, exhausted, out, drawn, pending))
        received = [0] * n_options
        before = exhausted
        for loser in out:
            continuing[loser] = False
        left -= len(out)
        for loser in out:
            for bundle in piles[loser]:
                ranking = rankings[bundle]
                pos = position[bundle] + 1
                end = len(ranking)
                while pos < end and not continuing[ranking[pos]]:
                    pos += 1
                if pos == end:
                    exhausted += weights[bundle]
                    continue
                position[bundle] = pos
                to = ranking[pos]
                piles[to].append(bundle)
                totals[to] += weights[bundle]
                received[to] += weights[bundle]
            piles[loser] = []
            totals[loser] = 0
        pending = (
            out,
            tuple((c, n) for c, n in enumerate(received) if n),
            exhausted - before,
        )


def _round(
    number: int,
    totals: tuple[int | None, ...],
    exhausted: int,
    eliminated: tuple[int, ...],
    tied: tuple[int, ...],
    pending: tuple[tuple[int, ...], tuple[tuple[int, int], ...], int] | None,
) -> IrvRound:
    """A round; `moved` tells what the previous round's eliminations brought."""
    moved, newly = ((), 0) if pending is None else (pending[1], pending[2])
    return IrvRound(number, totals, exhausted, eliminated, tied, moved, newly)


STATE_LIMIT = 20_000
"""How many sets of eliminated options `possible_winners` looks at before it stops."""


def possible_winners(profile: Profile, n_options: int) -> tuple[frozenset[int], bool]:
    """Every option that wins under some way of breaking the ties for elimination
    (parallel-universe tie-breaking), and whether every way was followed.

    The count after any eliminations depends only on which options are out, so each
    set of eliminated options is counted once, however many orders lead to it.
    """
    bundles = list(profile.items())
    memo: dict[frozenset[int], frozenset[int]] = {}

    def winners(out: frozenset[int]) -> frozenset[int]:
        if out in memo:
            return memo[out]
        if len(memo) >= STATE_LIMIT:
            return frozenset()
        totals = [0] * n_options
        for ranking, weight in bundles:
            for option in ranking:
                if option not in out:
                    totals[option] += weight
                    break
        counting = [c for c in range(n_options) if c not in out]
        active = sum(totals[c] for c in counting)
        best = max(totals[c] for c in counting)
        if len(counting) == 1 or 2 * best > active:
            found = frozenset(c for c in counting if totals[c] == best)
        else:
            lowest = min(totals[c] for c in counting)
            tied = frozenset(c for c in counting if totals[c] == lowest)
            if lowest == 0 and len(tied) < len(counting):
                found = winners(out | tied)
            else:
                found = frozenset().union(*(winners(out | {c}) for c in tied))
        memo[out] = found
        return found

    found = winners(frozenset())
    return found, len(memo) < STATE_LIMIT
