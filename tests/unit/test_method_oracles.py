"""Our counting algorithms against independent implementations (the oracles).

Which oracle to trust for which method, and their pitfalls, are in
/work/shared/notes/voting-oracles.md; in short:

- IRV: pref_voting's ``instant_runoff_tb`` for an exact tie rule, and
  ``instant_runoff_put`` (every winner under some tie-break order).
- Schulze with margins: pref_voting's ``beat_path`` on a ``ProfileWithTies`` after
  ``use_extended_strict_preference()`` (a ranked option above every unranked one).
- Schulze with winning votes: py-vote-core's ``SchulzeMethod`` (Schwartz sequential
  dropping). It breaks ties by an unseeded shuffle, so its single winner is compared only
  when it reports no tie; when it does, its set of tied winners is compared instead.
- choice, approval, score: pref_voting's ``plurality``, ``approval`` and
  ``score_voting(evaluation_method="mean")``, which return every tied winner.

pref_voting 1.18.2's ``instant_runoff_tb`` eliminates, of the tied candidates, the one
that comes *first* in ``tie_breaker`` (pinned below), so our matching draw takes the tied
option first in the order.

Random profiles are complete or truncated rankings (each ballot ranks 1..n distinct
options) over 2–10 options, 1–5,000 ballots: either a few rankings drawn one by one by
Hypothesis (they shrink well and tie often), or a few hundred distinct rankings from a
seeded generator, repeated up to 5,000 ballots.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pref_voting.grade_methods import approval, score_voting
from pref_voting.grade_profiles import GradeProfile
from pref_voting.iterative_methods import instant_runoff_put, instant_runoff_tb
from pref_voting.margin_based_methods import beat_path
from pref_voting.profiles import Profile as PvProfile
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.scoring_methods import plurality
from py3votecore.schulze_method import SchulzeMethod

from governance.domain.ballot import Choice
from governance.domain.lifecycle import ClosedAs
from governance.domain.methods import METHODS
from governance.domain.methods.irv import count_irv, possible_winners
from governance.domain.methods.profile import collapse
from governance.domain.methods.schulze import MASK_LIMIT, count_schulze, pairwise
from governance.domain.policy import Policy, Strength, TieRule
from governance.domain.tiebreak import lot_order

Ranking = tuple[int, ...]

ORACLE = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Election:
    n: int
    truncated: bool
    profile: dict[Ranking, int]
    """Built the way production builds it: `collapse` of a list of `Choice` ballots."""

    @property
    def ballots(self) -> int:
        return sum(self.profile.values())

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return (
            f"Election(n={self.n}, truncated={self.truncated}, "
            f"ballots={self.ballots}, profile={dict(sorted(self.profile.items()))!r})"
        )


def _random_ranking(rng: random.Random, n: int, truncated: bool) -> Ranking:
    order = rng.sample(range(n), n)
    return tuple(order[: rng.randint(1, n)] if truncated else order)


@st.composite
def elections(draw: st.DrawFn, min_options: int = 2, max_options: int = 10) -> Election:
    n = draw(st.integers(min_options, max_options))
    truncated = draw(st.booleans())
    rankings: list[Ranking] = []
    if draw(st.booleans()):
        # Few rankings, each drawn by Hypothesis: small counts, many ties, good shrinking.
        for _ in range(draw(st.integers(1, 12))):
            order = draw(st.permutations(range(n)))
            length = draw(st.integers(1, n)) if truncated else n
            rankings += [tuple(order[:length])] * draw(st.integers(1, 5))
    else:
        # A few hundred distinct rankings, skewed multiplicities, up to 5,000 ballots.
        # Sizes come from the seeded generator too: Hypothesis would favour small ones.
        rng = random.Random(draw(st.integers(0, 2**32 - 1)))
        distinct = rng.randint(1, 300)
        total = rng.randint(distinct, 5_000)
        pool = [_random_ranking(rng, n, truncated) for _ in range(distinct)]
        skew = [rng.random() ** 3 for _ in pool]
        rankings = pool + rng.choices(pool, skew, k=total - distinct)
    ballots = [Choice(options=r) for r in rankings]
    return Election(n, truncated, dict(collapse(ballots)))


def with_ties(e: Election) -> ProfileWithTies:
    """pref_voting's profile of (possibly truncated) rankings, extended strict preference:
    a ranked option beats every unranked one; two unranked options are not compared."""
    prof = ProfileWithTies(
        [{c: rank for rank, c in enumerate(r, 1)} for r in e.profile],
        rcounts=list(e.profile.values()),
        candidates=list(range(e.n)),
    )
    prof.use_extended_strict_preference()
    return prof


def linear(e: Election) -> PvProfile:
    assert not e.truncated
    return PvProfile([list(r) for r in e.profile], rcounts=list(e.profile.values()))


def naive_pairwise(profile: dict[Ranking, int], n: int) -> list[list[int]]:
    """d[a][b], one ballot and one pair at a time: a ranked option is above every unranked
    one, two unranked options are not compared."""
    d = [[0] * n for _ in range(n)]
    for ranking, weight in profile.items():
        position = {c: i for i, c in enumerate(ranking)}
        for a in range(n):
            for b in range(n):
                if a != b and a in position and (b not in position or position[a] < position[b]):
                    d[a][b] += weight
    return d


def condorcet_winner(d: list[list[int]]) -> int | None:
    n = len(d)
    for a in range(n):
        if all(d[a][b] > d[b][a] for b in range(n) if b != a):
            return a
    return None


def eliminate_first_in(order: list[int]) -> Callable[[tuple[int, ...], str], int]:
    """Our `draw` matching pref_voting's ``tie_breaker=order``: of the options tied for
    fewest votes, the one that comes first in `order` is eliminated."""

    def draw(tied: tuple[int, ...], why: str) -> int:
        assert why == "exclude" and len(tied) > 1
        return min(tied, key=order.index)

    return draw


# --------------------------------------------------------------------------- the oracles' own rules


def test_pref_voting_tie_breaker_eliminates_the_first_listed() -> None:
    """instant_runoff_tb removes, of the tied candidates, the one *first* in tie_breaker
    (pref_voting 1.18.2 `_instant_runoff_basic`: ``min(lowest, key=tb_pos)``; its docstring:
    "tie_breaker[0] has lowest priority (eliminated first)"). Three one-vote candidates in a
    cycle: eliminating 0 first sends its ballot to 1, who then wins."""
    prof = PvProfile([[0, 1, 2], [1, 2, 0], [2, 0, 1]], [1, 1, 1])
    assert instant_runoff_tb(prof, tie_breaker=[0, 1, 2]) == [1]
    assert instant_runoff_tb(prof, tie_breaker=[2, 1, 0]) == [0]
    ours = count_irv({(0, 1, 2): 1, (1, 2, 0): 1, (2, 0, 1): 1}, 3, eliminate_first_in([0, 1, 2]))
    assert ours.winner == 1
    assert ours.rounds[0].eliminated == (0,) and ours.rounds[0].tied == (0, 1, 2)


def test_pref_voting_counts_truncated_ballots_as_exhausted() -> None:
    """On a ProfileWithTies, a ballot whose ranked options are all eliminated counts for
    nobody (``tops_scores`` looks only at ranked options), as in our count."""
    prof = ProfileWithTies([{0: 1}, {1: 1, 2: 2}, {2: 1}], [3, 2, 2], candidates=[0, 1, 2])
    assert prof.tops_scores(curr_cands=[0, 2]) == {0: 3, 2: 4}


# --------------------------------------------------------------------------- IRV


@ORACLE
@given(e=elections(), data=st.data())
def test_irv_matches_pref_voting_with_the_same_tie_break(e: Election, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(e.n)), label="order")
    ours = count_irv(e.profile, e.n, eliminate_first_in(order))

    prof = linear(e) if not e.truncated else with_ties(e)
    assert instant_runoff_tb(prof, tie_breaker=order) == [ours.winner]

    for r in ours.rounds:  # every ballot is somewhere in every round
        assert sum(t for t in r.totals if t is not None) + r.exhausted == e.ballots


@ORACLE
@given(e=elections(max_options=8), data=st.data())
def test_irv_winner_is_a_parallel_universe_winner(e: Election, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(e.n)), label="order")
    winner = count_irv(e.profile, e.n, eliminate_first_in(order)).winner
    if e.truncated:
        # pref_voting's PUT on a ProfileWithTies branches on every tie, including the options
        # nobody ranks first (factorially many orders). Those are eliminated first in every
        # order and removing them moves no vote, so start from the options with first places.
        firsts = sorted({r[0] for r in e.profile})
        assert winner in instant_runoff_put(with_ties(e), curr_cands=firsts)
    else:
        assert winner in instant_runoff_put(linear(e))


@ORACLE
@given(e=elections(max_options=8), seed=st.text(alphabet="abcdef0123456789", min_size=1))
def test_ranked_by_lot_matches_pref_voting_under_the_published_order(
    e: Election, seed: str
) -> None:
    """Our `ties=lot` rule end to end (the option later in the seed's ordering is
    eliminated) is pref_voting's tie_breaker listing that ordering reversed."""
    names = tuple(f"option {i}" for i in range(e.n))
    ballots = [Choice(options=r) for r, k in e.profile.items() for _ in range(k)]
    policy = Policy(ties=TieRule.LOT, lot_seed=seed)
    result = METHODS["ranked"].tally(ballots, names, policy, len(ballots))
    order = [names.index(name) for name in lot_order(seed, names)]
    prof = linear(e) if not e.truncated else with_ties(e)
    assert result.winners == (names[instant_runoff_tb(prof, tie_breaker=order[::-1])[0]],)


