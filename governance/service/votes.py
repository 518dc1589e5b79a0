"""Votes, grouped: one writer takes every vote waiting, applies them in one transaction
with batched statements, and acknowledges each only after that commit.

A per-vote transaction costs about a millisecond in SQLAlchemy; grouping is what lets a
big community vote in a burst (docs/benchmarks.md). A member's mistake in one vote
never spoils the others in its group: each is checked in memory before anything is
written, and only valid votes are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from governance.domain.ballot import Choice
from governance.domain.commands import CastVote, Unvote
from governance.domain.errors import GovernanceError, InvalidBallot, NotAllowed
from governance.domain.events import BallotReceived, Event, VoteCast, VoteWithdrawn
from governance.domain.ids import AccountRef, CommunityId, MemberId, ProposalId, ProposalNumber
from governance.domain.members import Member
from governance.domain.proposal import Proposal
from governance.domain.receipts import new_code, receipt_holder
from governance.domain.receipts import shown as shown_code
from governance.domain.secrecy import open_voter_key, secret_voter_key
from governance.service import federation, lookups
from governance.service.deps import Deps
from governance.service.ports import (
    BallotKey,
    BallotWrite,
    ConflictError,
    PlatformEvent,
    ReceiptKey,
    ReceiptWrite,
    UnitOfWork,
    UnitOfWorkFactory,
)
from governance.text.ballots import parse_ballot
from governance.text.messages import Audience, Reply, sentence
from governance.text.usage import usage

log = logging.getLogger(__name__)

VoteCommand = CastVote | Unvote
MAX_GROUP = 500
RETRIES = 3


@dataclass(slots=True)
class _Group:
    """What one transaction knows about the voters and proposals of a group."""

    members: dict[tuple[CommunityId, AccountRef], Member] = field(default_factory=dict)
    proposals: dict[tuple[CommunityId, ProposalNumber], Proposal] = field(default_factory=dict)
    keys: dict[int, bytes] = field(default_factory=dict)
    on_roll: dict[tuple[ProposalId, MemberId], str | None] = field(default_factory=dict)
    """(proposal, member) pairs on the roll, with the member's class there."""
    current: dict[BallotKey, Choice] = field(default_factory=dict)
    receipts: dict[ReceiptKey, str] = field(default_factory=dict)
    """Secret votes: the receipt code each voter of the group holds, by holder tag."""
    random_bytes: Callable[[int], bytes] = os.urandom
    hints: dict[tuple[CommunityId, ProposalNumber], str] = field(default_factory=dict)
    """Where to vote instead: a federation proposal's parts, or the part here of a
    federation proposal with that number (`federation.vote_hint`)."""


async def _load(uow: UnitOfWork, commands: Sequence[VoteCommand]) -> _Group:
    group = _Group()
    by_community: dict[CommunityId, tuple[set[AccountRef], set[ProposalNumber]]] = {}
    for cmd in commands:
        accounts, numbers = by_community.setdefault(lookups.community_id(cmd), (set(), set()))
        accounts.add(cmd.ctx.actor)
        numbers.add(cmd.number)
    for community, (accounts, numbers) in by_community.items():
        found = await uow.members.by_accounts(community, sorted(accounts, key=str))
        group.members.update({(community, a): m for a, m in found.items()})
        proposals = await uow.proposals.get_many(community, sorted(numbers))
        group.proposals.update({(community, n): p for n, p in proposals.items()})
    secret = [p.id for p in group.proposals.values() if p.policy.secret]
    group.keys = {int(p): k for p, k in (await uow.ballots.keys(secret)).items()} if secret else {}
    pairs = {
        (group.proposals[(c, cmd.number)].id, group.members[(c, cmd.ctx.actor)].id)
        for cmd in commands
        if (c := lookups.community_id(cmd), cmd.number) in group.proposals
        and (c, cmd.ctx.actor) in group.members
    }
    group.on_roll = await uow.ballots.on_roll(sorted(pairs))
    group.current = await uow.ballots.current(
        [(p, _voter_key(group, p, MemberId(m))) for p, m in sorted(pairs)]
    )
    holders = [
        (p, receipt_holder(group.keys[p], MemberId(m))) for p, m in sorted(pairs) if p in group.keys
    ]
    group.receipts = await uow.receipts.held(holders) if holders else {}
    return group


def _voter_key(group: _Group, proposal_id: int, member: MemberId) -> str:
    key = group.keys.get(proposal_id)
    if key is None:
        return open_voter_key(member)
    return secret_voter_key(key, member)


@dataclass(slots=True)
class _Applied:
    reply: Reply
    write: BallotWrite | None = None
    event: Event | None = None
    receipt: ReceiptWrite | None = None


