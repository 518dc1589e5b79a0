"""Handlers for the commands that change one thing at a time. Votes, which come in
bursts, have their own grouped writer (`votes.py`); questions live in `queries.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from zoneinfo import ZoneInfo

from governance.domain.commands import (
    Bind,
    Cancel,
    CloseEarly,
    Command,
    Deliberate,
    Edit,
    EditPrompt,
    EditStory,
    EndPrompt,
    Erase,
    Extend,
    FollowPlatformClass,
    FollowPlatformRole,
    HideStory,
    Join,
    Link,
    OpenVoting,
    PausePrompt,
    Propose,
    RecordOutcome,
    Remind,
    ResumePrompt,
    SchedulePrompt,
    SetClass,
    SetRole,
    ShareStory,
    Summarise,
    TellStory,
    Unbind,
    Unlink,
    Withdraw,
    WithdrawStory,
)
from governance.domain.deliberation import Version
from governance.domain.errors import (
    GovernanceError,
    InvalidPrompt,
    InvalidProposal,
    NotAllowed,
    NotFound,
)
from governance.domain.events import (
    DeliberationOpened,
    Event,
    OutcomeRecorded,
    ProposalCancelled,
    ProposalCreated,
    ProposalWithdrawn,
    VotingExtended,
)
from governance.domain.ids import (
    AccountRef,
    CommunityId,
    MemberId,
    ProposalId,
    ProposalNumber,
    RoomRef,
)
from governance.domain.lifecycle import Status
from governance.domain.members import MAX_CLASS_LENGTH, Community, Member, Role, article
from governance.domain.methods import Method, method_named, plural
from governance.domain.methods.base import BallotShape, list_names
from governance.domain.policy import ClassRule, Policy, Strength, TieRule, Visibility
from governance.domain.proposal import (
    MAX_BODY,
    MAX_OUTCOME,
    MAX_REASON,
    MAX_TITLE,
    Proposal,
    check_text,
)
from governance.domain.tiebreak import LOT_SEED_BYTES
from governance.domain.timing import end_of, format_local
from governance.service import (
    confidentiality,
    deliberation,
    federation,
    identity,
    lookups,
    prompts,
    records,
    reminders,
    stories,
)
from governance.service.deps import Deps
from governance.service.lifecycle_ops import (
    CLOSE,
    OPEN_VOTING,
    after_open,
    log_and_announce,
    longest,
    vote_end,
)
from governance.service.ports import Channel, UnitOfWork
from governance.text.grammar import parse_classes, parse_quorum
from governance.text.messages import Audience, Reply
from governance.text.suggest import closest
from governance.text.usage import usage

Handler = Callable[[Command, UnitOfWork, Deps], Awaitable[Reply]]


def _policy(
    cmd: Propose, method_name: str, options: tuple[str, ...], community: Community, deps: Deps
) -> Policy:
    method = method_named(method_name)
    if cmd.secret and cmd.results not in (None, Visibility.CLOSED):
        raise InvalidProposal(
            "A secret vote shows its results only after close; "
            "leave out results= or use results=closed."
        )
    if cmd.strength is not None and method_name != "condorcet":
        raise InvalidProposal("strength= applies to condorcet votes only.")
    quorum = cmd.quorum
    if quorum is None and community.quorum:
        quorum = parse_quorum("propose", "quorum", community.quorum)
    ties = cmd.ties or TieRule.REPORT
    policy = Policy(
        quorum=quorum,
        threshold=cmd.threshold,
        seats=cmd.seats or 1,
        dots=cmd.dots,
        secret=cmd.secret,
        results=Visibility.CLOSED if cmd.secret else (cmd.results or Visibility.LIVE),
        ties=ties,
        # A lot orders options; a vote on the proposal itself has none to order (and a
        # threshold is never settled by lot), so it draws no seed and shows no lot.
        lot_seed=(
            deps.random_bytes(LOT_SEED_BYTES).hex()
            if ties is TieRule.LOT and method.shape is not BallotShape.VERDICT
            else None
        ),
        strength=cmd.strength or Strength.MARGINS,
        classes=cmd.classes or _default_classes(community, method),
    )
    method.check_policy(policy, options)
    return policy


async def _check_class_names(
    uow: UnitOfWork, deps: Deps, cmd: Propose, community: Community
) -> None:
    """``weights=`` and ``class-quorum=`` name classes a member holds or the config
    declares: a misspelt class would weigh nobody, or wait for a quorum never met."""
    if not cmd.classes:
        return
    declared = parse_classes("propose", community.weights or "", community.class_quorum or "")
    known = {rule.name for rule in declared} | deps.platform_classes
    known |= await uow.members.classes(community.id)
    for rule in cmd.classes:
        if rule.name in known:
            continue
        near = closest(rule.name, sorted(known))
        hint = f" (did you mean {near}?)" if near else ""
        listed = ", ".join(sorted(known)) if known else "none yet (!class <member> <class>)"
        raise InvalidProposal(
            f"No member is in the class “{rule.name[:40]}” and the configuration declares "
            f"none by that name{hint}; classes here: {listed}. Nothing was proposed."
        )


def _default_classes(community: Community, method: Method) -> tuple[ClassRule, ...]:
    """The community's configured class weights and quorums; for a method that cannot
    use weights (stv), the class quorums alone."""
    weights = community.weights if method.takes_weights else None
    return parse_classes("propose", weights or "", community.class_quorum or "")


async def _first_line(
    cmd: Propose, uow: UnitOfWork, deps: Deps
) -> tuple[Community, Member, str, tuple[str, ...], str, Policy]:
    """What `propose` checks of the command's first line: who may propose, the title,
    options and settings (refused here, before the body)."""
    community = await lookups.community(uow, cmd)
    author = await lookups.actor(uow, cmd)
    author.require(Role.MEMBER, "propose")
    title = check_text("title", cmd.title, MAX_TITLE)
    options = tuple(check_text("option", o, 100) for o in cmd.options)
    method_name = cmd.method or ("choice" if options else "majority")
    method_named(method_name).check_options(options)
    policy = _policy(cmd, method_name, options, community, deps)
    await _check_class_names(uow, deps, cmd, community)
    return community, author, title, options, method_name, policy


async def check_first_line(cmd: Propose, uow: UnitOfWork, deps: Deps) -> None:
    """Refuse (`GovernanceError`) what `propose` would refuse of the first line alone,
    changing nothing: for an adapter that collects the body after it (the console)."""
    try:
        await _first_line(cmd, uow, deps)
    except InvalidProposal as error:
        raise InvalidProposal(error.message, usage=error.usage or usage("propose")) from None


async def propose(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Propose)
    community, author, title, options, method_name, policy = await _first_line(cmd, uow, deps)
    body = check_text("body", cmd.body, MAX_BODY, required=False, multiline=True)
    await federation.check_rooms(uow, deps, community.id)
    now = deps.clock.now()
    zone = ZoneInfo(community.timezone)
    vote_length = str(cmd.vote) if cmd.vote is not None else community.default_vote
    proposal = Proposal(
        id=ProposalId(0),
        community=community.id,
        number=ProposalNumber(0),
        title=title,
        body=body,
        author=author.id,
        method_name=method_name,
        options=options,
        policy=policy,
        status=Status.DRAFT,
        created_at=now,
        vote_length=vote_length,
        encrypted_origin=await confidentiality.said_in_encrypted_room(uow, cmd.ctx),
    )
    roll: list[MemberId] = []
    if cmd.draft:
        pass  # waits for a moderator's !deliberate, or an !open
    elif cmd.deliberate is not None:
        proposal.opens_at = end_of(cmd.deliberate, now, zone, longest(community))
        vote_end(proposal, community, proposal.opens_at)  # refuse a bad length now
        proposal.status = Status.DELIBERATION
    else:
        roll = await federation.voters(uow, deps, community.id)
        proposal.open_voting(
            now=now, closes_at=vote_end(proposal, community, now), roll_size=len(roll)
        )
    proposal = await uow.proposals.add(proposal)
    await uow.log.append(
        community.id,
        at=now,
        kind="proposed",
        proposal=proposal.number,
        actor=author.id,
        data={
            "title": title,
            "method": method_name,
            "options": list(options),
            "policy": policy.to_json(),
        },
    )
    await uow.proposals.add_version(proposal.id, Version(1, title, body, options, author.id, now))
    events: list[Event] = []
    parts: tuple[str, ...] = ()
    if proposal.status is Status.VOTING:
        parts = await after_open(uow, deps, proposal, community, roll)
        assert proposal.closes_at is not None
    elif proposal.status is Status.DELIBERATION:
        assert proposal.opens_at is not None
        await uow.due.add(OPEN_VOTING, proposal.id, proposal.opens_at)
        await reminders.schedule(
            uow,
            reminders.REMIND_DELIBERATION,
            proposal,
            community,
            start=now,
            end=proposal.opens_at,
        )
        await uow.log.append(
            community.id,
            at=now,
            kind="deliberation opened",
            proposal=proposal.number,
            actor=author.id,
            data={"until": proposal.opens_at.isoformat()},
        )
        events.append(
            DeliberationOpened(
                community.id,
                proposal.number,
                title,
                body,
                author.display_name,
                options,
                proposal.opens_at,
                community.timezone,
                None,
            )
        )
    await uow.outbox.add(
        [
            ProposalCreated(
                community.id,
                proposal.number,
                title,
                body,
                author.display_name,
                method_name,
                options,
                policy.to_json(),
                proposal.status.value,
                proposal.closes_at,
                community.timezone,
                len(roll),
                proposal.ballot_hint,
                parts,
            ),
            *events,
        ],
        at=now,
    )
    await deps.commit(uow)
    if proposal.status is Status.VOTING:
        also = f"; its member communities vote on it as {', '.join(parts)}" if parts else ""
        return Reply.text(f"Proposed as #{proposal.number}{also}.", Audience.QUIET)
    if proposal.status is Status.DRAFT:
        return Reply.text(
            f"Saved #{proposal.number} as a draft. You or a moderator can !edit it or "
            f"!open {proposal.number} to start the vote; a moderator can open a deliberation "
            f"with !deliberate {proposal.number} 2d.",
            Audience.QUIET,
        )
    assert proposal.opens_at is not None
    return Reply.text(
        f"Proposed as #{proposal.number}; deliberation until "
        f"{format_local(proposal.opens_at, zone)}, then voting.",
        Audience.QUIET,
    )


async def close_early(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, CloseEarly)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "close a vote early")
    reason = check_text("reason", cmd.reason, MAX_REASON)
    proposal = await lookups.proposal(uow, cmd, cmd.number, lock=True)
    await federation.refuse_part(uow, proposal, "closed")
    if not await federation.close(
        uow,
        deps,
        proposal,
        now=deps.clock.now(),
        early_reason=reason,
        by=member.id,
        by_name=member.display_name,
    ):
        raise GovernanceError(f"#{cmd.number} was closed a moment ago.")
    await deps.commit(uow)
    return Reply.text(f"Closed #{cmd.number}.", Audience.QUIET)


async def extend(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Extend)
    community = await lookups.community(uow, cmd)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "extend a vote")
    reason = check_text("reason", cmd.reason, MAX_REASON)
    proposal = await lookups.proposal(uow, cmd, cmd.number, lock=True)
    await federation.refuse_part(uow, proposal, "extended")
    now = deps.clock.now()
    if proposal.status is Status.VOTING and proposal.closes_at is not None:
        new_end = end_of(
            cmd.by, proposal.closes_at, ZoneInfo(community.timezone), longest(community)
        )
    else:
        new_end = now  # the lifecycle table refuses the move and names the state
    proposal.extend(new_end=new_end, now=now)
    if not await uow.proposals.update(proposal, expect=Status.VOTING):
        raise GovernanceError(f"#{cmd.number} closed a moment ago.")
    await uow.due.move(CLOSE, proposal.id, new_end)
    await reminders.reschedule_votes(uow, proposal, community, now=now)
    await federation.extend_parts(
        uow, deps, proposal, now=now, reason=reason, by_name=member.display_name
    )
    await log_and_announce(
        uow,
        proposal,
        at=now,
        kind="extended",
        actor=member.id,
        data={"closes_at": new_end.isoformat(), "reason": reason},
        event=VotingExtended(
            community.id,
            proposal.number,
            proposal.title,
            new_end,
            community.timezone,
            reason,
            member.display_name,
        ),
    )
    await deps.commit(uow)
    return Reply.text(f"Extended #{cmd.number}.", Audience.QUIET)


async def _end(
    cmd: Command, uow: UnitOfWork, deps: Deps, number: ProposalNumber, reason: str | None
) -> Reply:
    member = await lookups.actor(uow, cmd)
    proposal = await lookups.proposal(uow, cmd, number, lock=True)
    await federation.refuse_part(uow, proposal, "withdrawn" if reason is None else "cancelled")
    before = proposal.status
    now = deps.clock.now()
    if reason is None:
        proposal.withdraw(by=member, now=now)
    else:
        reason = check_text("reason", reason, MAX_REASON)
        proposal.cancel(by=member, now=now)
    if not await uow.proposals.update(proposal, expect=before):
        raise GovernanceError(f"#{number} changed a moment ago; try again.")
    await uow.due.drop(proposal.id)
    if proposal.policy.secret:
        await records.seal_secret(uow, proposal)
    kind = "withdrawn" if reason is None else "cancelled"
    await federation.end_parts(
        uow, deps, proposal, now=now, kind=kind, reason=reason, by_name=member.display_name
    )
    await log_and_announce(
        uow,
        proposal,
        at=now,
        kind=kind,
        actor=member.id,
        data={} if reason is None else {"reason": reason},
        event=(
            ProposalWithdrawn(proposal.community, number, proposal.title, member.display_name)
            if reason is None
            else ProposalCancelled(
                proposal.community, number, proposal.title, reason, member.display_name
            )
        ),
    )
    await deps.commit(uow)
    return Reply.text(f"#{number} is {kind}.", Audience.QUIET)


async def cancel(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Cancel)
    return await _end(cmd, uow, deps, cmd.number, cmd.reason)


async def withdraw(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Withdraw)
    return await _end(cmd, uow, deps, cmd.number, None)


async def record_outcome(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, RecordOutcome)
    member = await lookups.actor(uow, cmd)
    proposal = await lookups.proposal(uow, cmd, cmd.number)
    proposal.check_outcome_by(member)
    statement = check_text("outcome", cmd.statement, MAX_OUTCOME, multiline=True)
    now = deps.clock.now()
    await uow.proposals.add_outcome(proposal.id, statement, member.id, now)
    await log_and_announce(
        uow,
        proposal,
        at=now,
        kind="outcome",
        actor=member.id,
        data={"statement": statement},
        event=OutcomeRecorded(
            proposal.community, proposal.number, proposal.title, statement, member.display_name
        ),
    )
    await deps.commit(uow)
    return Reply.text(f"Outcome of #{cmd.number} recorded.", Audience.QUIET)


def _is_admin(community: Community | None, member: Member | None, account: AccountRef) -> bool:
    """An admin member of the community, or an account the config names its admin."""
    return (member is not None and member.role >= Role.ADMIN) or (
        community is not None and community.is_configured_admin(account)
    )


async def bind(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, Bind)
    target = CommunityId(cmd.community_name.strip().lower())
    community = await uow.communities.get(target)
    if community is None:
        raise NotFound(f"There is no community called “{cmd.community_name[:60]}” in the config.")
    member = await uow.members.by_account(target, cmd.ctx.actor)
    if not _is_admin(community, member, cmd.ctx.actor):
        raise NotAllowed(f"Only an admin of {target} can bind a room to it.")
    room, encrypted = cmd.ctx.room, cmd.ctx.encrypted
    bound = await uow.bindings.community_of(room)
    if bound == target:
        if encrypted and await uow.bindings.mark_encrypted(room):
            await deps.commit(uow, events=False)
        return Reply.text(f"This room is already bound to {target}.")
    if bound is not None:
        raise GovernanceError(
            f"This room is bound to {bound} already; a room belongs to one community."
        )
    now = deps.clock.now()
    await uow.bindings.bind(room, target, encrypted=encrypted)
    await uow.log.append(
        target,
        at=now,
        kind="room bound",
        proposal=None,
        actor=None if member is None else member.id,
        data={"room": str(cmd.ctx.room)},
    )
    # Read once the append holds the community's lock: two rooms bound at the same
    # moment cannot make a mix that neither binding was warned of.
    warning = await confidentiality.mixing_warning(uow, target, room, encrypted=encrypted)
    if warning is not None and not cmd.confirm:
        raise GovernanceError(warning)  # nothing is bound: the unit of work rolls back
    await deps.commit(uow, events=False)
    if warning is not None:
        return Reply.text(
            f"This room is now bound to {target}. Its rooms are encrypted and unencrypted: "
            "what begins in an encrypted room is posted in the encrypted rooms only."
        )
    return Reply.text(f"This room is now bound to {target}.")


UNBOUND = "room unbound"
"""Why the deliveries still waiting for a room were given up when it was unbound."""
ROOMS_LISTED = 20


async def unbind(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    """Unbind a room from its community: this one, or another of the community's, e.g.
    one that is gone or that the bot was removed from, where nothing can be typed.

    Open proposals stay open; from now on they are announced in the community's other
    rooms. What still waits to be delivered to the room is given up, so `!undelivered`
    shows what it missed rather than retrying it for a day. Threads there stay on record
    but take no more stories. The community's last room goes only with `confirm`."""
    assert isinstance(cmd, Unbind)
    here = cmd.room is None or cmd.room == cmd.ctx.room
    room = cmd.room or cmd.ctx.room
    shown = "This room" if here else str(room)[:120]
    target = cmd.ctx.community
    if here:
        target = await uow.bindings.community_of(room)
        if target is None:
            raise GovernanceError(
                "This room is not bound to a community; there is nothing to unbind."
            )
    elif target is None:
        raise GovernanceError(
            f"This room is not bound to a community: say !unbind {shown} in a room of the "
            "community it belongs to."
        )
    member = await uow.members.by_account(target, cmd.ctx.actor)
    if not _is_admin(await uow.communities.get(target), member, cmd.ctx.actor):
        raise NotAllowed(f"Only an admin of {target} can unbind a room from it.")
    if not here:
        bound = await uow.bindings.community_of(room)
        if bound is None:
            rooms = [str(r) for r in await uow.bindings.rooms(target)]
            listed = ", ".join(rooms[:ROOMS_LISTED]) + (" …" if len(rooms) > ROOMS_LISTED else "")
            raise NotFound(
                f"{shown} is not bound to any community. "
                + (f"{target}'s rooms: {listed}." if rooms else f"{target} has no room bound.")
            )
        if bound != target:
            raise NotAllowed(
                f"{shown} is bound to {bound}, not {target}; an admin of {bound} can unbind "
                f"it from a room of {bound}'s."
            )
    now = deps.clock.now()
    await uow.bindings.unbind(room)
    await uow.log.append(
        target,
        at=now,
        kind="room unbound",
        proposal=None,
        actor=None if member is None else member.id,
        data={"room": str(room)},
    )
    # The append holds the community's lock until commit, so the rooms left are counted
    # once any other unbinding in it has committed: two admins each unbinding one of the
    # last two rooms at once cannot leave it with none unasked.
    left = await uow.bindings.rooms(target)
    if not left and not cmd.confirm:
        raise GovernanceError(_last_room(deps, shown, target, None if here else room))
    given_up = await uow.outbox.give_up_channel(Channel.of_room(room), at=now, error=UNBOUND)
    await deps.commit(uow, events=False)
    text = f"{shown} is no longer bound to {target}."
    if given_up:
        one = given_up == 1
        text += (
            f" {plural(given_up, 'message')} still waiting to be sent there "
            f"{'was' if one else 'were'} given up; !undelivered lists {'it' if one else 'them'}."
        )
    if not left:
        text += (
            f" {target} has no room bound now: what it announces reaches no one until an "
            f"admin binds one (!bind {target})."
        )
    return Reply.text(text)


