"""Single transferable vote under the Scottish rules (SSI 2007/42, Schedule 1, rules 45–52).

Every figure in the hand-worked counts below is worked out in the comments, in votes to
five decimal places (rule 48(3)); the assertions use the scaled integers (× 100,000).
The property test at the end checks the elected set against pref_voting's `stv_scottish`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pref_voting.proportional_methods as pv_methods
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pref_voting.profiles import Profile as PvProfile
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.proportional_methods import stv_scottish

from governance.domain.methods.profile import Profile
from governance.domain.methods.stv import SCALE, StvCount, StvStage, count_stv

A, B, C, D, E = range(5)


class _Tie(Exception):
    """A lot was needed (raised by the draws below)."""


def no_draw(tied: tuple[int, ...], purpose: str) -> int:
    raise AssertionError(f"unexpected draw among {tied} for {purpose!r}")


def raising_draw(tied: tuple[int, ...], purpose: str) -> int:
    raise _Tie(tied, purpose)


class Recorder:
    """A draw that records its calls and answers from a script."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[tuple[int, ...], str]] = []

    def __call__(self, tied: tuple[int, ...], purpose: str) -> int:
        self.calls.append((tied, purpose))
        return self.answers.pop(0)


def votes(x: str) -> int:
    """'12.14285' → 1214285: a figure written to five decimals, scaled."""
    whole, _, frac = x.partition(".")
    return int(whole) * SCALE + int(frac.ljust(5, "0"))


def totals(*xs: str) -> tuple[int, ...]:
    return tuple(votes(x) for x in xs)


def check_books(count: StvCount) -> None:
    """At every stage, votes held + non-transferable + lost = the valid ballots."""
    for stage in count.stages:
        held = sum(stage.totals)
        assert held + stage.non_transferable + stage.lost == count.valid * SCALE, stage


# --- 1. Hand-worked counts -------------------------------------------------------------


def test_worked_count_with_truncated_transfer_values_and_a_mixed_pile() -> None:
    # Five options A–E, three seats, 43 ballots:
    #   15 × A B C    4 × A C    2 × A    5 × B D    6 × C B    7 × D B    4 × E D
    #
    # Rule 46: quota = floor(43 / (3 + 1)) + 1 = 10 + 1 = 11.
    #
    # Stage 1 (first preferences): A 21, B 5, C 6, D 7, E 4. A ≥ 11: A is elected.
    #
    # Stage 2 (A's surplus, 21 − 11 = 10). Every one of A's 21 papers has value 1, so
    #   each transfers at 10 × 1 / 21 = 0.476190476… → 0.47619 (rule 48(3)).
    #   15 × A B C → B:  15 × 0.47619 = 7.14285
    #    4 × A C   → C:   4 × 0.47619 = 1.90476
    #    2 × A     → non-transferable: 2 × 0.47619 = 0.95238
    #   moved 9.99999 of 10: 0.00001 lost. A keeps the quota, 11.
    #   B 5 + 7.14285 = 12.14285 ≥ 11: B is elected. C 7.90476, D 7, E 4.
    #
    # Stage 3 (B's surplus, 12.14285 − 11 = 1.14285, from a pile of mixed values):
    #   5 × B D received at value 1:
    #     1.14285 × 1 / 12.14285 = 0.094117… → 0.09411; D gets 5 × 0.09411 = 0.47055
    #   15 × A B C received at value 0.47619 (the value when B received them, 48(4)(b)):
    #     1.14285 × 0.47619 / 12.14285 = 0.5442137415 / 12.14285 = 0.044817… → 0.04481
    #     C gets 15 × 0.04481 = 0.67215
    #   moved 1.14270 of 1.14285: 0.00015 lost (0.00016 in all). B keeps 11.
    #   C 7.90476 + 0.67215 = 8.57691, D 7.47055, E 4: nobody new reaches the quota.
    #
    # Stage 4: no surplus left, so the lowest, E (4), is excluded (rule 50); 4 × E D go
    #   to D at value 1: D 11.47055 ≥ 11, D is elected and every seat is filled.
    profile: Profile = {
        (A, B, C): 15,
        (A, C): 4,
        (A,): 2,
        (B, D): 5,
        (C, B): 6,
        (D, B): 7,
        (E, D): 4,
    }
    count = count_stv(profile, 5, 3, no_draw)
    assert (count.valid, count.quota, count.seats) == (43, 11, 3)
    assert count.elected == (A, B, D)
    assert not count.last_vacancies
    assert count.stages == (
        StvStage(1, "first", None, totals("21", "5", "6", "7", "4"), 0, 0, (A,)),
        StvStage(
            2,
            "surplus",
            A,
            totals("11", "12.14285", "7.90476", "7", "4"),
            votes("0.95238"),
            votes("0.00001"),
            (B,),
        ),
        StvStage(
            3,
            "surplus",
            B,
            totals("11", "11", "8.57691", "7.47055", "4"),
            votes("0.95238"),
            votes("0.00016"),
            (),
        ),
        StvStage(
            4,
            "exclude",
            E,
            totals("11", "11", "8.57691", "11.47055", "0"),
            votes("0.95238"),
            votes("0.00016"),
            (D,),
        ),
    )
    check_books(count)


