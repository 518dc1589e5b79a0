"""The new methods as a member reads their results: winners, ties under each tie rule,
explanations, stakeholder classes, and what round-trips through storage."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.domain.ballot import Choice
from governance.domain.errors import GovernanceError, InvalidBallot, InvalidProposal
from governance.domain.lifecycle import ClosedAs
from governance.domain.methods import METHODS, BallotShape, ClassBallots, decide
from governance.domain.policy import ClassRule, Policy, Quorum, Strength, TieRule
from governance.domain.result import Result
from governance.domain.tiebreak import lot_order
from governance.text.ballots import parse_ballot

ABC = ("Acorn", "Birch", "Cedar")


def ranked(*rankings: str) -> list[Choice]:
    """``"BAC"`` → a ballot ranking Birch > Acorn > Cedar."""
    return [Choice(options=tuple(ord(c) - 65 for c in r)) for r in rankings]


def tally(method: str, ballots: list[Choice], policy: Policy | None = None) -> Result:
    return METHODS[method].tally(ballots, ABC, policy or Policy(), 10)


def lot(seed: str) -> Policy:
    return Policy(ties=TieRule.LOT, lot_seed=seed)


# ------------------------------------------------------------------ instant-runoff ties


TIED_FIRST_ROUND = ranked("A", "A", "B", "C", "CB")
"""Acorn 2, Birch 1, Cedar 2: Birch is eliminated, her ballot has no next choice — Acorn
and Cedar tie 2–2 in round 2. Whoever goes out wins for the other: a real tie."""


def test_an_irv_tie_that_decides_the_winner_is_reported() -> None:
    result = tally("ranked", TIED_FIRST_ROUND)
    assert result.closed_as is ClosedAs.TIED
    assert result.summary == "Tied — Acorn and Cedar."
    assert "Reported as a tie (ties=report)." in result.explanation


def test_an_irv_tie_under_the_status_quo_chooses_nothing() -> None:
    result = tally("ranked", TIED_FIRST_ROUND, Policy(ties=TieRule.STATUS_QUO))
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — Acorn and Cedar tied; the status quo holds."


@pytest.mark.parametrize("seed", ["s1", "s2", "s3", "s4"])
def test_an_irv_tie_by_lot_eliminates_the_option_later_in_the_published_order(seed: str) -> None:
    result = tally("ranked", TIED_FIRST_ROUND, lot(seed))
    order = lot_order(seed, ["Acorn", "Cedar"])
    assert result.summary == f"Winner: {order[0]}"
    assert any(
        line.startswith(f"Ties are settled by lot: seed {seed}") for line in result.explanation
    )


def test_an_irv_tie_that_does_not_matter_still_elects_and_says_so() -> None:
    # Birch and Cedar tie for last with 1 each, but Acorn has a majority either way after
    # one goes: A 3, B 1, C 1, and both B and C voters put Acorn second.
    result = tally("ranked", ranked("A", "A", "A", "BA", "CA"))
    assert result.summary == "Winner: Acorn"
    result = tally("ranked", ranked("A", "A", "BA", "CA"))
    assert result.summary == "Winner: Acorn"
    assert "However the ties for elimination are broken, Acorn wins." in result.explanation


def test_twenty_options_tied_at_one_vote_each_are_followed_quickly_to_a_tie() -> None:
    options = tuple(f"Option {i}" for i in range(20))
    ballots = [Choice(options=(i, (i + 1) % 20)) for i in range(20)]
    result = METHODS["ranked"].tally(ballots, options, Policy(), 20)
    assert result.closed_as is ClosedAs.TIED
    assert result.summary.startswith("Tied — Option 0, Option 1")


def test_exhausted_ballots_are_counted_and_shown_round_by_round() -> None:
    # Acorn 4, Birch 1, Cedar 3 of 8: no majority. Birch goes; her ballot names no one
    # else, so it is exhausted, and Acorn's 4 are more than half of the 7 still counting.
    result = tally("ranked", ranked("A", "A", "A", "A", "B", "C", "C", "CB"))
    assert result.summary == "Winner: Acorn"
    table = result.tables[0]
    assert table.header == ("option", "round 1", "round 2")
    assert table.rows == (
        ("Acorn", "4", "4"),
        ("Birch", "1", "—"),
        ("Cedar", "3", "3"),
        ("exhausted", "0", "1"),
    )
    assert result.explanation[1:] == (
        "Round 1: no option has more than half of 8; Birch has the fewest votes (1) and is "
        "eliminated.",
        "Round 2: transferred: 1 exhausted (no option left); Acorn has 4 of 7 ballots still "
        "counting, more than half: elected.",
    )


# ------------------------------------------------------------------------- Schulze


def test_schulze_with_a_condorcet_winner_and_winning_votes() -> None:
    ballots = ranked("BAC", "ABC", "CBA", "BCA")
    result = tally("condorcet", ballots)
    assert result.summary == "Winner: Birch"
    assert "Birch beats every other option head to head (the Condorcet winner)." in (
        result.explanation
    )
    winning = tally("condorcet", ballots, Policy(strength=Strength.WINNING))
    assert winning.summary == "Winner: Birch"
    assert winning.tables[1].title == "Strongest paths (winning votes)"


def test_a_schulze_cycle_is_a_tie_unless_a_lot_is_drawn() -> None:
    cycle = ranked("ABC", "BCA", "CAB")
    assert tally("condorcet", cycle).summary == "Tied — Acorn, Birch and Cedar."
    drawn = tally("condorcet", cycle, lot("x"))
    assert drawn.summary == f"Winner: {lot_order('x', list(ABC))[0]}"


# ----------------------------------------------------------------------------- STV


def test_stv_rejects_class_weights_but_ranked_takes_them() -> None:
    weighted = Policy(classes=(ClassRule("w", Fraction(1, 2)), ClassRule("u", Fraction(1, 2))))
    with pytest.raises(InvalidProposal, match="Class weights do not apply to stv"):
        METHODS["stv"].check_policy(weighted, ABC)
    METHODS["ranked"].check_policy(weighted, ABC)


def test_stv_tie_left_to_a_lot_is_reported_with_the_sure_winners() -> None:
    # 2 seats, quota 2 of 4: Acorn elected with 2; Birch and Cedar 1 each, no surplus,
    # equal at every stage: the statute draws a lot.
    result = METHODS["stv"].tally(ranked("A", "A", "B", "C"), ABC, Policy(seats=2), 4)
    assert result.summary == "Tied — Birch and Cedar for 1 seat; Acorn elected."
    assert result.winners == ("Acorn",)
    drawn = METHODS["stv"].tally(
        ranked("A", "A", "B", "C"), ABC, Policy(seats=2, ties=TieRule.LOT, lot_seed="q"), 4
    )
    assert drawn.closed_as is ClosedAs.DECIDED
    assert drawn.winners[0] == "Acorn" and len(drawn.winners) == 2


# ------------------------------------------------------------------ score, dots, advice


def test_score_ranks_by_the_mean_of_scores_given() -> None:
    ballots = [Choice(marks=(5, None, 1)), Choice(marks=(3, 4, None)), Choice(marks=(None, 4, 5))]
    result = tally("score", ballots)
    # Acorn 4, Birch 4, Cedar 3: Acorn and Birch tie on a mean of 4.
    assert result.summary == "Tied — Acorn and Birch, a mean of 4 each."
    assert result.tables[0].rows == (("Acorn", "2", "4"), ("Birch", "2", "4"), ("Cedar", "2", "3"))


def test_dots_count_every_dot_and_never_more_than_the_budget() -> None:
    ballots = [Choice(marks=(3, 2, None)), Choice(marks=(None, None, 4))]
    assert tally("dots", ballots, Policy(dots=5)).summary == "Winner: Cedar"
    with pytest.raises(InvalidBallot, match="That spends 6 dots; you have 5"):
        METHODS["dots"].check_ballot(Choice(marks=(3, 3, None)), ABC, Policy(dots=5))


def test_approval_fills_seats() -> None:
    ballots = [Choice(options=(0, 1)), Choice(options=(1, 2)), Choice(options=(1,))]
    result = tally("approval", ballots, Policy(seats=2))
    assert result.summary == "Tied — Acorn and Cedar, 1 vote each, for 1 seat; Birch won a seat."


def test_advice_collects_reasons_and_never_passes() -> None:
    ballots = [
        Choice(verdict="support", reason="good timing"),
        Choice(verdict="concern", reason="cost"),
        Choice(verdict="abstain"),
    ]
    result = METHODS["advice"].tally(ballots, (), Policy(quorum=Quorum(count=9)), 10)
    assert result.closed_as is ClosedAs.CONCLUDED
    assert result.summary == "Concluded — 1 support, 1 concern, 1 abstain."
    assert ("concern", "cost") in result.reasons
    assert "support: good timing" in result.explanation
    with pytest.raises(InvalidBallot, match="concern needs a reason"):
        METHODS["advice"].check_ballot(Choice(verdict="concern"), ())


# -------------------------------------------------------------- stakeholder classes


def test_classes_combine_each_classs_share_by_weight() -> None:
    policy = Policy(
        classes=(
            ClassRule("workers", Fraction(2, 5)),
            ClassRule("users", Fraction(3, 10)),
            ClassRule("investors", Fraction(1, 5)),
            ClassRule("public", Fraction(1, 10)),
        )
    )
    groups = [
        ClassBallots("workers", 4, [Choice(verdict="yes")] * 3 + [Choice(verdict="no")]),
        ClassBallots("users", 30, [Choice(verdict="no")] * 20 + [Choice(verdict="yes")] * 10),
        ClassBallots("investors", 2, [Choice(verdict="yes")] * 2),
        ClassBallots("public", 1, []),
        ClassBallots(None, 1, [Choice(verdict="no")]),
    ]
    result = decide(METHODS["majority"], groups, (), policy)
    # yes share: workers 3/4·0.4 + users 1/3·0.3 + investors 1·0.2 = 0.6, of 0.9 voting → 2/3.
    assert result.summary == "Passed — 66.7% yes, 33.3% no by class weight."
    assert result.ballots == 37 and result.roll == 38
    assert "public cast no ballots, so the classes that voted share the whole in proportion" in (
        " ".join(result.explanation)
    )
    assert (
        "1 ballot from members in no weighted class (no class) are not counted in the "
        "weighted result." in result.explanation
    )
    assert result.tables[0].rows[1] == ("users", "30%", "30 of 30", "Rejected — 10 yes, 20 no.")


def test_weighted_ranked_vote_uses_each_classs_weight() -> None:
    policy = Policy(classes=(ClassRule("w", Fraction(1, 2)), ClassRule("u", Fraction(1, 2))))
    groups = [
        ClassBallots("w", 1, ranked("A")),
        ClassBallots("u", 3, ranked("B", "B", "CB")),
    ]
    # Heads: B 2, A 1, C 1. By weight: A 50 %, B 33.3 %, C 16.7 %: C out → B 50 %: tie
    # A 50 / B 50 for the last place, reported.
    result = decide(METHODS["ranked"], groups, ABC, policy)
    assert result.summary == "Tied — Acorn and Birch."
    assert result.tables[1].rows[0][:3] == ("Acorn", "50%", "50%")


def test_a_class_quorum_that_fails_says_which_class() -> None:
    policy = Policy(classes=(ClassRule("users", quorum=Quorum(share=Fraction(1, 2))),))
    groups = [ClassBallots("users", 10, [Choice(verdict="yes")] * 4), ClassBallots(None, 1, [])]
    result = decide(METHODS["majority"], groups, (), policy)
    assert result.summary == "No quorum — users: 4 of 10 voted, 5 needed."
    assert not result.quorum_reached


# --------------------------------------------------------------------- storage, grammar


def test_results_with_tables_and_policies_with_classes_round_trip() -> None:
    result = tally("ranked", TIED_FIRST_ROUND)
    assert Result.from_json(result.to_json()) == result
    policy = Policy(
        strength=Strength.WINNING,
        classes=(ClassRule("w", Fraction(1, 3), Quorum(count=2)), ClassRule("u", Fraction(2, 3))),
    )
    assert Policy.from_json(policy.to_json()) == policy


SHAPED = [name for name, m in METHODS.items() if m.shape is not BallotShape.VERDICT]


@given(
    method=st.sampled_from(SHAPED),
    text=st.text(alphabet=st.sampled_from("ABCabc 0123456789=:>,-xÅ\u200b"), max_size=40),
)
def test_any_ballot_text_is_read_or_refused_plainly(method: str, text: str) -> None:
    try:
        choice = parse_ballot(text, METHODS[method], ABC, Policy())
    except GovernanceError as error:
        assert error.message and "Traceback" not in error.message
        return
    assert METHODS[method].check_ballot(choice, ABC, Policy()) == choice


def test_stv_ties_among_options_without_votes_are_followed_without_trying_every_order() -> None:
    # 17 options, 5 ballots over the first six: many options sit at 0 votes, and the
    # Scottish rules exclude them one per stage by lot. Which goes first changes nothing
    # unless rule 52 fills a seat with one of them — then any of them could be that one.
    options = tuple(f"Option {i}" for i in range(17))
    ballots = [Choice(options=r) for r in [(3, 1), (3,), (0, 3), (5, 2, 3), (3, 4)]]
    result = METHODS["stv"].tally(ballots, options, Policy(seats=1), 5)
    assert result.summary == "Winner: Option 3"
    one_ballot = [Choice(options=(4,))]
    tied = METHODS["stv"].tally(one_ballot, options, Policy(seats=2), 1)
    others = [o for o in options if o != "Option 4"]
    assert tied.summary == (
        f"Tied — {', '.join(others[:-1])} and {others[-1]} for 1 seat; Option 4 elected."
    )
    assert not any("Too many ties" in line for line in tied.explanation)
