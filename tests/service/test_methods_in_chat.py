"""The ranked, condorcet, stv, score, dots and non-binding methods as members use them
in chat, stakeholder classes with weights and quorums, and the answers to bad ballots.
Runs on SQLite and PostgreSQL (the `chat` fixture)."""

from __future__ import annotations

from sqlalchemy import select

from governance.store import tables as t
from tests.chat import Chat


async def _closed(chat: Chat, days: int = 7) -> list[str]:
    await chat.advance(days=days)
    return chat.announced()[-1].splitlines()


async def test_a_ranked_vote_shows_every_round(chat: Chat) -> None:
    await chat.join("dora")
    await chat.join("erin")
    await chat.ok("alice", "!propose Name the shop method=ranked options=Acorn | Birch | Cedar")
    assert await chat.ok("alice", "!vote 1 A > B") == (
        "Your vote on #1 is recorded: Acorn > Birch."
    )
    await chat.ok("bob", "!vote 1 acorn")
    await chat.ok("carol", "!vote 1 Birch > Acorn")
    await chat.ok("dora", "!vote 1 C > B")
    assert await chat.ok("erin", "!vote 1 3 2") == "Your vote on #1 is recorded: Cedar > Birch."
    assert await chat.ok("erin", "!vote 1 C > A") == (
        "Your vote on #1 is changed to Cedar > Acorn (was Cedar > Birch)."
    )
    lines = await _closed(chat)
    assert lines[:3] == [
        "#1 Name the shop — voting closed",
        "Winner: Acorn",
        "Instant-runoff rounds:",
    ]
    assert lines[3:8] == [
        "option     round 1  round 2",
        "Acorn      2        3",
        "Birch      1        —",
        "Cedar      2        2",
        "exhausted  0        0",
    ]
    assert (
        "Round 1: no option has more than half of 5; Birch has the fewest votes (1) and is "
        "eliminated." in lines
    )
    assert (
        "Round 2: transferred: 1 to Acorn; Acorn has 3 of 5 ballots still counting, more "
        "than half: elected." in lines
    )


async def test_condorcet_shows_the_head_to_head_matrix(chat: Chat) -> None:
    await chat.ok("alice", "!propose Meet where method=condorcet options=Hall | Park | Cafe")
    await chat.ok("alice", "!vote 1 Park > Hall > Cafe")
    await chat.ok("bob", "!vote 1 Hall > Park")
    await chat.ok("carol", "!vote 1 Cafe > Park > Hall")
    lines = await _closed(chat)
    assert lines[1] == "Winner: Park"
    at = lines.index("Head to head: ballots ranking the row above the column:")
    assert lines[at + 1 : at + 5] == ["   A  B  C", "A  —  1  2", "B  2  —  2", "C  1  1  —"]
    assert "Park beats every other option head to head (the Condorcet winner)." in lines


async def test_stv_fills_seats_and_shows_each_stage(chat: Chat) -> None:
    for name in ("dora", "erin", "fay", "gus"):
        await chat.join(name)
    await chat.ok(
        "alice", "!propose Elect two stewards method=stv seats=2 options=Ana | Ben | Cy | Di"
    )
    for name, ballot in [
        ("alice", "Ana > Ben"),
        ("bob", "Ana > Ben"),
        ("carol", "Ana > Cy"),
        ("dora", "Ana > Ben"),
        ("erin", "Cy > Di"),
        ("fay", "Di > Cy"),
        ("gus", "Ben"),
    ]:
        await chat.ok(name, f"!vote 1 {ballot}")
    lines = await _closed(chat)
    assert lines[1] == "Winners: Ana, Cy"
    assert (
        "Seats: 2. Quota: 7 valid ballots ÷ (2 + 1), fraction ignored, + 1 = 3 "
        "(Droop; Scottish STV rule 46)." in lines
    )
    # Ana's surplus of 1 leaves on her 4 ballots at 1 × 1/4 = 0.25 each: 0.75 to Ben and
    # 0.25 to Cy. Di, lowest, is excluded: her ballot goes to Cy (2.25), who then has
    # more than Ben (1.75) with one seat left: the count ends there.
    stages = lines[lines.index("STV stages:") + 1 :]
    assert [row.split() for row in stages[:5]] == [
        ["option", "stage", "1", "stage", "2", "stage", "3"],
        ["Ana", "4", "3", "3"],
        ["Ben", "1", "1.75", "1.75"],
        ["Cy", "1", "1.25", "2.25"],
        ["Di", "1", "1", "0"],
    ]
    assert (
        "Stage 2: the surplus of Ana, 1 of 4, is transferred: every ballot they hold moves "
        "on at its value × 1 ÷ 4, to five decimals (0.75 to Ben, 0.25 to Cy)." in lines
    )
    assert (
        "Stage 3: Di has the fewest votes and is excluded; their ballots move on at their "
        "current value (1 to Cy); elected: Cy." in lines
    )
    assert lines[-1] == (
        "The count ended early: the options still in it fill the last vacancies (rule 52), "
        "or, with one seat left, one option has more votes than all the others together plus "
        "every surplus not yet transferred."
    )