def _receipt_note(proposal: Proposal, code: str) -> str:
    return (
        f"Your receipt code: {shown_code(code)}. When voting closes, !results "
        f"{proposal.number} lists the receipt code of every counted ballot: find yours "
        "there. It shows that your ballot was counted, never how you voted; keep it to "
        "yourself."
    )


def _apply(group: _Group, cmd: VoteCommand) -> _Applied:
    """Check one vote against what the group knows; raises `GovernanceError`."""
    community = lookups.community_id(cmd)
    hint = group.hints.get((community, cmd.number))
    if hint is not None:
        raise GovernanceError(hint)
    proposal = group.proposals.get((community, cmd.number))
    if proposal is None:
        raise lookups.missing(cmd.number)
    member = group.members.get((community, cmd.ctx.actor))
    if member is None:
        raise NotAllowed(
            f"You are not a member of {community} yet, so you are not on the "
            f"voter roll of #{cmd.number}."
        )
    secret = proposal.policy.secret
    if secret and proposal.id not in group.keys:
        raise GovernanceError(f"Voting on #{cmd.number} has closed.")
    key = (proposal.id, _voter_key(group, proposal.id, member.id))
    previous = group.current.get(key)
    ref = f"#{proposal.number}"
    if isinstance(cmd, Unvote):
        proposal.check_unvote(cmd.ctx.sent_at)
        if previous is None:
            raise GovernanceError(f"You have no ballot on {ref}.")
        del group.current[key]
        write = BallotWrite(
            proposal.id, key[1], None if secret else member.id, None, cmd.ctx.sent_at, True
        )
        receipt = None
        text = f"Your ballot on {ref} is withdrawn."
        if secret:
            tag = receipt_holder(group.keys[proposal.id], member.id)
            group.receipts.pop((proposal.id, tag), None)
            receipt = ReceiptWrite(proposal.id, tag, None)
            text += " Its receipt code is void."
        event: Event = (
            BallotReceived(community, proposal.number)
            if secret
            else VoteWithdrawn(community, proposal.number, member.id)
        )
        return _Applied(Reply.text(text, Audience.QUIET), write, event, receipt)
    try:
        choice = (
            cmd.ballot
            if isinstance(cmd.ballot, Choice)
            else parse_ballot(cmd.ballot, proposal.method, proposal.options, proposal.policy)
        )
        choice = proposal.check_ballot(
            choice=choice,
            on_roll=(proposal.id, member.id) in group.on_roll,
            previous=previous,
            sent_at=cmd.ctx.sent_at,
        )
    except InvalidBallot as error:
        raise InvalidBallot(error.message, usage=usage("vote")) from None
    shown = proposal.describe(choice)
    holder: ReceiptKey | None = None
    if secret:
        holder = (proposal.id, receipt_holder(group.keys[proposal.id], member.id))
    if previous == choice:
        if holder is None:
            text = f"Your vote on {ref} is already {shown}; nothing changed."
            return _Applied(Reply.text(text, Audience.QUIET))
        text = f"Your secret ballot on {ref} is already recorded; nothing changed."
        code = group.receipts.get(holder)
        receipt = None
        if code is None:  # a ballot cast before receipts existed gets one now
            code = group.receipts[holder] = new_code(group.random_bytes)
            receipt = ReceiptWrite(proposal.id, holder[1], code)
        return _Applied(
            Reply.text(f"{text} {_receipt_note(proposal, code)}", Audience.QUIET, must_read=True),
            receipt=receipt,
        )
    group.current[key] = choice
    write = BallotWrite(
        proposal.id,
        key[1],
        None if secret else member.id,
        choice,
        None if secret else cmd.ctx.sent_at,
        previous is not None,
        group.on_roll.get((proposal.id, member.id)),
    )
    if holder is not None:
        # A new code for each ballot: a changed ballot's old code is void, so the
        # published list holds exactly one code per counted ballot.
        code = group.receipts[holder] = new_code(group.random_bytes)
        done = "changed" if previous is not None else "recorded"
        text = (
            f"Your secret ballot on {ref} is {done}. Only the count will be shown. "
            + _receipt_note(proposal, code)
        )
        return _Applied(
            Reply.text(text, Audience.QUIET, must_read=True),
            write,
            BallotReceived(community, proposal.number),
            ReceiptWrite(proposal.id, holder[1], code),
        )
    if previous is None:
        text = sentence(f"Your vote on {ref} is recorded: {shown}")
    else:
        text = f"Your vote on {ref} is changed to {shown} (was {proposal.describe(previous)})."
    return _Applied(
        Reply.text(text, Audience.QUIET),
        write,
        VoteCast(community, proposal.number, member.id, choice.to_json(), previous is not None),
    )


