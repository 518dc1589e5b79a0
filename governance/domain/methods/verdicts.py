"""Methods that vote on the proposal itself with one word: majority, consent, consensus,
and the non-binding advice and sense-check."""

from __future__ import annotations

from collections.abc import Sequence

from governance.domain.ballot import Choice
from governance.domain.lifecycle import ClosedAs
from governance.domain.methods.base import (
    BallotShape,
    Method,
    Tally,
    Verdict,
    Weights,
    count_quorum,
    no_ballots,
    no_quorum,
    plural,
    settle_threshold,
    weighted_counter,
)
from governance.domain.policy import Policy
from governance.domain.result import Result


def _count(
    method: Method, ballots: Sequence[Choice], weights: Weights
) -> tuple[dict[str, int], tuple[tuple[str, int], ...]]:
    """Weighted points per word, and the plain ballot counts for the table."""
    words = [b.verdict for b in ballots]
    points = weighted_counter(words, weights)
    plain = weighted_counter(words, None)
    counted = {v.word: int(points[v.word]) for v in method.verdicts}
    return counted, tuple((v.word, int(plain[v.word])) for v in method.verdicts)


def _reasons(ballots: Sequence[Choice], word: str) -> tuple[tuple[str, str], ...]:
    return tuple((word, b.reason or "") for b in ballots if b.verdict == word)


def _opening(
    method: Method,
    ballots: Sequence[Choice],
    policy: Policy,
    roll_size: int,
    weights: Weights,
) -> tuple[Tally, dict[str, int], tuple[tuple[str, int], ...]]:
    points, counts = _count(method, ballots, weights)
    return count_quorum(len(ballots), roll_size, policy, weights), points, counts


class Majority(Method):
    name = "majority"
    shape = BallotShape.VERDICT
    description = "yes · no · abstain; passes when yes/(yes+no) meets the threshold"
    verdicts = (Verdict("yes"), Verdict("no"), Verdict("abstain"))
    threshold = True

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        t, c, counts = _opening(self, ballots, policy, roll_size, weights)
        if not t.quorum_reached:
            return no_quorum(t, counts)
        return settle_threshold(
            for_word="yes",
            against_word="no",
            n_for=c["yes"],
            n_against=c["no"],
            policy=policy,
            tally=t,
            counts=counts,
        )


class Consent(Method):
    name = "consent"
    shape = BallotShape.VERDICT
    description = "consent · object <reason> · stand-aside; passes when no objection stands"
    verdicts = (Verdict("consent"), Verdict("object", needs_reason=True), Verdict("stand-aside"))

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        t, _c, counts = _opening(self, ballots, policy, roll_size, weights)
        if not t.quorum_reached:
            return no_quorum(t, counts)
        reasons = _reasons(ballots, "object")
        lines = list(t.lines)
        if not ballots:
            return no_ballots(t, counts, "No ballots were cast, so no one consented.")
        plain = dict(counts)
        if reasons:
            lines += [f"Objection: {reason}" for _, reason in reasons]
            summary = (
                f"Rejected — {plural(len(reasons), 'objection')} stands."
                if len(reasons) == 1
                else f"Rejected — {plural(len(reasons), 'objection')} stand."
            )
            kind = ClosedAs.REJECTED
        else:
            lines.append("No objection stands.")
            summary = (
                f"Passed — no objection ({plain['consent']} consent, "
                f"{plain['stand-aside']} stand aside)."
            )
            kind = ClosedAs.PASSED
        return Result(kind, summary, counts, t.ballots, t.roll, True, (), tuple(lines), reasons)


class Consensus(Method):
    name = "consensus"
    shape = BallotShape.VERDICT
    description = (
        "agree · abstain · disagree · block <reason>; passes when no block and "
        "agree/(agree+disagree) meets the threshold"
    )
    verdicts = (
        Verdict("agree"),
        Verdict("abstain"),
        Verdict("disagree"),
        Verdict("block", needs_reason=True),
    )
    threshold = True

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        t, c, counts = _opening(self, ballots, policy, roll_size, weights)
        if not t.quorum_reached:
            return no_quorum(t, counts)
        reasons = _reasons(ballots, "block")
        if reasons:
            lines = t.lines + tuple(f"Block: {reason}" for _, reason in reasons)
            return Result(
                ClosedAs.REJECTED,
                f"Rejected — blocked ({plural(len(reasons), 'block')}).",
                counts,
                t.ballots,
                t.roll,
                True,
                (),
                lines,
                reasons,
            )
        return settle_threshold(
            for_word="agree",
            against_word="disagree",
            n_for=c["agree"],
            n_against=c["disagree"],
            policy=policy,
            tally=t,
            counts=counts,
            extra=("No block.",),
        )


class _NonBinding(Method):
    """Collects views and their reasons; concludes, never passes or fails."""

    shape = BallotShape.VERDICT
    binding = False

    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        t, _, counts = _opening(self, ballots, policy, roll_size, weights)
        lines = [*t.lines, "Non-binding: this collects views; it does not pass or fail."]
        if not t.quorum_reached:
            lines.append(
                "Fewer took part than the quorum asked for; read the views with that in mind."
            )
        reasons = tuple(
            (b.verdict or "", b.reason)
            for v in self.verdicts
            for b in ballots
            if b.verdict == v.word and b.reason
        )
        lines += [f"{word}: {reason}" for word, reason in reasons]
        shown = ", ".join(f"{n} {word}" for word, n in counts if n) or "no views given"
        return Result(
            ClosedAs.CONCLUDED,
            f"Concluded — {shown}.",
            counts,
            t.ballots,
            t.roll,
            t.quorum_reached,
            (),
            tuple(lines),
            reasons,
        )


class Advice(_NonBinding):
    name = "advice"
    description = (
        "support · concern <reason> · question <text> · abstain; non-binding: "
        "collects advice for the proposer"
    )
    verdicts = (
        Verdict("support", takes_reason=True),
        Verdict("concern", needs_reason=True),
        Verdict("question", needs_reason=True),
        Verdict("abstain"),
    )


class SenseCheck(_NonBinding):
    name = "sense-check"
    description = "agree · unsure · disagree, each with an optional reason; non-binding"
    verdicts = (
        Verdict("agree", takes_reason=True),
        Verdict("unsure", takes_reason=True),
        Verdict("disagree", takes_reason=True),
    )
