"""Decision methods: pure functions from ballots + policy to an explained `Result`.

Each method declares its ballot shape as data (`shape`, `verdicts`) so the grammar and
the adapters can offer the right ballot without knowing the method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from governance.domain.ballot import Choice
from governance.domain.errors import InvalidBallot, InvalidProposal
from governance.domain.lifecycle import ClosedAs
from governance.domain.policy import Policy, TieRule, format_share
from governance.domain.result import Result
from governance.domain.tiebreak import lot_order

MAX_OPTIONS = 20
MAX_OPTION_LENGTH = 100
HALF = Fraction(1, 2)


class BallotShape(StrEnum):
    VERDICT = "verdict"
    """One word from a fixed list (yes/no/abstain …), some needing a reason."""
    ONE_OPTION = "one option"
    OPTION_SET = "option set"


@dataclass(frozen=True, slots=True)
class Verdict:
    word: str
    needs_reason: bool = False


@dataclass(frozen=True, slots=True)
class Tally:
    """What every method starts from: ballots, roll and whether quorum was reached."""

    ballots: int
    roll: int
    quorum_reached: bool
    lines: tuple[str, ...]


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def count_quorum(n_ballots: int, roll_size: int, policy: Policy) -> Tally:
    lines = [f"Ballots: {n_ballots} of {roll_size} on the roll."]
    reached = True
    if policy.quorum is not None:
        needed = policy.quorum.needed(roll_size)
        reached = n_ballots >= needed
        lines.append(
            f"Quorum: {needed} needed ({policy.quorum.describe()}) — "
            f"{'reached' if reached else 'not reached'}."
        )
    return Tally(n_ballots, roll_size, reached, tuple(lines))


def no_quorum(tally: Tally, counts: tuple[tuple[str, int], ...]) -> Result:
    return Result(
        closed_as=ClosedAs.NO_QUORUM,
        summary=f"No quorum — {tally.ballots} of {tally.roll} voted.",
        counts=counts,
        ballots=tally.ballots,
        roll=tally.roll,
        quorum_reached=False,
        explanation=tally.lines,
    )


def no_ballots(tally: Tally, counts: tuple[tuple[str, int], ...], why: str) -> Result:
    return Result(
        ClosedAs.REJECTED,
        "Rejected — no ballots were cast.",
        counts,
        tally.ballots,
        tally.roll,
        True,
        explanation=(*tally.lines, why),
    )


class Method(ABC):
    name: str
    shape: BallotShape
    description: str
    verdicts: tuple[Verdict, ...] = ()
    """Verdict methods only: the words a ballot may hold."""

    def check_options(self, options: tuple[str, ...]) -> None:
        """Raise `InvalidProposal` if the options do not suit this method."""
        if self.shape is BallotShape.VERDICT:
            if options:
                raise InvalidProposal(
                    f"The {self.name} method votes on the proposal itself; "
                    "leave out options= (or use method=choice)."
                )
            return
        if len(options) < 2:
            raise InvalidProposal(
                f"The {self.name} method needs at least 2 options, e.g. options=A | B."
            )
        if len(options) > MAX_OPTIONS:
            raise InvalidProposal(
                f"A proposal may have at most {MAX_OPTIONS} options; this one has {len(options)}."
            )
        seen: set[str] = set()
        for option in options:
            if not option:
                raise InvalidProposal("An option is empty; write options=A | B | C.")
            if len(option) > MAX_OPTION_LENGTH:
                raise InvalidProposal(
                    f"An option may be at most {MAX_OPTION_LENGTH} characters; "
                    f"“{option[:20]}…” has {len(option)}."
                )
            if option.casefold() in seen:
                raise InvalidProposal(f"The option “{option}” is listed twice.")
            seen.add(option.casefold())

    def check_ballot(self, choice: Choice, options: tuple[str, ...]) -> Choice:
        """Return `choice` if it fits this method, or raise `InvalidBallot`."""
        if self.shape is BallotShape.VERDICT:
            words = {v.word: v for v in self.verdicts}
            verdict = words.get(choice.verdict or "")
            if verdict is None or choice.options:
                raise InvalidBallot(f"Vote {self.ballot_hint(options)}.")
            if verdict.needs_reason and not (choice.reason and choice.reason.strip()):
                raise InvalidBallot(f"Say why: {verdict.word} needs a reason.")
            if not verdict.needs_reason and choice.reason:
                raise InvalidBallot(f"{verdict.word} takes no reason; vote just {verdict.word}.")
            return choice
        if choice.verdict is not None or not choice.options:
            raise InvalidBallot(f"Vote {self.ballot_hint(options)}.")
        if any(not 0 <= i < len(options) for i in choice.options):
            raise InvalidBallot(f"No such option; vote {self.ballot_hint(options)}.")
        if len(set(choice.options)) != len(choice.options):
            raise InvalidBallot("Each option may be named once.")
        if self.shape is BallotShape.ONE_OPTION and len(choice.options) != 1:
            raise InvalidBallot(f"Choose exactly one option: {self.ballot_hint(options)}.")
        return Choice(options=tuple(sorted(choice.options)))

    def ballot_hint(self, options: tuple[str, ...]) -> str:
        """How to fill in a ballot: ``yes, no or abstain``, ``A, B or C (by letter or name)``."""
        if self.shape is BallotShape.VERDICT:
            words = [v.word + (" <reason>" if v.needs_reason else "") for v in self.verdicts]
            return ", ".join(words[:-1]) + " or " + words[-1]
        letters = [chr(65 + i) for i in range(len(options))]
        if self.shape is BallotShape.ONE_OPTION:
            return (
                ", ".join(letters[:-1]) + " or " + letters[-1] + " (one option, by letter or name)"
            )
        return ", ".join(letters) + " — as many as you approve of, e.g. " + " ".join(letters[:2])

    @abstractmethod
    def tally(
        self, ballots: Sequence[Choice], options: tuple[str, ...], policy: Policy, roll_size: int
    ) -> Result:
        """The explained result of `ballots`."""


def settle_threshold(
    *,
    for_word: str,
    against_word: str,
    n_for: int,
    n_against: int,
    policy: Policy,
    tally: Tally,
    counts: tuple[tuple[str, int], ...],
    extra: tuple[str, ...] = (),
) -> Result:
    """Pass or reject on for/(for+against) against the policy's threshold."""
    lines = list(tally.lines) + list(extra)
    decided = n_for + n_against
    needs = (
        "more than 50%"
        if policy.threshold is None
        else f"at least {format_share(policy.threshold)}"
    )
    tie_note = ""
    if decided == 0:
        lines.append(f"No {for_word} or {against_word} votes; {needs} {for_word} was needed.")
        kind = ClosedAs.REJECTED
    else:
        share = Fraction(n_for, decided)
        lines.append(
            f"Threshold: {for_word}/({for_word}+{against_word}) = {n_for}/{decided} = "
            f"{_percent(share)}; needs {needs}."
        )
        if policy.threshold is None:
            met, tied = share > HALF, share == HALF
        else:
            met, tied = share >= policy.threshold, False
        kind = ClosedAs.PASSED if met else ClosedAs.REJECTED
        if tied:
            kind, tie_note = _settle_pass_fail_tie(policy, for_word, against_word, lines)
    word = {ClosedAs.PASSED: "Passed", ClosedAs.REJECTED: "Rejected", ClosedAs.TIED: "Tied"}[kind]
    tally_text = f"{n_for} {for_word}, {n_against} {against_word}"
    summary = f"{word} — {tally_text}{tie_note}."
    return Result(kind, summary, counts, tally.ballots, tally.roll, True, (), tuple(lines))


