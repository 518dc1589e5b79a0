"""Questions: status, proposal lists, results and help. They read, never write."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from governance.domain.commands import (
    Command,
    Help,
    ListProposals,
    ShowResults,
    ShowStatus,
    ShowUndelivered,
)
from governance.domain.deliberation import Version
from governance.domain.errors import GovernanceError
from governance.domain.ids import CommunityId, MemberId, ProposalNumber
from governance.domain.lifecycle import Status
from governance.domain.members import Role
from governance.domain.methods import plural
from governance.domain.policy import Visibility
from governance.domain.proposal import Proposal
from governance.domain.secrecy import open_voter_key, secret_voter_key
from governance.domain.timing import format_local
from governance.service import confidentiality, federation, lookups, records
from governance.service.deps import Deps
from governance.service.lifecycle_ops import tally
from governance.service.ports import UnitOfWork
from governance.text.messages import Audience, BallotForm, Block, Message, Reply
from governance.text.render import (
    ballot_form,
    deliberation_hint,
    policy_line,
    render_event,
    result_blocks,
    stories_line,
    vote_line,
)
from governance.text.usage import USAGE, usage

LIST_LIMIT = 20


async def _proposal(uow: UnitOfWork, cmd: Command, number: ProposalNumber) -> Proposal:
    """The proposal asked about, unless it began in an encrypted room and the question
    was asked in an unencrypted one (see `confidentiality`)."""
    p = await lookups.proposal(uow, cmd, number)
    if not await confidentiality.may_show(uow, cmd.ctx, p):
        raise confidentiality.kept_back(p.number)
    return p


async def _shown(uow: UnitOfWork, cmd: Command, community: CommunityId) -> list[Proposal]:
    """The newest proposals, less those that may not be shown where it was asked."""
    found = await uow.proposals.recent(community, limit=LIST_LIMIT)
    if await confidentiality.said_where_encrypted(uow, cmd.ctx):
        return found
    return [p for p in found if not p.encrypted_origin]


def _state(p: Proposal, zone: ZoneInfo) -> str:
    if p.status is Status.VOTING and p.closes_at is not None:
        return f"voting until {format_local(p.closes_at, zone)}"
    if p.status is Status.DELIBERATION and p.opens_at is not None:
        return f"in deliberation until {format_local(p.opens_at, zone)}"
    if p.status is Status.CLOSED and p.result is not None:
        return f"closed: {p.result.summary}"
    return p.status.value


async def _my_ballot(uow: UnitOfWork, cmd: Command, p: Proposal) -> str | None:
    member = await uow.members.by_account(p.community, cmd.ctx.actor)
    if member is None or p.status is not Status.VOTING:
        return None
    if p.policy.secret:
        key = (await uow.ballots.keys([p.id])).get(p.id)
        if key is None:
            return None
        voted = await uow.ballots.current([(p.id, secret_voter_key(key, member.id))])
        return "you have voted (secret ballot)" if voted else "you have not voted yet"
    mine = await uow.ballots.current([(p.id, open_voter_key(member.id))])
    if not mine:
        return "you have not voted yet"
    return f"your vote: {p.describe(next(iter(mine.values())))}"


async def status(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ShowStatus)
    community = await lookups.community(uow, cmd)
    zone = ZoneInfo(community.timezone)
    if cmd.number is None:
        open_ones = [
            p
            for p in await _shown(uow, cmd, community.id)
            if p.status in (Status.DELIBERATION, Status.VOTING, Status.DRAFT)
        ]
        if not open_ones:
            return Reply.text("Nothing is open right now. Start with !propose <title>.")
        return Reply(
            Message(
                "Open now:", tuple(f"#{p.number} {p.title} — {_state(p, zone)}" for p in open_ones)
            )
        )
    p = await _proposal(uow, cmd, cmd.number)
    blocks: list[Block] = []
    if p.body:
        blocks.append(p.body)
    if p.options:
        blocks.append(
            "Options: " + ", ".join(f"{chr(65 + i)} {o}" for i, o in enumerate(p.options))
        )
    opened = p.opened_at is not None
    parts = await uow.federation.parts(p.id)  # none but a federation proposal's
    roll = p.roll_size if opened else None
    blocks.append(policy_line(p.method_name, p.policy, roll, communities=len(parts)))
    if p.status is Status.VOTING:
        blocks.append(await federation.ballots_so_far(uow, p))
        if parts:
            where = ", ".join(f"{r.community} #{r.number}" for r in parts)
            blocks.append(f"Vote in your own community, on its part: {where}.")
        else:
            mine = await _my_ballot(uow, cmd, p)
            if mine:
                blocks.append(mine[0].upper() + mine[1:] + ".")
            blocks.append(vote_line(p.number, p.ballot_hint))
    outcome = await uow.proposals.outcome(p.id)
    if outcome:
        blocks.append(f"Outcome: {outcome}")
    blocks += stories_line(p.number, await uow.stories.count_for(community.id, p.number))
    blocks += await _deliberation_blocks(uow, p, zone)
    return Reply(Message(f"#{p.number} {p.title} — {_state(p, zone)}", tuple(blocks)))


BODY_SHOWN = 200
"""How much of an earlier body `!status` quotes in its list of versions."""


async def _deliberation_blocks(uow: UnitOfWork, p: Proposal, zone: ZoneInfo) -> list[Block]:
    """The current summary, every version of the text, and the deliberation threads."""
    versions = await uow.proposals.versions(p.id)
    summaries = await uow.proposals.summaries(p.id)
    threads = await uow.threads.of(p.id)
    ids = {v.edited_by for v in versions} | {s.by for s in summaries}
    names: dict[MemberId, str] = {}
    for member_id in sorted(ids):
        member = await uow.members.get(member_id)
        names[member_id] = "someone" if member is None else member.display_name
    blocks: list[Block] = []
    if summaries:
        current = summaries[-1]
        earlier = len(summaries) - 1
        kept = f"; {earlier} earlier kept" if earlier else ""
        blocks.append(
            f"Summary by {names[current.by]}, {format_local(current.at, zone)}{kept}: "
            f"{current.text}"
        )
    if len(versions) > 1:
        blocks.append(f"Versions ({len(versions)}):")
        blocks += [
            _version_line(v, prev, names, zone)
            for prev, v in zip([None, *versions], versions, strict=False)
        ]
    if p.status in (Status.DRAFT, Status.DELIBERATION):
        blocks.append(deliberation_hint(p.number, summary=p.status is Status.DELIBERATION))
    blocks += [f"Thread in {t.room}: {t.thread_id}" for t in threads]
    return blocks


def _version_line(
    v: Version, before: Version | None, names: dict[MemberId, str], zone: ZoneInfo
) -> str:
    head = f"v{v.number} {format_local(v.edited_at, zone)} by {names[v.edited_by]}"
    if before is None:
        return f"{head}: as proposed"
    parts = []
    for field in v.changed(before):
        if field == "title":
            parts.append(f"title “{v.title}”")
        elif field == "options":
            parts.append("options " + " | ".join(v.options))
        else:
            body = " ".join(v.body.split())
            if len(body) > BODY_SHOWN:
                body = f"{body[:BODY_SHOWN]}… ({len(v.body):,} characters)"
            parts.append(f"body “{body}”")
    return f"{head}: " + ("; ".join(parts) or "no change")


async def proposals(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ListProposals)
    community = await lookups.community(uow, cmd)
    zone = ZoneInfo(community.timezone)
    found = await _shown(uow, cmd, community.id)
    if not found:
        return Reply.text("No proposals yet. Start with !propose <title>.")
    return Reply(
        Message(
            f"Proposals of {community.id} (newest first):",
            tuple(f"#{p.number} {p.title} — {_state(p, zone)}" for p in found),
        )
    )


async def results(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ShowResults)
    p = await _proposal(uow, cmd, cmd.number)
    title = f"#{p.number} {p.title}"
    if p.status is Status.CLOSED and p.result is not None:
        blocks = result_blocks(p.result, p.method_name)
        if p.policy.secret:
            blocks += await records.receipt_blocks(uow, p)
        return Reply(Message(f"{title} — result", blocks))
    if p.status is not Status.VOTING:
        raise GovernanceError(f"#{p.number} has no results: it {p.status_words}.")
    if p.policy.results is Visibility.LIVE:
        federated = await federation.provisional(uow, deps, p)
        if federated is not None:
            return Reply(
                Message(
                    f"{title} — provisional, its member communities still voting",
                    result_blocks(federated, p.method_name),
                )
            )
    cast = await uow.ballots.count(p.id)
    if p.policy.results is Visibility.CLOSED:
        what = "secret votes" if p.policy.secret else f"#{p.number}"
        raise GovernanceError(
            f"The results of {what} are shown after voting closes; "
            f"{cast} of {p.roll_size} have voted so far."
        )
    if p.policy.results is Visibility.VOTED:
        mine = await _my_ballot(uow, cmd, p)
        if mine is None or mine.startswith("you have not"):
            raise GovernanceError(f"The results of #{p.number} are shown once you have voted.")
    result = await tally(uow, p)
    return Reply(
        Message(f"{title} — provisional, voting still open", result_blocks(result, p.method_name))
    )


UNDELIVERED_LIMIT = 20


async def undelivered(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    """The dead-letter list: what was given up on, where, and the last error."""
    assert isinstance(cmd, ShowUndelivered)
    community = await lookups.community(uow, cmd)
    admin = await lookups.actor(uow, cmd)
    admin.require(Role.ADMIN, "see undelivered messages")
    zone = ZoneInfo(community.timezone)
    dead = await uow.outbox.dead_letters(community.id, limit=UNDELIVERED_LIMIT)
    if not dead:
        return Reply.text("Every announcement and reminder was delivered.", Audience.PRIVATE)
    lines = []
    encrypted_here = await confidentiality.said_where_encrypted(uow, cmd.ctx)
    for letter in dead:
        shown = render_event(letter.event)
        headline = shown.title if shown is not None and shown.title else type(letter.event).__name__
        if not encrypted_here and await confidentiality.began_encrypted(uow, letter.event):
            headline = f"{type(letter.event).__name__} (began in an encrypted room)"
        where = "a private message to" if letter.channel.kind == "dm" else "room"
        error = (letter.last_error or "unknown")[:200]
        lines.append(
            f"{format_local(letter.dead_at, zone)}: {headline[:120]} → {where} "
            f"{letter.channel.platform}:{letter.channel.target} "
            f"({plural(letter.attempts, 'attempt')}; last error: {error})"
        )
    return Reply(
        Message(f"Given up on (newest first, at most {UNDELIVERED_LIMIT}):", tuple(lines)),
        # The list is the answer: it must reach the admin who asked, never as a mere
        # reaction, and it names members' accounts, so not the room either.
        Audience.PRIVATE,
    )


async def help_(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Help)
    if cmd.topic:
        if cmd.topic not in USAGE:
            raise GovernanceError(
                f"No command called “{cmd.topic[:30]}”. !help lists them.", usage=usage("help")
            )
        line, text = USAGE[cmd.topic]
        return Reply(Message(None, (line, text)))
    return Reply(Message("Commands:", tuple(f"{line} — {text}" for line, text in USAGE.values())))


@dataclass(frozen=True, slots=True)
class Pending:
    """A proposal members can still act on, for platforms' menus and autocompletion."""

    number: int
    title: str
    status: str
    form: BallotForm | None
    """How to vote, while voting is open."""


