"""Decision methods: pure functions from ballots + policy to an explained `Result`.

Each method declares its ballot shape as data (`BallotShape`, its verdict words or
score range), so the grammar and every adapter can offer the right ballot.
"""

from governance.domain.errors import InvalidProposal
from governance.domain.methods.base import (
    MAX_OPTIONS,
    BallotShape,
    Method,
    Verdict,
    plural,
)
from governance.domain.methods.classes import ClassBallots, decide
from governance.domain.methods.options import Approval, Dots, Score, SingleChoice
from governance.domain.methods.rankings import Condorcet, Ranked, Stv
from governance.domain.methods.verdicts import Advice, Consensus, Consent, Majority, SenseCheck

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Majority(),
        Consent(),
        Consensus(),
        SingleChoice(),
        Approval(),
        Ranked(),
        Condorcet(),
        Stv(),
        Score(),
        Dots(),
        Advice(),
        SenseCheck(),
    )
}


def method_named(name: str) -> Method:
    try:
        return METHODS[name.lower()]
    except KeyError:
        raise InvalidProposal(f"Unknown method “{name}”. Methods: {', '.join(METHODS)}.") from None


__all__ = [
    "MAX_OPTIONS",
    "METHODS",
    "Advice",
    "Approval",
    "BallotShape",
    "ClassBallots",
    "Condorcet",
    "Consensus",
    "Consent",
    "Dots",
    "Majority",
    "Method",
    "Ranked",
    "Score",
    "SenseCheck",
    "SingleChoice",
    "Stv",
    "Verdict",
    "decide",
    "method_named",
    "plural",
]