def _settle_pass_fail_tie(
    policy: Policy, for_word: str, against_word: str, lines: list[str]
) -> tuple[ClosedAs, str]:
    if policy.ties is TieRule.STATUS_QUO:
        lines.append("Tie: the status quo holds, so the proposal does not pass.")
        return ClosedAs.REJECTED, "; tied, the status quo holds"
    if policy.ties is TieRule.LOT and policy.lot_seed is not None:
        first = lot_order(policy.lot_seed, [for_word, against_word])[0]
        lines.append(f"Tie settled by lot: seed {policy.lot_seed} puts {first} first.")
        return (ClosedAs.PASSED if first == for_word else ClosedAs.REJECTED), "; tie settled by lot"
    lines.append("Tie: reported as a tie (ties=report).")
    return ClosedAs.TIED, ""


def _percent(share: Fraction) -> str:
    value = float(share * 100)
    return f"{value:.0f}%" if value == round(value) else f"{value:.1f}%"


class Majority(Method):
    name = "majority"
    shape = BallotShape.VERDICT
    description = "yes · no · abstain; passes when yes/(yes+no) meets the threshold"
    verdicts = (Verdict("yes"), Verdict("no"), Verdict("abstain"))

    def tally(
        self, ballots: Sequence[Choice], options: tuple[str, ...], policy: Policy, roll_size: int
    ) -> Result:
        c = Counter(b.verdict for b in ballots)
        counts = (("yes", c["yes"]), ("no", c["no"]), ("abstain", c["abstain"]))
        t = count_quorum(len(ballots), roll_size, policy)
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


def _reasons(ballots: Sequence[Choice], word: str) -> tuple[tuple[str, str], ...]:
    return tuple((word, b.reason or "") for b in ballots if b.verdict == word)


