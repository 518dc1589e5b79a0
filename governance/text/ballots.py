"""Ballots as members type them, read against the proposal's method and options.

Options are named by exact name (case-insensitive), then by letter (A, B…), then by
number (1, 2…). Names may have spaces: the longest name that matches wins.
"""

from __future__ import annotations

from governance.domain.ballot import Choice
from governance.domain.errors import InvalidBallot
from governance.domain.methods import BallotShape, Method

_VERDICT_ALIASES = {
    "standaside": "stand-aside",
    "stand_aside": "stand-aside",
    "y": "yes",
    "n": "no",
}


def parse_ballot(text: str, method: Method, options: tuple[str, ...]) -> Choice:
    words = text.split()
    if not words:
        raise InvalidBallot(f"Vote {method.ballot_hint(options)}.")
    if method.shape is BallotShape.VERDICT:
        return _verdict(words, method, options)
    indexes = _options(words, options, method)
    return method.check_ballot(Choice(options=tuple(indexes)), options)


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
    chosen: list[int] = []
    i = 0
    cleaned = [piece for word in words for piece in word.split(",") if piece]
    while i < len(cleaned):
        for j in range(len(cleaned), i, -1):
            index = by_name.get(" ".join(cleaned[i:j]).casefold())
            if index is not None:
                break
        else:
            index, j = _letter_or_number(cleaned[i], options, method), i + 1
        if index in chosen:
            raise InvalidBallot(f"“{options[index]}” is named twice; name each option once.")
        chosen.append(index)
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
