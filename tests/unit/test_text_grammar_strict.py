"""Words are strict where rules are set: a misspelt or unknown ``!propose`` key is
refused with a suggestion, never folded into the title (the vote would open under the
defaults) nor blamed on the key before it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from governance.domain.commands import Context, Propose
from governance.domain.errors import ParseError
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.policy import Quorum
from governance.domain.timing import Length
from governance.text.grammar import parse

CTX = Context(
    AccountRef("console", "alice"),
    RoomRef("console", "demo"),
    CommunityId("demo"),
    datetime(2026, 11, 23, 9, tzinfo=UTC),
)


def refusal(text: str) -> str:
    with pytest.raises(ParseError) as refused:
        parse(text, CTX)
    return refused.value.message


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("!propose Raise dues qourum=60%", "quorum"),
        ("!propose Pick a logo methd=ranked options=A | B", "method"),
        ("!propose Paint the hall vot=1d", "vote"),
        ("!propose Paint the hall vote=1d thresold=2/3", "threshold"),
        ("!propose Paint the hall weigths=workers:60 users:40", "weights"),
        ("!propose Paint the hall class-qorum=workers:50%", "class-quorum"),
        ("!propose Paint the hall SEAT=2", "seats"),
    ],
)
def test_a_misspelt_key_is_refused_with_what_was_meant(text: str, meant: str) -> None:
    message = refusal(text)
    assert f"(did you mean {meant}=?)" in message
    assert "nothing was proposed" in message


def test_a_wrong_key_is_blamed_not_the_valid_key_before_it() -> None:
    message = refusal("!propose Paint the hall vote=3d qourum=60%")
    assert message.startswith("“qourum=” is not a setting")
    assert "vote=" not in message.partition("(")[0]
    unknown = refusal("!propose Paint the hall vote=3d colour=blue")
    assert unknown.startswith("“colour=” is not a setting; settings are method=, options=")
    assert unknown.endswith("A value that holds “=” goes in double quotes.")


def test_prose_with_an_equals_sign_stays_in_the_title() -> None:
    command = parse("!propose Make x=y the rule and colour=blue ours vote=3d quorum=2", CTX)
    assert isinstance(command, Propose)
    assert command.title == "Make x=y the rule and colour=blue ours"
    assert command.vote == Length(3) and command.quorum == Quorum(count=2)
    # A word only somewhat like a key (note= is 75 % like vote=) is prose too.
    noted = parse("!propose Adopt the note=draft policy vote=3d", CTX)
    assert isinstance(noted, Propose) and noted.title == "Adopt the note=draft policy"
    # Each option quoted, as the refusal of a bare rate= advises: two options.
    rates = parse('!propose Pick a rate options="rate=10" | "rate=12"', CTX)
    assert isinstance(rates, Propose) and rates.options == ("rate=10", "rate=12")
    quoted = parse('!propose Pick method=choice options="size=M" | Large', CTX)
    assert isinstance(quoted, Propose) and quoted.options == ("size=M", "Large")
