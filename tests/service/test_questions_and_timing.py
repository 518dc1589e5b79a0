"""Questions members ask, classes, result visibility and a deliberation that opens its
vote on time."""

from __future__ import annotations

from datetime import timedelta

from tests.chat import Chat


async def test_a_deliberation_opens_its_vote_at_the_end_of_its_timebox(chat: Chat) -> None:
    reply = await chat.ok("alice", "!propose Share the tools deliberate=1d vote=2d")
    assert reply == "Proposed as #1; deliberation until 2026-11-24 09:00 UTC, then voting."
    assert chat.announced()[-1].splitlines()[:2] == [
        "#1 Share the tools — in deliberation until 2026-11-24 09:00 UTC, then voting",
        "Proposed by alice.",
    ]
    assert await chat.fails("bob", "!vote 1 yes") == "Voting on #1 has not opened yet."
    assert "#1 Share the tools — in deliberation until 2026-11-24 09:00 UTC" in await chat.ok(
        "bob", "!status"
    )
    await chat.join("dora")  # joins during deliberation: on the roll when voting opens
    await chat.advance(days=1)
    assert chat.announced()[-1].splitlines() == [
        "#1 Share the tools — voting open until 2026-11-26 09:00 UTC",
        "Roll: 4 members.",
        "Vote: !vote 1 yes, no or abstain",
    ]
    assert await chat.ok("dora", "!vote 1 yes") == "Your vote on #1 is recorded: yes."
    await chat.advance(days=2)
    assert chat.announced()[-1].splitlines()[:2] == [
        "#1 Share the tools — voting closed",
        "Passed — 1 yes, 0 no.",
    ]


async def test_results_are_shown_as_the_proposal_says(chat: Chat) -> None:
    await chat.ok("alice", "!propose Live one")
    await chat.ok("alice", "!propose After voting results=voted")
    await chat.ok("alice", "!propose After close results=closed vote=1d")
    await chat.ok("bob", "!vote 1 yes")
    live = await chat.ok("carol", "!results 1")
    assert live.splitlines()[:2] == [
        "#1 Live one — provisional, voting still open",
        "Passed — 1 yes, 0 no.",
    ]
    assert await chat.fails("carol", "!results 2") == (
        "The results of #2 are shown once you have voted."
    )
    await chat.ok("carol", "!vote 2 no")
    assert "Rejected — 0 yes, 1 no." in await chat.ok("carol", "!results 2")
    await chat.ok("carol", "!vote 3 no")
    assert await chat.fails("carol", "!results 3") == (
        "The results of #3 are shown after voting closes; 1 of 3 have voted so far."
    )
    await chat.advance(days=1)
    assert (await chat.ok("bob", "!results 3")).splitlines()[:2] == [
        "#3 After close — result",
        "Rejected — 0 yes, 1 no.",
    ]


async def test_lists_status_classes_and_help(chat: Chat) -> None:
    assert await chat.ok("bob", "!proposals") == "No proposals yet. Start with !propose <title>."
    assert (
        await chat.ok("bob", "!status") == "Nothing is open right now. Start with !propose <title>."
    )
    await chat.ok("alice", "!propose First")
    await chat.ok("alice", "!propose Second")
    await chat.ok("alice", "!cancel 1 wrong room")
    assert (await chat.ok("bob", "!proposals")).splitlines() == [
        "Proposals of demo (newest first):",
        "#2 Second — voting until 2026-11-30 09:00 UTC",
        "#1 First — cancelled",
    ]
    assert await chat.ok("alice", "!class bob workers") == "bob is now in the workers class."
    assert await chat.ok("alice", "!class @bob none") == "bob has no stakeholder class now."
    assert await chat.fails("alice", "!class nobody workers") == "No member called “nobody” here."
    assert await chat.fails("bob", "!class carol users") == (
        "Only an admin can set stakeholder classes; you are a member."
    )
    helped = await chat.ok("carol", "!help")
    assert helped.splitlines()[0] == "Commands:" and "!vote <id> <ballot>" in helped
    assert await chat.ok("carol", "!help !unvote") == (
        "!unvote <id>\nTake your ballot back while voting is open."
    )
    assert await chat.fails("carol", "!help dance") == (
        "No command called “dance”. !help lists them.\nUsage: !help [command]"
    )


async def test_a_deliberation_whose_vote_end_passed_while_down_is_cancelled_saying_why(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!propose Plan the fair deliberate=1d vote=2026-11-24 18:00")
    # The bot was down for two days: the end passed before voting could open.
    chat.clock.set(chat.clock.now() + timedelta(days=2))
    await chat.app.governance.run_due()
    await chat.app.dispatcher.drain()
    assert chat.announced()[-1].splitlines() == [
        "#1 Plan the fair — cancelled by folkmoot",
        "Reason: voting could not open: The end 2026-11-24 18:00 UTC is not in the future.",
    ]
    assert "#1 Plan the fair — cancelled" in await chat.ok("bob", "!proposals")
    assert await chat.app.governance.next_due() is None


async def test_vote_reasons_follow_the_same_rules_as_titles(chat: Chat) -> None:
    await chat.ok("alice", "!propose Change the locks method=consent")
    refused = await chat.fails("bob", "!vote 1 object \u202e\x07 gnikcah")
    assert refused.splitlines()[0] == (
        "The reason contains a bidirectional control character (U+202E), which can "
        "disguise text; remove it."
    )
    assert await chat.ok("bob", "!vote 1 object  spaces   are fine  ") == (
        "Your vote on #1 is recorded: object — “spaces are fine”."
    )