def _last_room(deps: Deps, shown: str, community: CommunityId, room: RoomRef | None) -> str:
    """Why a community's last room is not unbound without `confirm`."""
    federations = sorted(f for f, fed in deps.federations.items() if community in fed.members)
    refused = (
        f"; and {list_names(federations)}'s proposals are refused (or cancelled when their "
        f"vote opens) while {community} has no room"
        if federations
        else ""
    )
    again = "!unbind confirm" if room is None else f"!unbind {room} confirm"
    return (
        f"{shown} is {community}'s last bound room. With none, nothing {community} "
        "announces (new proposals, votes opening, results) reaches anyone, nor is it kept "
        f"to send later{refused}. Bind another room first (!bind {community} there); or, to "
        f"unbind it anyway: {again}"
    )


async def set_role(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, SetRole)
    admin = await lookups.actor(uow, cmd)
    admin.require(Role.ADMIN, "set roles")
    target = await lookups.member_named(uow, cmd, cmd.member)
    role = Role.named(cmd.role)
    if (
        target.role is Role.ADMIN
        and role is not Role.ADMIN
        and await uow.members.count(target.community, Role.ADMIN) <= 1
    ):
        raise GovernanceError(
            f"{target.display_name} is the last admin; make someone else admin first."
        )
    await uow.members.update(replace(target, role=role))
    await uow.log.append(
        target.community,
        at=deps.clock.now(),
        kind="role set",
        proposal=None,
        actor=admin.id,
        data={"member": target.id, "role": role.word},
    )
    await deps.commit(uow, events=False)
    return Reply.text(f"{target.display_name} is now {article(role.word)}.")