@ORACLE
@given(e=elections(max_options=8))
def test_our_possible_irv_winners_are_pref_voting_put_winners(e: Election) -> None:
    """Under ties=report a ranked vote is a tie exactly when the parallel-universe set
    has more than one winner: ours must be that set, not just inside it."""
    ours, complete = possible_winners(e.profile, e.n)
    assert complete
    if e.truncated:
        firsts = sorted({r[0] for r in e.profile})
        assert sorted(ours) == instant_runoff_put(with_ties(e), curr_cands=firsts)
    else:
        assert sorted(ours) == instant_runoff_put(linear(e))


def test_irv_tennessee_capital() -> None:
    """Wikipedia, "Instant-runoff voting", the Tennessee capital example: 42 % Memphis >
    Nashville > Chattanooga > Knoxville, 26 % Nashville > Chattanooga > Knoxville >
    Memphis, 15 % Chattanooga > Knoxville > Nashville > Memphis, 17 % Knoxville >
    Chattanooga > Nashville > Memphis. Chattanooga goes first (15), then Nashville (26);
    Knoxville wins 58–42 although Nashville is the Condorcet winner."""
    m, n, c, k = range(4)
    profile: dict[Ranking, int] = {
        (m, n, c, k): 42,
        (n, c, k, m): 26,
        (c, k, n, m): 15,
        (k, c, n, m): 17,
    }

    def no_draw(tied: tuple[int, ...], why: str) -> int:
        raise AssertionError(f"no tie in this count: {tied} {why}")

    count = count_irv(profile, 4, no_draw)
    assert count.winner == k and count.majority
    assert [r.totals for r in count.rounds] == [
        (42, 26, 15, 17),
        (42, 26, None, 32),
        (42, None, None, 58),
    ]
    assert [r.eliminated for r in count.rounds] == [(c,), (n,), ()]
    assert [r.moved for r in count.rounds] == [(), ((k, 15),), ((k, 26),)]
    assert all(r.exhausted == 0 for r in count.rounds)

    schulze = count_schulze(profile, 4)
    assert schulze.condorcet_winner == n and schulze.winners == (n,)
    assert schulze.pairwise[n] == (58, 0, 68, 68)
    e = Election(4, False, profile)
    assert instant_runoff_tb(linear(e)) == [k]
    assert beat_path(with_ties(e)) == [n]


