"""A federation decides as a body of communities: each member community votes on its
part in its own rooms, and its result is its vote — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig, ConfigError, FileConfig
from governance.domain.decision_log import verify_chain
from governance.domain.ids import CommunityId, RoomRef
from governance.domain.lifecycle import Status
from governance.service.clocks import SimulatedClock
from governance.store.engine import make_engine
from tests.chat import Chat, RecordingOutlet

FED = RoomRef("test", "fed-room")
BAKERY = RoomRef("test", "bakery-room")
DAIRY = RoomRef("test", "dairy-room")
LONE = RoomRef("test", "lone-fed-room")


def communities(weights: str = "equal") -> list[CommunityConfig]:
    return [
        CommunityConfig(name="bakery", quorum="2"),
        CommunityConfig(name="dairy", timezone="Europe/Berlin"),
        CommunityConfig(name="orchard"),  # no room bound
        CommunityConfig(
            name="coopfed",
            members=["bakery", "dairy"],
            member_weights="members" if weights == "members" else "equal",
            default_vote="2d",
        ),
        CommunityConfig(name="lonefed", members=["bakery", "orchard"]),
    ]


@pytest.fixture(params=["equal"])
def weights(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def fed_app(
    db_url: str, clock: SimulatedClock, outlet: RecordingOutlet, weights: str
) -> AsyncIterator[App]:
    built = await bootstrap(
        engine=make_engine(db_url),
        clock=clock,
        outlets={"test": outlet},
        communities=communities(weights),
    )
    for room, name in ((FED, "coopfed"), (BAKERY, "bakery"), (DAIRY, "dairy"), (LONE, "lonefed")):
        await ensure_binding(built, room, CommunityId(name))
    try:
        yield built
    finally:
        await built.close()


class Rooms:
    def __init__(self, app: App, clock: SimulatedClock, outlet: RecordingOutlet) -> None:
        self.outlet = outlet
        self.fed = Chat(app, clock, outlet, FED, CommunityId("coopfed"))
        self.bakery = Chat(app, clock, outlet, BAKERY, CommunityId("bakery"))
        self.dairy = Chat(app, clock, outlet, DAIRY, CommunityId("dairy"))
        self.lone = Chat(app, clock, outlet, LONE, CommunityId("lonefed"))

    def said(self, room: RoomRef) -> list[str]:
        return [text for where, text, _ in self.outlet.posts if where == room]


@pytest.fixture
async def r(fed_app: App, clock: SimulatedClock, outlet: RecordingOutlet) -> Rooms:
    r = Rooms(fed_app, clock, outlet)
    await r.fed.join("fay", admin=True)
    await r.fed.join("finn")
    for name in ("ann", "ben", "bea"):
        await r.bakery.join(name, admin=name == "ann")
    for name in ("dan", "dee"):
        await r.dairy.join(name, admin=name == "dan")
    await r.lone.join("lou", admin=True)
    return r


async def test_a_federation_proposal_opens_a_part_in_each_member_community(r: Rooms) -> None:
    reply = await r.fed.ok("fay", "!propose Share an oven vote=2d\nOne oven for both.")
    assert reply == "Proposed as #1; its member communities vote on it as bakery #1, dairy #1."
    card = r.said(FED)[-1]
    assert card.startswith("#1 Share an oven — federation vote open until 2026-11-25 09:00 UTC")
    assert "roll: 2 member communities" in card
    assert "Voters: the member communities, each on its own part" in card
    assert "bakery #1, dairy #1" in card and "Vote: !vote" not in card

    bakery = r.said(BAKERY)[-1]
    assert bakery.startswith("#1 Share an oven — voting open until 2026-11-25 09:00 UTC")
    assert "Proposed by fay in coopfed." in bakery
    assert "This is bakery's part of federation proposal coopfed #1" in bakery
    assert "roll: 3 members" in bakery and "Vote: !vote 1 yes, no or abstain" in bakery
    dairy = r.said(DAIRY)[-1]
    assert dairy.startswith("#1 Share an oven — voting open until 2026-11-25 10:00 CET")
    assert "roll: 2 members" in dairy

    # Members of the federation's room do not vote on it; they are told where to.
    refused = await r.fed.fails("finn", "!vote 1 yes")
    assert refused == (
        "#1 is a federation proposal: its voters are its member communities, not people. "
        "Vote in your own community, on its part: bakery #1, dairy #1."
    )
    assert await r.bakery.ok("ben", "!vote 1 yes") == "Your vote on #1 is recorded: yes."


async def test_each_result_counts_as_the_member_communitys_vote(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven vote=2d")
    # bakery's quorum is 2 (its own config): one ballot is not enough there.
    await r.bakery.ok("ben", "!vote 1 yes")
    await r.dairy.ok("dan", "!vote 1 yes")
    await r.dairy.ok("dee", "!vote 1 no")
    await r.dairy.ok("dee", "!vote 1 yes")
    provisional = await r.fed.ok("finn", "!results 1")
    assert provisional.startswith(
        "#1 Share an oven — provisional, its member communities still voting"
    )
    assert "abstain (no quorum)" in provisional and "Passed — 1 yes, 0 no." in provisional
    await r.fed.advance(days=2)

    bakery = r.said(BAKERY)[-1]
    assert bakery.splitlines()[:2] == [
        "#1 Share an oven — voting closed",
        "No quorum — 1 of 3 voted.",
    ]
    assert r.said(DAIRY)[-1].splitlines()[1] == "Passed — 2 yes, 0 no."
    result = r.said(FED)[-1]
    lines = result.splitlines()
    assert lines[:2] == ["#1 Share an oven — voting closed", "Passed — 1 yes, 0 no."]
    assert "Member communities:" in result
    table = "\n".join(lines[lines.index("Member communities:") :])
    assert "bakery #1" in table and "No quorum — 1 of 3 voted." in table
    assert "abstain (no quorum)" in table
    assert "dairy #1" in table and "Passed — 2 yes, 0 no." in table
    assert "A federation vote: each of 2 member communities voted in its own rooms" in result

    # Exactly once: nothing closes again, in any room.
    await r.fed.advance(days=30)
    await r.fed.app.governance.run_due()
    for room in (FED, BAKERY, DAIRY):
        assert sum("voting closed" in text for text in r.said(room)) == 1
    async with r.fed.app.uow() as uow:
        for name in ("coopfed", "bakery", "dairy"):
            entries = await uow.log.entries(CommunityId(name))
            assert verify_chain(entries) is None
            assert [e.kind for e in entries].count("closed") == 1


async def test_a_rejection_is_a_no_and_weights_are_equal_by_default(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Merge the co-ops")
    for name in ("ann", "ben", "bea"):
        await r.bakery.ok(name, "!vote 1 no")
    await r.dairy.ok("dan", "!vote 1 yes")
    await r.fed.advance(days=2)
    result = r.said(FED)[-1]
    assert result.splitlines()[1] == "Rejected — 1 yes, 1 no; an even split is not more than 50%."
    assert "Rejected — 0 yes, 3 no." in result


@pytest.mark.parametrize("weights", ["members"], indirect=True)
async def test_weighted_by_membership_the_bigger_community_carries_it(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Merge the co-ops")
    for name in ("ann", "ben", "bea"):
        await r.bakery.ok(name, "!vote 1 no")
    await r.dairy.ok("dan", "!vote 1 yes")
    await r.fed.advance(days=2)
    result = r.said(FED)[-1]
    assert result.splitlines()[1] == "Rejected — 40% yes, 60% no by membership weight."
    assert "each weighs its number of voters when its part opened" in result
    rows = [line for line in result.splitlines() if line.startswith(("bakery", "dairy"))]
    assert any("3" in row and "no" in row for row in rows if row.startswith("bakery"))


@pytest.mark.parametrize("weights", ["members"], indirect=True)
async def test_an_option_vote_takes_each_communitys_winner_as_its_ballot(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Where to meet options=Mill | Barn | Pier")
    await r.bakery.ok("ann", "!vote 1 A")
    await r.bakery.ok("ben", "!vote 1 A")
    await r.bakery.ok("bea", "!vote 1 C")
    await r.dairy.ok("dan", "!vote 1 B")
    await r.dairy.ok("dee", "!vote 1 B")
    await r.fed.advance(days=2)
    result = r.said(FED)[-1]
    assert result.splitlines()[1] == "Winner: Mill"
    assert "Winner: Barn" in r.said(DAIRY)[-1]
    table = result[result.index("Member communities:") :].splitlines()
    assert table[2].split() == ["bakery", "#1", "Winner:", "Mill", "3", "Mill"]
    assert table[3].split() == ["dairy", "#1", "Winner:", "Barn", "2", "Barn"]
    assert "By membership weight: Mill 60%, Barn 40%, Pier 0%." in result


async def test_cancelling_a_federation_proposal_cancels_its_parts(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven")
    await r.bakery.ok("ben", "!vote 1 yes")
    assert await r.fed.ok("fay", "!cancel 1 we found another way") == "#1 is cancelled."
    assert r.said(BAKERY)[-1] == (
        "#1 Share an oven — cancelled by fay in coopfed\n"
        "Reason: federation proposal coopfed #1 was cancelled (we found another way)"
    )
    assert "cancelled by fay in coopfed" in r.said(DAIRY)[-1]
    assert (
        await r.bakery.fails("bea", "!vote 1 yes") == "#1 cancelled; there is nothing to vote on."
    )
    await r.fed.advance(days=3)
    assert not any("voting closed" in text for text in r.said(BAKERY) + r.said(FED))
    async with r.fed.app.uow() as uow:
        part = await uow.proposals.get(CommunityId("dairy"), 1)  # type: ignore[arg-type]
    assert part is not None and part.status is Status.CANCELLED


async def test_extending_a_federation_proposal_extends_its_parts(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven vote=2d")
    assert await r.fed.ok("fay", "!extend 1 1d more time to talk") == "Extended #1."
    assert r.said(BAKERY)[-1].startswith(
        "#1 Share an oven — voting extended by fay in coopfed until 2026-11-26 09:00 UTC"
    )
    await r.fed.advance(days=2)
    assert not any("voting closed" in text for text in r.said(BAKERY) + r.said(FED))
    await r.bakery.ok("ben", "!vote 1 yes")
    await r.fed.advance(days=1)
    assert "voting closed" in r.said(FED)[-1] and "voting closed" in r.said(BAKERY)[-1]


async def test_closing_a_federation_vote_early_closes_its_parts(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven")
    await r.dairy.ok("dan", "!vote 1 yes")
    assert await r.fed.ok("fay", "!close 1 everyone agrees") == "Closed #1."
    assert r.said(DAIRY)[-1].startswith("#1 Share an oven — closed early by fay in coopfed")
    assert r.said(FED)[-1].startswith("#1 Share an oven — closed early by fay")


async def test_a_member_community_cannot_end_its_part_alone(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven")
    said = (
        "#1 is bakery's part of federation proposal coopfed #1: it is {} only with that "
        "proposal, in coopfed."
    )
    assert await r.bakery.fails("ann", "!cancel 1 no thanks") == said.format("cancelled")
    assert await r.bakery.fails("ann", "!extend 1 1d wait") == said.format("extended")
    assert await r.bakery.fails("ann", "!close 1 enough") == said.format("closed")
    assert await r.bakery.fails("ann", "!withdraw 1") == said.format("withdrawn")


async def test_a_federation_number_is_a_different_number_in_a_member_community(r: Rooms) -> None:
    await r.bakery.ok("ann", "!propose Bake on Sundays")  # bakery's own #1
    await r.fed.ok("fay", "!propose Share an oven")  # coopfed #1: bakery #2, dairy #1
    # A member voting in bakery on "#1" votes on bakery's own #1, as numbers are per community.
    assert await r.bakery.ok("ben", "!vote 1 yes") == "Your vote on #1 is recorded: yes."
    part = r.said(BAKERY)[-1]
    assert part.startswith("#2 Share an oven — voting open") and "Vote: !vote 2 yes" in part
    assert await r.bakery.ok("ben", "!vote 2 no") == "Your vote on #2 is recorded: no."


async def test_voting_on_a_federation_number_missing_here_says_which_part_it_is(
    r: Rooms,
) -> None:
    await r.fed.ok("fay", "!propose Draft first draft")  # coopfed #1: a draft, no parts
    await r.fed.ok("fay", "!propose Share an oven")  # coopfed #2: bakery #1, dairy #1
    assert await r.bakery.fails("ben", "!vote 2 yes") == (
        "There is no proposal #2 here. coopfed's #2 is voted on here as #1 (!vote 1 …)."
    )


async def test_a_draft_federation_proposal_says_where_its_vote_will_be(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share a mill draft")
    assert await r.fed.fails("finn", "!vote 1 yes") == (
        "#1 is a federation proposal: its voters are its member communities, not people. "
        "When its vote opens, each of bakery and dairy votes on it in its own rooms."
    )


async def test_a_member_community_without_a_room_refuses_the_proposal(r: Rooms) -> None:
    refused = await r.lone.fails("lou", "!propose Plant trees")
    assert refused.startswith(
        "orchard has no room bound, so its members could not see nor vote on its part of "
        "this federation proposal. An admin of orchard can !bind a room first."
    )
    assert not r.said(BAKERY)


async def test_a_deliberation_opens_its_parts_when_its_timebox_ends(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven deliberate=1d vote=2d")
    assert not r.said(BAKERY)
    await r.fed.advance(days=1)
    assert "This is bakery's part of federation proposal coopfed #1" in r.said(BAKERY)[-1]
    opened = r.said(FED)[-1]
    assert "federation vote open until 2026-11-26 09:00 UTC" in opened
    assert "bakery #1, dairy #1" in opened
    await r.bakery.ok("ann", "!vote 1 yes")
    await r.bakery.ok("ben", "!vote 1 yes")
    await r.fed.advance(days=2)
    assert r.said(FED)[-1].splitlines()[1] == "Passed — 1 yes, 0 no."


def test_the_config_refuses_unknown_members_self_membership_and_cycles() -> None:
    def load(*entries: dict[str, object]) -> FileConfig:
        return FileConfig.model_validate({"communities": list(entries)})

    with pytest.raises(ValidationError, match="member community 'ghost' is not declared"):
        load({"name": "fed", "members": ["ghost"]})
    with pytest.raises(ValidationError, match="federation fed lists itself"):
        load({"name": "fed", "members": ["fed"]})
    with pytest.raises(ValidationError, match="cycle: a → b → a"):
        load({"name": "a", "members": ["b"]}, {"name": "b", "members": ["a"]})
    with pytest.raises(ValidationError, match="member_weights"):
        load({"name": "x"}, {"name": "fed", "members": ["x"], "member_weights": "size"})
    ok = load({"name": "x"}, {"name": "fed", "members": ["x"], "member_weights": "members"})
    assert ok.communities[1].members == ["x"]


async def test_bootstrap_refuses_a_federation_of_unknown_communities(
    tmp_path: Path, clock: SimulatedClock
) -> None:
    with pytest.raises(ConfigError, match="'ghost' is not declared"):
        await bootstrap(
            engine=make_engine(f"sqlite:///{tmp_path / 'x.db'}"),
            clock=clock,
            outlets={},
            communities=[CommunityConfig(name="fed", members=["ghost"])],
        )


async def test_closes_due_together_in_one_batch_close_each_vote_once(r: Rooms) -> None:
    await r.bakery.ok("ann", "!propose Bake on Sundays vote=2d")  # bakery #1
    await r.fed.ok("fay", "!propose Share an oven vote=2d")  # bakery #2, dairy #1
    await r.fed.ok("fay", "!propose Share a van vote=2d")  # bakery #3, dairy #2
    for name in ("ann", "ben"):
        for number in (1, 2, 3):
            await r.bakery.ok(name, f"!vote {number} yes")
    await r.dairy.ok("dan", "!vote 2 no")
    batches: list[int] = []
    r.fed.app.deps.on_due_ran = lambda items: batches.append(len(items))
    await r.fed.advance(days=2)
    assert max(batches) >= 3, "the three closes ran in one batch (held-back writes)"
    closed = {
        room: [t for t in r.said(room) if "voting closed" in t] for room in (FED, BAKERY, DAIRY)
    }
    assert [t.splitlines()[:2] for t in closed[FED]] == [
        ["#1 Share an oven — voting closed", "Passed — 1 yes, 0 no."],
        [
            "#2 Share a van — voting closed",
            "Rejected — 1 yes, 1 no; an even split is not more than 50%.",
        ],
    ]
    assert len(closed[BAKERY]) == 3 and len(closed[DAIRY]) == 2
    await r.fed.advance(days=5)
    assert sum("voting closed" in t for t in r.said(FED) + r.said(BAKERY) + r.said(DAIRY)) == 7


async def test_a_member_room_unbound_during_deliberation_cancels_the_opening(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven deliberate=1d")
    async with r.fed.app.uow() as uow:
        await uow.bindings.unbind(DAIRY)
        await uow.commit()
    await r.fed.advance(days=1)
    cancelled = r.said(FED)[-1]
    assert cancelled.startswith("#1 Share an oven — cancelled by folkmoot")
    assert "voting could not open: dairy has no room bound" in cancelled
    assert not r.said(BAKERY), "no part opened anywhere"


async def test_unbinding_a_member_communitys_last_room_says_what_it_does_to_federations(
    r: Rooms,
) -> None:
    refused = await r.bakery.fails("ann", "!unbind")
    assert refused.startswith("This room is bakery's last bound room.")
    assert (
        "nor is it kept to send later; and coopfed and lonefed's proposals are refused (or "
        "cancelled when their vote opens) while bakery has no room. "
    ) in refused
    await r.bakery.ok("ann", "!unbind confirm")
    assert (await r.fed.fails("fay", "!propose Share a mill")).startswith(
        "bakery has no room bound, so its members could not see nor vote on its part"
    )


async def test_status_counts_a_federation_proposals_ballots_in_its_parts(r: Rooms) -> None:
    await r.fed.ok("fay", "!propose Share an oven vote=2d")
    await r.bakery.ok("ben", "!vote 1 yes")
    await r.bakery.ok("bea", "!vote 1 no")
    status = await r.fed.ok("finn", "!status 1")
    assert "Ballots so far, in its member communities: bakery #1 2 of 3; dairy #1 0 of 2." in (
        status
    )
    assert "roll: 2 member communities" in status and "0 of 0" not in status
    assert "Vote in your own community, on its part: bakery #1, dairy #1." in status
    assert "!vote 1" not in status and "You have not voted" not in status


async def test_a_federation_proposal_made_in_an_encrypted_room_reaches_encrypted_rooms_only(
    r: Rooms,
) -> None:
    fed_sealed, bakery_sealed = RoomRef("test", "fed-sealed"), RoomRef("test", "bakery-sealed")
    for chat, room, admin in ((r.fed, fed_sealed, "fay"), (r.bakery, bakery_sealed, "ann")):
        bound = await chat.app.governance.handle_text(
            room,
            chat.account(admin),
            f"!bind {chat.community} confirm",
            chat.clock.now(),
            encrypted=True,
        )
        assert bound is not None and bound.ok, bound.message.plain()
    proposed = await r.fed.app.governance.handle_text(
        fed_sealed,
        r.fed.account("fay"),
        "!propose Merge the co-ops vote=2d",
        r.fed.clock.now(),
        encrypted=True,
    )
    assert proposed is not None and proposed.ok, proposed.message.plain()
    await r.fed.app.dispatcher.drain()
    assert any("#1 Merge the co-ops" in text for text in r.said(fed_sealed))
    assert any("#1 Merge the co-ops" in text for text in r.said(bakery_sealed))  # its part
    for unencrypted in (FED, BAKERY, DAIRY):  # dairy has no encrypted room: it hears nothing
        assert not any("Merge the co-ops" in text for text in r.said(unencrypted))
