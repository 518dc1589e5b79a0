"""Records a community can keep and check: a secret vote's seal at its end (the key
destroyed, ballots and receipts left with no trace of their voters), the decision log
as an export with its hash chain, and a closed vote's anonymised ballots for recounting.

Nothing here can say who chose what in a secret vote: after the seal the database has
no link left, and the exports are built from what is left.
"""

from __future__ import annotations

from governance.domain.commands import Command, ExportBallots, ExportDecisions
from governance.domain.decision_log import verify_chain
from governance.domain.errors import GovernanceError
from governance.domain.lifecycle import Status
from governance.domain.methods import ClassBallots
from governance.domain.proposal import Proposal
from governance.domain.receipts import shown as shown_code
from governance.service import confidentiality, lookups
from governance.service.deps import Deps
from governance.service.ports import UnitOfWork
from governance.text import decision_export
from governance.text.messages import Message, Reply


async def seal_secret(uow: UnitOfWork, proposal: Proposal) -> list[str]:
    """When a secret vote ends (closed, cancelled or withdrawn): destroy its key, then
    rewrite its ballots and receipts without tags and out of arrival order. Returns the
    receipt codes, sorted: the list published with the count."""
    await uow.ballots.destroy_key(proposal.id)
    await uow.ballots.seal_secret(proposal.id)
    return await uow.receipts.seal(proposal.id)


RECEIPTS_SHOWN = 200
"""How many receipt codes ``!results`` lists in chat; beyond, the ballots export has them."""


async def receipt_blocks(uow: UnitOfWork, proposal: Proposal) -> tuple[str, ...]:
    """A closed secret vote's receipt codes, as `!results` lists them."""
    codes = await uow.receipts.codes(proposal.id)
    if not codes:
        return ()
    head = (
        f"Receipt codes ({len(codes)}, one per counted ballot, in alphabetical order; "
        "each proves a ballot was counted, not what it said):"
    )
    if len(codes) > RECEIPTS_SHOWN:
        return (f"{head} too many to list here; !export ballots {proposal.number} lists them all.",)
    return (head, " ".join(shown_code(c) for c in codes))


async def export_decisions(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ExportDecisions)
    await lookups.actor(uow, cmd)
    community = await lookups.community(uow, cmd)
    proposals = sorted(
        await uow.proposals.recent(community.id, limit=decision_export.MAX_PROPOSALS),
        key=lambda p: p.number,
    )
    if any(p.encrypted_origin for p in proposals) and not (
        await confidentiality.said_where_encrypted(uow, cmd.ctx)
    ):
        # The log's entries name every proposal, and leaving some out would break the
        # chain a reader verifies: the record is exported whole, where it may be read.
        raise GovernanceError(
            f"{community.id}'s decision record holds proposals made in an encrypted room, "
            "so it is exported in encrypted rooms only; ask there."
        )
    outcomes = {p.number: await uow.proposals.outcome(p.id) for p in proposals}
    entries = await uow.log.entries(community.id)
    record = decision_export.Record(community.id, deps.clock.now(), proposals, outcomes, entries)
    attachment = record.attachment(cmd.format)
    problem = verify_chain(entries)
    chain = (
        "its hash chain verifies"
        if problem is None
        else f"its hash chain breaks at entry {problem.seq}: {problem.reason}"
    )
    text = (
        f"The decision record of {community.id}: {len(proposals)} proposals and "
        f"{len(entries)} log entries ({chain}), in {attachment.name}."
    )
    return Reply(Message(None, (text,), attachment=attachment))


async def export_ballots(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ExportBallots)
    await lookups.actor(uow, cmd)
    proposal = await lookups.proposal(uow, cmd, cmd.number)
    if not await confidentiality.may_show(uow, cmd.ctx, proposal):
        raise confidentiality.kept_back(proposal.number)
    ref = f"#{proposal.number}"
    if proposal.status is Status.VOTING:
        raise GovernanceError(
            f"Voting on {ref} is still open; its ballots are published once it closes."
        )
    if proposal.status is not Status.CLOSED or proposal.result is None:
        raise GovernanceError(
            f"{ref} has no ballots to publish: it {proposal.status_words}. Only the "
            "ballots of a closed vote are published."
        )
    if proposal.policy.classes:
        groups = await uow.ballots.by_class(proposal.id)
    else:
        groups = [ClassBallots(None, proposal.roll_size, await uow.ballots.choices(proposal.id))]
    receipts = await uow.receipts.codes(proposal.id) if proposal.policy.secret else None
    sheet = decision_export.BallotSheet(proposal, deps.clock.now(), groups, receipts)
    attachment = sheet.attachment(cmd.format)
    count = sum(len(g.ballots) for g in groups)
    secret = " (a secret vote: no ballot is linked to anyone)" if proposal.policy.secret else ""
    text = (
        f"The anonymised ballots of {ref} {proposal.title}: {count}{secret}, in {attachment.name}."
    )
    return Reply(Message(None, (text,), attachment=attachment))
