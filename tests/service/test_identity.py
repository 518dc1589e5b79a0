"""Linked accounts (!link, !unlink) and the right to be forgotten (!erase), in chat, on
SQLite and PostgreSQL: one member, one vote, whatever the platform."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from governance.domain.decision_log import verify_chain
from governance.domain.ids import AccountRef, CommunityId, MemberId, ProposalNumber
from governance.domain.members import Member, Role
from governance.store import tables as t
from governance.text.messages import Audience
from tests.chat import Chat
from tests.cli.test_cli import folkmoot

DEMO = CommunityId("demo")
CODE_RE = re.compile(r"\b([A-Z0-9]{5}-[A-Z0-9]{5})\b")
ANA = AccountRef("other", "ana-on-other")
"""Alice's account on another platform."""


async def code_of(chat: Chat, name: str) -> str:
    reply = await chat.send(name, "!link")
    assert reply.ok and reply.audience is Audience.PRIVATE, reply.message.plain()
    match = CODE_RE.search(reply.message.plain())
    assert match is not None, reply.message.plain()
    return match.group(1)


async def link_from(chat: Chat, account: AccountRef, code: str) -> str:
    reply = await chat.send_from(account, f"!link {code}")
    assert reply.ok, reply.message.plain()
    assert reply.audience is Audience.PRIVATE
    return reply.message.plain()


async def refused(chat: Chat, account: AccountRef, text: str) -> str:
    reply = await chat.send_from(account, text)
    assert not reply.ok, reply.message.plain()
    return reply.message.plain()


async def member(chat: Chat, account: AccountRef) -> Member | None:
    return await chat.app.governance.member(DEMO, account)


async def rows(chat: Chat, query: Any) -> list[Any]:
    async with chat.app.engine.connect() as conn:
        return list(await conn.execute(query))


async def count(chat: Chat, table: t.Table) -> int:
    async with chat.app.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def ballots_of(chat: Chat, number: int) -> list[Any]:
    async with chat.app.uow() as uow:
        proposal = await uow.proposals.get(DEMO, ProposalNumber(number))
        assert proposal is not None
        return await uow.ballots.choices(proposal.id)


async def roll_of(chat: Chat, number: int) -> tuple[list[MemberId], int]:
    async with chat.app.uow() as uow:
        proposal = await uow.proposals.get(DEMO, ProposalNumber(number))
        assert proposal is not None
        return await uow.ballots.roll(proposal.id), proposal.roll_size


# ---------------------------------------------------------------------- linking


async def test_a_code_links_an_account_on_another_platform_as_one_member(chat: Chat) -> None:
    code = await code_of(chat, "alice")
    # Only a keyed hash of the code is stored.
    stored = await rows(chat, select(t.link_codes.c.code_hash))
    assert len(stored) == 1 and code not in stored[0].code_hash
    assert code.replace("-", "") not in stored[0].code_hash

    said = await link_from(chat, ANA, code.lower().replace("-", " "))
    assert "now linked" in said and "an admin, no class" in said
    alice = await member(chat, chat.account("alice"))
    assert alice is not None and await member(chat, ANA) == alice
    # Both accounts of alice are told, privately.
    told = [a for a, text, _ in chat.outlet.told if "is now linked to you" in text]
    assert chat.account("alice") in told
    # One vote: the second account's ballot changes the first.
    await chat.ok("alice", "!propose Buy a kettle")
    await chat.ok("alice", "!vote 1 yes")
    reply = await chat.send_from(ANA, "!vote 1 no")
    assert reply.message.plain() == "Your vote on #1 is changed to no (was yes)."
    assert [c.verdict for c in await ballots_of(chat, 1)] == ["no"]
    # The second account acts with the member's role (admin).
    assert (await chat.send_from(ANA, "!role bob moderator")).ok
    async with chat.app.uow() as uow:
        entries = await uow.log.entries(DEMO)
    assert verify_chain(entries) is None
    linked = [e for e in entries if e.kind == "accounts linked"]
    assert linked[0].data == {"member": alice.id, "merged": None}


