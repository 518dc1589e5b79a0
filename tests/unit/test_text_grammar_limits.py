"""No message stalls the bot: the grammar's work grows in step with a message's length
(counted in lines of Python run, never timed), an over-long message is refused unread,
and a broken character gets an answer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import pytest

from governance.domain.commands import Context, ListStories, Propose
from governance.domain.errors import GovernanceError, ParseError
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.text import ballots, grammar
from governance.text.grammar import MAX_MESSAGE, parse

CTX = Context(
    AccountRef("console", "alice"),
    RoomRef("console", "demo"),
    CommunityId("demo"),
    datetime(2026, 11, 23, 9, tzinfo=UTC),
)

SHAPES: dict[str, Callable[[int], str]] = {
    "unclosed double quotes": lambda n: "!propose " + '"a ' * n,
    "unclosed curly quotes": lambda n: "!propose " + "“a " * n,
    "apostrophes": lambda n: "!propose " + "'a " * n,
    "quoted pairs among keys": lambda n: "!propose x options=" + '"a|b" | ' * n,
    "many =": lambda n: "!propose x " + "a=" * n,
    "trailing flags": lambda n: "!propose x" + " secret" * n,
    "flags among keys": lambda n: "!propose x vote=1d" + " secret" * n,
    "prompt with quotes": lambda n: "!prompt " + '"q ' * n + "every=mon 10:00",
}


def _lines_run(work: Callable[[], Any]) -> int:
    """How many lines of the grammar (and ballot) modules `work` runs."""
    watched = {grammar.__file__, ballots.__file__}
    count = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if frame.f_code.co_filename not in watched:
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    except GovernanceError:
        pass
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("shape", SHAPES)
def test_the_grammars_work_grows_in_step_with_the_message(shape: str) -> None:
    make = SHAPES[shape]
    small = _lines_run(lambda: parse(make(500), CTX, limit=None))
    large = _lines_run(lambda: parse(make(2_000), CTX, limit=None))
    # Four times the message, at most a little over four times the work (a quadratic
    # reading would do sixteen times).
    assert large <= 4.5 * small + 50, (small, large)


def test_a_65536_character_adversarial_line_gets_its_right_answer() -> None:
    text = "!propose " + '"a ' * 21_842 + "x"
    assert len(text) == 65_536
    command = parse(text, CTX, limit=None)
    assert isinstance(command, Propose)
    assert command.title == text.removeprefix("!propose ").strip()
    flags = parse("!propose Fix the roof" + " secret" * 9_362, CTX, limit=None)
    assert isinstance(flags, Propose)
    assert flags.title == "Fix the roof" and flags.secret


def test_an_over_long_message_is_refused_before_it_is_read() -> None:
    text = "!propose " + '"a ' * 21_842 + "x"
    with pytest.raises(ParseError) as refused:
        parse(text, CTX)
    assert refused.value.message == (
        f"That message is {len(text):,} characters; a command may be at most 16,384. "
        "Nothing was done: shorten it and send it again."
    )
    longest = "!story " + "a" * (MAX_MESSAGE - len("!story "))
    assert parse(longest, CTX).ctx is CTX  # the limit itself is read


@pytest.mark.parametrize(
    "text",
    ["!propose Fix the \ud800 roof", "!vote 1 \udcff", "!story \udfff", "!stories \ud83d"],
)
def test_a_broken_character_is_refused_with_an_answer(text: str) -> None:
    with pytest.raises(ParseError) as refused:
        parse(text, CTX)
    assert "broken character" in refused.value.message
    assert "Nothing was done" in refused.value.message


@pytest.mark.parametrize("page", ["²", "٣", "99999", "0"])
def test_stories_pages_take_ascii_digits_in_range(page: str) -> None:
    with pytest.raises(ParseError) as refused:
        parse(f"!stories page={page}", CTX)
    assert "page number from 1 to 10,000 in digits 0-9" in refused.value.message


def test_a_stories_page_in_ascii_digits_is_read() -> None:
    command = parse("!stories kitchen page=3", CTX)
    assert isinstance(command, ListStories) and command.page == 3