# --------------------------------------------------------------------------- Schulze


@ORACLE
@given(e=elections())
def test_schulze_margins_matches_pref_voting_beat_path(e: Election) -> None:
    count = count_schulze(e.profile, e.n)
    prof = with_ties(e)
    d = [[prof.support(a, b) if a != b else 0 for b in range(e.n)] for a in range(e.n)]
    assert [list(row) for row in count.pairwise] == d
    assert list(count.winners) == beat_path(prof)
    if not e.truncated:
        assert list(count.winners) == beat_path(linear(e))

    winner = condorcet_winner(d)
    assert prof.condorcet_winner() == winner
    assert count.condorcet_winner == winner
    if winner is not None:
        assert count.winners == (winner,)


@ORACLE
@given(e=elections())
def test_schulze_winning_votes_matches_py3votecore(e: Election) -> None:
    ballots = [
        {"ballot": {c: rank for rank, c in enumerate(r, 1)}, "count": w}
        for r, w in e.profile.items()
    ]
    theirs = SchulzeMethod(ballots, ballot_notation=SchulzeMethod.BALLOT_NOTATION_RANKING)
    ours = count_schulze(e.profile, e.n, Strength.WINNING)
    if hasattr(theirs, "tied_winners"):
        # Its single winner came from an unseeded shuffle; the tied set is still comparable.
        assert set(ours.winners) == set(theirs.tied_winners)
    else:
        assert ours.winners == (theirs.winner,)


