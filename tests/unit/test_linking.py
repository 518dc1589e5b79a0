"""Link codes: their shape, how they are read back, their hash, and which of two
ballots is the later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from governance.domain.ids import CommunityId
from governance.domain.linking import (
    CODE_ALPHABET,
    CODE_LENGTH,
    code_hash,
    later,
    new_code,
    normalise_code,
)

KEY = b"k" * 32
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@given(st.binary(min_size=32, max_size=32))
def test_a_code_reads_back_however_it_is_typed(randomness: bytes) -> None:
    code = new_code(randomness)
    assert len(code) == CODE_LENGTH + 1 and code[5] == "-"
    assert set(code.replace("-", "")) <= set(CODE_ALPHABET)
    for typed in (code, code.lower(), code.replace("-", " "), f"  {code.replace('-', '')} "):
        assert normalise_code(typed) == code.replace("-", "")
    assert code_hash(KEY, CommunityId("demo"), code) == code_hash(
        KEY, CommunityId("demo"), code.lower()
    )
    assert code_hash(KEY, CommunityId("demo"), code) != code_hash(KEY, CommunityId("coop"), code)
    assert code_hash(KEY, CommunityId("demo"), code) != code_hash(b"x" * 32, "demo", code)  # type: ignore[arg-type]


@given(st.text(max_size=30))
def test_anything_else_is_no_code(text: str) -> None:
    normal = normalise_code(text)
    if normal is not None:
        assert len(normal) == CODE_LENGTH and set(normal) <= set(CODE_ALPHABET)


def test_ambiguous_letters_are_never_in_a_code() -> None:
    assert not set("01OILU") & set(CODE_ALPHABET)
    assert normalise_code("ABCDE-FGHJ0") is None
    assert normalise_code("ABCDE-FGHJ") is None


def test_the_later_ballot_by_time_then_by_row() -> None:
    assert later((AT + timedelta(seconds=1), 1), (AT, 2))
    assert not later((AT, 5), (AT + timedelta(seconds=1), 2))
    assert later((AT, 3), (AT, 2))  # same time: the later row
    assert later((None, 9), (None, 4)) and not later((None, 4), (None, 9))  # secret