def test_transfer_value_exactly_five_decimals_is_not_truncated_further() -> None:
    # The case where pref_voting's floating point parts from the statute (see the oracle
    # test). Five options, three seats, 224 ballots:
    #   80 × A B    60 × E C    10 × B C    30 × C B    44 × D
    # Quota = floor(224 / 4) + 1 = 57.
    # Stage 1: A 80, B 10, C 30, D 44, E 60. A and E are elected (A first: more votes).
    # Stage 2: the larger surplus first (rule 49(1)): A's 23. Transfer value
    #   23 × 1 / 80 = 0.2875 exactly, i.e. 0.28750 — nothing to ignore. (In binary
    #   floating point 23/80 × 100000 is 28749.999999999996, which floors to 0.28749.)
    #   B gets 80 × 0.28750 = 23: B 33.
    # Stage 3: E's surplus 3: 3 × 1 / 60 = 0.05 → C gets 60 × 0.05 = 3: C 33.
    # Stage 4: B and C are equal lowest at 33 (D 44). Rule 51(2)(a): the most recent
    #   preceding stage at which they were unequal is stage 2 (B 33, C 30), so C is
    #   excluded. C's 30 papers C B go to B at value 1 (B 63 ≥ 57: elected); the 60
    #   papers E C (at 0.05) have no further preference: 3 non-transferable.
    # With B at 32.99920 instead (0.28749 × 80), B would be excluded alone, C would
    # reach 43 and lose to D: a different council.
    profile: Profile = {(A, B): 80, (E, C): 60, (B, C): 10, (C, B): 30, (D,): 44}
    count = count_stv(profile, 5, 3, no_draw)
    assert count.quota == 57
    assert count.elected == (A, E, B)
    assert [s.totals for s in count.stages] == [
        totals("80", "10", "30", "44", "60"),
        totals("57", "33", "30", "44", "60"),
        totals("57", "33", "33", "44", "57"),
        totals("57", "63", "0", "44", "57"),
    ]
    assert count.stages[1].lost == 0
    assert count.stages[3].non_transferable == votes("3")
    assert (count.stages[3].subject, count.stages[3].tie) == (C, "look-back")
    assert count.stages[3].tied == (B, C)
    check_books(count)


def test_a_surplus_is_transferred_once() -> None:
    # Rule 48: a surplus is transferred once; what rule 48(3) ignores is lost, and the
    # elected option is left with the quota. Four options, three seats, 56 ballots:
    #   22 × A B    14 × B C    8 × C D    12 × D C
    # Quota = floor(56 / 4) + 1 = 15.
    # Stage 1: A 22 (elected), B 14, C 8, D 12.
    # Stage 2: A's surplus 7; 22 papers at 7 / 22 = 0.318181… → 0.31818 go to B:
    #   22 × 0.31818 = 6.99996 (0.00004 lost). B 20.99996: elected.
    # Stage 3: B's surplus 5.99996 out of 20.99996:
    #   14 × B C (value 1):       5.99996 / 20.99996 = 0.285713… → 0.28571; C gets 3.99994
    #   22 × A B (value 0.31818): 5.99996 × 0.31818 / 20.99996 = 0.090908… → 0.09090,
    #                              no further preference: 1.99980 non-transferable
    #   5.99996 − 3.99994 − 1.99980 = 0.00022 lost (0.00026 in all); B stays at 15.
    #   C 11.99994, D 12: one vacancy, and D's 12 exceeds C's 11.99994 with no surplus
    #   left — D is elected (excluding C first would give the same).
    # A count that left B at 15.00022 and transferred that "surplus" again would give C
    # another 14 × 0.00001 (C 12.00008 > D 12) and elect C: pref_voting does this (see
    # the oracle test).
    profile: Profile = {(A, B): 22, (B, C): 14, (C, D): 8, (D, C): 12}
    count = count_stv(profile, 4, 3, no_draw)
    assert count.quota == 15
    assert count.elected == (A, B, D)
    assert [s.totals for s in count.stages] == [
        totals("22", "14", "8", "12"),
        totals("15", "20.99996", "8", "12"),
        totals("15", "15", "11.99994", "12"),
    ]
    assert [s.lost for s in count.stages] == [0, votes("0.00004"), votes("0.00026")]
    assert count.stages[2].non_transferable == votes("1.99980")
    assert count.last_vacancies
    check_books(count)


