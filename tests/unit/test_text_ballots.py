"""Ballots as members type them: `!vote 12 <this part>`."""

from __future__ import annotations

import pytest

from governance.domain.ballot import Choice
from governance.domain.errors import InvalidBallot
from governance.domain.methods import METHODS
from governance.text.ballots import parse_ballot

majority = METHODS["majority"]
consent = METHODS["consent"]
consensus = METHODS["consensus"]
choice = METHODS["choice"]
approval = METHODS["approval"]

OPTIONS = ("Acorn", "Big Oak", "Cedar")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("yes", "yes"),
        ("YES", "yes"),
        ("No", "no"),
        ("  abstain  ", "abstain"),
        ("y", "yes"),
        ("n", "no"),
    ],
)
def test_majority_verdicts_are_case_insensitive(text: str, verdict: str) -> None:
    assert parse_ballot(text, majority, ()) == Choice(verdict=verdict)


@pytest.mark.parametrize(
    "text", ["stand aside", "Stand Aside", "STAND   aside", "stand-aside", "standaside"]
)
def test_stand_aside_in_two_words_or_one(text: str) -> None:
    assert parse_ballot(text, consent, ()) == Choice(verdict="stand-aside")


def test_consent() -> None:
    assert parse_ballot("Consent", consent, ()) == Choice(verdict="consent")


def test_objection_keeps_its_reason_as_written() -> None:
    assert parse_ballot("OBJECT It costs more than   we have", consent, ()) == Choice(
        verdict="object", reason="It costs more than we have"
    )


def test_block_with_reason() -> None:
    assert parse_ballot("block unsafe for night shifts", consensus, ()) == Choice(
        verdict="block", reason="unsafe for night shifts"
    )


@pytest.mark.parametrize(
    ("text", "method", "needle"),
    [
        ("object", consent, "Say why: object needs a reason."),
        ("block", consensus, "Say why: block needs a reason."),
        ("yes please", majority, "yes takes no reason"),
        ("stand aside because", consent, "stand-aside takes no reason"),
        ("maybe", majority, "“maybe” is not a ballot for a majority vote"),
        ("yes", consent, "“yes” is not a ballot for a consent vote"),
        ("agree", majority, "“agree” is not a ballot for a majority vote"),
        ("", majority, "Vote yes, no or abstain."),
        ("   ", consent, "Vote consent, object <reason> or stand-aside."),
    ],
)
def test_bad_verdict_ballots(text: str, method: object, needle: str) -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot(text, method, ())  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_unknown_verdict_message_lists_the_valid_ballots() -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot("maybe", majority, ())
    assert (
        str(info.value) == "“maybe” is not a ballot for a majority vote; vote yes, no or abstain."
    )


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("Acorn", 0),
        ("acorn", 0),
        ("Big Oak", 1),
        ("big   OAK", 1),
        ("B", 1),
        ("b", 1),
        ("3", 2),
        ("C", 2),
    ],
)
def test_choice_by_name_letter_or_number(text: str, index: int) -> None:
    assert parse_ballot(text, choice, OPTIONS) == Choice(options=(index,))


def test_exact_name_wins_over_letter() -> None:
    options = ("Zebra", "A", "Yak")
    assert parse_ballot("A", choice, options) == Choice(options=(1,))
    assert parse_ballot("C", choice, options) == Choice(options=(2,))


def test_exact_name_wins_over_number() -> None:
    options = ("2025", "1", "2027")
    assert parse_ballot("1", choice, options) == Choice(options=(1,))
    assert parse_ballot("3", choice, options) == Choice(options=(2,))


def test_multi_word_name_wins_over_letters() -> None:
    options = ("Apple", "Beet", "A B")
    # "A B" is an option's name, not the letters A and B.
    assert parse_ballot("A B", approval, options) == Choice(options=(2,))
    assert parse_ballot("A C", approval, options) == Choice(options=(0, 2))


def test_longest_name_wins() -> None:
    options = ("Big", "Big Oak", "Cedar")
    assert parse_ballot("Big Oak", choice, options) == Choice(options=(1,))
    assert parse_ballot("Big", choice, options) == Choice(options=(0,))


@pytest.mark.parametrize("word", ["Oak", "D", "4", "0", "Elm"])
def test_unknown_option_is_named(word: str) -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot(word, choice, OPTIONS)
    assert f"“{word}” is not an option here" in str(info.value)
    assert "A, B or C" in str(info.value)


def test_unknown_option_among_known_ones_is_named() -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot("A Elm C", approval, OPTIONS)
    assert "“Elm”" in str(info.value)


@pytest.mark.parametrize("text", ["A A", "A acorn", "1 A", "Big Oak b", "c, Cedar"])
def test_repeated_option_is_refused(text: str) -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot(text, approval, OPTIONS)
    assert "is named twice" in str(info.value)


def test_repeated_option_message_names_the_option() -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot("B big oak", approval, OPTIONS)
    assert str(info.value) == "“Big Oak” is named twice; name each option once."


@pytest.mark.parametrize(
    "text", ["A C", "C A", "a c", "A, C", "Acorn Cedar", "1 3", "Cedar, acorn"]
)
def test_approval_sets(text: str) -> None:
    assert parse_ballot(text, approval, OPTIONS) == Choice(options=(0, 2))


def test_commas_without_spaces_separate_options_too() -> None:
    assert parse_ballot("A,C", approval, OPTIONS) == Choice(options=(0, 2))
    assert parse_ballot("big oak,cedar", approval, OPTIONS) == Choice(options=(1, 2))


def test_approval_of_every_option() -> None:
    assert parse_ballot("A Big Oak 3", approval, OPTIONS) == Choice(options=(0, 1, 2))


def test_choice_refuses_two_options() -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot("A C", choice, OPTIONS)
    assert "Choose exactly one option" in str(info.value)


@pytest.mark.parametrize("method", [choice, approval], ids=["choice", "approval"])
def test_empty_option_ballot(method: object) -> None:
    with pytest.raises(InvalidBallot) as info:
        parse_ballot("  ", method, OPTIONS)  # type: ignore[arg-type]
    assert str(info.value).startswith("Vote A, B")


def test_huge_number_is_not_an_option() -> None:
    with pytest.raises(InvalidBallot):
        parse_ballot("9" * 5000, choice, OPTIONS)