def test_schulze_wikipedia_example() -> None:
    """Wikipedia, "Schulze method", the example with 45 voters and 5 candidates (winning
    votes: a defeat's strength is d[X,Y]): the published d[*,*] and p[*,*], and E wins
    with the ranking E > A > C > B > D."""
    a, b, c, d, e = range(5)
    groups = {
        (a, c, b, e, d): 5,
        (a, d, e, c, b): 5,
        (b, e, d, a, c): 8,
        (c, a, b, e, d): 3,
        (c, a, e, b, d): 7,
        (c, b, a, d, e): 2,
        (d, c, e, b, a): 7,
        (e, b, a, d, c): 8,
    }
    ballots = [Choice(options=r) for r, times in groups.items() for _ in range(times)]
    profile = collapse(ballots)
    count = count_schulze(profile, 5, Strength.WINNING)
    assert count.pairwise == (
        (0, 20, 26, 30, 22),
        (25, 0, 16, 33, 18),
        (19, 29, 0, 17, 24),
        (15, 12, 28, 0, 14),
        (23, 27, 21, 31, 0),
    )
    assert count.paths == (
        (0, 28, 28, 30, 24),
        (25, 0, 28, 33, 24),
        (25, 29, 0, 29, 24),
        (25, 28, 28, 0, 24),
        (25, 28, 28, 31, 0),
    )
    assert count.winners == (e,) and count.condorcet_winner is None
    p = count.paths
    beats = sorted(range(5), key=lambda x: -sum(p[x][y] > p[y][x] for y in range(5)))
    assert beats == [e, a, c, b, d]
    # With margins E still wins; pref_voting agrees on both.
    assert count_schulze(profile, 5).winners == (e,)
    assert beat_path(with_ties(Election(5, False, dict(profile)))) == [e]


def test_condorcet_winner_of_a_truncated_profile() -> None:
    """A centre squeeze with truncated ballots: 8 × A > B, 7 × C > B, 3 × B alone.
    B is the Condorcet winner — B beats A 10–8 (7 + 3 against 8) and C 11–7 (8 + 3
    against 7) — and Schulze elects B alone. IRV elects A instead: B goes out first with
    3 first places, its ballots exhaust, and A then has 8 of the 15 live ballots."""
    a, b, c = range(3)
    profile = {(a, b): 8, (c, b): 7, (b,): 3}
    count = count_schulze(profile, 3)
    assert count.pairwise == ((0, 8, 8), (10, 0, 11), (7, 7, 0))
    assert count.condorcet_winner == b and count.winners == (b,)
    assert beat_path(with_ties(Election(3, True, profile))) == [b]

    irv = count_irv(profile, 3, eliminate_first_in([0, 1, 2]))
    assert irv.winner == a and irv.majority
    assert [r.totals for r in irv.rounds] == [(8, 3, 7), (8, None, 7)]
    assert [r.exhausted for r in irv.rounds] == [0, 3]


# --------------------------------------------------------------------------- pairwise counts


@ORACLE
@given(e=elections(max_options=12))
def test_pairwise_matches_a_naive_count(e: Election) -> None:
    assert pairwise(e.profile, e.n) == naive_pairwise(e.profile, e.n)


@settings(ORACLE, max_examples=60)
@given(e=elections(min_options=MASK_LIMIT + 1, max_options=12))
def test_pairwise_past_the_mask_limit_matches_a_naive_count(e: Election) -> None:
    assert pairwise(e.profile, e.n) == naive_pairwise(e.profile, e.n)


# ------------------------------------------------------------------ choice, approval, score

NAMES = tuple(f"Option {i}" for i in range(10))
COUNTING = settings(ORACLE, max_examples=60)  # pref_voting's grade profiles are slow