def test_an_option_nobody_ranked_can_take_the_last_seat() -> None:
    # Three options, two seats, 3 ballots all "A". Quota = floor(3 / 3) + 1 = 2.
    # Stage 1: A 3, elected, surplus 1.
    # Stage 2: 3 papers at 1 × 1 / 3 = 0.33333, none with a next preference:
    #   non-transferable 0.99999, lost 0.00001; A stays at exactly the quota.
    # Stage 3: B and C have 0 at every stage: a lot (rule 51(2)(b)) excludes one; the
    #   other is the only continuing option for the one vacancy left (rule 52) — an
    #   option nobody ranked is elected with no votes.
    draw = Recorder(C)
    count = count_stv({(A,): 3}, 3, 2, draw)
    assert count.quota == 2
    assert [s.totals for s in count.stages] == [
        totals("3", "0", "0"),
        totals("2", "0", "0"),
        totals("2", "0", "0"),
    ]
    assert count.stages[1].non_transferable == votes("0.99999")
    assert count.stages[1].lost == votes("0.00001")
    # Both have no votes: interchangeable, and the draw is told so.
    assert draw.calls == [((B, C), "exclude-symmetric")]
    assert (count.stages[2].action, count.stages[2].subject, count.stages[2].tie) == (
        "exclude",
        C,
        "lot",
    )
    assert count.elected == (A, B)
    assert count.last_vacancies
    check_books(count)


# --- 2. Ties ---------------------------------------------------------------------------


def test_equal_lowest_excluded_by_look_back() -> None:
    # 4 × A    3 × B A    2 × C B    1 × D C — two seats, quota floor(10 / 3) + 1 = 4.
    # Stage 1: A 4 (elected, no surplus), B 3, C 2, D 1. Stage 2: D excluded → C 3.
    # Stage 3: B and C equal lowest at 3; at stage 1 (the most recent stage at which they
    #   were unequal) C had 2 and B 3, so C is excluded (rule 51(2)(a)). B gets 2 → 5.
    profile: Profile = {(A,): 4, (B, A): 3, (C, B): 2, (D, C): 1}
    count = count_stv(profile, 4, 2, no_draw)
    assert count.elected == (A, B)
    third = count.stages[2]
    assert (third.action, third.subject, third.tie, third.tied) == (
        "exclude",
        C,
        "look-back",
        (B, C),
    )
    assert third.totals == totals("4", "5", "0", "0")
    assert third.non_transferable == votes("1")
    check_books(count)


def test_equal_surpluses_ordered_by_look_back() -> None:
    # 8 × A C    7 × B D    2 × E A    3 × E B    6 × C    6 × D — three seats, 32 ballots,
    # quota floor(32 / 4) + 1 = 9.
    # Stage 1: A 8, B 7, C 6, D 6, E 5. Stage 2: E excluded: A 10, B 10, both elected.
    # Stage 3: equal surpluses of 1. At stage 1 A had 8 and B 7, so A's goes first
    #   (rule 49(2)) and A is listed first. A's 10 papers at 1 / 10 = 0.1: 8 → C (0.8),
    #   2 (E A) non-transferable (0.2). C 6.8, D 6.
    # Stage 4: B's surplus: 7 → D (0.7), 3 (E B) non-transferable (0.3). C 6.8, D 6.7.
    #   One vacancy; C's 6.8 exceeds D's 6.7 with no surplus left: C is elected.
    profile: Profile = {(A, C): 8, (B, D): 7, (E, A): 2, (E, B): 3, (C,): 6, (D,): 6}
    count = count_stv(profile, 5, 3, no_draw)
    assert count.quota == 9
    assert count.elected == (A, B, C)
    assert count.stages[1].elected == (A, B)
    third = count.stages[2]
    assert (third.action, third.subject, third.tie, third.tied) == (
        "surplus",
        A,
        "look-back",
        (A, B),
    )
    assert third.totals == totals("9", "10", "6.8", "6", "0")
    assert count.stages[3].totals == totals("9", "9", "6.8", "6.7", "0")
    assert count.stages[3].non_transferable == votes("0.5")
    assert count.last_vacancies
    check_books(count)


