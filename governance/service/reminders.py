"""Reminders: private ones to the roll members who have not voted, at the community's
offsets before a vote closes (and on a moderator's `!remind`), and one in the rooms
before a deliberation ends.

Each offset is one due row, so it runs once however many instances there are. Who
is reminded is decided when the reminder is routed for delivery, not when it falls
due: a member who voted in between is not reminded, and a reminder for a vote that
closed in between goes to no one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from governance.domain.events import DeliberationEnding, ReminderDue
from governance.domain.ids import MemberId
from governance.domain.lifecycle import Status
from governance.domain.members import Community
from governance.domain.proposal import Proposal
from governance.domain.secrecy import open_voter_key, secret_voter_key
from governance.domain.timing import to_timedelta
from governance.service.ports import BallotKey, Channel, UnitOfWork
from governance.text.grammar import parse_length

REMIND = "remind"
REMIND_DELIBERATION = "remind deliberation"


def offsets(community: Community) -> list[tuple[str, timedelta]]:
    """The community's reminder offsets, longest first (``[("24h", 1 day), ("1h", …)]``)."""
    found = {
        text: to_timedelta(parse_length("config", "reminders", text))
        for text in community.reminders
    }
    return sorted(found.items(), key=lambda item: item[1], reverse=True)


async def schedule(
    uow: UnitOfWork,
    kind: str,
    proposal: Proposal,
    community: Community,
    *,
    start: datetime,
    end: datetime,
    skip: Collection[str] = (),
) -> None:
    """A due row per offset whose moment falls after `start` (an offset longer than the
    whole period would remind at once, which says nothing the announcement did not)."""
    for text, offset in offsets(community):
        if end - offset > start and text not in skip:
            await uow.due.add(kind, proposal.id, end - offset, detail=text)


async def reschedule_votes(
    uow: UnitOfWork, proposal: Proposal, community: Community, *, now: datetime
) -> None:
    """After an extension: offsets not yet reminded move with the new end; the ones
    already sent are not sent again."""
    assert proposal.closes_at is not None
    await uow.due.drop(proposal.id, REMIND)
    sent = await uow.due.done_details(proposal.id, REMIND)
    await schedule(uow, REMIND, proposal, community, start=now, end=proposal.closes_at, skip=sent)


def reminder_event(proposal: Proposal, community: Community, offset: str | None) -> ReminderDue:
    assert proposal.closes_at is not None
    return ReminderDue(
        proposal.community,
        proposal.number,
        proposal.title,
        proposal.closes_at,
        community.timezone,
        proposal.ballot_hint,
        offset,
    )


def deliberation_event(proposal: Proposal, community: Community) -> DeliberationEnding:
    assert proposal.opens_at is not None
    return DeliberationEnding(
        proposal.community, proposal.number, proposal.title, proposal.opens_at, community.timezone
    )


async def non_voters(uow: UnitOfWork, proposal: Proposal) -> list[MemberId]:
    """Members of the frozen roll without a ballot. For a secret vote, each member's tag
    is recomputed with the proposal's key (gone once it closes: then no one)."""
    roll = await uow.ballots.roll(proposal.id)
    if proposal.policy.secret:
        key = (await uow.ballots.keys([proposal.id])).get(proposal.id)
        if key is None:
            return []
        keys: dict[MemberId, BallotKey] = {m: (proposal.id, secret_voter_key(key, m)) for m in roll}
    else:
        keys = {m: (proposal.id, open_voter_key(m)) for m in roll}
    voted = await uow.ballots.current(list(keys.values()))
    return [m for m in roll if keys[m] not in voted]


async def recipients(uow: UnitOfWork, event: ReminderDue, *, now: datetime) -> list[Channel]:
    """Where a reminder goes now: each non-voter's first linked account, privately."""
    proposal = await uow.proposals.get(event.community, event.number)
    if (
        proposal is None
        or proposal.status is not Status.VOTING
        or proposal.closes_at is None
        or proposal.closes_at <= now
    ):
        return []
    members = await non_voters(uow, proposal)
    accounts = await uow.members.accounts(members)
    return [Channel.of_account(accounts[m][0]) for m in members if accounts.get(m)]
