"""Whatever a member types, `parse` answers with a command or a `ParseError` — never
anything else (which would reach the member as "something went wrong")."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance.domain.commands import Command, Context
from governance.domain.errors import GovernanceError, ParseError
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.text.grammar import PROMPT_KEYS, PROPOSE_KEYS, parse
from governance.text.usage import USAGE

CTX = Context(
    AccountRef("console", "alice"),
    RoomRef("console", "demo"),
    CommunityId("demo"),
    datetime(2026, 10, 21, 10, 0, tzinfo=UTC),
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ODD_CHARACTERS = [
    "\x00", "\x07", "\x1b", "\x7f", "\r", "\n", "\t", "\x0b", "\x0c", "\x1c", "\x85",
    "\u00a0", "\u2028", "\u2029", "\u200b", "\u200d", "\u200e", "\u200f", "\u202a",
    "\u202e", "\u2066", "\u2069", "\ufeff", "\ufffd", "\u0301", "\u05d0", "\u05e9",
    "\u0627", "\u0644", "\u0663", "\u06f5", "\uff11", "\U0001d7d9", "\U0001f5f3",
    "\U0001f3f3\ufe0f\u200d\U0001f308", "ß", "İ", "ﬁ", "Σ", "\ud800", "\udfff",
    "!", "#", "=", "|", "%", "/", ":", "-", ".", "\"", "'", "“", "”", " ",
]  # fmt: skip

odd_piece = st.one_of(
    st.sampled_from(ODD_CHARACTERS),  # some are several code points (an emoji sequence)
    st.characters(exclude_categories=()),  # every code point, lone surrogates included
)
odd_text = st.lists(odd_piece, max_size=200).map("".join)

# Long texts up to ~20k characters, made by repeating a short odd piece.
long_text = st.builds(
    lambda piece, times: (piece * times)[:20_000],
    st.lists(odd_piece, min_size=1, max_size=40).map("".join),
    st.integers(min_value=100, max_value=2_000),
)

command_name = st.sampled_from(sorted(USAGE)).flatmap(
    lambda name: st.sampled_from([name, name.upper(), name.title()])
)

# Pieces that steer the text into the deeper corners of the grammar.
FRAGMENTS = [
    *(f"{key}=" for key in PROPOSE_KEYS),
    "secret", "SECRET", "#12", "12", "0", "1", "99999999999", "3d", "36h", "1d12h", "0h",
    "-1d", "9999d", "2026-02-30 10:00", "2026-12-01 18:00", "0000-01-01 00:00", "friday",
    "friday 17:00", "fri 25:61", "50%", "150%", "2/3", "0/0", "1/0", ".5", "1.0", "majority",
    "consent", "choice", "approval", "lot", "status-quo", "closed", "|", "| |", "\"", "“",
    "”", "'", "A", "Big Oak", "\n", " ",
    "pause", "resume", "end", "edit", "#3", "mon 10:00", "mon,thu 9:05", "day 25:00",
    "month 31 10:00", "month last 10:00", "0 10 * * 1", "*/5 * * * *", "0 10 L * *",
    "0 10 * * MON#2", "60 10 * * *",
]  # fmt: skip

key_value = st.builds(
    "{}={}".format,
    st.sampled_from((*PROPOSE_KEYS, *PROMPT_KEYS)),
    st.one_of(st.sampled_from(FRAGMENTS), odd_text.map(lambda t: t[:12])),
)
fragment_list = st.lists(
    st.one_of(
        key_value,
        st.sampled_from(FRAGMENTS),
        st.text(max_size=6),
        st.integers(0, 10**12).map(str),
    ),
    max_size=30,
)
fragment_text = st.one_of(fragment_list.map(" ".join), fragment_list.map("".join))


def check(text: str) -> None:
    try:
        command = parse(text, CTX)
    except ParseError as error:
        # A member-facing error: plain words and the usage line.
        assert isinstance(error, GovernanceError)
        assert error.message
        assert "Usage:" in str(error)
        return
    assert isinstance(command, Command)
    assert command.ctx is CTX


@FUZZ
@given(st.text())
def test_any_text(text: str) -> None:
    check(text)


@FUZZ
@given(odd_text)
def test_any_text_with_odd_characters(text: str) -> None:
    check(text)


@FUZZ
@given(command_name, odd_text)
def test_a_known_command_with_odd_arguments(name: str, args: str) -> None:
    check(f"!{name} {args}")


@settings(FUZZ, max_examples=60)
@given(command_name, long_text)
def test_a_known_command_with_very_long_arguments(name: str, args: str) -> None:
    check(f"!{name} {args}")


@FUZZ
@given(st.sampled_from(["propose", "vote", "extend", "prompt"]), fragment_text, odd_text)
def test_commands_built_from_grammar_fragments(name: str, args: str, tail: str) -> None:
    check(f"!{name} Title {args}")
    check(f"!{name} {args}{tail}")


@FUZZ
@given(long_text)
def test_very_long_text(text: str) -> None:
    check(text)
    check("!" + text)