@pytest.mark.parametrize(("first", "then"), [(A, C), (B, D)])
def test_equal_surpluses_at_every_stage_go_to_a_lot(first: int, then: int) -> None:
    # 5 × A C    5 × B D    1 × C    2 × D — three seats, 13 ballots, quota 4.
    # Stage 1: A 5, B 5 both elected with surpluses of 1, equal at every stage: lot.
    # The chosen surplus goes first at 1/5 = 0.2 a paper; its option is listed first.
    # If B's goes first, D reaches 3, which exceeds C's 1 plus A's surplus 1 still to
    # come: D takes the last seat at once. If A's goes first, C 2 and D 2 + B's 1 is
    # not exceeded; B's surplus then makes D 3 > C 2.
    draw = Recorder(first)
    count = count_stv({(A, C): 5, (B, D): 5, (C,): 1, (D,): 2}, 4, 3, draw)
    assert draw.calls == [((A, B), "surplus")]
    second = count.stages[1]
    assert (second.action, second.subject, second.tie, second.tied) == (
        "surplus",
        first,
        "lot",
        (A, B),
    )
    other = B if first == A else A
    assert count.elected == (first, other, D)
    assert count.stages[0].elected == (first, other)
    check_books(count)


def test_look_back_narrows_before_the_lot() -> None:
    # 5 × A B    5 × A C    2 × B    2 × C    3 × D    5 × E — two seats, quota 8.
    # Stage 1: A 10 (elected), B 2, C 2, D 3, E 5.
    # Stage 2: A's surplus 2 at 0.2: B 3, C 3.
    # Stage 3: B, C, D equal lowest at 3. At stage 1 (the most recent stage at which they
    #   were unequal) D had 3, B and C 2: D is safe, and B and C were equal at every
    #   stage, so the lot is between B and C only.
    # Stage 4: B and D equal at 3: at stage 1 B had 2, D 3 → B excluded by look-back.
    #   Then E 5 exceeds D 3: E takes the last seat.
    profile: Profile = {(A, B): 5, (A, C): 5, (B,): 2, (C,): 2, (D,): 3, (E,): 5}
    draw = Recorder(C)
    count = count_stv(profile, 5, 2, draw)
    assert draw.calls == [((B, C), "exclude")]
    third, fourth = count.stages[2], count.stages[3]
    assert (third.subject, third.tie, third.tied) == (C, "lot", (B, C, D))
    assert (fourth.subject, fourth.tie, fourth.tied) == (B, "look-back", (B, D))
    assert count.elected == (A, E)
    check_books(count)


def test_a_raising_draw_stops_the_count() -> None:
    with pytest.raises(_Tie) as raised:
        count_stv({(A, C): 5, (B, D): 5, (C,): 1, (D,): 2}, 4, 3, raising_draw)
    assert raised.value.args == ((A, B), "surplus")
    with pytest.raises(_Tie) as raised:
        count_stv({(A,): 2, (B,): 2, (C,): 2}, 3, 1, raising_draw)
    assert raised.value.args == ((A, B, C), "exclude")


def test_a_draw_must_choose_one_of_the_tied() -> None:
    with pytest.raises(ValueError, match="draw chose"):
        count_stv({(A,): 2, (B,): 2, (C,): 2}, 3, 1, lambda tied, purpose: 7)


def test_equal_totals_elected_together_need_no_lot_without_a_surplus() -> None:
    # 3 × A    3 × B    2 × C    1 × D — two seats, quota 4: nobody reaches it.
    # D, then C are excluded; A and B (equal throughout) are the two continuing options
    # for two vacancies (rule 52): elected with no lot, since no surplus is to move.
    count = count_stv({(A,): 3, (B,): 3, (C,): 2, (D,): 1}, 4, 2, no_draw)
    assert count.elected == (A, B)
    assert count.last_vacancies
    assert [s.subject for s in count.stages] == [None, D, C]


