"""Deliberation as members meet it: a timebox, edits with every version kept, summaries,
opening early, drafts a moderator puts into deliberation, and thread bindings."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from governance.domain.decision_log import LogEntry, verify_chain
from governance.domain.errors import GovernanceError, NotFound
from governance.domain.ids import CommunityId, ProposalNumber, RoomRef
from governance.store import tables as t
from tests.chat import Chat

DEMO = CommunityId("demo")


async def _log(chat: Chat) -> list[LogEntry]:
    async with chat.app.uow() as uow:
        entries = await uow.log.entries(DEMO)
    assert verify_chain(entries) is None
    return entries


async def _count(chat: Chat, table: t.Table) -> int:
    async with chat.app.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def test_deliberate_then_vote_runs_the_whole_path_without_anyone_touching_it(
    chat: Chat,
) -> None:
    reply = await chat.ok("bob", "!propose Share the tools deliberate=2d vote=3d\nA shared shed.")
    assert reply == "Proposed as #1; deliberation until 2026-11-25 09:00 UTC, then voting."
    assert chat.announced()[-1].splitlines() == [
        "#1 Share the tools — in deliberation until 2026-11-25 09:00 UTC, then voting",
        "Proposed by bob.",
        "A shared shed.",
        "Author or moderator: !edit 1 title|body|options …, !summary 1 <text>, "
        "!open 1 to vote now.",
    ]
    assert await chat.fails("carol", "!vote 1 yes") == "Voting on #1 has not opened yet."
    await chat.advance(days=2)
    assert chat.announced()[-1].splitlines()[0] == (
        "#1 Share the tools — voting open until 2026-11-28 09:00 UTC"
    )
    await chat.ok("alice", "!vote 1 yes")
    await chat.ok("carol", "!vote 1 yes")
    await chat.advance(days=3)
    assert chat.announced()[-1].splitlines()[:2] == [
        "#1 Share the tools — voting closed",
        "Passed — 2 yes, 0 no.",
    ]
    # The deliberation's end is reminded in the room (24 h and 1 h before); the vote's
    # reminders go privately to bob, who never voted.
    assert [text.split(";")[0] for text in chat.announced() if text.startswith("Reminder")] == [
        "Reminder: the deliberation on #1 Share the tools ends 2026-11-25 09:00 UTC"
    ] * 2
    assert len(chat.announced()) == 5
    assert len(chat.outlet.told_to("bob")) == 2
    kinds = [e.kind for e in await _log(chat)]
    assert kinds[-4:] == ["proposed", "deliberation opened", "voting opened", "closed"]
    assert await chat.app.governance.next_due() is None


async def test_edits_before_voting_keep_every_version_and_status_shows_them(chat: Chat) -> None:
    await chat.ok("bob", "!propose Name the cat deliberate=1d options=Tom | Kit")
    assert await chat.fails("carol", "!edit 1 title Name the dog") == (
        "Only the author of #1 or a moderator can edit it."
    )
    chat.clock.set(chat.clock.now().replace(hour=10))
    assert await chat.ok("bob", "!edit 1 title Name the kitten") == (
        "Edited the title of #1: this is version 2."
    )
    assert chat.announced()[-1].splitlines() == [
        "#1 Name the kitten — title edited by bob (version 2)",
        "New title: Name the kitten",
    ]
    chat.clock.set(chat.clock.now().replace(hour=11))
    assert await chat.ok("alice", "!edit 1 options Tom | Kit | Mog") == (
        "Edited the options of #1: this is version 3."
    )
    assert chat.announced()[-1].splitlines()[1] == "Options: A Tom, B Kit, C Mog"
    await chat.ok("bob", "!edit 1 body\nShe is grey.\nAnd small.")
    assert await chat.ok("bob", "!edit 1 body She is grey.\nAnd small.") == (
        "The body of #1 is already that; nothing changed."
    )
    refused = await chat.fails("bob", "!edit 1 options Tom")
    assert refused == (
        "The choice method needs at least 2 options, e.g. options=A | B.\n"
        "Usage: !edit <id> title|body|options <new text>   e.g. !edit 12 options A | B | C"
    )
    status = (await chat.ok("carol", "!status 1")).splitlines()
    assert status[0] == "#1 Name the kitten — in deliberation until 2026-11-24 09:00 UTC"
    assert status[1:4] == ["She is grey.", "And small.", "Options: A Tom, B Kit, C Mog"]
    versions = status.index("Versions (4):")
    assert status[versions + 1 : versions + 5] == [
        "v1 2026-11-23 09:00 UTC by bob: as proposed",
        "v2 2026-11-23 10:00 UTC by bob: title “Name the kitten”",
        "v3 2026-11-23 11:00 UTC by alice: options Tom | Kit | Mog",
        "v4 2026-11-23 11:00 UTC by bob: body “She is grey. And small.”",
    ]

    await chat.advance(days=1)  # voting opens: the text is frozen
    assert await chat.fails("bob", "!edit 1 title Name the tomcat") == (
        "Cannot edit: the proposal is open for voting (voting). "
        "Its text was frozen when voting opened."
    )
    assert await chat.ok("carol", "!vote 1 mog") == "Your vote on #1 is recorded: Mog."
    assert "Versions (4):" in await chat.ok("carol", "!status 1")
    edits = [e for e in await _log(chat) if e.kind == "edited"]
    assert [(e.actor, e.data["field"], e.data["version"]) for e in edits] == [
        (2, "title", 2),
        (1, "options", 3),
        (2, "body", 4),
    ]
    assert edits[1].data["options"] == ["Tom", "Kit", "Mog"]


async def test_a_summary_by_the_author_is_announced_and_a_later_one_becomes_current(
    chat: Chat,
) -> None:
    await chat.ok("bob", "!propose Open on Sundays deliberate=1d")
    assert await chat.fails("carol", "!summary 1 Nobody wants it.") == (
        "Only the author of #1 or a moderator can sum up its deliberation."
    )
    assert await chat.ok("bob", "!summary 1 Most want it, in summer.") == (
        "Summary of #1 recorded."
    )
    assert chat.announced()[-1].splitlines() == [
        "#1 Open on Sundays — summary by bob",
        "Most want it, in summer.",
    ]
    chat.clock.set(chat.clock.now().replace(hour=12))
    assert await chat.ok("alice", "!summary 1 Summer only, from June.\nBob writes the rota.") == (
        "Summary of #1 recorded; it is the current one now, and the 1 before it is kept."
    )
    status = await chat.ok("carol", "!status 1")
    assert (
        "Summary by alice, 2026-11-23 12:00 UTC; 1 earlier kept: Summer only, from June.\n"
        "Bob writes the rota."
    ) in status
    assert await _count(chat, t.summaries) == 2

    await chat.advance(days=1)
    assert await chat.fails("bob", "!summary 1 Late thoughts.") == (
        "Cannot record a summary: the proposal is open for voting (voting)."
    )
    await chat.advance(days=7)
    assert await chat.fails("alice", "!summary 1 Late thoughts.") == (
        "Cannot record a summary: the proposal is closed (closed)."
    )
    assert await _count(chat, t.summaries) == 2
    summaries = [e for e in await _log(chat) if e.kind == "summary"]
    assert [(e.actor, e.data["summary"]) for e in summaries] == [
        (2, "Most want it, in summer."),
        (1, "Summer only, from June.\nBob writes the rota."),
    ]


async def test_open_early_by_the_author_and_the_timebox_no_longer_fires(chat: Chat) -> None:
    await chat.ok("bob", "!propose Buy a van deliberate=3d vote=1d")
    assert await chat.fails("carol", "!open 1") == (
        "Only the author of #1 or a moderator can open its vote."
    )
    chat.clock.set(chat.clock.now().replace(hour=15))
    assert await chat.ok("bob", "!open 1") == "Voting on #1 is open until 2026-11-24 15:00 UTC."
    assert chat.announced()[-1].splitlines() == [
        "#1 Buy a van — voting open until 2026-11-24 15:00 UTC",
        "Opened early by bob.",
        "Roll: 3 members.",
        "Vote: !vote 1 yes, no or abstain",
    ]
    assert await chat.fails("bob", "!open 1") == (
        "Cannot open voting: the proposal is open for voting (voting)."
    )
    await chat.ok("carol", "!vote 1 no")
    await chat.advance(days=5)
    texts = chat.announced()
    assert sum("voting open until" in x for x in texts) == 1
    assert [x.splitlines()[1] for x in texts if "voting closed" in x] == ["Rejected — 0 yes, 1 no."]
    opened = [e for e in await _log(chat) if e.kind == "voting opened"]
    assert [(e.actor, e.data.get("early")) for e in opened] == [(2, True)]
    assert await chat.app.governance.next_due() is None


async def test_a_moderator_opens_a_deliberation_on_a_draft_and_can_move_its_end(
    chat: Chat,
) -> None:
    assert await chat.ok("bob", "!propose Paint the hall draft vote=2d") == (
        "Saved #1 as a draft. You or a moderator can !edit it or !open 1 to start the vote; "
        "a moderator can open a deliberation with !deliberate 1 2d."
    )
    assert chat.announced()[-1].splitlines()[:2] == ["#1 Paint the hall — draft", "Drafted by bob."]
    await chat.ok("bob", "!edit 1 title Paint the hall green")
    await chat.advance(days=30)  # a draft waits
    assert "#1 Paint the hall green — draft" in await chat.ok("carol", "!proposals")
    assert await chat.fails("bob", "!deliberate 1 2d") == (
        "Only a moderator or above can open a deliberation or set its timebox; you are a member."
    )
    # Without a timebox: the community's vote length (7 days in demo).
    assert await chat.ok("alice", "!deliberate 1") == (
        "#1 is in deliberation until 2026-12-30 09:00 UTC, then voting opens."
    )
    assert chat.announced()[-1].splitlines()[:2] == [
        "#1 Paint the hall green — in deliberation until 2026-12-30 09:00 UTC, then voting",
        "Proposed by bob. Deliberation opened by alice.",
    ]
    assert await chat.fails("alice", "!deliberate 1") == (
        "#1 is already in deliberation until 2026-12-30 09:00 UTC. To set a new timebox, say "
        "how long from now, e.g. !deliberate 1 2d.\nUsage: !deliberate <id> [timebox, e.g. 2d]"
    )
    assert await chat.ok("alice", "!deliberate 1 1d") == (
        "The deliberation on #1 now runs until 2026-12-24 09:00 UTC "
        "(it was to end 2026-12-30 09:00 UTC)."
    )
    assert chat.announced()[-1].splitlines() == [
        "#1 Paint the hall green — deliberation now runs until 2026-12-24 09:00 UTC",
        "New timebox set by alice (it was to end 2026-12-30 09:00 UTC).",
    ]
    too_long = await chat.fails("alice", "!deliberate 1 200d")
    assert too_long.startswith("The end 2027-07-11 09:00 UTC is more than 90 days away")
    await chat.advance(days=1)
    assert chat.announced()[-1].startswith(
        "#1 Paint the hall green — voting open until 2026-12-26 09:00 UTC"
    )
    assert await chat.fails("alice", "!deliberate 1 2d") == (
        "Cannot open deliberation: the proposal is open for voting (voting)."
    )
    await chat.advance(days=6)  # the first timebox's end passes: nothing opens twice
    assert sum("voting open until" in x for x in chat.announced()) == 1
    kinds = [e.kind for e in await _log(chat)]
    assert kinds[kinds.index("proposed") :] == [
        "proposed",
        "edited",
        "deliberation opened",
        "timebox set",
        "voting opened",
        "closed",
    ]


async def test_a_draft_can_open_straight_to_voting(chat: Chat) -> None:
    await chat.ok("bob", "!propose Plant a tree draft vote=1d")
    assert await chat.ok("alice", "!open 1") == "Voting on #1 is open until 2026-11-24 09:00 UTC."
    assert chat.announced()[-1].splitlines()[1] == "Opened early by alice."


async def test_bad_input_is_answered_plainly_and_changes_nothing(chat: Chat) -> None:
    await chat.ok("bob", "!propose Fix the roof deliberate=2d")
    before = len(await _log(chat))
    announced = len(chat.announced())
    refusals = {
        "!edit 9 title Fix the door": "There is no proposal #9 here; !proposals lists them.",
        "!summary 9 Done.": "There is no proposal #9 here; !proposals lists them.",
        "!open 9": "There is no proposal #9 here; !proposals lists them.",
        "!deliberate 9 1d": "There is no proposal #9 here; !proposals lists them.",
        "!edit 1 title " + "x" * 5000: (
            "The title is 5,000 characters; the limit is 200.\n"
            "Usage: !edit <id> title|body|options <new text>   e.g. !edit 12 options A | B | C"
        ),
        "!edit 1 title Fix the \u202eroof": (
            "The title contains a bidirectional control character (U+202E), which can "
            "disguise text; remove it.\n"
            "Usage: !edit <id> title|body|options <new text>   e.g. !edit 12 options A | B | C"
        ),
        "!edit 1 options Yes | No": (
            "The majority method votes on the proposal itself; leave out options= "
            "(or use method=choice).\n"
            "Usage: !edit <id> title|body|options <new text>   e.g. !edit 12 options A | B | C"
        ),
        "!summary 1 " + "ü" * 4001: (
            "The summary is 4,001 characters; the limit is 4,000.\nUsage: !summary <id> <text>"
        ),
        "!summary 1 \x07": (
            "The summary contains a control character (U+0007); remove it.\n"
            "Usage: !summary <id> <text>"
        ),
        "!edit 1 colour red": (
            "“colour” cannot be edited; say title, body or options, then the new text.\n"
            "Usage: !edit <id> title|body|options <new text>   e.g. !edit 12 options A | B | C"
        ),
        "!deliberate 1 soon": (
            "“soon” is not a timebox; give a length like 2d, 36h or 1d12h.\n"
            "Usage: !deliberate <id> [timebox, e.g. 2d]"
        ),
        "!open 1 please": "!open takes only a proposal id.\nUsage: !open <id>",
        "!deliberate 1 2d": (
            "Only a moderator or above can open a deliberation or set its timebox; "
            "you are a member."
        ),
    }
    for text, answer in refusals.items():
        who = {"!deliberate 1 2d": "carol", "!deliberate 9 1d": "alice"}.get(text, "bob")
        assert await chat.fails(who, text) == answer, text
    assert len(await _log(chat)) == before
    assert len(chat.announced()) == announced
    assert await _count(chat, t.proposal_versions) == 1
    assert await _count(chat, t.summaries) == 0
    status = await chat.ok("bob", "!status 1")
    assert status.startswith("#1 Fix the roof — in deliberation until 2026-11-25 09:00 UTC")


async def test_a_deliberation_timebox_cannot_outrun_a_written_vote_end(chat: Chat) -> None:
    await chat.ok("bob", "!propose Hold the fair draft vote=2026-11-25 18:00")
    refused = await chat.fails("alice", "!deliberate 1 3d")
    assert refused.splitlines()[0] == (
        "That timebox ends 2026-11-26 09:00 UTC, and voting could not open then: "
        "The end 2026-11-25 18:00 UTC is not in the future. Give a shorter timebox."
    )
    assert await chat.ok("alice", "!deliberate 1 1d") == (
        "#1 is in deliberation until 2026-11-24 09:00 UTC, then voting opens."
    )


async def test_threads_are_recorded_once_logged_and_shown_in_status(chat: Chat) -> None:
    governance = chat.app.governance
    await chat.ok("bob", "!propose Share the tools deliberate=2d")
    room = chat.room
    assert await governance.record_thread(room, DEMO, ProposalNumber(1), "thread-1") is True
    assert await governance.record_thread(room, DEMO, ProposalNumber(1), "thread-1") is False
    assert await governance.record_thread(room, DEMO, ProposalNumber(1), " thread-2 ") is True
    with pytest.raises(NotFound):
        await governance.record_thread(room, DEMO, ProposalNumber(7), "thread-3")
    with pytest.raises(GovernanceError, match="not bound to demo"):
        await governance.record_thread(RoomRef("test", "elsewhere"), DEMO, 1, "t")  # type: ignore[arg-type]
    with pytest.raises(GovernanceError, match="A thread id has 1 to 255 characters"):
        await governance.record_thread(room, DEMO, ProposalNumber(1), "x" * 256)
    assert "Thread in test:room-1: thread-2" in await chat.ok("carol", "!status 1")
    recorded = [e for e in await _log(chat) if e.kind == "thread recorded"]
    assert [e.data for e in recorded] == [
        {"room": "test:room-1", "thread": "thread-1"},
        {"room": "test:room-1", "thread": "thread-2"},
    ]
    assert await _count(chat, t.threads) == 1


async def test_a_platform_with_threads_opens_one_per_room_and_the_core_records_it(
    chat: Chat,
) -> None:
    chat.outlet.threads = True
    await chat.ok("bob", "!propose Share the tools deliberate=2d")
    status = await chat.ok("carol", "!status 1")
    [line] = [line for line in status.splitlines() if line.startswith("Thread in")]
    key = next(key for _, text, key in chat.outlet.posts if "in deliberation until" in text)
    assert line == f"Thread in test:room-1: thread-of-{key}"
    # Delivered again (as after a crash before it was marked done): the platform's
    # idempotency gives the same thread, and the core records it once.
    async with chat.app.engine.begin() as conn:
        await conn.execute(update(t.deliveries).values(delivered_at=None))
    await chat.app.dispatcher.drain()
    assert sum("in deliberation until" in text for text in chat.announced()) == 2
    assert [e.kind for e in await _log(chat)].count("thread recorded") == 1


async def test_the_summary_and_the_opening_are_said_in_the_thread_and_the_room(chat: Chat) -> None:
    chat.outlet.threads = True
    await chat.ok("bob", "!propose Share the tools deliberate=2d")
    await chat.ok("bob", "!summary 1 Everyone agrees on Saturdays.")
    await chat.ok("bob", "!open 1")
    [root] = [key for _, text, key in chat.outlet.posts if "in deliberation until" in text]
    threaded = [(thread, text.splitlines()[0]) for _, thread, text in chat.outlet.in_threads]
    assert threaded == [
        (f"thread-of-{root}", "#1 Share the tools — summary by bob"),
        (f"thread-of-{root}", "#1 Share the tools — voting open until 2026-11-30 09:00 UTC"),
    ]
    room = [text.splitlines()[0] for _, text, _ in chat.outlet.posts]
    assert "#1 Share the tools — summary by bob" in room