async def test_score_and_dots_count_as_members_expect(chat: Chat) -> None:
    await chat.ok("alice", "!propose Rate the menus method=score options=Soup | Salad | Stew")
    assert await chat.ok("alice", "!vote 1 A=5 B=2") == (
        "Your vote on #1 is recorded: Soup=5, Salad=2."
    )
    await chat.ok("bob", "!vote 1 Soup=3, Stew=5")
    await chat.ok("carol", "!vote 1 C=4")
    await chat.ok("bob", "!propose Spend the fund method=dots dots=5 options=Bikes | Books")
    assert await chat.fails("alice", "!vote 2 A:4 B:2") == (
        "That spends 6 dots; you have 5. Spread at most 5, e.g. A:3 B:2.\n"
        "Usage: !vote <id> <ballot> e.g. !vote 12 yes · object <reason> · A C · B > A > C · "
        "A=5 B=3 · A:3 B:2"
    )
    assert await chat.ok("alice", "!vote 2 A:1 B:4") == (
        "Your vote on #2 is recorded: Bikes:1, Books:4."
    )
    await chat.ok("carol", "!vote 2 Bikes:3")
    await chat.advance(days=7)
    score, dots = chat.announced()[-2].splitlines(), chat.announced()[-1].splitlines()
    # Soup: (5+3)/2 = 4; Stew: (5+4)/2 = 4.5; Salad 2. Blanks are not zeros.
    assert score[1] == "Winner: Stew"
    assert score[3:6] == ["option  scored by  mean", "Soup    2          4", "Salad   1          2"]
    assert dots[1] == "Tied — Bikes and Books, 4 dots each."


async def test_sense_check_concludes_without_passing_or_failing(chat: Chat) -> None:
    await chat.ok("alice", "!propose Four-day week method=sense-check")
    await chat.ok("bob", "!vote 1 unsure who covers Fridays?")
    await chat.ok("carol", "!vote 1 agree")
    lines = await _closed(chat)
    assert lines[1] == "Concluded — 1 agree, 1 unsure."
    assert "unsure: who covers Fridays?" in lines
    assert "Non-binding: this collects views; it does not pass or fail." in lines


async def test_classes_weigh_by_their_share_and_keep_their_own_quorum(chat: Chat) -> None:
    for name in ("dora", "erin"):
        await chat.join(name)
    for name, klass in [
        ("alice", "workers"),
        ("bob", "workers"),
        ("carol", "users"),
        ("dora", "users"),
        ("erin", "users"),
    ]:
        await chat.ok("alice", f"!class {name} {klass}")
    await chat.ok("alice", "!propose Open on Sundays weights=workers:40 users:60")
    assert (
        "Method: majority; roll: 5 members; results: live; class weights: workers 40%, "
        "users 60%." in chat.announced()[-1].splitlines()
    )
    for name, word in [("alice", "no"), ("bob", "no"), ("carol", "yes"), ("dora", "yes")]:
        await chat.ok(name, f"!vote 1 {word}")
    await chat.ok("erin", "!vote 1 yes")
    lines = await _closed(chat)
    # 3 yes, 2 no by heads; by class weight: workers 0 % yes × 40 % + users 100 % × 60 % = 60 %.
    assert lines[1] == "Passed — 60% yes, 40% no by class weight."
    at = lines.index("By stakeholder class:")
    assert lines[at + 1 : at + 4] == [
        "class    weight  ballots  result",
        "workers  40%     2 of 2   Rejected — 0 yes, 2 no.",
        "users    60%     3 of 3   Passed — 3 yes, 0 no.",
    ]
    await chat.ok("alice", "!propose Buy a van class-quorum=users:100%")
    assert chat.announced()[-1].splitlines()[2] == (
        "Method: majority; roll: 5 members; results: live; class quorums: users 100%."
    )
    await chat.ok("carol", "!vote 2 yes")
    lines = await _closed(chat)
    assert lines[1] == "No quorum — users: 1 of 3 voted, 3 needed."
    assert "Quorum of users: 3 of 3 needed (100%), 1 voted — not reached." in lines