async def follow_platform_role(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, FollowPlatformRole)
    member = await lookups.actor(uow, cmd)
    community = await lookups.community(uow, cmd)
    role = cmd.role
    if str(cmd.ctx.actor) in community.admins and role < Role.ADMIN:
        return Reply.text(f"{member.display_name} stays an admin: the config names them.")
    if member.role == role:
        return Reply.text(f"{member.display_name} is {article(role.word)} already.")
    if member.role is Role.ADMIN and await uow.members.count(member.community, Role.ADMIN) <= 1:
        return Reply.text(f"{member.display_name} stays the last admin.", ok=False)
    await uow.members.update(replace(member, role=role))
    await uow.log.append(
        member.community,
        at=deps.clock.now(),
        kind="role set",
        proposal=None,
        actor=None,
        data={"member": member.id, "role": role.word, "by": "platform"},
    )
    await deps.commit(uow, events=False)
    return Reply.text(f"{member.display_name} is now {article(role.word)} (from the platform).")


async def follow_platform_class(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, FollowPlatformClass)
    member = await lookups.actor(uow, cmd)
    name = cmd.stakeholder_class
    if name is not None:
        name = check_text("class", name, MAX_CLASS_LENGTH).lower()
    if member.stakeholder_class == name:
        return Reply.text(f"{member.display_name}'s class is unchanged.")
    await uow.members.update(replace(member, stakeholder_class=name))
    await uow.log.append(
        member.community,
        at=deps.clock.now(),
        kind="class set",
        proposal=None,
        actor=None,
        data={"member": member.id, "class": name, "by": "platform"},
    )
    await deps.commit(uow, events=False)
    shown = f"in the class {name}" if name else "in no class"
    return Reply.text(f"{member.display_name} is now {shown} (from the platform).")