async def test_two_members_become_one_and_the_later_ballot_counts(chat: Chat) -> None:
    await chat.join("bobby")  # bob's second account, a member of its own so far
    await chat.ok("alice", "!propose Paint the shed")
    await chat.ok("alice", "!propose Fix the gate")
    await chat.ok("bob", "!vote 1 yes")
    await chat.ok("bobby", "!vote 1 no")  # later
    await chat.ok("bobby", "!vote 2 abstain")  # bob has no ballot on #2
    bob = await member(chat, chat.account("bob"))
    bobby = await member(chat, chat.account("bobby"))
    assert bob is not None and bobby is not None
    assert (await roll_of(chat, 1))[1] == 4

    said = await link_from(chat, chat.account("bobby"), await code_of(chat, "bob"))
    assert "Both accounts had voted on #1; the later ballot counts (this account's: no)" in said
    assert "#2" not in said
    assert await member(chat, chat.account("bobby")) == bob
    # One ballot per proposal, the roll holds bob once.
    assert [c.verdict for c in await ballots_of(chat, 1)] == ["no"]
    assert [c.verdict for c in await ballots_of(chat, 2)] == ["abstain"]
    roll, size = await roll_of(chat, 1)
    assert bobby.id not in roll and bob.id in roll and size == 3 == len(roll)
    assert await chat.ok("bob", "!vote 2 yes") == "Your vote on #2 is changed to yes (was abstain)."
    # bobby's name no longer names a member; bob's accounts are one.
    # bobby, as an account id, now names bob.
    assert await chat.ok("alice", "!role bobby moderator") == "bob is now a moderator."
    async with chat.app.uow() as uow:
        assert len((await uow.members.accounts([bob.id]))[bob.id]) == 2
        assert bobby.id not in await uow.members.voters(DEMO)
        assert await uow.members.count(DEMO) == 3
    # A closed vote keeps its tally: close #1, its result counts one ballot.
    await chat.advance(days=8)
    result = [text for text in chat.announced() if "#1 Paint the shed — voting closed" in text]
    assert result and "1 no" in result[0]


async def test_a_secret_vote_keeps_the_later_of_two_ballots_after_linking(chat: Chat) -> None:
    await chat.join("bobby")
    await chat.ok("alice", "!propose Elect a treasurer options=Ana | Ben secret")
    await chat.ok("bobby", "!vote 1 Ana")
    await chat.ok("bob", "!vote 1 Ben")
    await chat.ok("bobby", "!vote 1 Ben")
    await chat.ok("bobby", "!vote 1 Ana")  # the latest of all: a change, not a first cast
    said = await link_from(chat, chat.account("bobby"), await code_of(chat, "bob"))
    assert "Both accounts had voted on #1; the later ballot counts (this account's)." in said
    assert "Ana" not in said  # a secret ballot is never shown back
    choices = await ballots_of(chat, 1)
    assert [c.options for c in choices] == [(0,)]
    reply = await chat.send("bob", "!vote 1 Ana")
    assert reply.message.plain().startswith(
        "Your secret ballot on #1 is already recorded; nothing changed. Your receipt code: "
    )
    # Both were one voter: the ballots are keyed to one voter tag.
    keys = await rows(chat, select(t.ballots.c.voter_key, t.ballots.c.member_id))
    assert len(keys) == 1 and keys[0].member_id is None
    # One ballot, one receipt code: the kept ballot's, now the one member's.
    assert len(await rows(chat, select(t.receipts.c.code))) == 1
    await chat.ok("carol", "!vote 1 Ben")
    await chat.advance(days=8)
    assert len(await rows(chat, select(t.receipts.c.code))) == 2  # two voters, two codes


async def test_the_role_and_class_of_the_account_that_asked_stay(chat: Chat) -> None:
    await chat.join("bobby")
    await chat.ok("alice", "!role bobby moderator")
    await chat.ok("alice", "!class bob workers")
    said = await link_from(chat, chat.account("bobby"), await code_of(chat, "bob"))
    assert "(a member, class workers)" in said
    assert "This account's own role (moderator) is not kept." in said
    found = await member(chat, chat.account("bobby"))
    assert found is not None and found.role is Role.MEMBER and found.stakeholder_class == "workers"
    assert "Only a moderator" in await chat.fails("bobby", "!remind 1")


async def test_linking_never_leaves_the_community_without_an_admin(chat: Chat) -> None:
    code = await code_of(chat, "bob")
    text = await refused(chat, chat.account("alice"), f"!link {code}")
    assert "This account is the last admin" in text and "spent" in text
    alice = await member(chat, chat.account("alice"))
    assert alice is not None and alice.role is Role.ADMIN
    # The other way round is how it is done.
    said = await link_from(chat, chat.account("bob"), await code_of(chat, "alice"))
    assert "an admin" in said


