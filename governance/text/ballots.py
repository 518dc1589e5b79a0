"""Ballots as members type them, read against the proposal's method and options.

Options are named by exact name (case-insensitive), then by letter (A, B…), then by
number (1, 2…). Names may have spaces: the longest name that matches wins.

Shapes: ``yes`` (verdicts), ``A C`` (one option or a set), ``B > A > C`` (a ranking;
``B A C`` works too), ``A=5 B=3`` (scores), ``A:3 B:2`` (dots).
"""

from __future__ import annotations

from governance.domain.ballot import Choice
from governance.domain.errors import InvalidBallot
from governance.domain.methods import BallotShape, Method
from governance.domain.policy import Policy

_VERDICT_ALIASES = {
    "standaside": "stand-aside",
    "stand_aside": "stand-aside",
    "y": "yes",
    "n": "no",
}


def parse_ballot(
    text: str, method: Method, options: tuple[str, ...], policy: Policy | None = None
) -> Choice:
    words = text.split()
    if not words:
        raise InvalidBallot(f"Vote {method.ballot_hint(options, policy)}.")
    if method.shape is BallotShape.VERDICT:
        return _verdict(words, method, options)
    if method.shape in (BallotShape.SCORES, BallotShape.DOTS):
        marks = _marks(text, options, method, policy)
        return method.check_ballot(Choice(marks=marks), options, policy)
    if method.shape is BallotShape.RANKING and ">" in text:
        indexes = _ranking(text, options, method)
    else:
        indexes = _options(words, options, method)
    return method.check_ballot(Choice(options=tuple(indexes)), options, policy)


def _ranking(text: str, options: tuple[str, ...], method: Method) -> list[int]:
    """``B > A > C``: each piece is one option, by name, letter or number."""
    chosen: list[int] = []
    for piece in text.split(">"):
        name = " ".join(piece.split())
        if not name:
            raise InvalidBallot(
                f"An empty place in the ranking; vote {method.ballot_hint(options)}."
            )
        index = _named(name, options)
        if index is None:
            index = _letter_or_number(name, options, method)
        _add_once(chosen, index, options)
    return chosen


def _named(name: str, options: tuple[str, ...]) -> int | None:
    folded = name.casefold()
    return next((i for i, o in enumerate(options) if o.casefold() == folded), None)


def _add_once(chosen: list[int], index: int, options: tuple[str, ...]) -> None:
    if index in chosen:
        raise InvalidBallot(f"“{options[index]}” is named twice; name each option once.")
    chosen.append(index)


_MARK_SEPARATORS = {BallotShape.SCORES: "=", BallotShape.DOTS: ":"}


def _marks(
    text: str, options: tuple[str, ...], method: Method, policy: Policy | None
) -> tuple[int | None, ...]:
    """``A=5 B=3`` or ``A:3 B:2``: option, separator, a whole number; commas optional."""
    sep = _MARK_SEPARATORS[method.shape]
    other = "=" if sep == ":" else ":"
    hint = method.ballot_hint(options, policy)
    marks: list[int | None] = [None] * len(options)
    pieces = text.replace(",", " ").split(sep)
    if len(pieces) < 2:
        if other in text:
            raise InvalidBallot(f"Write {sep} between an option and its number; vote {hint}.")
        raise InvalidBallot(f"Give each option you mark a number; vote {hint}.")
    # "A=5 Big Oak=3" splits into "A", "5 Big Oak", "3": each middle piece is a number
    # followed by the next option's name.
    name = pieces[0]
    for k, piece in enumerate(pieces[1:], start=1):
        words = piece.split()
        if not words:
            raise InvalidBallot(f"“{name.strip()[:30]}{sep}” needs a number; vote {hint}.")
        number, rest = words[0], " ".join(words[1:])
        label = " ".join(name.split())
        if not label:
            raise InvalidBallot(f"A number with no option before it; vote {hint}.")
        index = _named(label, options)
        if index is None:
            index = _letter_or_number(label, options, method)
        if marks[index] is not None:
            raise InvalidBallot(f"“{options[index]}” is marked twice; mark each option once.")
        if not (number.isascii() and number.lstrip("-").isdigit() and len(number) <= 4):
            raise InvalidBallot(
                f"{label[:30]}{sep}{number[:10]}: give a whole number; vote {hint}."
            )
        marks[index] = int(number)
        last = k == len(pieces) - 1
        if last and rest:
            raise InvalidBallot(f"“{rest[:30]}” has no {sep}number after it; vote {hint}.")
        if not last and not rest:
            raise InvalidBallot(f"A {sep} with no option before it; vote {hint}.")
        name = rest
    return tuple(marks)


def _verdict(words: list[str], method: Method, options: tuple[str, ...]) -> Choice:
    word = words[0].lower()
    rest = words[1:]
    if word == "stand" and rest and rest[0].lower() == "aside":
        word, rest = "stand-aside", rest[1:]
    word = _VERDICT_ALIASES.get(word, word)
    known = {v.word: v for v in method.verdicts}
    if word not in known:
        shown = words[0][:30]
        raise InvalidBallot(
            f"“{shown}” is not a ballot for a {method.name} vote; "
            f"vote {method.ballot_hint(options)}."
        )
    reason = " ".join(rest) or None
    return method.check_ballot(Choice(verdict=word, reason=reason), options)


def _options(words: list[str], options: tuple[str, ...], method: Method) -> list[int]:
    by_name = {name.casefold(): i for i, name in enumerate(options)}
    longest = max((len(name.split()) for name in options), default=1)
    chosen: list[int] = []
    i = 0
    cleaned = [piece for word in words for piece in word.split(",") if piece]
    while i < len(cleaned):
        # No name is longer than `longest` words: a long ballot costs no more per word.
        for j in range(min(len(cleaned), i + longest), i, -1):
            index = by_name.get(" ".join(cleaned[i:j]).casefold())
            if index is not None:
                break
        else:
            index, j = _letter_or_number(cleaned[i], options, method), i + 1
        _add_once(chosen, index, options)
        i = j
    return chosen


def _letter_or_number(word: str, options: tuple[str, ...], method: Method) -> int:
    if len(word) == 1 and word.isascii() and word.isalpha():
        index = ord(word.upper()) - ord("A")
        if 0 <= index < len(options):
            return index
    if word.isascii() and word.isdigit() and len(word) <= 3 and 1 <= int(word) <= len(options):
        return int(word) - 1
    raise InvalidBallot(f"“{word[:30]}” is not an option here; vote {method.ballot_hint(options)}.")
