"""Which votes a platform may also show as its own poll, and with which answers."""

from __future__ import annotations

from governance.domain.policy import Policy, Visibility
from governance.text.render import poll_for

OPTIONS = ("Acorn", "Birch", "Cedar")


def test_open_votes_with_live_results_are_polls_with_the_ballot_words_as_answers() -> None:
    majority = poll_for(1, "Paint it", "majority", (), Policy())
    assert majority is not None
    assert majority.answers == (("yes", "yes"), ("no", "no"), ("abstain", "abstain"))
    assert majority.max_selections == 1
    choice = poll_for(2, "Pick a tree", "choice", OPTIONS, Policy())
    assert choice is not None and choice.max_selections == 1
    assert choice.answers == (("A", "Acorn"), ("B", "Birch"), ("C", "Cedar"))
    approval = poll_for(3, "Trees we like", "approval", OPTIONS, Policy())
    assert approval is not None and approval.max_selections == 3


def test_secret_or_hidden_results_or_other_methods_are_never_polls() -> None:
    assert poll_for(1, "x", "majority", (), Policy(secret=True, results=Visibility.CLOSED)) is None
    assert poll_for(1, "x", "majority", (), Policy(results=Visibility.CLOSED)) is None
    assert poll_for(1, "x", "choice", OPTIONS, Policy(results=Visibility.VOTED)) is None
    assert poll_for(1, "x", "ranked", OPTIONS, Policy()) is None
    assert poll_for(1, "x", "consent", (), Policy()) is None
