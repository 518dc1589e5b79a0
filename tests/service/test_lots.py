"""A lot no one can know in advance: `ties=lot` publishes only the SHA-256 of its seed
while voting is open (cards, !status, the decision log), keeps the seed out of every
answer and export until close, then reveals it with the result, where anyone can check
it against the commitment and redraw the order. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import re

from sqlalchemy import select, update

from governance.domain.ids import ProposalNumber
from governance.store import tables as t
from tests.chat import Chat
from tests.service.test_records import export, verify_exported_chain

COMMITMENT_RE = re.compile(r"SHA-256 is ([0-9a-f]{64})")


def redrawn(seed: str, labels: list[str]) -> list[str]:
    """The README's rule, written out: SHA-256 of ``seed NUL label``, smallest first."""
    return sorted(labels, key=lambda label: hashlib.sha256(f"{seed}\0{label}".encode()).digest())


async def _stored_seed(chat: Chat) -> str:
    async with chat.app.uow() as uow:
        p = await uow.proposals.get(chat.community, ProposalNumber(1))
    assert p is not None and p.policy.lot_seed is not None
    return p.policy.lot_seed


async def _member_facing(chat: Chat) -> dict[str, str]:
    """Everything a member can read about #1 while its vote is open, by where."""
    seen = {f"said in the room #{i}": text for i, text in enumerate(chat.announced())}
    for command in ("!status 1", "!results 1", "!status", "!proposals"):
        seen[command] = await chat.ok("bob", command)
    for fmt in ("json", "md", "csv"):
        seen[f"export {fmt}"] = (await export(chat, "bob", f"!export decisions {fmt}")).decode()
    return seen


async def test_the_lot_is_committed_at_opening_hidden_while_voting_and_revealed_at_close(
    chat: Chat,
) -> None:
    await chat.ok(
        "alice", "!propose Paint the hall method=choice options=Red | Blue | Green ties=lot"
    )
    await chat.ok("alice", "!vote 1 Red")
    await chat.ok("bob", "!vote 1 Blue")
    seed = await _stored_seed(chat)

    during = await _member_facing(chat)
    assert [where for where, text in during.items() if seed in text] == []
    assert len(seed) == 32  # 16 random bytes: too many to find from the hash by trying
    # The commitment is published from the start: in the card, !status and the log.
    card = during["said in the room #0"]
    assert card.startswith("#1 Paint the hall — voting open")
    published = COMMITMENT_RE.findall(card)
    assert published == COMMITMENT_RE.findall(during["!status 1"])
    (commitment,) = published
    entries = json.loads(during["export json"])["log"]["entries"]
    proposed = next(e for e in entries if e["kind"] == "proposed")
    assert proposed["data"]["policy"]["lot_commitment"] == commitment
    assert "lot_seed" not in proposed["data"]["policy"]
    # The provisional tally does not draw the lot: its order would give the seed away.
    provisional = during["!results 1"]
    assert "A lot settles this tie when voting closes (ties=lot)." in provisional
    assert "Tie settled by lot" not in provisional

    await chat.advance(days=7)
    result = chat.announced()[-1]
    revealed = re.search(r"Lot seed \(secret until close\): ([0-9a-f]+);", result)
    assert revealed is not None, result
    assert revealed.group(1) == seed
    assert hashlib.sha256(seed.encode()).hexdigest() == commitment
    # Recomputing the lot from the revealed seed gives the announced order and winner.
    order = redrawn(seed, ["Red", "Blue", "Green"])
    assert f"The lot orders the options {' > '.join(order)}." in result
    tied_order = redrawn(seed, ["Red", "Blue"])
    assert f"Tie settled by lot: seed {seed} orders them {' > '.join(tied_order)}." in result
    assert result.splitlines()[1] == f"Winner: {tied_order[0]}"

    # The close's log entry reveals it too, and the chain verifies.
    data = json.loads(await export(chat, "bob", "!export decisions json"))
    entries = data["log"]["entries"]
    closed = next(e for e in entries if e["kind"] == "closed")
    assert closed["data"]["lot_seed"] == seed
    verify_exported_chain(entries)
    assert data["proposals"][0]["policy"]["lot_seed"] == seed
    assert seed in await chat.ok("bob", "!results 1")


async def test_a_lot_that_settles_nothing_still_reveals_its_seed_at_close(chat: Chat) -> None:
    await chat.ok("alice", "!propose Buy a van method=choice options=Red | Blue ties=lot")
    for name in ("alice", "bob"):
        await chat.ok(name, "!vote 1 Red")
    seed = await _stored_seed(chat)
    assert [where for where, text in (await _member_facing(chat)).items() if seed in text] == []
    await chat.advance(days=7)
    result = chat.announced()[-1]
    assert result.splitlines()[1] == "Winner: Red"
    assert f"Lot seed (secret until close): {seed};" in result


async def test_a_vote_on_the_proposal_itself_shows_no_lot(chat: Chat) -> None:
    """ties=lot orders options; a majority vote has none, and its threshold is never
    settled by lot: no commitment on its card, no seed at close."""
    await chat.ok("alice", "!propose Raise dues ties=lot vote=1d")
    await chat.ok("alice", "!vote 1 yes")
    await chat.ok("bob", "!vote 1 no")
    assert "by lot" not in (await chat.ok("bob", "!status 1"))
    await chat.advance(days=1)
    closed = "\n".join(chat.announced())
    assert "Rejected" in closed
    assert "Lot seed" not in closed and "by lot" not in closed


async def test_a_seed_changed_after_its_commitment_is_said_at_close_not_a_crash(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!propose Pick a colour method=choice options=Red | Blue ties=lot")
    await chat.ok("alice", "!vote 1 Red")
    await chat.ok("bob", "!vote 1 Blue")
    async with chat.app.engine.begin() as conn:  # someone with the database's keys
        stored = await conn.scalar(select(t.proposals.c.policy))
        forged = {**(json.loads(stored) if isinstance(stored, str) else stored)}
        forged["lot_seed"] = "00" * 16
        await conn.execute(update(t.proposals).values(policy=forged))
    assert "#1 Pick a colour" in await chat.ok("bob", "!status 1")
    await chat.advance(days=7)
    result = chat.announced()[-1]
    assert "is NOT the commitment published when the vote was proposed" in result
    assert "this lot cannot be trusted" in result