async def apply_group(
    uow: UnitOfWork,
    deps: Deps,
    commands: Sequence[VoteCommand],
    events: Sequence[PlatformEvent | None] = (),
) -> list[Reply | Exception | None]:
    """Apply a group of votes in one transaction; one answer per command, in order.

    `events[i]`, when given, is the platform event that carried `commands[i]`: its mark
    as handled is written in this transaction, refused or not, so a crash loses the
    ballot and the mark together, and a replay after it is counted. A command whose
    event was handled before (a replay, another instance) is skipped: answer None."""
    skipped = await _handled_before(uow, events)
    left = [cmd for i, cmd in enumerate(commands) if i not in skipped]
    answers: list[Reply | Exception | None] = list(await _apply_all(uow, deps, left))
    if uow.handled.unsaved:  # refusals only: their marks still go
        await deps.commit(uow, events=False)
    for i in sorted(skipped):
        answers.insert(i, None)
    return answers


async def _handled_before(uow: UnitOfWork, events: Sequence[PlatformEvent | None]) -> set[int]:
    """Mark `events`; the positions of those handled before (or twice in `events`)."""
    given = [e for e in events if e is not None]
    if not given:
        return set()
    new = await uow.handled.mark(given)
    skipped: set[int] = set()
    for i, event in enumerate(events):
        if event is None:
            continue
        if event in new:
            new.discard(event)  # the first of the same event twice in one group counts
        else:
            skipped.add(i)
    return skipped


async def _apply_all(
    uow: UnitOfWork, deps: Deps, commands: Sequence[VoteCommand]
) -> list[Reply | Exception]:
    """Check and write `commands`; committed if anything was written."""
    if not commands:
        return []
    group = await _load(uow, commands)
    group.random_bytes = deps.random_bytes
    if deps.federations:
        for key in {(lookups.community_id(cmd), cmd.number) for cmd in commands}:
            found = key in group.proposals
            hint = await federation.vote_hint(uow, deps, *key, found=found)
            if hint is not None:
                group.hints[key] = hint
    answers: list[Reply | Exception] = []
    writes: list[BallotWrite] = []
    receipts: list[ReceiptWrite] = []
    events: list[Event] = []
    for cmd in commands:
        try:
            applied = _apply(group, cmd)
        except GovernanceError as error:
            answers.append(error)
            continue
        answers.append(applied.reply)
        if applied.write is not None:
            writes.append(applied.write)
        if applied.event is not None:
            events.append(applied.event)
        if applied.receipt is not None:
            receipts.append(applied.receipt)
    if receipts:
        await uow.receipts.write(receipts)
    if writes:
        open_writes = [w for w in writes if w.member is not None]
        secret_writes = [w for w in writes if w.member is None]
        if open_writes:
            await uow.ballots.write(open_writes, history=True)
        if secret_writes:
            await uow.ballots.write(secret_writes, history=False)
        await uow.outbox.add(events, at=deps.clock.now())
    if writes or receipts:
        await deps.commit(uow)
    return answers


_Waiting = tuple[VoteCommand, PlatformEvent | None, "asyncio.Future[Reply | None]"]


class VoteWriter:
    """The single writer: callers `submit` and wait; it drains the queue in groups."""

    def __init__(self, uow: UnitOfWorkFactory, deps: Deps, *, max_group: int = MAX_GROUP) -> None:
        self._uow = uow
        self._deps = deps
        self._max = max_group
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.groups = 0

    async def submit(self, cmd: VoteCommand, *, event: PlatformEvent | None = None) -> Reply | None:
        """The vote's answer once its group committed; None if `event` (the platform
        event that carried it) was handled before: then nothing is done or said."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="vote-writer")
        future: asyncio.Future[Reply | None] = asyncio.get_running_loop().create_future()
        await self._queue.put((cmd, event, future))
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[_Waiting]) -> None:
        commands = [cmd for cmd, _, _ in batch]
        events = [event for _, event, _ in batch]
        self.groups += 1
        answers: Sequence[Reply | Exception | None]
        for attempt in range(1, RETRIES + 1):
            try:
                async with self._uow() as uow:
                    answers = await apply_group(uow, self._deps, commands, events)
                break
            except ConflictError as conflict:
                log.info("vote group of %d lost a race (try %d)", len(batch), attempt)
                answers = [conflict] * len(batch)
            except asyncio.CancelledError:
                for _, _, future in batch:
                    future.cancel()
                raise
            except Exception as error:  # a bug or a lost database: every caller hears of it
                answers = [error] * len(batch)
                break
        for (_, _, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
