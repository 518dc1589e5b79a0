"""Reminders: privately, to roll members who have not voted, once per offset."""

from __future__ import annotations

from sqlalchemy import select

from governance.store import tables as t
from tests.chat import Chat

DEADLINE = "voting closes 2026-11-26 09:00 UTC."


async def test_reminders_go_privately_to_those_who_have_not_voted_once_per_offset(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!propose Paint the shop vote=3d")
    await chat.ok("bob", "!vote 1 yes")
    await chat.advance(days=2)  # 24 h before the close
    first = chat.outlet.told_to("carol")
    assert first == [
        f"Reminder: you have not voted on #1 Paint the shop; {DEADLINE}\n"
        "Vote: !vote 1 yes, no or abstain"
    ]
    assert chat.outlet.told_to("alice") == first
    assert chat.outlet.told_to("bob") == []
    assert not any("Reminder" in text for text in chat.announced())  # never in the room
    await chat.ok("carol", "!vote 1 no")
    await chat.advance(hours=23)  # 1 h before the close
    assert len(chat.outlet.told_to("alice")) == 2
    assert len(chat.outlet.told_to("carol")) == 1  # she has voted since
    await chat.advance(days=3)
    assert len(chat.outlet.told_to("alice")) == 2  # none after the close, none twice
    assert chat.outlet.told_to("bob") == []
    keys = [key for _, _, key in chat.outlet.told]
    assert len(set(keys)) == len(keys)


async def test_a_secret_vote_reminds_without_anyone_seeing_who_voted(chat: Chat) -> None:
    await chat.ok("alice", "!propose Elect a treasurer vote=2d secret")
    await chat.ok("bob", "!vote 1 yes")
    await chat.advance(days=1)
    reminded = sorted({account.account_id for account, _, _ in chat.outlet.told})
    assert reminded == ["alice", "carol"]
    # Nothing kept says who was reminded, so nothing says who had voted by then.
    async with chat.app.engine.connect() as conn:
        channels = list(await conn.scalars(select(t.deliveries.c.channel)))
    assert not any(c.startswith("dm:") for c in channels)


async def test_an_extension_moves_reminders_not_yet_sent_and_repeats_none(chat: Chat) -> None:
    await chat.ok("alice", "!propose Open on Sundays vote=2d")
    await chat.advance(days=1)  # the 24 h reminder
    assert len(chat.outlet.told_to("bob")) == 1
    await chat.ok("alice", "!extend 1 2d the holidays")
    await chat.advance(days=2, hours=12)  # the old and new 24 h moments both pass
    assert len(chat.outlet.told_to("bob")) == 1
    await chat.advance(hours=11)  # 1 h before the new close
    assert chat.outlet.told_to("bob")[-1].startswith(
        "Reminder: you have not voted on #1 Open on Sundays; voting closes 2026-11-27 09:00 UTC."
    )
    assert len(chat.outlet.told_to("bob")) == 2


async def test_a_vote_closed_early_sends_no_more_reminders(chat: Chat) -> None:
    await chat.ok("alice", "!propose Buy chairs vote=3d")
    await chat.ok("alice", "!close 1 we bought them already")
    await chat.advance(days=4)
    assert chat.outlet.told == []


async def test_a_moderator_reminds_on_demand_and_others_cannot(chat: Chat) -> None:
    await chat.ok("alice", "!propose Hire a baker vote=3d")
    await chat.ok("bob", "!vote 1 yes")
    assert await chat.fails("carol", "!remind 1") == (
        "Only a moderator or above can send reminders; you are a member."
    )
    assert chat.outlet.told == []
    assert await chat.ok("alice", "!remind 1") == (
        "Reminding 2 members who have not voted on #1, privately."
    )
    assert sorted(account.account_id for account, _, _ in chat.outlet.told) == ["alice", "carol"]
    assert all(text.startswith("Reminder: ") for _, text, _ in chat.outlet.told)
    await chat.ok("alice", "!vote 1 no")
    await chat.ok("carol", "!vote 1 no")
    assert await chat.ok("alice", "!remind 1") == "Everyone on the roll of #1 has voted."


async def test_reminding_what_is_not_an_open_vote_is_refused_by_state(chat: Chat) -> None:
    await chat.ok("alice", "!propose Talk first deliberate=2d")
    assert await chat.fails("alice", "!remind 1") == (
        "Reminders are for open votes; #1 is in deliberation."
    )
    await chat.ok("alice", "!propose Decide now")
    await chat.ok("alice", "!close 2 settled")
    assert await chat.fails("alice", "!remind 2") == "Reminders are for open votes; #2 is closed."
    await chat.ok("alice", "!propose Think it over draft")
    assert await chat.fails("alice", "!remind 3") == "Reminders are for open votes; #3 is a draft."
    assert (await chat.fails("alice", "!remind 99")).startswith("There is no proposal #99")
    assert "Usage: !remind <id>" in await chat.fails("alice", "!remind")
    assert chat.outlet.told == []


async def test_a_deliberation_is_reminded_in_the_room_before_it_ends(chat: Chat) -> None:
    await chat.ok("alice", "!propose Share the tools deliberate=3d vote=2d")
    await chat.advance(days=2)
    assert chat.announced()[-1].splitlines() == [
        "Reminder: the deliberation on #1 Share the tools ends 2026-11-26 09:00 UTC; "
        "voting opens then.",
        "The author or a moderator can sum it up first: !summary 1 <text>",
    ]
    assert chat.outlet.told == []


async def test_closed_direct_messages_get_a_notice_in_the_room_without_the_reminder(
    chat: Chat,
) -> None:
    chat.outlet.closed_dms.add("carol")
    await chat.ok("alice", "!propose Paint the shop vote=3d")
    await chat.advance(days=2)
    assert len(chat.outlet.told_to("alice")) == 1
    assert chat.outlet.told_to("carol") == []
    notices = [text for text in chat.announced() if "direct messages are closed" in text]
    assert len(notices) == 1
    assert notices[0].startswith("@test:carol: I could not send you a private message")
    assert "Paint the shop" not in notices[0]  # what was to be said privately stays private
    async with chat.app.engine.connect() as conn:
        channels = list(await conn.scalars(select(t.deliveries.c.channel)))
    assert not any(c.startswith("dm:") for c in channels)  # given up, and forgotten
