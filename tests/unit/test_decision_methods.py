"""Decision methods as a member sees them: who won, what the summary says, and why."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction

import pytest

from governance.domain.ballot import Choice
from governance.domain.errors import InvalidBallot, InvalidProposal
from governance.domain.lifecycle import ClosedAs
from governance.domain.methods import (
    METHODS,
    Approval,
    Consensus,
    Consent,
    Majority,
    Method,
    SingleChoice,
    method_named,
)
from governance.domain.policy import Policy, Quorum, TieRule, Visibility
from governance.domain.result import Result
from governance.domain.tiebreak import lot_order

OPTIONS = ("Acorn", "Big Oak", "Cedar")
NO_OPTIONS: tuple[str, ...] = ()

majority = Majority()
consent = Consent()
consensus = Consensus()
choice = SingleChoice()
approval = Approval()


def verdicts(**counts: int) -> list[Choice]:
    """Ballots by verdict word, e.g. verdicts(yes=2, no=1); ``stand_aside`` → stand-aside."""
    ballots: list[Choice] = []
    for word, n in counts.items():
        ballots += [Choice(verdict=word.replace("_", "-"))] * n
    return ballots


def picks(*sets: tuple[int, ...]) -> list[Choice]:
    return [Choice(options=s) for s in sets]


def by_lot(seed: str, labels: list[str]) -> list[str]:
    """The published rule, written out independently: SHA-256 of seed NUL label, smallest first."""
    return sorted(labels, key=lambda label: hashlib.sha256(f"{seed}\0{label}".encode()).hexdigest())


def seed_putting_first(label: str, labels: list[str]) -> str:
    for n in range(1000):
        seed = f"seed-{n}"
        if by_lot(seed, labels)[0] == label:
            return seed
    raise AssertionError("no seed found")  # pragma: no cover


# --- majority ---------------------------------------------------------------------------


def test_majority_passes_with_more_yes_than_no() -> None:
    result = majority.tally(verdicts(yes=2, no=1), NO_OPTIONS, Policy(), 5)
    assert result.closed_as is ClosedAs.PASSED
    assert result.summary == "Passed — 2 yes, 1 no."
    assert result.counts == (("yes", 2), ("no", 1), ("abstain", 0))
    assert (result.ballots, result.roll, result.quorum_reached) == (3, 5, True)
    assert "Threshold: yes/(yes+no) = 2/3 = 66.7%; needs more than 50%." in result.explanation


def test_majority_rejects_with_more_no() -> None:
    result = majority.tally(verdicts(yes=1, no=2), NO_OPTIONS, Policy(), 5)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — 1 yes, 2 no."


@pytest.mark.parametrize("ties", list(TieRule))
def test_an_even_split_under_more_than_half_is_rejected_whatever_ties_says(
    ties: TieRule,
) -> None:
    """A threshold is never a tie: 2–2 is not "more than 50%", with any tie rule (a lot
    once passed it under the very line saying it needed more than 50%)."""
    for seed in ("seed-0", "seed-1", "seed-2", "seed-3"):  # lots putting yes or no first
        policy = Policy(ties=ties, lot_seed=seed if ties is TieRule.LOT else None)
        result = majority.tally(verdicts(yes=2, no=2), NO_OPTIONS, policy, 5)
        assert result.closed_as is ClosedAs.REJECTED
        assert result.summary == "Rejected — 2 yes, 2 no; an even split is not more than 50%."
        assert "Threshold: yes/(yes+no) = 2/4 = 50%; needs more than 50%." in result.explanation
        assert not any(line.startswith("Tie") for line in result.explanation)


@pytest.mark.parametrize("ties", list(TieRule))
def test_an_even_split_of_a_consensus_is_rejected_whatever_ties_says(ties: TieRule) -> None:
    policy = Policy(ties=ties, lot_seed="seed-1" if ties is TieRule.LOT else None)
    result = consensus.tally(verdicts(agree=1, disagree=1), NO_OPTIONS, policy, 6)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — 1 agree, 1 disagree; an even split is not more than 50%."


def test_a_set_threshold_of_half_is_met_by_an_even_split() -> None:
    """threshold=50% reads "at least 50%": 2–2 meets it, with no tie involved."""
    result = majority.tally(verdicts(yes=2, no=2), NO_OPTIONS, Policy(threshold=Fraction(1, 2)), 5)
    assert result.closed_as is ClosedAs.PASSED
    assert result.summary == "Passed — 2 yes, 2 no."


def test_explicit_two_thirds_threshold_is_met_at_exactly_two_thirds() -> None:
    policy = Policy(threshold=Fraction(2, 3))
    result = majority.tally(verdicts(yes=2, no=1), NO_OPTIONS, policy, 5)
    assert result.closed_as is ClosedAs.PASSED
    assert result.summary == "Passed — 2 yes, 1 no."
    assert "Threshold: yes/(yes+no) = 2/3 = 66.7%; needs at least 2/3." in result.explanation


def test_explicit_two_thirds_threshold_rejects_just_below() -> None:
    policy = Policy(threshold=Fraction(2, 3))
    result = majority.tally(verdicts(yes=3, no=2), NO_OPTIONS, policy, 5)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — 3 yes, 2 no."


def test_explicit_half_threshold_passes_an_even_split() -> None:
    policy = Policy(threshold=Fraction(1, 2))
    result = majority.tally(verdicts(yes=1, no=1), NO_OPTIONS, policy, 5)
    assert result.closed_as is ClosedAs.PASSED
    assert result.summary == "Passed — 1 yes, 1 no."
    assert "Threshold: yes/(yes+no) = 1/2 = 50%; needs at least 50%." in result.explanation


def test_abstentions_count_toward_quorum_but_not_the_threshold() -> None:
    # Quorum of 6 ballots: reached only because the 3 abstentions count.
    policy = Policy(quorum=Quorum(count=6), threshold=Fraction(2, 3))
    result = majority.tally(verdicts(yes=2, no=1, abstain=3), NO_OPTIONS, policy, 10)
    assert result.quorum_reached
    assert result.closed_as is ClosedAs.PASSED  # 2/3 of yes+no, abstentions left out
    assert result.summary == "Passed — 2 yes, 1 no."
    assert result.counts == (("yes", 2), ("no", 1), ("abstain", 3))
    assert "Quorum: 6 needed (6 ballots) — reached." in result.explanation

    without_abstentions = majority.tally(verdicts(yes=2, no=1), NO_OPTIONS, policy, 10)
    assert without_abstentions.closed_as is ClosedAs.NO_QUORUM


def test_only_abstentions_do_not_pass() -> None:
    result = majority.tally(verdicts(abstain=4), NO_OPTIONS, Policy(), 5)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — 0 yes, 0 no."


@pytest.mark.parametrize(
    ("n_ballots", "reached"), [(2, False), (3, True), (5, True)], ids=["2of5", "3of5", "5of5"]
)
def test_quorum_as_share_of_roll_rounds_up(n_ballots: int, reached: bool) -> None:
    policy = Policy(quorum=Quorum(share=Fraction(1, 2)))
    result = majority.tally(verdicts(yes=n_ballots), NO_OPTIONS, policy, 5)
    assert result.quorum_reached is reached
    if reached:
        assert result.closed_as is ClosedAs.PASSED
        assert "Quorum: 3 needed (50%) — reached." in result.explanation
    else:
        assert result.closed_as is ClosedAs.NO_QUORUM
        assert result.summary == "No quorum — 2 of 5 voted."
        assert "Quorum: 3 needed (50%) — not reached." in result.explanation
        assert result.counts == (("yes", 2), ("no", 0), ("abstain", 0))


def test_quorum_needed() -> None:
    half = Quorum(share=Fraction(1, 2))
    assert half.needed(5) == 3
    assert half.needed(4) == 2
    assert Quorum(share=Fraction(2, 3)).needed(10) == 7
    assert Quorum(count=4).needed(100) == 4


def test_quorum_as_count() -> None:
    policy = Policy(quorum=Quorum(count=3))
    short = majority.tally(verdicts(yes=2), NO_OPTIONS, policy, 10)
    assert short.closed_as is ClosedAs.NO_QUORUM
    assert short.summary == "No quorum — 2 of 10 voted."
    assert "Quorum: 3 needed (3 ballots) — not reached." in short.explanation
    enough = majority.tally(verdicts(yes=2, no=1), NO_OPTIONS, policy, 10)
    assert enough.closed_as is ClosedAs.PASSED


# --- consent ----------------------------------------------------------------------------


def test_consent_one_objection_rejects_and_its_reason_is_shown() -> None:
    ballots = [
        *verdicts(consent=4),
        Choice(verdict="object", reason="too costly this year"),
    ]
    result = consent.tally(ballots, NO_OPTIONS, Policy(), 6)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — 1 objection stands."
    assert result.reasons == (("object", "too costly this year"),)
    assert "Objection: too costly this year" in result.explanation
    assert result.counts == (("consent", 4), ("object", 1), ("stand-aside", 0))


def test_consent_two_objections() -> None:
    ballots = [Choice(verdict="object", reason="a"), Choice(verdict="object", reason="b")]
    result = consent.tally(ballots, NO_OPTIONS, Policy(), 6)
    assert result.summary == "Rejected — 2 objections stand."
    assert result.reasons == (("object", "a"), ("object", "b"))


def test_consent_stand_aside_does_not_block() -> None:
    result = consent.tally(verdicts(consent=2, stand_aside=3), NO_OPTIONS, Policy(), 5)
    assert result.closed_as is ClosedAs.PASSED
    assert result.summary == "Passed — no objection (2 consent, 3 stand aside)."
    assert result.reasons == ()


def test_consent_quorum_counts_stand_asides() -> None:
    policy = Policy(quorum=Quorum(count=3))
    result = consent.tally(verdicts(consent=1, stand_aside=2), NO_OPTIONS, policy, 5)
    assert result.quorum_reached
    assert result.closed_as is ClosedAs.PASSED
    short = consent.tally(verdicts(consent=2), NO_OPTIONS, policy, 5)
    assert short.closed_as is ClosedAs.NO_QUORUM


# --- consensus --------------------------------------------------------------------------


def test_consensus_block_rejects_whatever_the_agree_share() -> None:
    ballots = [*verdicts(agree=9), Choice(verdict="block", reason="unsafe for the team")]
    result = consensus.tally(ballots, NO_OPTIONS, Policy(), 10)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — blocked (1 block)."
    assert result.reasons == (("block", "unsafe for the team"),)
    assert "Block: unsafe for the team" in result.explanation


def test_consensus_without_block_uses_the_threshold() -> None:
    passed = consensus.tally(verdicts(agree=2, disagree=1, abstain=3), NO_OPTIONS, Policy(), 6)
    assert passed.closed_as is ClosedAs.PASSED
    assert passed.summary == "Passed — 2 agree, 1 disagree."
    assert "No block." in passed.explanation
    rejected = consensus.tally(
        verdicts(agree=2, disagree=1), NO_OPTIONS, Policy(threshold=Fraction(3, 4)), 6
    )
    assert rejected.closed_as is ClosedAs.REJECTED
    assert rejected.summary == "Rejected — 2 agree, 1 disagree."


# --- choice -----------------------------------------------------------------------------


def test_choice_winner() -> None:
    result = choice.tally(picks((2,), (0,), (2,)), OPTIONS, Policy(), 5)
    assert result.closed_as is ClosedAs.DECIDED
    assert result.summary == "Winner: Cedar"
    assert result.winners == ("Cedar",)
    assert result.counts == (("Acorn", 1), ("Big Oak", 0), ("Cedar", 2))


def test_choice_tie_reported() -> None:
    result = choice.tally(picks((0,), (1,), (2,), (1,), (0,)), OPTIONS, Policy(), 5)
    assert result.closed_as is ClosedAs.TIED
    assert result.summary == "Tied — Acorn and Big Oak, 2 votes each."
    assert result.winners == ()
    assert "Tie: Acorn and Big Oak have 2 votes each for 1 seat." in result.explanation


def test_choice_three_way_tie_names_all() -> None:
    result = choice.tally(picks((0,), (1,), (2,)), OPTIONS, Policy(), 5)
    assert result.summary == "Tied — Acorn, Big Oak and Cedar, 1 vote each."


def test_choice_tie_under_status_quo_chooses_nothing() -> None:
    policy = Policy(ties=TieRule.STATUS_QUO)
    result = choice.tally(picks((0,), (1,)), OPTIONS, policy, 5)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — Acorn and Big Oak tied; the status quo holds."
    assert result.winners == ()


@pytest.mark.parametrize("lot_winner", ["Acorn", "Big Oak"])
def test_choice_tie_by_lot(lot_winner: str) -> None:
    seed = seed_putting_first(lot_winner, ["Acorn", "Big Oak"])
    policy = Policy(ties=TieRule.LOT, lot_seed=seed)
    result = choice.tally(picks((0,), (1,)), OPTIONS, policy, 5)
    assert result.closed_as is ClosedAs.DECIDED
    assert result.summary == f"Winner: {lot_winner}"
    assert result.winners == (lot_winner,)
    order = " > ".join(by_lot(seed, ["Acorn", "Big Oak"]))
    assert f"Tie settled by lot: seed {seed} orders them {order}." in result.explanation


def test_choice_no_quorum() -> None:
    policy = Policy(quorum=Quorum(share=Fraction(1, 2)))
    result = choice.tally(picks((0,), (0,)), OPTIONS, policy, 5)
    assert result.closed_as is ClosedAs.NO_QUORUM
    assert result.summary == "No quorum — 2 of 5 voted."
    assert result.counts == (("Acorn", 2), ("Big Oak", 0), ("Cedar", 0))


# --- approval ---------------------------------------------------------------------------


def test_approval_single_seat_most_approvals_wins() -> None:
    result = approval.tally(picks((0, 1), (1, 2), (1,)), OPTIONS, Policy(), 5)
    assert result.summary == "Winner: Big Oak"
    assert result.counts == (("Acorn", 1), ("Big Oak", 3), ("Cedar", 1))


def test_approval_two_seats_top_two_win_in_order_of_approvals() -> None:
    ballots = picks((0, 2), (2,), (1, 2), (0,))  # Acorn 2, Big Oak 1, Cedar 3
    result = approval.tally(ballots, OPTIONS, Policy(seats=2), 5)
    assert result.closed_as is ClosedAs.DECIDED
    assert result.summary == "Winners: Cedar, Acorn"
    assert result.winners == ("Cedar", "Acorn")


def test_approval_two_seats_tie_at_the_boundary_is_reported() -> None:
    ballots = picks((0, 1), (0, 2), (0, 1, 2), (1, 2), (0,))  # Acorn 4, Big Oak 3, Cedar 3
    result = approval.tally(ballots, OPTIONS, Policy(seats=2), 5)
    assert result.closed_as is ClosedAs.TIED
    assert result.summary == (
        "Tied — Big Oak and Cedar, 3 votes each, for 1 seat; Acorn won a seat."
    )
    assert result.winners == ("Acorn",)
    assert "Tie: Big Oak and Cedar have 3 votes each for 1 seat." in result.explanation


def test_approval_two_seats_tie_at_the_boundary_under_status_quo_keeps_the_sure_winner() -> None:
    ballots = picks((0, 1), (0, 2), (0, 1, 2), (1, 2), (0,))  # Acorn 4, Big Oak 3, Cedar 3
    result = approval.tally(ballots, OPTIONS, Policy(seats=2, ties=TieRule.STATUS_QUO), 5)
    assert result.closed_as is ClosedAs.DECIDED
    assert result.winners == ("Acorn",)
    assert result.summary == (
        "Winner: Acorn — Big Oak and Cedar tied for 1 seat; the status quo leaves it unfilled."
    )
    assert (
        "The status quo holds for the tied 1 seat: nobody is chosen for it; Acorn won "
        "whatever the tie." in result.explanation
    )


def test_stv_two_seats_tie_for_the_second_under_status_quo_keeps_the_sure_winner() -> None:
    stv = METHODS["stv"]
    ballots = [Choice(options=(0,))] * 4 + [Choice(options=(1,)), Choice(options=(2,))]
    result = stv.tally(ballots, OPTIONS, Policy(seats=2, ties=TieRule.STATUS_QUO), 6)
    assert result.closed_as is ClosedAs.DECIDED
    assert result.winners == ("Acorn",)
    assert result.summary.startswith("Winner: Acorn — Big Oak and Cedar tied for 1 seat")


def test_approval_two_seats_tie_at_the_boundary_by_lot_keeps_the_sure_winner() -> None:
    ballots = picks((0, 1), (0, 2), (0, 1, 2), (1, 2), (0,))
    seed = seed_putting_first("Cedar", ["Big Oak", "Cedar"])
    result = approval.tally(ballots, OPTIONS, Policy(seats=2, ties=TieRule.LOT, lot_seed=seed), 5)
    assert result.closed_as is ClosedAs.DECIDED
    assert result.winners == ("Acorn", "Cedar")
    assert result.summary == "Winners: Acorn, Cedar"


def test_approval_two_seats_tie_within_the_seats_is_no_tie() -> None:
    ballots = picks((0, 1), (0, 1), (2,))  # Acorn 2, Big Oak 2, Cedar 1
    result = approval.tally(ballots, OPTIONS, Policy(seats=2), 5)
    assert result.closed_as is ClosedAs.DECIDED
    assert result.summary == "Winners: Acorn, Big Oak"


# --- no ballots -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "options", "summary"),
    [
        (majority, NO_OPTIONS, "Rejected — 0 yes, 0 no."),
        (consent, NO_OPTIONS, "Rejected — no ballots were cast."),
        (consensus, NO_OPTIONS, "Rejected — 0 agree, 0 disagree."),
        (choice, OPTIONS, "Rejected — no ballots were cast."),
        (approval, OPTIONS, "Rejected — no ballots were cast."),
    ],
    ids=["majority", "consent", "consensus", "choice", "approval"],
)
def test_no_ballots_is_rejected(method: Method, options: tuple[str, ...], summary: str) -> None:
    result = method.tally([], options, Policy(), 5)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == summary
    assert result.winners == ()
    assert result.ballots == 0


def test_consent_with_no_ballots_is_rejected_not_passed() -> None:
    result = consent.tally([], NO_OPTIONS, Policy(), 5)
    assert result.closed_as is ClosedAs.REJECTED
    assert result.summary == "Rejected — no ballots were cast."
    assert "No ballots were cast, so no one consented." in result.explanation


def test_consent_with_no_ballots_and_a_quorum_is_no_quorum() -> None:
    result = consent.tally([], NO_OPTIONS, Policy(quorum=Quorum(count=1)), 5)
    assert result.closed_as is ClosedAs.NO_QUORUM
    assert result.summary == "No quorum — 0 of 5 voted."


# --- check_ballot -----------------------------------------------------------------------


def test_check_ballot_accepts_well_formed_ballots() -> None:
    assert majority.check_ballot(Choice(verdict="yes"), NO_OPTIONS) == Choice(verdict="yes")
    objection = Choice(verdict="object", reason="too costly")
    assert consent.check_ballot(objection, NO_OPTIONS) == objection
    # Approval sets are normalised to sorted order.
    assert approval.check_ballot(Choice(options=(2, 0)), OPTIONS) == Choice(options=(0, 2))
    assert choice.check_ballot(Choice(options=(1,)), OPTIONS) == Choice(options=(1,))


@pytest.mark.parametrize(
    ("method", "ballot", "message"),
    [
        (consent, Choice(verdict="object"), "Say why: object needs a reason."),
        (consent, Choice(verdict="object", reason="   "), "Say why: object needs a reason."),
        (consensus, Choice(verdict="block"), "Say why: block needs a reason."),
        (majority, Choice(verdict="yes", reason="sure"), "yes takes no reason; vote just yes."),
        (
            consent,
            Choice(verdict="stand-aside", reason="busy"),
            "stand-aside takes no reason; vote just stand-aside.",
        ),
        (majority, Choice(verdict="maybe"), "Vote yes, no or abstain."),
        (majority, Choice(verdict="consent"), "Vote yes, no or abstain."),
        (
            consent,
            Choice(),
            "Vote consent, object <reason> or stand-aside.",
        ),
        (majority, Choice(verdict="yes", options=(0,)), "Vote yes, no or abstain."),
    ],
    ids=[
        "object-no-reason",
        "object-blank-reason",
        "block-no-reason",
        "reason-on-yes",
        "reason-on-stand-aside",
        "unknown-verdict",
        "other-methods-verdict",
        "empty",
        "options-on-verdict",
    ],
)
def test_check_ballot_refuses_bad_verdicts(method: Method, ballot: Choice, message: str) -> None:
    with pytest.raises(InvalidBallot) as info:
        method.check_ballot(ballot, NO_OPTIONS)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("method", "ballot", "message"),
    [
        (
            choice,
            Choice(options=(0, 2)),
            "Choose exactly one option: A, B or C (one option, by letter or name).",
        ),
        (choice, Choice(options=(3,)), "No such option; vote A, B or C"),
        (choice, Choice(options=(-1,)), "No such option; vote A, B or C"),
        (approval, Choice(options=(0, 5)), "No such option; vote A, B, C"),
        (approval, Choice(options=(1, 1)), "Each option may be named once."),
        (choice, Choice(options=(0, 0)), "Each option may be named once."),
        (choice, Choice(verdict="yes"), "Vote A, B or C"),
        (approval, Choice(), "Vote A, B, C"),
    ],
    ids=[
        "two-for-choice",
        "out-of-range",
        "negative",
        "approval-out-of-range",
        "approval-repeat",
        "choice-repeat",
        "verdict-on-choice",
        "empty-approval",
    ],
)
def test_check_ballot_refuses_bad_option_ballots(
    method: Method, ballot: Choice, message: str
) -> None:
    with pytest.raises(InvalidBallot) as info:
        method.check_ballot(ballot, OPTIONS)
    assert str(info.value).startswith(message)


# --- check_options ----------------------------------------------------------------------


@pytest.mark.parametrize("method", [majority, consent, consensus], ids=lambda m: m.name)
def test_verdict_methods_refuse_options(method: Method) -> None:
    method.check_options(())
    with pytest.raises(InvalidProposal) as info:
        method.check_options(("A", "B"))
    assert f"The {method.name} method votes on the proposal itself" in str(info.value)


@pytest.mark.parametrize("method", [choice, approval], ids=lambda m: m.name)
def test_option_methods_need_two_to_twenty_distinct_options(method: Method) -> None:
    method.check_options(("A", "B"))
    method.check_options(tuple(f"Option {i}" for i in range(20)))
    for too_few in [(), ("Only",)]:
        with pytest.raises(InvalidProposal, match="needs at least 2 options"):
            method.check_options(too_few)
    with pytest.raises(InvalidProposal) as info:
        method.check_options(tuple(f"Option {i}" for i in range(21)))
    assert str(info.value) == "A proposal may have at most 20 options; this one has 21."


@pytest.mark.parametrize("method", [choice, approval], ids=lambda m: m.name)
def test_option_names_are_unique_ignoring_case(method: Method) -> None:
    with pytest.raises(InvalidProposal) as info:
        method.check_options(("Acorn", "Big Oak", "big OAK"))
    assert "big OAK" in str(info.value)
    assert "listed twice" in str(info.value)


def test_option_must_not_be_empty_or_too_long() -> None:
    with pytest.raises(InvalidProposal, match="An option is empty"):
        choice.check_options(("A", ""))
    with pytest.raises(InvalidProposal, match="at most 100 characters"):
        choice.check_options(("A", "x" * 101))
    choice.check_options(("A", "x" * 100))


def test_method_named_is_case_insensitive_and_refuses_unknown_names() -> None:
    assert method_named("Consent") is METHODS["consent"]
    with pytest.raises(InvalidProposal) as info:
        method_named("sortition")
    assert "sortition" in str(info.value)


# --- lot order --------------------------------------------------------------------------


def test_lot_order_follows_the_published_rule_and_ignores_input_order() -> None:
    labels = ["Acorn", "Big Oak", "Cedar", "Dogwood"]
    order = lot_order("2026-seed", labels)
    assert order == by_lot("2026-seed", labels)
    assert sorted(order) == sorted(labels)
    assert lot_order("2026-seed", list(reversed(labels))) == order
    # The seed matters: some other seed gives another ordering.
    assert any(lot_order(f"s{n}", labels) != order for n in range(20))


# --- Result and Policy as JSON ----------------------------------------------------------


def test_result_json_round_trip() -> None:
    results = [
        consent.tally(
            [*verdicts(consent=2), Choice(verdict="object", reason="too “costly”")],
            NO_OPTIONS,
            Policy(quorum=Quorum(count=2)),
            5,
        ),
        approval.tally(picks((0, 2), (2,), (1, 2), (0,)), OPTIONS, Policy(seats=2), 5),
        majority.tally([], NO_OPTIONS, Policy(quorum=Quorum(count=1)), 5),
    ]
    for result in results:
        data = json.loads(json.dumps(result.to_json()))
        assert Result.from_json(data) == result


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        Policy(quorum=Quorum(count=4), threshold=Fraction(1, 2), ties=TieRule.STATUS_QUO),
        Policy(
            quorum=Quorum(share=Fraction(2, 3)),
            threshold=Fraction(33, 50),
            seats=3,
            dots=5,
            secret=True,
            results=Visibility.CLOSED,
            ties=TieRule.LOT,
            lot_seed="a1b2c3",
            allow_change=False,
        ),
        Policy(results=Visibility.VOTED),
    ],
    ids=["default", "count", "everything", "voted"],
)
def test_policy_json_round_trip(policy: Policy) -> None:
    data = json.loads(json.dumps(policy.to_json(reveal=True)))
    assert Policy.from_json(data) == policy


def test_a_policys_json_holds_the_lots_commitment_not_its_seed_unless_revealed() -> None:
    seed = "5eed" * 8
    policy = Policy(ties=TieRule.LOT, lot_seed=seed)
    public = policy.to_json()
    assert seed not in json.dumps(public)
    assert public["lot_commitment"] == hashlib.sha256(seed.encode()).hexdigest()
    assert Policy.from_json(public) == policy.sealed()
    assert Policy.from_json(public).lot_commitment == policy.lot_commitment
    assert policy.to_json(reveal=True)["lot_seed"] == seed
    # A seed that does not match its commitment (changed in the store) loads, keeping
    # the published commitment: the close says the lot cannot be trusted.
    changed = Policy(ties=TieRule.LOT, lot_seed=seed, lot_commitment="0" * 64)
    assert changed.lot_commitment == "0" * 64


def test_a_count_while_voting_is_open_draws_no_lot() -> None:
    """Without its seed (sealed while voting is open) a lot's tie stays a tie, and says a
    lot settles it at close; with the seed, the close settles it."""
    policy = Policy(ties=TieRule.LOT, lot_seed="seed-1")
    provisional = choice.tally(picks((0,), (1,)), OPTIONS, policy.sealed(), 5)
    assert provisional.closed_as is ClosedAs.TIED
    assert provisional.summary == "Tied — Acorn and Big Oak, 1 vote each."
    assert "A lot settles this tie when voting closes (ties=lot)." in provisional.explanation
    assert not any("seed" in line for line in provisional.explanation)
    final = choice.tally(picks((0,), (1,)), OPTIONS, policy, 5)
    assert final.closed_as is ClosedAs.DECIDED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": Fraction(0)}, "threshold"),
        ({"threshold": Fraction(3, 2)}, "threshold"),
        ({"quorum": Quorum(share=Fraction(3, 2))}, "quorum share"),
        ({"quorum": Quorum(count=0)}, "quorum count"),
        ({"seats": 0}, "Seats"),
        ({"seats": 21}, "Seats"),
        ({"secret": True}, "secret vote"),
    ],
    ids=["threshold-0", "threshold-150", "quorum-150", "quorum-0", "seats-0", "seats-21", "secret"],
)
def test_policy_refuses_impossible_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidProposal, match=message):
        Policy(**kwargs)  # type: ignore[arg-type]
