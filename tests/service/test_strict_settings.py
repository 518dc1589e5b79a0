"""Words are strict where rules are set: a class no member holds and the configuration
does not declare is refused, and a misspelt setting never opens a vote under defaults."""

from __future__ import annotations

from sqlalchemy import select

from governance.store import tables as t
from tests.chat import Chat


async def _nothing_proposed(chat: Chat) -> None:
    async with chat.app.engine.connect() as conn:
        assert (await conn.execute(select(t.proposals.c.id))).all() == []


async def test_weights_or_class_quorum_naming_an_unheld_class_are_refused(chat: Chat) -> None:
    await chat.ok("alice", "!class bob workers")
    await chat.ok("alice", "!class carol users")
    misspelt = await chat.fails("alice", "!propose Open on Sundays weights=wokers:40 users:60")
    assert misspelt.splitlines()[0] == (
        "No member is in the class “wokers” and the configuration declares none by that "
        "name (did you mean workers?); classes here: users, workers. Nothing was proposed."
    )
    unheld = await chat.fails("alice", "!propose Buy a van class-quorum=investors:50%")
    assert unheld.startswith("No member is in the class “investors”")
    await _nothing_proposed(chat)
    await chat.ok("alice", "!propose Open on Sundays weights=workers:40 users:60")
    # A class a platform's roles map to (Discord's [discord] classes) is declared too,
    # before anyone holds it.
    chat.app.governance.deps.platform_classes = frozenset({"investors"})
    await chat.ok("alice", "!propose Buy a van class-quorum=investors:50%")


async def test_a_misspelt_setting_is_refused_and_opens_no_vote(chat: Chat) -> None:
    answer = await chat.fails("alice", "!propose Raise dues qourum=60%")
    assert answer.startswith("“qourum=” is not a setting (did you mean quorum=?)")
    later = await chat.fails("alice", "!propose Raise dues vote=1d methd=ranked")
    assert later.startswith("“methd=” is not a setting (did you mean method=?)")
    await _nothing_proposed(chat)


async def test_a_first_line_that_will_be_refused_is_answered_before_the_body(chat: Chat) -> None:
    governance, alice = chat.app.governance, chat.account("alice")

    async def before_body(line: str) -> str | None:
        reply = await governance.refusal_before_body(chat.room, alice, line, chat.clock.now())
        return None if reply is None else reply.message.plain().splitlines()[0]

    await chat.ok("alice", "!class bob workers")
    assert await before_body("!propose Open on Sundays weights=wokers:100") == (
        "No member is in the class “wokers” and the configuration declares none by that "
        "name (did you mean workers?); classes here: workers. Nothing was proposed."
    )
    assert await before_body("!propose " + "t" * 201) == (
        "The title is 201 characters; the limit is 200."
    )
    assert await before_body("!propose Raise dues methd=ranked") == (
        "“methd=” is not a setting (did you mean method=?); nothing was proposed."
    )
    assert await before_body("!propose Open on Sundays weights=workers:100") is None
    await _nothing_proposed(chat)
