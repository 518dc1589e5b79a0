"""A community decides: propose, vote, change, close on time — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from governance.domain.commands import Context, FollowPlatformRole, Join
from governance.domain.decision_log import verify_chain
from governance.domain.ids import CommunityId
from governance.domain.members import Role
from governance.store import tables as t
from governance.text.messages import Audience
from tests.chat import Chat


async def _count(chat: Chat, table: t.Table) -> int:
    async with chat.app.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_timed_majority_vote_closes_once_with_an_explained_result(chat: Chat) -> None:
    assert await chat.ok("alice", "!propose Buy a new oven vote=3d\nOurs is broken.") == (
        "(to alice) Proposed as #1.".removeprefix("(to alice) ")
    )
    card = chat.announced()[-1]
    assert card.startswith("#1 Buy a new oven — voting open until 2026-11-26 09:00 UTC")
    assert "Ours is broken." in card and "Vote: !vote 1 yes, no or abstain" in card

    assert await chat.ok("alice", "!vote 1 yes") == "Your vote on #1 is recorded: yes."
    assert await chat.ok("bob", "!vote #1 NO") == "Your vote on #1 is recorded: no."
    assert await chat.ok("carol", "!vote 1 no") == "Your vote on #1 is recorded: no."
    assert await chat.ok("carol", "!vote 1 yes") == ("Your vote on #1 is changed to yes (was no).")

    await chat.advance(days=2, hours=23)
    assert len(chat.announced()) == 1, "nothing is announced before the close"
    await chat.advance(hours=1)
    result = chat.announced()[-1]
    assert result.splitlines()[:2] == ["#1 Buy a new oven — voting closed", "Passed — 2 yes, 1 no."]
    assert "Threshold: yes/(yes+no) = 2/3 = 66.7%; needs more than 50%." in result

    await chat.advance(days=30)
    await chat.app.governance.run_due()
    closes = [text for text in chat.announced() if "voting closed" in text]
    assert len(closes) == 1
    assert await chat.fails("bob", "!vote 1 no") == "Voting on #1 has closed."
    async with chat.app.uow() as uow:
        entries = await uow.log.entries(CommunityId("demo"))
    assert verify_chain(entries) is None
    assert [e.kind for e in entries][-3:] == ["proposed", "voting opened", "closed"]


async def test_a_ballot_sent_after_the_deadline_is_refused_even_before_the_close_runs(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!propose Paint the door vote=1h")
    chat.clock.set(chat.clock.now().replace(hour=10, minute=0, second=1))
    assert await chat.fails("bob", "!vote 1 yes") == "Voting on #1 has closed."
    assert await _count(chat, t.ballots) == 0


async def test_vote_changes_keep_their_history_and_unvote_removes_the_ballot(chat: Chat) -> None:
    await chat.ok("alice", "!propose Name the cat options=Tom | Kit method=choice")
    await chat.ok("bob", "!vote 1 tom")
    assert await chat.ok("bob", "!vote 1 B") == "Your vote on #1 is changed to Kit (was Tom)."
    assert await chat.ok("bob", "!vote 1 kit") == "Your vote on #1 is already Kit; nothing changed."
    assert await chat.ok("bob", "!unvote 1") == "Your ballot on #1 is withdrawn."
    assert await chat.fails("bob", "!unvote 1") == "You have no ballot on #1."
    async with chat.app.uow() as uow:
        bob = await uow.members.by_account(CommunityId("demo"), chat.account("bob"))
        assert bob is not None
        proposal = await uow.proposals.get(CommunityId("demo"), 1)  # type: ignore[arg-type]
        assert proposal is not None
        history = await uow.ballots.history(proposal.id, bob.id)
    assert [None if c is None else c.options for c in history] == [(0,), (1,), None]


async def test_the_roll_is_frozen_when_voting_opens(chat: Chat) -> None:
    await chat.ok("alice", "!propose Open on Sundays")
    await chat.join("dora")
    assert "not on the voter roll of #1" in await chat.fails("dora", "!vote 1 yes")
    await chat.ok("alice", "!role carol observer")
    assert await chat.ok("carol", "!vote 1 yes") == "Your vote on #1 is recorded: yes."
    await chat.ok("alice", "!propose Close on Mondays")
    assert "not on the voter roll of #2" in await chat.fails("carol", "!vote 2 yes")
    assert "Ballots so far: 0 of 3." in await chat.ok("dora", "!status 2")


async def test_a_role_from_the_platform_leaves_a_frozen_roll_alone(chat: Chat) -> None:
    await chat.ok("alice", "!propose Open on Sundays")
    ctx = Context(chat.account("carol"), chat.room, CommunityId("demo"), chat.clock.now())
    moved = await chat.app.governance.handle(FollowPlatformRole(ctx, Role.OBSERVER))
    assert moved.message.plain() == "carol is now an observer (from the platform)."
    assert await chat.ok("carol", "!vote 1 yes") == "Your vote on #1 is recorded: yes."
    await chat.ok("alice", "!propose Close on Mondays")
    assert "not on the voter roll of #2" in await chat.fails("carol", "!vote 2 yes")
    admin = Context(chat.account("root"), chat.room, CommunityId("demo"), chat.clock.now())
    await chat.join("root")  # an admin named in the config stays one
    kept = await chat.app.governance.handle(FollowPlatformRole(admin, Role.MEMBER))
    assert kept.message.plain() == "root stays an admin: the config names them."


async def test_bots_and_bridge_puppets_never_join_a_roll(chat: Chat) -> None:
    joined = await chat.join("bridge_ana")
    assert joined.message.plain() == "Welcome, bridge_ana: you are an observer of demo."
    await chat.app.governance.handle(
        Join(
            Context(chat.account("helper"), chat.room, chat.community, chat.clock.now()),
            "helper",
            is_bot=True,
        )
    )
    await chat.ok("alice", "!propose Count only people")
    assert "roll: 3 members" in chat.announced()[-1]
    assert "not on the voter roll of #1" in await chat.fails("bridge_ana", "!vote 1 yes")


async def test_a_member_s_mistake_does_not_spoil_the_votes_grouped_with_it(chat: Chat) -> None:
    for name in [f"m{i}" for i in range(40)]:
        await chat.join(name)
    await chat.ok("alice", "!propose Adopt the budget method=consent")
    voters = [f"m{i}" for i in range(40)]
    texts = ["!vote 1 object" if i % 10 == 0 else "!vote 1 consent" for i in range(40)]
    groups_before = chat.app.governance.votes.groups
    replies = await asyncio.gather(
        *(
            chat.app.governance.handle_text(chat.room, chat.account(v), text, chat.clock.now())
            for v, text in zip(voters, texts, strict=True)
        )
    )
    assert chat.app.governance.votes.groups - groups_before < 40, "votes were grouped"
    refused = [r for r in replies if r is not None and not r.ok]
    assert len(refused) == 4
    assert all("Say why: object needs a reason." in r.message.plain() for r in refused)
    assert await _count(chat, t.ballots) == 36


async def test_secret_ballots_keep_no_link_between_voter_and_choice(chat: Chat) -> None:
    await chat.ok("alice", "!propose Elect the treasurer options=Ana | Ben secret vote=1d")
    assert (await chat.ok("bob", "!vote 1 Ana")).startswith(
        "Your secret ballot on #1 is recorded. Only the count will be shown. Your receipt code: "
    )
    await chat.ok("carol", "!vote 1 Ben")
    await chat.ok("carol", "!vote 1 Ana")
    assert "shown after voting closes; 2 of 3 have voted" in await chat.fails("bob", "!results 1")
    assert "You have voted (secret ballot)." in await chat.ok("carol", "!status 1")
    async with chat.app.engine.connect() as conn:
        ballots = (await conn.execute(select(t.ballots))).all()
        assert [(b.member_id, b.cast_at) for b in ballots] == [(None, None), (None, None)]
        assert await conn.scalar(select(func.count()).select_from(t.ballot_history)) == 0
        payloads = [
            r.payload
            for r in await conn.execute(select(t.outbox).where(t.outbox.c.kind == "BallotReceived"))
        ]
        assert payloads and all(set(p) == {"community", "number"} for p in payloads)
        assert await conn.scalar(select(func.count()).select_from(t.proposal_keys)) == 1
    # A refusal is for the voter alone: the room must not learn how they meant to vote.
    refusal = await chat.send("alice", "!vote 1 Ana Ana")
    assert not refusal.ok and refusal.audience is Audience.QUIET
    await chat.ok("alice", "!vote 1 Ben")
    async with chat.app.engine.connect() as conn:
        arrival = [
            b.choice for b in (await conn.execute(select(t.ballots).order_by(t.ballots.c.id)))
        ]
    await chat.advance(days=1)
    assert "Winner: Ana" in chat.announced()[-1]
    async with chat.app.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(t.proposal_keys)) == 0
        sealed = (await conn.execute(select(t.ballots).order_by(t.ballots.c.id))).all()
    # After close the rows keep the choices and nothing else: no keyed tags, and an
    # order that is not the order of arrival.
    assert sorted(b.choice["o"] for b in sealed) == sorted(c["o"] for c in arrival)
    assert [(b.voter_key, b.member_id, b.cast_at) for b in sealed] == [
        ("sealed-1", None, None),
        ("sealed-2", None, None),
        ("sealed-3", None, None),
    ]


async def test_limits_and_odd_text_are_refused_and_nothing_is_stored(chat: Chat) -> None:
    async def refusal(text: str) -> str:
        answer, usage = (await chat.fails("alice", text)).split("\n")
        assert usage.startswith("Usage: !propose <title> [method=…]")
        return answer

    assert (
        await refusal("!propose " + "x" * 201) == "The title is 201 characters; the limit is 200."
    )
    assert await refusal("!propose Fine title\n" + "b" * 4001) == (
        "The body is 4,001 characters; the limit is 4,000."
    )
    options = " | ".join(f"o{i}" for i in range(21))
    assert await refusal(f"!propose Many options={options}") == (
        "A proposal may have at most 20 options; this one has 21."
    )
    assert await refusal("!propose Spend dots=5") == "dots= applies to dots votes, not majority."
    assert "control character (U+0007)" in await chat.fails("alice", "!propose Bell \x07 here")
    assert "bidirectional control character (U+202E)" in await chat.fails(
        "alice", "!propose Pay \u202eevil"
    )
    assert await _count(chat, t.proposals) == 0
    assert await chat.ok("alice", "!propose שלום עולם — مرحبا") == "Proposed as #1."


async def test_wrong_roles_get_a_plain_answer(chat: Chat) -> None:
    await chat.ok("alice", "!propose Hire a baker")
    assert await chat.fails("bob", "!close 1 enough") == (
        "Only a moderator or above can close a vote early; you are a member."
    )
    assert await chat.fails("bob", "!role carol admin") == (
        "Only an admin can set roles; you are a member."
    )
    assert "Only the author of #1 can withdraw it" in await chat.fails("bob", "!withdraw 1")
    assert await chat.fails("alice", "!role alice member") == (
        "alice is the last admin; make someone else admin first."
    )
    await chat.ok("alice", "!role bob moderator")
    assert await chat.ok("bob", "!close 1 we agreed in the meeting") == "Closed #1."
    closed = chat.announced()[-1]
    assert closed.splitlines()[:2] == [
        "#1 Hire a baker — closed early by bob",
        "Reason: we agreed in the meeting",
    ]


async def test_extend_cancel_withdraw_and_outcome(chat: Chat) -> None:
    await chat.ok("alice", "!role bob moderator")
    await chat.ok("alice", "!propose Plant a garden vote=2d")
    await chat.ok("bob", "!extend 1 1d more time to read")
    assert chat.announced()[-1].startswith(
        "#1 Plant a garden — voting extended by bob until 2026-11-26 09:00 UTC"
    )
    await chat.advance(days=2, hours=1)
    assert not any("voting closed" in text for text in chat.announced())
    await chat.advance(days=1)
    assert any("voting closed" in text for text in chat.announced())
    assert await chat.fails("bob", "!extend 1 1d too late") == (
        "Cannot extend: the proposal is closed (closed)."
    )
    assert await chat.fails("carol", "!outcome 1 Dig on Saturday") == (
        "Only the author of #1 or a moderator can record its outcome."
    )
    await chat.ok("alice", "!outcome 1 We dig on Saturday; Bob brings spades.")
    assert "Outcome: We dig on Saturday; Bob brings spades." in await chat.ok("carol", "!status 1")

    await chat.ok("carol", "!propose Buy a goat")
    assert await chat.ok("carol", "!withdraw 2") == "#2 is withdrawn."
    await chat.ok("alice", "!propose Buy a cow")
    assert await chat.ok("bob", "!cancel 3 duplicate of #2") == "#3 is cancelled."
    assert await chat.fails("carol", "!vote 3 yes") == "#3 cancelled; there is nothing to vote on."
    await chat.advance(days=10)
    assert not any("#3 Buy a cow — voting closed" in text for text in chat.announced())