class Consent(Method):
    name = "consent"
    shape = BallotShape.VERDICT
    description = "consent · object <reason> · stand-aside; passes when no objection stands"
    verdicts = (Verdict("consent"), Verdict("object", needs_reason=True), Verdict("stand-aside"))

    def tally(
        self, ballots: Sequence[Choice], options: tuple[str, ...], policy: Policy, roll_size: int
    ) -> Result:
        c = Counter(b.verdict for b in ballots)
        counts = (
            ("consent", c["consent"]),
            ("object", c["object"]),
            ("stand-aside", c["stand-aside"]),
        )
        t = count_quorum(len(ballots), roll_size, policy)
        if not t.quorum_reached:
            return no_quorum(t, counts)
        reasons = _reasons(ballots, "object")
        lines = list(t.lines)
        if not ballots:
            return no_ballots(t, counts, "No ballots were cast, so no one consented.")
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
                f"Passed — no objection ({c['consent']} consent, {c['stand-aside']} stand aside)."
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

    def tally(
        self, ballots: Sequence[Choice], options: tuple[str, ...], policy: Policy, roll_size: int
    ) -> Result:
        c = Counter(b.verdict for b in ballots)
        counts = (
            ("agree", c["agree"]),
            ("abstain", c["abstain"]),
            ("disagree", c["disagree"]),
            ("block", c["block"]),
        )
        t = count_quorum(len(ballots), roll_size, policy)
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


class _OptionMethod(Method):
    def _decide(
        self, option_counts: list[tuple[str, int]], policy: Policy, t: Tally, lines: list[str]
    ) -> Result:
        counts = tuple(option_counts)
        seats = min(policy.seats, len(option_counts))
        ranked = sorted(option_counts, key=lambda oc: -oc[1])
        if t.ballots == 0:
            return no_ballots(t, counts, "No ballots were cast.")
        boundary = ranked[seats - 1][1]
        sure = [name for name, n in ranked if n > boundary]
        tied = [name for name, n in ranked if n == boundary]
        if len(sure) + len(tied) == seats:
            return self._winners(sure + tied, counts, t, lines)
        open_seats = seats - len(sure)
        tied_text = " and ".join([", ".join(tied[:-1]), tied[-1]]) if len(tied) > 1 else tied[0]
        lines.append(
            f"Tie: {tied_text} have {plural(boundary, 'vote')} each "
            f"for {plural(open_seats, 'seat')}."
        )
        if policy.ties is TieRule.STATUS_QUO:
            lines.append("The status quo holds: no option is chosen.")
            return Result(
                ClosedAs.REJECTED,
                f"Rejected — {tied_text} tied; the status quo holds.",
                counts,
                t.ballots,
                t.roll,
                True,
                (),
                tuple(lines),
            )
        if policy.ties is TieRule.LOT and policy.lot_seed is not None:
            order = lot_order(policy.lot_seed, tied)
            lines.append(
                f"Tie settled by lot: seed {policy.lot_seed} orders them {' > '.join(order)}."
            )
            return self._winners(sure + order[:open_seats], counts, t, lines)
        lines.append("Reported as a tie (ties=report).")
        summary = f"Tied — {tied_text}, {plural(boundary, 'vote')} each"
        if sure:
            summary += f", for {plural(open_seats, 'seat')}; {', '.join(sure)} won a seat"
        return Result(
            ClosedAs.TIED,
            summary + ".",
            counts,
            t.ballots,
            t.roll,
            True,
            tuple(sure),
            tuple(lines),
        )

    @staticmethod
    def _winners(
        winners: list[str], counts: tuple[tuple[str, int], ...], t: Tally, lines: list[str]
    ) -> Result:
        summary = f"Winner: {winners[0]}" if len(winners) == 1 else f"Winners: {', '.join(winners)}"
        return Result(
            ClosedAs.DECIDED, summary, counts, t.ballots, t.roll, True, tuple(winners), tuple(lines)
        )

    def tally(
        self, ballots: Sequence[Choice], options: tuple[str, ...], policy: Policy, roll_size: int
    ) -> Result:
        c: Counter[int] = Counter()
        for ballot in ballots:
            c.update(ballot.options)
        option_counts = [(name, c[i]) for i, name in enumerate(options)]
        t = count_quorum(len(ballots), roll_size, policy)
        if not t.quorum_reached:
            return no_quorum(t, tuple(option_counts))
        return self._decide(option_counts, policy, t, list(t.lines))


class SingleChoice(_OptionMethod):
    name = "choice"
    shape = BallotShape.ONE_OPTION
    description = "one option; the option with most votes wins"


class Approval(_OptionMethod):
    name = "approval"
    shape = BallotShape.OPTION_SET
    description = "any set of options; most approvals win (top k with seats=k)"


METHODS: dict[str, Method] = {
    m.name: m for m in (Majority(), Consent(), Consensus(), SingleChoice(), Approval())
}


def method_named(name: str) -> Method:
    try:
        return METHODS[name.lower()]
    except KeyError:
        raise InvalidProposal(f"Unknown method “{name}”. Methods: {', '.join(METHODS)}.") from None
