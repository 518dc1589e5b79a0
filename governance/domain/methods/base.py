"""What every decision method shares: the ballot shape as data, quorum, thresholds,
ties, and the `Method` interface.

Each method declares its ballot shape (`shape`, `verdicts`, `score_range`) so the
grammar and the adapters can offer the right ballot without knowing the method.
Ballots may carry integer weights (stakeholder classes, `weights.py`); every count is
then in points, shown as shares of the whole.
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
from governance.domain.result import Result, TallyTable
from governance.domain.tiebreak import lot_order

MAX_OPTIONS = 20
MAX_OPTION_LENGTH = 100
HALF = Fraction(1, 2)

Weights = Sequence[int] | None
"""One integer weight per ballot (stakeholder classes), or None: every ballot counts 1."""


class BallotShape(StrEnum):
    VERDICT = "verdict"
    """One word from a fixed list (yes/no/abstain …), some needing a reason."""
    ONE_OPTION = "one option"
    OPTION_SET = "option set"
    RANKING = "ranking"
    """Options in order of preference, best first; a partial ranking is allowed."""
    SCORES = "scores"
    """A score per option within `Method.score_range`; options may be left blank."""
    DOTS = "dots"
    """Up to the policy's number of dots, spread over the options."""


@dataclass(frozen=True, slots=True)
class Verdict:
    word: str
    needs_reason: bool = False
    takes_reason: bool = False
    """A reason may be given (it must be, with `needs_reason`)."""


@dataclass(frozen=True, slots=True)
class Tally:
    """What every method starts from: ballots, roll and whether quorum was reached.

    `unit` is the total weight when ballots are weighted by class; counts are then
    points, shown as shares of `unit`.
    """

    ballots: int
    roll: int
    quorum_reached: bool
    lines: tuple[str, ...]
    unit: int | None = None

    def show(self, points: int, word: str = "") -> str:
        """``3 votes`` unweighted, ``37.5%`` of the weighted whole."""
        if self.unit is None:
            return plural(points, word) if word else str(points)
        return percent(Fraction(points, self.unit or 1))


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def percent(share: Fraction) -> str:
    value = float(share * 100)
    return f"{value:.0f}%" if value == round(value) else f"{value:.1f}%"


