"""Collapsed ballots: the shape every counting algorithm starts from.

A profile maps each distinct ranking (option indexes, most preferred first) to its
weight: the number of ballots that hold it, or, with stakeholder-class weights, an
integer number of points. Collapsing identical ballots first is what makes a big count
cheap: 100,000 ballots over 8 options hold a few tens of thousands of distinct rankings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter

from governance.domain.ballot import Choice

Profile = Mapping[tuple[int, ...], int]
"""Ranking (distinct option indexes, most preferred first, never empty) → weight."""

Draw = Callable[[tuple[int, ...], str], int]
"""Settles a tie the rules leave to a lot: given the tied options (ascending) and what
the tie is about (``"exclude"``, ``"surplus"``, or ``"exclude-symmetric"`` for options
with no votes, which are interchangeable: whichever goes, the count goes on the same way
with their names swapped), returns the one chosen — the option to exclude, or the one
whose surplus goes first. It may raise to stop the count (a tie reported rather than
drawn)."""

_options = attrgetter("options")


def collapse(
    ballots: Sequence[Choice], weights: Sequence[int] | None = None
) -> dict[tuple[int, ...], int]:
    """Identical rankings counted once, with their total weight."""
    if weights is None:
        return Counter(map(_options, ballots))
    counted: Counter[tuple[int, ...]] = Counter()
    for ballot, weight in zip(ballots, weights, strict=True):
        counted[ballot.options] += weight
    return counted