async def test_bad_codes_are_refused_each_with_its_reason(chat: Chat) -> None:
    code = await code_of(chat, "alice")
    assert "not a link code" in await refused(chat, ANA, "!link hello")
    assert "not one I gave" in await refused(chat, ANA, "!link ABCDE-FGHJK")
    # From the account that asked for it: an account cannot be linked to itself.
    text = await refused(chat, chat.account("alice"), f"!link {code}")
    assert "cannot be linked to itself" in text
    # That spent it.
    assert "used already" in await refused(chat, ANA, f"!link {code}")

    code = await code_of(chat, "alice")
    await link_from(chat, ANA, code)
    assert "used already" in await refused(chat, AccountRef("other", "eve"), f"!link {code}")

    code = await code_of(chat, "alice")
    await chat.advance(minutes=10)
    assert "expired" in await refused(chat, AccountRef("other", "zed"), f"!link {code}")

    # A new code replaces the one before it.
    first = await code_of(chat, "bob")
    second = await code_of(chat, "bob")
    assert "not one I gave" in await refused(chat, AccountRef("other", "bo"), f"!link {first}")
    await link_from(chat, AccountRef("other", "bo"), second)


async def test_an_account_linked_to_another_member_must_unlink_first(chat: Chat) -> None:
    await link_from(chat, ANA, await code_of(chat, "alice"))
    text = await refused(chat, ANA, f"!link {await code_of(chat, 'bob')}")
    assert "send !unlink from it first" in text
    text = await refused(chat, chat.account("alice"), f"!link {await code_of(chat, 'bob')}")
    assert "send !unlink from it first" in text
    # Two accounts of one member: linking one again to the same member is refused too.
    text = await refused(chat, ANA, f"!link {await code_of(chat, 'alice')}")
    assert "cannot be linked to itself" in text


async def test_wrong_codes_are_limited_per_account_per_hour(chat: Chat) -> None:
    code = await code_of(chat, "alice")
    for _ in range(5):
        assert "not one I gave" in await refused(chat, ANA, "!link ZZZZZ-ZZZZZ")
    text = await refused(chat, ANA, f"!link {code}")  # even the right code, now
    assert "Too many wrong link codes from this account (5 in an hour)" in text
    assert "until 2026-11-23 10:00 UTC" in text
    # Another account is not held back by it.
    assert "not one I gave" in await refused(chat, AccountRef("other", "x"), "!link ZZZZZ-ZZZZZ")
    await chat.advance(minutes=59)
    assert "Too many" in await refused(chat, ANA, f"!link {code}")
    await chat.advance(minutes=1)
    code = await code_of(chat, "alice")
    await link_from(chat, ANA, code)


async def test_unlink_splits_an_account_off_without_ballots(chat: Chat) -> None:
    await chat.join("bobby")
    await link_from(chat, chat.account("bobby"), await code_of(chat, "bob"))
    await chat.ok("alice", "!propose Plant a hedge")
    await chat.ok("bobby", "!vote 1 yes")
    reply = await chat.send("bobby", "!unlink")
    assert reply.ok and reply.audience is Audience.PRIVATE
    said = reply.message.plain()
    assert "member of its own again" in said and "no ballots" in said
    bob = await member(chat, chat.account("bob"))
    split = await member(chat, chat.account("bobby"))
    assert bob is not None and split is not None and split.id != bob.id
    assert split.role is Role.MEMBER and split.stakeholder_class is None
    # The ballot stays with bob; the split account is not on the open vote's roll.
    assert await chat.ok("bob", "!vote 1 yes") == "Your vote on #1 is already yes; nothing changed."
    assert "not on the voter roll" in await chat.fails("bobby", "!vote 1 no")
    assert "nothing to unlink" in await chat.fails("bobby", "!unlink")
    assert "!unlink takes nothing" in await chat.fails("bob", "!unlink bobby")
    # A later vote has both on its roll again.
    await chat.ok("alice", "!propose Plant a tree")
    assert (await chat.send("bobby", "!vote 2 no")).ok


# ---------------------------------------------------------------------- erasure