# --- 3. Rule 52 --------------------------------------------------------------------------


def test_rule_52_continuing_equal_to_vacancies() -> None:
    # 3 × A B    3 × B    2 × C    1 × D C — two seats, 9 ballots, quota floor(9/3) + 1 = 4.
    # Stage 1: A 3, B 3, C 2, D 1: nobody reaches the quota.
    # Stage 2: D excluded, its paper goes to C: A 3, B 3, C 3.
    # Stage 3: A, B, C equal lowest; at stage 1 C had the fewest (2): C is excluded and
    #   its 3 papers have no further preference. A and B are now the only continuing
    #   options for the two vacancies: both are deemed elected with 3 votes each, below
    #   the quota, and no further transfer is made (rule 52). A and B were equal at
    #   every stage, but no surplus moves, so no lot orders them.
    count = count_stv({(A, B): 3, (B,): 3, (C,): 2, (D, C): 1}, 4, 2, no_draw)
    assert count.quota == 4
    assert [(s.action, s.subject, s.tie) for s in count.stages] == [
        ("first", None, None),
        ("exclude", D, None),
        ("exclude", C, "look-back"),
    ]
    assert count.stages[2].tied == (A, B, C)
    assert count.stages[2].totals == totals("3", "3", "0", "0")
    assert count.stages[2].non_transferable == votes("3")
    assert count.elected == (A, B)
    assert count.stages[2].elected == (A, B)
    assert count.last_vacancies
    check_books(count)


def test_last_vacancy_when_one_option_exceeds_all_others_and_surpluses() -> None:
    # 5 × A    2 × B    1 × C — two seats, quota floor(8/3) + 1 = 3.
    # Stage 1: A 5 elected (surplus 2). One vacancy: B's 2 does not exceed C's 1 plus
    #   the 2 still to move.
    # Stage 2: A's surplus, 5 papers at 2/5 = 0.4, all non-transferable (2). Now B's 2
    #   exceeds C's 1 with nothing left to move: B is elected, the count ends (no
    #   exclusion of C, which could not have changed anything).
    count = count_stv({(A,): 5, (B,): 2, (C,): 1}, 3, 2, no_draw)
    assert count.elected == (A, B)
    assert count.last_vacancies
    assert [(s.action, s.elected) for s in count.stages] == [
        ("first", (A,)),
        ("surplus", (B,)),
    ]
    assert count.stages[1].non_transferable == votes("2")
    # Equal is not enough: B 2, C 2 would be a tie to settle by exclusion.
    draw = Recorder(B)
    count = count_stv({(A,): 5, (B,): 2, (C,): 2}, 3, 2, draw)
    assert draw.calls == [((B, C), "exclude")]
    assert count.elected == (A, C)


def test_count_ends_when_the_seats_are_filled() -> None:
    # 6 × A B    5 × B    1 × C — two seats, quota floor(12/3) + 1 = 5: A and B both
    # reach it at stage 1; A's surplus is never transferred (no vacancy left, rule 48(1)).
    count = count_stv({(A, B): 6, (B,): 5, (C,): 1}, 3, 2, no_draw)
    assert count.elected == (A, B)
    assert not count.last_vacancies
    assert len(count.stages) == 1


# --- 4. Oracle: pref_voting's stv_scottish -------------------------------------------------


class _PvLot(Exception):
    """pref_voting wanted to draw a lot."""


class _RaisingRandom:
    def choice(self, seq: object) -> int:
        raise _PvLot


def pv_elected(profile: Profile, n: int, seats: int) -> set[int]:
    rankings = list(profile)
    counts = [profile[r] for r in rankings]
    pv_profile: PvProfile | ProfileWithTies
    if all(len(r) == n for r in rankings):
        pv_profile = PvProfile([list(r) for r in rankings], counts)
    else:
        pv_profile = ProfileWithTies(
            [{c: i + 1 for i, c in enumerate(r)} for r in rankings],
            counts,
            candidates=list(range(n)),
        )
    return set(stv_scottish(pv_profile, num_seats=seats, rng=_RaisingRandom()))