def list_names(names: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def count_quorum(n_ballots: int, roll_size: int, policy: Policy, weights: Weights = None) -> Tally:
    lines = [f"Ballots: {n_ballots} of {roll_size} on the roll."]
    reached = True
    if policy.quorum is not None:
        needed = policy.quorum.needed(roll_size)
        reached = n_ballots >= needed
        lines.append(
            f"Quorum: {needed} needed ({policy.quorum.describe()}) — "
            f"{'reached' if reached else 'not reached'}."
        )
    unit = None if weights is None else sum(weights)
    return Tally(n_ballots, roll_size, reached, tuple(lines), unit)


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


def stop_early(
    t: Tally, counts: tuple[tuple[str, int], ...], ballots: Sequence[Choice]
) -> Result | None:
    """The result when there is nothing to count: quorum not reached, or no ballots."""
    if not t.quorum_reached:
        return no_quorum(t, counts)
    if not ballots:
        return no_ballots(t, counts, "No ballots were cast.")
    return None


def weighted_counter(values: Sequence[object], weights: Weights) -> Counter[object]:
    if weights is None:
        return Counter(values)
    counted: Counter[object] = Counter()
    for value, weight in zip(values, weights, strict=True):
        counted[value] += weight
    return counted


_BALLOT_MARKS = {BallotShape.RANKING: ">", BallotShape.SCORES: "=", BallotShape.DOTS: ":"}
"""The character each ballot form uses between options and their marks."""


class Method(ABC):
    name: str
    shape: BallotShape
    description: str
    verdicts: tuple[Verdict, ...] = ()
    """Verdict methods only: the words a ballot may hold."""
    score_range: tuple[int, int] = (0, 0)
    """Score methods only: the lowest and highest score."""
    binding: bool = True
    """False for advice and sense-check: they collect views, never pass or fail."""
    seats: bool = False
    """Whether `seats=k` (k winners) applies."""
    threshold: bool = False
    """Whether `threshold=` applies."""
    takes_weights: bool = True
    """Whether stakeholder-class weights apply (not to STV: see `rankings.py`)."""

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
            mark = _BALLOT_MARKS.get(self.shape)
            if mark is not None and mark in option:
                raise InvalidProposal(
                    f"In a {self.name} vote an option cannot contain “{mark}”, which ballots "
                    f"use ({self.ballot_hint(options)}); rename “{option[:30]}”."
                )

    def check_policy(self, policy: Policy, options: tuple[str, ...]) -> None:
        """Raise `InvalidProposal` for a policy setting that does not apply here."""
        if policy.threshold is not None and not self.threshold:
            raise InvalidProposal(
                f"threshold= applies to majority and consensus votes, not {self.name}."
            )
        if policy.seats > 1:
            if not self.seats:
                raise InvalidProposal(f"seats= applies to approval and stv votes, not {self.name}.")
            if policy.seats >= len(options):
                raise InvalidProposal(
                    f"seats={policy.seats} leaves nothing to choose among "
                    f"{len(options)} options; use fewer seats or more options."
                )
        if policy.dots is not None and self.shape is not BallotShape.DOTS:
            raise InvalidProposal(f"dots= applies to dots votes, not {self.name}.")
        if policy.weighted and not self.takes_weights:
            raise InvalidProposal(
                f"Class weights do not apply to {self.name} votes; "
                "leave out weights= (class quorums still apply)."
            )

    def check_ballot(
        self, choice: Choice, options: tuple[str, ...], policy: Policy | None = None
    ) -> Choice:
        """Return `choice` normalised if it fits this method, or raise `InvalidBallot`."""
        hint = self.ballot_hint(options, policy)
        if self.shape is BallotShape.VERDICT:
            words = {v.word: v for v in self.verdicts}
            verdict = words.get(choice.verdict or "")
            if verdict is None or choice.options or choice.marks:
                raise InvalidBallot(f"Vote {hint}.")
            reason = choice.reason.strip() if choice.reason else None
            if verdict.needs_reason and not reason:
                raise InvalidBallot(f"Say why: {verdict.word} needs a reason.")
            if not (verdict.needs_reason or verdict.takes_reason) and reason:
                raise InvalidBallot(f"{verdict.word} takes no reason; vote just {verdict.word}.")
            return Choice(verdict=verdict.word, reason=reason)
        if choice.verdict is not None or choice.reason is not None:
            raise InvalidBallot(f"Vote {hint}.")
        if self.shape in (BallotShape.SCORES, BallotShape.DOTS):
            return self._check_marks(choice, options, policy or Policy(), hint)
        if choice.marks or not choice.options:
            raise InvalidBallot(f"Vote {hint}.")
        if any(not 0 <= i < len(options) for i in choice.options):
            raise InvalidBallot(f"No such option; vote {hint}.")
        if len(set(choice.options)) != len(choice.options):
            raise InvalidBallot("Each option may be named once.")
        if self.shape is BallotShape.ONE_OPTION and len(choice.options) != 1:
            raise InvalidBallot(f"Choose exactly one option: {hint}.")
        if self.shape is BallotShape.RANKING:
            return Choice(options=tuple(choice.options))
        return Choice(options=tuple(sorted(choice.options)))

    def _check_marks(
        self, choice: Choice, options: tuple[str, ...], policy: Policy, hint: str
    ) -> Choice:
        if choice.options or len(choice.marks) != len(options):
            raise InvalidBallot(f"Vote {hint}.")
        given = [m for m in choice.marks if m is not None]
        if not given:
            raise InvalidBallot(f"Mark at least one option: {hint}.")
        if self.shape is BallotShape.SCORES:
            low, high = self.score_range
            for i, mark in enumerate(choice.marks):
                if mark is not None and not low <= mark <= high:
                    raise InvalidBallot(
                        f"{options[i]}={mark}: scores run from {low} to {high}; vote {hint}."
                    )
            return choice
        if any(m < 0 for m in given):
            raise InvalidBallot(f"Dots cannot be negative; spread {hint}.")
        spent, budget = sum(given), policy.dot_budget
        if spent > budget:
            raise InvalidBallot(
                f"That spends {spent} dots; you have {budget}. Spread at most {budget}, "
                f"e.g. {self._dots_example(options, budget)}."
            )
        if spent == 0:
            raise InvalidBallot(f"Put at least one dot on an option; spread {hint}.")
        return Choice(marks=tuple(m if m else None for m in choice.marks))

    @staticmethod
    def _dots_example(options: tuple[str, ...], budget: int) -> str:
        first = (budget + 1) // 2
        return f"A:{first} B:{budget - first}" if budget > 1 else "A:1"

    def ballot_hint(self, options: tuple[str, ...], policy: Policy | None = None) -> str:
        """How to fill in a ballot: ``yes, no or abstain``, ``A, B or C (by letter or name)``."""
        if self.shape is BallotShape.VERDICT:
            words = [
                v.word + (" <reason>" if v.needs_reason else " [reason]" if v.takes_reason else "")
                for v in self.verdicts
            ]
            return ", ".join(words[:-1]) + " or " + words[-1]
        letters = [chr(65 + i) for i in range(len(options))]
        if self.shape is BallotShape.ONE_OPTION:
            return (
                ", ".join(letters[:-1]) + " or " + letters[-1] + " (one option, by letter or name)"
            )
        if self.shape is BallotShape.RANKING:
            example = " > ".join(letters[: min(3, len(letters))])
            return f"the options in your order of preference, best first, e.g. {example}"
        if self.shape is BallotShape.SCORES:
            low, high = self.score_range
            return f"a score from {low} to {high} per option, e.g. A={high} B={low + 2}"
        if self.shape is BallotShape.DOTS:
            budget = (policy or Policy()).dot_budget
            return (
                f"up to {plural(budget, 'dot')} spread over the options, "
                f"e.g. {self._dots_example(options, budget)}"
            )
        return ", ".join(letters) + " — as many as you approve of, e.g. " + " ".join(letters[:2])

    @abstractmethod
    def tally(
        self,
        ballots: Sequence[Choice],
        options: tuple[str, ...],
        policy: Policy,
        roll_size: int,
        weights: Weights = None,
    ) -> Result:
        """The explained result of `ballots` (each weighted by `weights`, if given)."""


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
    note = ""
    if decided == 0:
        lines.append(f"No {for_word} or {against_word} votes; {needs} {for_word} was needed.")
        kind = ClosedAs.REJECTED
    else:
        share = Fraction(n_for, decided)
        shown = f"{n_for}/{decided}" if tally.unit is None else f"{tally.show(n_for)} of the weight"
        lines.append(
            f"Threshold: {for_word}/({for_word}+{against_word}) = {shown} = "
            f"{percent(share)}; needs {needs}."
        )
        met = share > HALF if policy.threshold is None else share >= policy.threshold
        kind = ClosedAs.PASSED if met else ClosedAs.REJECTED
        if policy.threshold is None and share == HALF:
            lines.append(
                "An even split does not pass, whatever ties= says: it settles ties "
                "between options, never a threshold."
            )
            note = "; an even split is not more than 50%"
    word = {ClosedAs.PASSED: "Passed", ClosedAs.REJECTED: "Rejected"}[kind]
    if tally.unit is None:
        tally_text = f"{n_for} {for_word}, {n_against} {against_word}"
    else:
        tally_text = (
            f"{tally.show(n_for)} {for_word}, {tally.show(n_against)} {against_word} "
            "by class weight"
        )
    summary = f"{word} — {tally_text}{note}."
    return Result(kind, summary, counts, tally.ballots, tally.roll, True, (), tuple(lines))


def winners_result(
    winners: Sequence[str],
    counts: tuple[tuple[str, int], ...],
    t: Tally,
    lines: Sequence[str],
    tables: tuple[TallyTable, ...] = (),
) -> Result:
    summary = f"Winner: {winners[0]}" if len(winners) == 1 else f"Winners: {', '.join(winners)}"
    return Result(
        ClosedAs.DECIDED,
        summary,
        counts,
        t.ballots,
        t.roll,
        True,
        tuple(winners),
        tuple(lines),
        tables=tables,
    )


def decide_top(
    scored: Sequence[tuple[str, Fraction | int, str]],
    seats: int,
    policy: Policy,
    t: Tally,
    lines: list[str],
    counts: tuple[tuple[str, int], ...],
    tables: tuple[TallyTable, ...] = (),
) -> Result:
    """The `seats` options with the highest values win; a tie at the boundary is settled
    by the policy. `scored` is (option, value, how the value reads: ``2 votes``)."""
    ranked = sorted(scored, key=lambda s: -s[1])
    boundary = ranked[seats - 1][1]
    sure = [name for name, value, _ in ranked if value > boundary]
    tied = [name for name, value, _ in ranked if value == boundary]
    if len(sure) + len(tied) == seats:
        return winners_result(sure + tied, counts, t, lines, tables)
    open_seats = seats - len(sure)
    tied_text = list_names(tied)
    shown = next(text for _, value, text in ranked if value == boundary)
    lines.append(f"Tie: {tied_text} have {shown} each for {plural(open_seats, 'seat')}.")
    if policy.ties is TieRule.LOT and policy.lot_seed is not None:
        order = lot_order(policy.lot_seed, tied)
        lines.append(f"Tie settled by lot: seed {policy.lot_seed} orders them {' > '.join(order)}.")
        return winners_result(sure + order[:open_seats], counts, t, lines, tables)
    summary = f"Tied — {tied_text}, {shown} each"
    if sure:
        summary += f", for {plural(open_seats, 'seat')}; {', '.join(sure)} won a seat"
    return unsettled(tied, policy, counts, t, lines, tables, summary + ".", tuple(sure))


def unsettled(
    names: Sequence[str],
    policy: Policy,
    counts: tuple[tuple[str, int], ...],
    t: Tally,
    lines: list[str],
    tables: tuple[TallyTable, ...] = (),
    summary: str | None = None,
    winners: tuple[str, ...] = (),
) -> Result:
    """Several options could win and no lot settles it (yet): the status quo holds for
    what is tied (nothing is chosen, but `winners`, elected whatever the tie, keep their
    seats), or the tie is reported. While voting is open a lot is not drawn: the seed
    stays secret until close."""
    text = list_names(names)
    kind = ClosedAs.TIED
    if policy.ties is TieRule.STATUS_QUO and winners:
        left = policy.seats - len(winners)
        it = "it" if left == 1 else "them"
        lines.append(
            f"The status quo holds for the tied {plural(left, 'seat')}: nobody is chosen "
            f"for {it}; {list_names(winners)} won whatever the tie."
        )
        kind = ClosedAs.DECIDED
        head = "Winner" if len(winners) == 1 else "Winners"
        summary = (
            f"{head}: {', '.join(winners)} — {text} tied for {plural(left, 'seat')}; "
            f"the status quo leaves {it} unfilled."
        )
    elif policy.ties is TieRule.STATUS_QUO:
        lines.append("The status quo holds: no option is chosen.")
        kind, summary = ClosedAs.REJECTED, f"Rejected — {text} tied; the status quo holds."
    elif policy.ties is TieRule.LOT:
        lines.append("A lot settles this tie when voting closes (ties=lot).")
        summary = summary or f"Tied — {text}."
    else:
        lines.append("Reported as a tie (ties=report).")
        summary = summary or f"Tied — {text}."
    return Result(
        kind, summary, counts, t.ballots, t.roll, True, winners, tuple(lines), tables=tables
    )