def _one_choice(rng: random.Random, n: int) -> Choice:
    return Choice(options=(min(int(rng.expovariate(0.4)), n - 1),))  # skewed: some lead


def _one_approval(rng: random.Random, n: int) -> Choice:
    picked = tuple(sorted(rng.sample(range(n), rng.randint(1, n))))
    return Choice(options=picked)


def _one_score(rng: random.Random, n: int) -> Choice:
    marks: list[int | None] = [rng.choice((None, 0, 1, 2, 3, 4, 5)) for _ in range(n)]
    if all(m is None for m in marks):
        marks[rng.randrange(n)] = rng.randint(0, 5)
    return Choice(marks=tuple(marks))


MAKERS: dict[str, Callable[[random.Random, int], Choice]] = {
    "choice": _one_choice,
    "approval": _one_approval,
    "score": _one_score,
}


@st.composite
def option_votes(draw: st.DrawFn, method: str) -> tuple[int, list[Choice]]:
    """(number of options, ballots) for a counting method, checked by `check_ballot`:
    a few ballots (ties are common), or up to 5,000 from a seeded generator."""
    n = draw(st.integers(2, 10))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    few = draw(st.booleans())
    size = draw(st.integers(1, 12)) if few else rng.randint(1, 5_000)
    kinds = [MAKERS[method](rng, n) for _ in range(draw(st.integers(1, 4)) if few else 40)]
    ballots = (
        [rng.choice(kinds) for _ in range(size)]
        if few
        else [MAKERS[method](rng, n) for _ in range(size)]
    )
    options = NAMES[:n]
    return n, [METHODS[method].check_ballot(b, options) for b in ballots]


def assert_same_winners(method: str, n: int, ballots: Sequence[Choice], theirs: list[int]) -> None:
    """Ours with the default policy (one seat, ties reported) against an oracle that
    returns every tied winner."""
    options = NAMES[:n]
    result = METHODS[method].tally(ballots, options, Policy(), len(ballots))
    if len(theirs) == 1:
        assert result.closed_as is ClosedAs.DECIDED
        assert result.winners == (options[theirs[0]],)
    else:
        assert result.closed_as is ClosedAs.TIED and result.winners == ()
        named = {o for o in options if o in result.summary}
        assert named == {options[c] for c in theirs}, result.summary


def grade_profile(n: int, grades: Sequence[dict[int, int]], levels: list[int]) -> GradeProfile:
    counted = Counter(tuple(sorted(g.items())) for g in grades)
    return GradeProfile(
        [dict(g) for g in counted],
        levels,
        gcounts=list(counted.values()),
        candidates=list(range(n)),
    )


@COUNTING
@given(votes=option_votes("choice"))
def test_choice_matches_pref_voting_plurality(votes: tuple[int, list[Choice]]) -> None:
    n, ballots = votes
    counted = Counter(b.options for b in ballots)
    prof = ProfileWithTies(
        [{r[0]: 1} for r in counted], rcounts=list(counted.values()), candidates=list(range(n))
    )
    assert_same_winners("choice", n, ballots, plurality(prof))
    result = METHODS["choice"].tally(ballots, NAMES[:n], Policy(), len(ballots))
    assert dict(result.counts) == {NAMES[c]: s for c, s in prof.plurality_scores().items()}


@COUNTING
@given(votes=option_votes("approval"))
def test_approval_matches_pref_voting_approval(votes: tuple[int, list[Choice]]) -> None:
    n, ballots = votes
    gprof = grade_profile(n, [dict.fromkeys(b.options, 1) for b in ballots], [0, 1])
    assert_same_winners("approval", n, ballots, approval(gprof))


@COUNTING
@given(votes=option_votes("score"))
def test_score_matches_pref_voting_mean_score(votes: tuple[int, list[Choice]]) -> None:
    """The mean of the scores given; a blank is left out, not counted as 0 (pref_voting's
    default ``ungraded_score=None``)."""
    n, ballots = votes
    grades = [{c: m for c, m in enumerate(b.marks) if m is not None} for b in ballots]
    gprof = grade_profile(n, grades, [0, 1, 2, 3, 4, 5])
    assert_same_winners("score", n, ballots, score_voting(gprof, evaluation_method="mean"))