async def test_a_secret_weighted_vote_keeps_each_ballots_class_not_its_voter(chat: Chat) -> None:
    await chat.ok("alice", "!class bob workers")
    await chat.ok("alice", "!class carol users")
    await chat.ok("alice", "!propose Pay rise secret weights=workers:50 users:50")
    await chat.ok("bob", "!vote 1 yes")
    await chat.ok("carol", "!vote 1 no")
    lines = await _closed(chat)
    assert lines[1] == (
        "Rejected — 50% yes, 50% no by class weight; an even split is not more than 50%."
    )
    async with chat.app.engine.connect() as conn:
        rows = (
            await conn.execute(select(t.ballots.c.member_id, t.ballots.c.stakeholder_class))
        ).all()
    assert sorted(rows, key=str) == [(None, "users"), (None, "workers")]


async def test_bad_ballots_and_settings_get_specific_answers_and_store_nothing(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!propose Pick method=ranked options=Acorn | Birch | Cedar")
    assert (await chat.fails("bob", "!vote 1 A > A")).startswith(
        "“Acorn” is named twice; name each option once."
    )
    assert (await chat.fails("bob", "!vote 1 A > Zed")).startswith("“Zed” is not an option here")
    assert (await chat.fails("bob", "!vote 1 A >  > B")).startswith("An empty place in the ranking")
    await chat.ok("alice", "!propose Rate method=score options=Soup | Stew")
    assert (await chat.fails("bob", "!vote 2 A=9")).startswith(
        "Soup=9: scores run from 0 to 5; vote a score from 0 to 5 per option"
    )
    assert (await chat.fails("bob", "!vote 2 A:3")).startswith(
        "Write = between an option and its number"
    )
    async with chat.app.engine.connect() as conn:
        assert (await conn.execute(select(t.ballots))).all() == []

    async def refusal(text: str) -> str:
        return (await chat.fails("alice", text)).split("\n")[0]

    assert await refusal("!propose Board method=stv seats=3 options=A | B | C") == (
        "seats=3 leaves nothing to choose among 3 options; use fewer seats or more options."
    )
    assert await refusal("!propose Mix weights=workers:40 users:30") == (
        "Class weights must add up to 100%; these add up to 70% (workers 40%, users 30%)."
    )
    assert await refusal("!propose Mix weights=workers:0 users:100") == (
        "weights=: workers:0 is not a weight; give a share more than 0 and at most 100%, "
        "e.g. workers:40 or workers:2/5."
    )
    assert await refusal("!propose Mix weights=workers") == (
        "weights=: “workers” is not class:value; write e.g. weights=workers:60 users:40."
    )
    assert await refusal(
        "!propose Board method=stv seats=2 options=A | B | C weights=w:50 u:50"
    ) == (
        "Class weights do not apply to stv votes; leave out weights= (class quorums still apply)."
    )
    assert await refusal("!propose Spend method=dots options=Plan: bikes | Books") == (
        "In a dots vote an option cannot contain “:”, which ballots use (up to 10 dots "
        "spread over the options, e.g. A:5 B:5); rename “Plan: bikes”."
    )
    assert await refusal("!propose Paths strength=winning-votes") == (
        "strength= applies to condorcet votes only."
    )