@contextmanager
def pv_as_statute() -> Iterator[None]:
    """pref_voting 1.18.2 with its two departures from rule 48 undone, for one count:

    * floating point: it truncates a transfer value as ``floor(x * 10**5 + 1e-12)``, so a
      value exact to five decimals (23/80 = 0.2875: x·10⁵ = 28749.999999999996) comes
      out one unit short (0.28749). A tolerance of 1e-9 covers the float error and still
      lies far below any real remainder (≥ 1/(total × 10⁵) ≥ 2.5e-8 with ≤ 400 ballots);
    * a surplus transferred twice: it leaves the elected candidate with the quota plus
      the ignored remainders and, as its docstring says, "may perform additional surplus
      transfers" of them. Rule 48 transfers a surplus once; the remainder is ignored.
    """
    saved_eps, transfer = pv_methods.EPS, pv_methods._transfer_surplus_scottish
    done: set[int] = set()

    def once(  # same signature as pref_voting's own
        pieces: object,
        elect: int,
        quota: float,
        recipients: object,
        parcels: object,
        decimals: int = 5,
    ) -> bool:
        if elect in done:
            return False
        moved = bool(transfer(pieces, elect, quota, recipients, parcels, decimals=decimals))
        if moved:
            done.add(elect)
        return moved

    pv_methods.EPS = 1e-9
    pv_methods._transfer_surplus_scottish = once
    try:
        yield
    finally:
        pv_methods.EPS, pv_methods._transfer_surplus_scottish = saved_eps, transfer


@pytest.mark.parametrize(
    ("profile", "seats", "statute", "pref_voting"),
    [
        # test_transfer_value_exactly_five_decimals_is_not_truncated_further
        ({(A, B): 80, (E, C): 60, (B, C): 10, (C, B): 30, (D,): 44}, 3, {A, B, E}, {A, D, E}),
        # test_a_surplus_is_transferred_once
        ({(A, B): 22, (B, C): 14, (C, D): 8, (D, C): 12}, 3, {A, B, D}, {A, B, C}),
    ],
)
def test_where_pref_voting_departs_from_the_statute(
    profile: Profile, seats: int, statute: set[int], pref_voting: set[int]
) -> None:
    # If the first assertion fails after a pref_voting upgrade, that departure is gone and
    # the oracle test's fallback to pv_as_statute may be narrowed.
    n = 1 + max(max(r) for r in profile)
    assert pv_elected(profile, n, seats) == pref_voting
    with pv_as_statute():
        assert pv_elected(profile, n, seats) == statute
    assert set(count_stv(profile, n, seats, no_draw).elected) == statute


Election = tuple[dict[tuple[int, ...], int], int, int]


@st.composite
def elections(draw: st.DrawFn) -> Election:
    """3–8 options, 1–400 ballots drawn from a small pool of rankings (so that surpluses,
    exclusions and near-ties all happen), complete or truncated, and 1..n-1 seats."""
    n = draw(st.integers(3, 8))
    complete = draw(st.booleans())
    orders = st.permutations(range(n))
    if complete:
        ranking = orders.map(tuple)
    else:
        ranking = st.tuples(orders, st.integers(1, n)).map(lambda pk: tuple(pk[0][: pk[1]]))
    pool = draw(st.lists(ranking, min_size=1, max_size=12, unique=True))
    profile: dict[tuple[int, ...], int] = {}
    room = 400
    for r in pool:
        if room == 0:
            break
        weight = draw(st.integers(1, min(room, 80)))
        profile[r] = weight
        room -= weight
    return profile, n, draw(st.integers(1, n - 1))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elections())
def test_elected_set_matches_pref_voting(election: Election) -> None:
    profile, n, seats = election
    try:
        count = count_stv(profile, n, seats, raising_draw)
    except _Tie:
        reject()  # a lot decides: nothing to compare
    check_books(count)
    assert len(count.elected) == seats == len(set(count.elected))
    try:
        theirs = pv_elected(profile, n, seats)
        if set(count.elected) != theirs:
            # Allowed only where pref_voting's two known departures from rule 48 are the
            # cause (see pv_as_statute and test_where_pref_voting_departs_from_the_statute):
            # with them undone it must agree. Any other difference fails.
            with pv_as_statute():
                theirs = pv_elected(profile, n, seats)
    except _PvLot:
        reject()
    assert set(count.elected) == theirs, count