async def test_an_admin_erases_a_member_and_the_log_still_verifies(
    chat: Chat, db_url: str, tmp_path: Path
) -> None:
    await chat.ok("alice", "!propose Buy a bench vote=1d")
    await chat.ok("bob", "!vote 1 yes")
    await chat.ok("carol", "!vote 1 no")
    await chat.advance(days=1)  # closed: 1 yes, 1 no
    await chat.ok("bob", "!propose Paint the bench")
    await chat.ok("bob", "!vote 2 yes")
    await chat.ok("alice", "!propose Elect a keeper options=Bob | Cy secret")
    await chat.ok("bob", "!vote 3 Cy")
    await chat.ok("bob", "!story We found the bench in a skip tags=bench")
    await chat.private("bob", "!story I was afraid of the vote share=anonymous")
    await chat.ok("carol", "!story Carol's own story")
    await link_from(chat, AccountRef("other", "bob-elsewhere"), await code_of(chat, "bob"))
    bob = await member(chat, chat.account("bob"))
    assert bob is not None
    results_before = await chat.say("alice", "!results 1")

    assert "Only an admin" in await chat.fails("carol", "!erase bob")
    said = await chat.ok("alice", "!erase bob")
    assert said == (
        f"Member {bob.id} is erased: their name and 2 accounts are deleted, 2 ballots on "
        f"open votes withdrawn and 2 stories deleted. The decision log and closed votes "
        f"keep only the id, as “erased member {bob.id}”."
    )
    # Their secret ballot's receipt code went with it: one code per counted ballot.
    assert await rows(chat, select(t.receipts.c.code)) == []
    # Names and accounts are gone.
    assert await member(chat, chat.account("bob")) is None
    assert await member(chat, AccountRef("other", "bob-elsewhere")) is None
    names = [r.display_name for r in await rows(chat, select(t.members.c.display_name))]
    assert "bob" not in names and f"erased member {bob.id}" in names
    accounts = [r.account_id for r in await rows(chat, select(t.accounts.c.account_id))]
    assert "bob" not in accounts and "bob-elsewhere" not in accounts
    payloads = [r.payload for r in await rows(chat, select(t.outbox.c.payload))]
    assert not any(p.get("author") == "bob" or p.get("by") == "bob" for p in payloads)
    # Open ballots are withdrawn; the closed tally is unchanged.
    assert await ballots_of(chat, 2) == [] and await ballots_of(chat, 3) == []
    assert await chat.say("alice", "!results 1") == results_before
    assert len(await ballots_of(chat, 1)) == 2
    # Stories: his own and his anonymous one are deleted, carol's stays.
    texts = [r.text for r in await rows(chat, select(t.stories.c.text))]
    assert texts == ["Carol's own story"]
    # Off future rolls.
    await chat.ok("alice", "!propose Paint the gate")
    roll, _ = await roll_of(chat, 4)
    assert bob.id not in roll and len(roll) == 2
    # The decision log keeps the id alone, and verifies.
    async with chat.app.uow() as uow:
        entries = await uow.log.entries(DEMO)
    assert verify_chain(entries) is None
    [erased] = [e for e in entries if e.kind == "member erased"]
    assert erased.data == {"member": bob.id}
    assert "bob" not in repr([e.data for e in entries])
    env = {"FOLKMOOT_DATABASE_URL": db_url, "FOLKMOOT_DATA_DIR": str(tmp_path)}
    code, out, _ = await folkmoot("verify-log", "demo", env=env, cwd=tmp_path)
    assert (code, out) == (0, f"demo: {len(entries)} entries, chain intact\n")


async def test_erasing_the_last_admin_is_refused(chat: Chat) -> None:
    text = await chat.fails("alice", "!erase alice")
    assert text.startswith("alice is the last admin and cannot be erased")
    await chat.ok("alice", "!role bob admin")
    assert (await chat.send("bob", "!erase alice")).ok
    assert await member(chat, chat.account("alice")) is None
    assert "No member called" in await chat.fails("bob", "!erase alice")
    assert "Name the member" in await chat.fails("bob", "!erase")


async def test_erasing_a_member_erases_the_accounts_merged_into_them(chat: Chat) -> None:
    await chat.join("bobby")
    await link_from(chat, chat.account("bobby"), await code_of(chat, "bob"))
    assert (await chat.send("alice", "!erase bob")).ok
    names = [r.display_name for r in await rows(chat, select(t.members.c.display_name))]
    assert "bobby" not in names and "bob" not in names
    assert await count(chat, t.link_codes) == 0
