"""The Schulze method (beatpath): the Condorcet winner when there is one, and otherwise
the option with the strongest chains of pairwise wins.

`d[a][b]` counts the ballots that rank `a` above `b`; a ranked option is above every
option the ballot leaves unranked, and two unranked options are not compared. `a`
defeats `b` when `d[a][b] > d[b][a]`; the defeat's strength is the margin
`d[a][b] - d[b][a]` (the default) or the winning votes `d[a][b]`. A path's strength is
its weakest defeat; `p[a][b]` is the strongest path from `a` to `b`. The winners are
the options `a` with `p[a][b] >= p[b][a]` for every `b` (Schulze, "A new monotonic,
clone-independent, reversal symmetric, and Condorcet-consistent single-winner election
method", Social Choice and Welfare 36, 2011, section 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.domain.methods.profile import Profile
from governance.domain.policy import Strength

MASK_LIMIT = 10
"""Up to this many options, pairs are counted through the set of options ranked above
each position (at most n·2ⁿ⁻¹ distinct cells), which is several times faster than
adding each pair of each ballot."""


@dataclass(frozen=True, slots=True)
class SchulzeCount:
    pairwise: tuple[tuple[int, ...], ...]
    """d[a][b]: ballots ranking a above b."""
    paths: tuple[tuple[int, ...], ...]
    """p[a][b]: the strength of the strongest path from a to b (0: none)."""
    winners: tuple[int, ...]
    condorcet_winner: int | None
    """The option that beats every other one pairwise, if there is one."""


def pairwise(profile: Profile, n_options: int) -> list[list[int]]:
    """d[a][b] for every pair."""
    if n_options <= MASK_LIMIT:
        return _pairwise_by_mask(profile, n_options)
    d = [[0] * n_options for _ in range(n_options)]
    everyone = range(n_options)
    for ranking, weight in profile.items():
        ranked = set(ranking)
        unranked = [b for b in everyone if b not in ranked]
        for i, a in enumerate(ranking):
            row = d[a]
            for b in ranking[i + 1 :]:
                row[b] += weight
            for b in unranked:
                row[b] += weight
    return d


def _pairwise_by_mask(profile: Profile, n_options: int) -> list[list[int]]:
    # cell (above, a): weight of ballots ranking `a` right after exactly the set `above`;
    # `a` then beats every option outside `above | {a}`.
    cells = [0] * ((1 << n_options) << 5)
    for ranking, weight in profile.items():
        above = 0
        for a in ranking:
            cells[above | a] += weight
            above |= 32 << a
    d = [[0] * n_options for _ in range(n_options)]
    for key, weight in enumerate(cells):
        if not weight:
            continue
        a = key & 31
        beaten = ~((key >> 5) | (1 << a))
        row = d[a]
        for b in range(n_options):
            if beaten >> b & 1:
                row[b] += weight
    return d


def count_schulze(
    profile: Profile, n_options: int, strength: Strength = Strength.MARGINS
) -> SchulzeCount:
    d = pairwise(profile, n_options)
    n = n_options
    p = [[0] * n for _ in range(n)]
    for a in range(n):
        for b in range(n):
            if a != b and d[a][b] > d[b][a]:
                p[a][b] = d[a][b] - d[b][a] if strength is Strength.MARGINS else d[a][b]
    for k in range(n):
        pk = p[k]
        for a in range(n):
            if a == k or p[a][k] == 0:
                continue
            pa, via = p[a], p[a][k]
            for b in range(n):
                if b != a and b != k:
                    through = via if via < pk[b] else pk[b]
                    if through > pa[b]:
                        pa[b] = through
    winners = tuple(a for a in range(n) if all(p[a][b] >= p[b][a] for b in range(n) if b != a))
    condorcet = next(
        (a for a in range(n) if all(d[a][b] > d[b][a] for b in range(n) if b != a)), None
    )
    return SchulzeCount(
        tuple(tuple(row) for row in d), tuple(tuple(row) for row in p), winners, condorcet
    )