PENDING = (Status.DRAFT, Status.DELIBERATION, Status.VOTING)
PENDING_LIMIT = 100


async def pending(
    uow: UnitOfWork, community: CommunityId, *, encrypted: bool = False
) -> list[Pending]:
    """The community's drafts, deliberations and open votes, newest first; for a menu in
    an unencrypted room (not `encrypted`), without those made in an encrypted room."""
    found = await uow.proposals.recent(community, limit=PENDING_LIMIT)
    return [
        Pending(
            p.number,
            p.title,
            p.status.value,
            ballot_form(p.number, p.title, p.method_name, p.options, p.policy)
            if p.status is Status.VOTING
            else None,
        )
        for p in found
        if p.status in PENDING and (encrypted or not p.encrypted_origin)
    ]


async def card_tally(uow: UnitOfWork, community: CommunityId, number: int) -> tuple[Block, ...]:
    """What a live card shows under an open vote: how many have voted and, when its
    results are live, the provisional tally; nothing once voting is over."""
    p = await uow.proposals.get(community, ProposalNumber(number))
    if p is None or p.status is not Status.VOTING:
        return ()
    cast = await uow.ballots.count(p.id)
    counted = await federation.ballots_so_far(uow, p)
    if p.policy.results is not Visibility.LIVE or cast == 0:
        return (counted,)
    first, *rest = result_blocks(await tally(uow, p), p.method_name)
    return (f"Provisional, while voting is open: {first}", *rest)
