"""Linked accounts (``!link``, ``!unlink``) and the right to be forgotten (``!erase``).

Linking joins an account to the member who asked for the code. If that account was a
member of its own, the two members become one: the one who asked for the code keeps
its role and class (so linking never raises the role of the member who asked), the
other's accounts, open ballots, roll places and stories move over, and its row stays
behind, marked merged (closed votes still count it as it was). On an open vote where
both had a ballot, the later one counts and the member is told.

Erasing keeps a member's id, for the decision log and closed tallies, and nothing else:
names, accounts, ballots on open votes and stories go.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from governance.domain.commands import Command, Erase, Link, Unlink
from governance.domain.events import (
    AccountsLinked,
    BallotReceived,
    Event,
    VoteWithdrawn,
)
from governance.domain.ids import AccountRef, CommunityId, MemberId, ProposalId
from governance.domain.linking import (
    CODE_TTL,
    MAX_TRIES,
    TRY_WINDOW,
    USED_KEPT,
    LinkError,
    code_hash,
    erased_name,
    later,
    new_code,
    normalise_code,
)
from governance.domain.members import Member, Role, article
from governance.domain.proposal import Proposal
from governance.domain.receipts import receipt_holder
from governance.domain.secrecy import open_voter_key, secret_voter_key
from governance.domain.stories import author_tag
from governance.domain.timing import format_local
from governance.service import lookups
from governance.service.deps import Deps
from governance.service.ports import BallotWrite, Channel, ReceiptWrite, UnitOfWork
from governance.text.messages import Audience, Reply
from governance.text.usage import usage


async def link(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Link)
    if cmd.code is None:
        return await _issue(cmd, uow, deps)
    return await _claim(cmd, cmd.code, uow, deps)


async def _issue(cmd: Link, uow: UnitOfWork, deps: Deps) -> Reply:
    member = await lookups.actor(uow, cmd)
    community = member.community
    if member.is_bot:
        raise LinkError("Bot and bridge accounts cannot be linked.")
    now = deps.clock.now()
    code = new_code(deps.random_bytes(32))
    await uow.identity.add_code(
        community,
        member.id,
        code_hash(deps.author_key, community, code),
        at=now,
        expires_at=now + CODE_TTL,
        keep_after=now - USED_KEPT,
    )
    await deps.commit(uow, events=False)
    kept = _role_words(member)
    return Reply.text(
        f"Your link code for {community}: {code}\n"
        f"Send !link {code} from your other account (on any platform, in a room of "
        f"{community} or a direct message) within {int(CODE_TTL.total_seconds() // 60)} "
        "minutes; it works once. Both accounts then are one member with one vote, keeping "
        f"this account's role and class ({kept}); the other account's role is not kept. "
        "Keep the code to yourself: whoever sends it becomes you here.",
        Audience.PRIVATE,
    )


def _role_words(member: Member) -> str:
    cls = member.stakeholder_class
    return f"{article(member.role.word)}, " + (f"class {cls}" if cls else "no class")


async def _claim(cmd: Link, typed: str, uow: UnitOfWork, deps: Deps) -> Reply:
    community = await lookups.community(uow, cmd)
    account = cmd.ctx.actor
    now = deps.clock.now()
    tries = await uow.identity.tries(account, since=now - TRY_WINDOW)
    if len(tries) >= MAX_TRIES:
        again = tries[len(tries) - MAX_TRIES] + TRY_WINDOW
        raise LinkError(
            f"Too many wrong link codes from this account ({MAX_TRIES} in an hour): "
            f"I read no more until {format_local(again, ZoneInfo(community.timezone))}. "
            "Then send the code exactly as it was given, or ask for a new one with !link."
        )
    if community.is_bridge(account):
        raise LinkError("Bot and bridge accounts cannot be linked.")
    normal = normalise_code(typed)
    try:
        if normal is None:
            raise LinkError(
                "That is not a link code: a code looks like ABCDE-FGHJK. Ask for one with "
                "!link from the account you are linking to.",
                usage=usage("link"),
            )
        found = await uow.identity.code(code_hash(deps.author_key, community.id, normal))
        if found is None or found.community != community.id:
            raise LinkError(
                "That code is not one I gave in this community: check it, or ask for a new "
                "one with !link from the account you are linking to."
            )
        found.check(now)
    except LinkError:
        await uow.identity.refused(account, at=now, keep_after=now - TRY_WINDOW)
        await deps.commit(uow, events=False)
        raise
    survivor = await uow.members.get(found.member)
    if survivor is None:
        raise LinkError("The member who asked for that code is no longer here.")
    if not await uow.identity.use_code(found.id, at=now):
        raise LinkError("That code was used a moment ago; each code works once.")
    claimant = await uow.members.by_account(community.id, account)
    if claimant is not None:
        try:
            await _check_claimant(uow, claimant, survivor)
        except LinkError as refusal:
            # The code may have been seen where it was sent: it is spent all the same.
            await deps.commit(uow, events=False)
            raise LinkError(
                f"{refusal.message} That code is spent now; ask for a new one."
            ) from None
    events: list[Event] = [AccountsLinked(community.id, survivor.id, account.platform)]
    lines = [
        f"This account is now linked: one member with the other account(s), one vote. "
        f"The role and class are those of the account that asked for the code "
        f"({_role_words(survivor)})."
    ]
    if claimant is None:
        await uow.identity.attach(community.id, account, survivor.id)
    else:
        if claimant.role > survivor.role:
            lines.append(f"This account's own role ({claimant.role.word}) is not kept.")
        merged, notes = await _merge(uow, deps, community.id, claimant, survivor)
        events += merged
        lines += notes
    await uow.log.append(
        community.id,
        at=now,
        kind="accounts linked",
        proposal=None,
        actor=survivor.id,
        data={"member": survivor.id, "merged": None if claimant is None else claimant.id},
    )
    await uow.outbox.add(events, at=now)
    await deps.commit(uow)
    return Reply.text(" ".join(lines), Audience.PRIVATE)


async def _check_claimant(uow: UnitOfWork, claimant: Member, survivor: Member) -> None:
    if claimant.id == survivor.id:
        raise LinkError(
            "This account already is that member: an account cannot be linked to itself. "
            "Send the code from the other account, the one to link."
        )
    if claimant.is_bot:
        raise LinkError("Bot and bridge accounts cannot be linked.")
    theirs = (await uow.members.accounts([claimant.id])).get(claimant.id, [])
    if len(theirs) > 1:
        raise LinkError(
            "This account is linked to another member's accounts already: send !unlink "
            "from it first, then a new code."
        )
    if (
        claimant.role is Role.ADMIN
        and survivor.role is not Role.ADMIN
        and await uow.members.count(claimant.community, Role.ADMIN) <= 1
    ):
        raise LinkError(
            "This account is the last admin, and linking keeps the role of the account "
            "that asked for the code: ask for a code from this account (!link) and send "
            "it from the other one instead."
        )


@dataclass(frozen=True, slots=True)
class _Keys:
    survivor: str
    absorbed: str


def _keys(proposal: Proposal, key: bytes | None, survivor: MemberId, absorbed: MemberId) -> _Keys:
    if key is None:
        return _Keys(open_voter_key(survivor), open_voter_key(absorbed))
    return _Keys(secret_voter_key(key, survivor), secret_voter_key(key, absorbed))


async def _move_receipt(
    uow: UnitOfWork, proposal: ProposalId, key: bytes, source: MemberId, target: MemberId
) -> None:
    """A secret ballot moved from `source` to `target`: so does its receipt code (one
    code per counted ballot; the target's own, if any, is void)."""
    old = receipt_holder(key, source)
    held = await uow.receipts.held([(proposal, old)])
    code = held.get((proposal, old))
    await uow.receipts.write(
        [
            ReceiptWrite(proposal, old, None),
            ReceiptWrite(proposal, receipt_holder(key, target), code),
        ]
    )


async def _drop_receipt(
    uow: UnitOfWork, proposal: ProposalId, key: bytes, member: MemberId
) -> None:
    await uow.receipts.write([ReceiptWrite(proposal, receipt_holder(key, member), None)])


async def _merge(
    uow: UnitOfWork, deps: Deps, community: CommunityId, absorbed: Member, into: Member
) -> tuple[list[Event], list[str]]:
    """Make `absorbed` part of `into`: its accounts, open ballots, roll places and
    stories. Returns the events (live tallies) and what to tell the member."""
    events: list[Event] = []
    notes: list[str] = []
    proposals = await uow.identity.open_votes(community)
    keys = await uow.ballots.keys([p.id for p in proposals if p.policy.secret])
    for p in proposals:
        secret = p.policy.secret
        key = keys.get(p.id)
        if secret and key is None:
            continue  # closing: its ballots are sealed already
        k = _keys(p, key, into.id, absorbed.id)
        on = await uow.ballots.on_roll([(p.id, into.id), (p.id, absorbed.id)])
        if (p.id, absorbed.id) in on:
            if (p.id, into.id) in on:
                await uow.identity.drop_from_roll(p.id, absorbed.id)
                roll_class = on[(p.id, into.id)]
            else:
                await uow.identity.move_roll(p.id, absorbed.id, into.id)
                roll_class = on[(p.id, absorbed.id)]
        else:
            roll_class = on.get((p.id, into.id))
        found = await uow.identity.ballots(p.id, [k.survivor, k.absorbed])
        theirs, ours = found.get(k.absorbed), found.get(k.survivor)
        if theirs is None:
            continue
        member = None if secret else into.id
        if ours is None:
            await uow.identity.rekey(p.id, k.absorbed, k.survivor, member, roll_class)
            if key is not None:
                await _move_receipt(uow, p.id, key, absorbed.id, into.id)
            continue
        # Both accounts voted: one ballot stays, the later one (and its receipt code).
        if later((theirs.cast_at, theirs.id), (ours.cast_at, ours.id)):
            await uow.identity.drop_ballot(p.id, k.survivor)
            await uow.identity.rekey(p.id, k.absorbed, k.survivor, member, roll_class)
            if key is not None:
                await _move_receipt(uow, p.id, key, absorbed.id, into.id)
            kept = theirs
            which = "this account's"
        else:
            await uow.identity.drop_ballot(p.id, k.absorbed)
            if key is not None:
                await _drop_receipt(uow, p.id, key, absorbed.id)
            kept = ours
            which = "the other account's"
        shown = "" if secret else f": {p.describe(kept.choice)}"
        notes.append(
            f"Both accounts had voted on #{p.number}; the later ballot counts ({which}"
            f"{shown}). Vote again to change it."
        )
        events.append(
            BallotReceived(community, p.number)
            if secret
            else VoteWithdrawn(community, p.number, absorbed.id)
        )
    await uow.identity.move_history([p.id for p in proposals], absorbed.id, into.id)
    await uow.identity.move_accounts(absorbed.id, into.id)
    await uow.identity.mark_merged(absorbed.id, into.id)
    tags = (
        author_tag(deps.author_key, community, absorbed.id),
        author_tag(deps.author_key, community, into.id),
    )
    if await uow.identity.move_stories(community, absorbed.id, into.id, tags):
        notes.append("This account's stories are yours as before.")
    return events, notes


async def unlink(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Unlink)
    member = await lookups.actor(uow, cmd)
    accounts = (await uow.members.accounts([member.id])).get(member.id, [])
    if len(accounts) < 2:
        raise LinkError("This account is not linked to another; there is nothing to unlink.")
    now = deps.clock.now()
    account = cmd.ctx.actor
    name = f"{member.display_name} ({account.platform})"[:80]
    new = await uow.identity.split(member.community, account, name, at=now)
    await uow.log.append(
        member.community,
        at=now,
        kind="account unlinked",
        proposal=None,
        actor=member.id,
        data={"member": member.id, "new member": new.id},
    )
    await deps.commit(uow, events=False)
    return Reply.text(
        f"This account is a member of its own again (“{name}”): a member, with no class "
        "and no ballots. Your ballots, role, class and stories stay with your other "
        "account; this one is not on the rolls of votes open now, so it votes from the "
        "next vote on. To link it again: !link.",
        Audience.PRIVATE,
    )


async def erase(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Erase)
    admin = await lookups.actor(uow, cmd)
    admin.require(Role.ADMIN, "erase members")
    target = await lookups.member_named(uow, cmd, cmd.member)
    community = target.community
    if target.role is Role.ADMIN and await uow.members.count(community, Role.ADMIN) <= 1:
        raise LinkError(
            f"{target.display_name} is the last admin and cannot be erased; make someone "
            "else admin first (!role <member> admin)."
        )
    now = deps.clock.now()
    events: list[Event] = []
    proposals = await uow.identity.open_votes(community)
    keys = await uow.ballots.keys([p.id for p in proposals if p.policy.secret])
    withdrawn = 0
    for p in proposals:
        key = keys.get(p.id)
        if p.policy.secret and key is None:
            continue
        voter_key = open_voter_key(target.id) if key is None else secret_voter_key(key, target.id)
        if not await uow.identity.ballots(p.id, [voter_key]):
            continue
        withdrawn += 1
        write = BallotWrite(
            p.id, voter_key, None if key else target.id, None, None if key else now, True
        )
        await uow.ballots.write([write], history=key is None)
        if key is not None:
            await _drop_receipt(uow, p.id, key, target.id)
        events.append(
            BallotReceived(community, p.number)
            if key
            else VoteWithdrawn(community, p.number, target.id)
        )
    stories = await uow.identity.stories_by(
        community, target.id, author_tag(deps.author_key, community, target.id)
    )
    for story in stories:
        await uow.stories.withdraw(story)
    gone = await uow.identity.erase(target.id, erased_name(target.id), at=now)
    await uow.identity.scrub_name(community, target.display_name, erased_name(target.id))
    for earlier in await uow.identity.absorbed(target.id):
        await uow.identity.erase(earlier.id, erased_name(earlier.id), at=now)
        await uow.identity.scrub_name(community, earlier.display_name, erased_name(earlier.id))
    await uow.log.append(
        community,
        at=now,
        kind="member erased",
        proposal=None,
        actor=admin.id,
        data={"member": target.id},
    )
    await uow.outbox.add(events, at=now)
    await deps.commit(uow, events=bool(events))
    return Reply.text(
        f"Member {target.id} is erased: their name and {_count(len(gone), 'account')} are "
        f"deleted, {_count(withdrawn, 'ballot')} on open votes withdrawn and "
        f"{_count(len(stories), 'story', 'stories')} deleted. The decision log and closed "
        f"votes keep only the id, as “{erased_name(target.id)}”."
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


async def linked_channels(uow: UnitOfWork, event: AccountsLinked) -> list[Channel]:
    """Where a link is told: every account of the member, privately."""
    accounts: list[AccountRef] = (await uow.members.accounts([event.member])).get(event.member, [])
    return [Channel.of_account(a) for a in accounts]