async def set_class(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, SetClass)
    admin = await lookups.actor(uow, cmd)
    admin.require(Role.ADMIN, "set stakeholder classes")
    target = await lookups.member_named(uow, cmd, cmd.member)
    name = check_text("class", cmd.stakeholder_class, MAX_CLASS_LENGTH).lower()
    new_class = None if name == "none" else name
    await uow.members.update(replace(target, stakeholder_class=new_class))
    await uow.log.append(
        target.community,
        at=deps.clock.now(),
        kind="class set",
        proposal=None,
        actor=admin.id,
        data={"member": target.id, "class": new_class},
    )
    await deps.commit(uow, events=False)
    if new_class is None:
        return Reply.text(f"{target.display_name} has no stakeholder class now.")
    return Reply.text(f"{target.display_name} is now in the {new_class} class.")


async def join(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    """Idempotent: a member already known keeps their role."""
    assert isinstance(cmd, Join)
    community = await lookups.community(uow, cmd)
    known = await uow.members.by_account(community.id, cmd.ctx.actor)
    if known is not None:
        return Reply.text(f"{known.display_name} is already a member.", Audience.QUIET)
    name = check_text("name", cmd.display_name, 80)
    is_bot = cmd.is_bot or community.is_bridge(cmd.ctx.actor)
    if community.is_configured_admin(cmd.ctx.actor):
        role = Role.ADMIN
    else:
        role = Role.OBSERVER if is_bot else (cmd.role or Role.MEMBER)
    member = await uow.members.add(community.id, cmd.ctx.actor, name, role, is_bot)
    now = deps.clock.now()
    await uow.log.append(
        community.id,
        at=now,
        kind="member joined",
        proposal=None,
        actor=member.id,
        data={"member": member.id, "role": role.word},
    )
    welcomed = await prompts.welcome(uow, community, member, now=now)
    await deps.commit(uow, events=welcomed)
    return Reply.text(
        f"Welcome, {name}: you are {article(role.word)} of {community.id}.", Audience.QUIET
    )


async def remind(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    """A reminder now, to whoever of the roll has not voted (found when it is sent)."""
    assert isinstance(cmd, Remind)
    community = await lookups.community(uow, cmd)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "send reminders")
    proposal = await lookups.proposal(uow, cmd, cmd.number)
    now = deps.clock.now()
    if proposal.status is not Status.VOTING or (
        proposal.closes_at is not None and proposal.closes_at <= now
    ):
        raise GovernanceError(
            f"Reminders are for open votes; #{cmd.number} {proposal.status_words}."
        )
    waiting = await reminders.non_voters(uow, proposal)
    if not waiting:
        # Nothing is sent: the moderator must read why (a reaction would say "done").
        return Reply.text(f"Everyone on the roll of #{cmd.number} has voted.", Audience.PRIVATE)
    await uow.outbox.add([reminders.reminder_event(proposal, community, None)], at=now)
    await deps.commit(uow)
    return Reply.text(
        f"Reminding {plural(len(waiting), 'member')} who {'has' if len(waiting) == 1 else 'have'} "
        f"not voted on #{cmd.number}, privately.",
        Audience.QUIET,
    )


def _with_usage(command: str, handler: Handler) -> Handler:
    """Show the command's usage line with a mistake in what was proposed."""

    async def handle(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
        try:
            return await handler(cmd, uow, deps)
        except (InvalidProposal, InvalidPrompt) as error:
            if error.usage is not None:
                raise
            raise type(error)(error.message, usage=usage(command)) from None

    return handle


HANDLERS: dict[type[Command], Handler] = {
    Propose: _with_usage("propose", propose),
    CloseEarly: close_early,
    Extend: _with_usage("extend", extend),
    Cancel: cancel,
    Withdraw: withdraw,
    RecordOutcome: record_outcome,
    Remind: remind,
    Bind: bind,
    Unbind: unbind,
    SetRole: set_role,
    FollowPlatformRole: follow_platform_role,
    FollowPlatformClass: follow_platform_class,
    SetClass: set_class,
    Join: join,
    # Deliberation
    Edit: _with_usage("edit", deliberation.edit),
    Deliberate: _with_usage("deliberate", deliberation.deliberate),
    Summarise: _with_usage("summary", deliberation.summarise),
    OpenVoting: _with_usage("open", deliberation.open_now),
    # Stories
    TellStory: stories.tell,
    EditStory: stories.edit,
    WithdrawStory: stories.withdraw,
    ShareStory: stories.share,
    HideStory: stories.hide,
    # Narrative prompts
    SchedulePrompt: _with_usage("prompt", prompts.schedule),
    PausePrompt: prompts.pause,
    ResumePrompt: prompts.resume,
    EndPrompt: prompts.end,
    EditPrompt: _with_usage("prompt", prompts.edit),
    # Identity
    Link: identity.link,
    Unlink: identity.unlink,
    Erase: identity.erase,
}
