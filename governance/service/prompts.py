"""Narrative prompts: a moderator's questions posted on a schedule, the built-in welcome
and outcome prompts, and the threads their postings open.

Each posting is due work (one `POST` row per coming posting): the row is claimed and
marked done in the transaction that posts, and the prompt is updated only if it is
still as it was read (status and posting count), so a posting happens once however
many instances run. A due row found late — the bot was down — posts once for all the
postings it missed, and the next one is scheduled after now. A prompt asked for
without a schedule (or resumed past its once= time) is posted in the command's own
transaction.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from governance.domain.commands import (
    Command,
    EditPrompt,
    EndPrompt,
    ListPrompts,
    PausePrompt,
    ResumePrompt,
    SchedulePrompt,
)
from governance.domain.deliberation import MAX_THREAD_ID
from governance.domain.errors import GovernanceError, InvalidPrompt, NotFound
from governance.domain.events import MemberWelcomed, PromptEnded, PromptPosted
from governance.domain.ids import CommunityId, PromptId, PromptNumber, RoomRef
from governance.domain.members import Community, Member, Role
from governance.domain.prompts import (
    MAX_QUESTION,
    Once,
    OutcomeDelay,
    Prompt,
    PromptKind,
    PromptStatus,
    Schedule,
    once_at,
)
from governance.domain.proposal import Proposal, check_text
from governance.domain.timing import format_local
from governance.service import confidentiality, lookups
from governance.service.deps import Deps
from governance.service.ports import Channel, DueItem, UnitOfWork
from governance.text.messages import Audience, Reply
from governance.text.prompts import prompt_table

log = logging.getLogger(__name__)

POST = "post prompt"
"""The due-work kind of a prompt's next posting."""
LIST_LIMIT = 30


def _question(text: str) -> str:
    return check_text("question", text, MAX_QUESTION)


def _changed(number: int) -> GovernanceError:
    return GovernanceError(f"Prompt #{number} changed a moment ago; try again.")


async def _find(uow: UnitOfWork, cmd: Command, number: PromptNumber, *, lock: bool) -> Prompt:
    found = await uow.prompts.get(lookups.community_id(cmd), number, lock=lock)
    if found is None:
        raise NotFound(f"There is no prompt #{number} here; !prompts lists them.")
    return found


async def _log(
    uow: UnitOfWork,
    prompt: Prompt,
    *,
    at: datetime,
    kind: str,
    actor: Member | None,
    **data: object,
) -> None:
    """A prompt's lifecycle change in the decision log (the question is a moderator's
    words, like a title; stories never enter the log)."""
    await uow.log.append(
        prompt.community,
        at=at,
        kind=kind,
        proposal=prompt.proposal,
        actor=None if actor is None else actor.id,
        data={"prompt": prompt.number, "kind": prompt.kind.value, **data},
    )


# ---------------------------------------------------------------------- commands


async def schedule(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, SchedulePrompt)
    community = await lookups.community(uow, cmd)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "schedule prompts")
    question = _question(cmd.question)
    now = deps.clock.now()
    zone = ZoneInfo(community.timezone)
    if cmd.proposal is not None:
        await lookups.proposal(uow, cmd, cmd.proposal)
    plan: Schedule
    if cmd.every is not None:
        plan = cmd.every
        first = plan.next_after(now, zone)
        if first is None:
            raise InvalidPrompt(f"The rule {plan.rule} never comes round; check its days.")
    elif cmd.once is not None:
        first = once_at(cmd.once, now, zone)
        plan = Once(first)
    else:
        plan, first = Once(now), now
    prompt = await uow.prompts.add(
        Prompt(
            id=PromptId(0),
            community=community.id,
            number=PromptNumber(0),
            question=question,
            kind=PromptKind.CUSTOM,
            status=PromptStatus.ACTIVE,
            rule=plan.rule,
            proposal=cmd.proposal,
            next_at=first,
            created_at=now,
            created_by=member.id,
            encrypted_origin=await confidentiality.said_in_encrypted_room(uow, cmd.ctx)
            or await confidentiality.proposal_began_encrypted(uow, community.id, cmd.proposal),
        )
    )
    await _log(
        uow,
        prompt,
        at=now,
        kind="prompt scheduled",
        actor=member,
        question=question,
        rule=plan.rule,
    )
    if first <= now:
        await post(uow, prompt, community, now=now)
        await deps.commit(uow)
        return Reply.text(f"Prompt #{prompt.number} is posted now.", Audience.QUIET)
    await uow.due.add_prompt(POST, prompt.id, first)
    await deps.commit(uow)
    when = format_local(first, zone)
    if isinstance(plan, Once):
        return Reply.text(f"Prompt #{prompt.number} will be posted {when}.", Audience.QUIET)
    return Reply.text(
        f"Prompt #{prompt.number} is scheduled {plan.describe(zone)} ({community.timezone}); "
        f"the first posting is {when}.",
        Audience.QUIET,
    )


async def pause(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, PausePrompt)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "pause prompts")
    prompt = await _find(uow, cmd, cmd.number, lock=True)
    paused = prompt.paused()
    if not await uow.prompts.update(paused, expect=prompt):
        raise _changed(cmd.number)
    await uow.due.drop_prompt(prompt.id)
    now = deps.clock.now()
    await _log(uow, prompt, at=now, kind="prompt paused", actor=member)
    await deps.commit(uow, events=False)
    what = (
        "new members are not asked it" if prompt.kind is PromptKind.WELCOME else "nothing is posted"
    )
    return Reply.text(
        f"Prompt #{cmd.number} is paused: {what} until !prompt resume {cmd.number}.",
        Audience.QUIET,
    )


async def resume(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, ResumePrompt)
    community = await lookups.community(uow, cmd)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "resume prompts")
    prompt = await _find(uow, cmd, cmd.number, lock=True)
    now = deps.clock.now()
    zone = ZoneInfo(community.timezone)
    next_at = prompt.resume_at(now, zone) if prompt.status is PromptStatus.PAUSED else None
    resumed = prompt.resumed(next_at)
    if not await uow.prompts.update(resumed, expect=prompt):
        raise _changed(cmd.number)
    await _log(uow, prompt, at=now, kind="prompt resumed", actor=member)
    if next_at is not None and next_at <= now:
        # A once prompt whose time passed while it was paused: it goes out now.
        await post(uow, resumed, community, now=now)
        answer = (
            f"Prompt #{cmd.number} is resumed; its time passed while it was paused, "
            "so it is posted now."
        )
    elif next_at is not None:
        await uow.due.add_prompt(POST, prompt.id, next_at)
        when = format_local(next_at, zone)
        answer = f"Prompt #{cmd.number} is resumed; the next posting is {when}."
    elif prompt.kind is PromptKind.WELCOME:
        answer = f"Prompt #{cmd.number} is resumed: new members are asked it again."
    else:
        answer = (
            f"Prompt #{cmd.number} is resumed; it was posted already and nothing more is "
            "scheduled, but members can still answer it."
        )
    await deps.commit(uow)
    return Reply.text(answer, Audience.QUIET)


async def end(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, EndPrompt)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "end prompts")
    prompt = await _find(uow, cmd, cmd.number, lock=True)
    if prompt.kind is PromptKind.WELCOME and prompt.status is not PromptStatus.ENDED:
        raise GovernanceError(
            f"Prompt #{cmd.number} is the welcome prompt, switched on in the config file "
            f"(welcome_prompt); take it out there to end it, or !prompt pause {cmd.number}."
        )
    ended = prompt.ended()
    if not await uow.prompts.update(ended, expect=prompt):
        raise _changed(cmd.number)
    await uow.due.drop_prompt(prompt.id)
    now = deps.clock.now()
    await _log(uow, prompt, at=now, kind="prompt ended", actor=member)
    if prompt.postings:  # said where it was asked; a prompt never posted ends quietly
        await uow.outbox.add(
            [PromptEnded(prompt.community, prompt.number, prompt.question, member.display_name)],
            at=now,
        )
    await deps.commit(uow)
    return Reply.text(f"Prompt #{cmd.number} has ended: it is not posted again.", Audience.QUIET)


async def edit(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    assert isinstance(cmd, EditPrompt)
    member = await lookups.actor(uow, cmd)
    member.require(Role.MODERATOR, "edit prompts")
    prompt = await _find(uow, cmd, cmd.number, lock=True)
    if prompt.kind is PromptKind.WELCOME:
        raise GovernanceError(
            f"Prompt #{cmd.number} is the welcome prompt: its question is set in the config "
            "file (welcome_prompt)."
        )
    question = _question(cmd.question)
    # The answer echoes the question (and "already asks that" would confirm a guess).
    if not await confidentiality.may_show_prompt(uow, cmd.ctx, prompt):
        raise confidentiality.prompt_kept_back(cmd.number)
    edited = prompt.edited(question)
    if question == prompt.question:
        return Reply.text(
            f"Prompt #{cmd.number} already asks that; nothing changed.", Audience.QUIET
        )
    if not await uow.prompts.update(edited, expect=prompt):
        raise _changed(cmd.number)
    await _log(
        uow, prompt, at=deps.clock.now(), kind="prompt edited", actor=member, question=question
    )
    await deps.commit(uow, events=False)
    later = "later postings ask it" if prompt.next_at is not None else "it is asked from now on"
    return Reply.text(f"Prompt #{cmd.number} now asks: {question} ({later}).", Audience.QUIET)


async def listing(cmd: Command, uow: UnitOfWork, deps: Deps) -> Reply:
    """``!prompts``: active and paused prompts (``all``: ended ones too), by number; in
    an unencrypted room, none that began in an encrypted one (`confidentiality`)."""
    assert isinstance(cmd, ListPrompts)
    community = await lookups.community(uow, cmd)
    shown = not await confidentiality.holds_back(uow, cmd.ctx)
    found = await uow.prompts.listed(
        community.id, ended=cmd.all, encrypted=shown, limit=LIST_LIMIT + 1
    )
    if not found:
        ended = await uow.prompts.count(community.id, PromptStatus.ENDED.value, encrypted=shown)
        more = f" ({ended} ended; !prompts all lists them)" if ended and not cmd.all else ""
        return Reply.text(
            f"No prompts yet{more}. A moderator can ask one: !prompt <question> every=mon 10:00"
            if not ended
            else f"No active or paused prompts{more}."
        )
    return prompt_table(found[:LIST_LIMIT], community.timezone, more=len(found) > LIST_LIMIT)


# ---------------------------------------------------------------------- postings


async def post(
    uow: UnitOfWork, prompt: Prompt, community: Community, *, now: datetime
) -> Prompt | None:
    """Post `prompt` now (once for every posting it missed) and schedule the next one;
    None if it changed since it was read (someone else posted, paused or ended it)."""
    zone = ZoneInfo(community.timezone)
    plan = prompt.schedule
    following = None if plan is None else plan.next_after(now, zone)
    if prompt.next_at is not None and prompt.next_at < now:
        log.info(
            "prompt #%s of %s was due %s: posting it once now",
            prompt.number,
            prompt.community,
            prompt.next_at.isoformat(),
        )
    posted = prompt.posted(at=now, next_at=following)
    if not await uow.prompts.update(posted, expect=prompt):
        return None
    if following is not None:
        await uow.due.add_prompt(POST, prompt.id, following)
    proposal: Proposal | None = None
    if prompt.proposal is not None:
        proposal = await uow.proposals.get(prompt.community, prompt.proposal)
    await uow.outbox.add(
        [
            PromptPosted(
                prompt.community,
                prompt.number,
                prompt.question,
                prompt.kind.value,
                posted.postings,
                following,
                community.timezone,
                prompt.proposal,
                None if proposal is None else proposal.title,
            )
        ],
        at=now,
    )
    return posted


async def run_due(uow: UnitOfWork, item: DueItem, now: datetime) -> None:
    """A prompt's due posting (the due runner calls this in its transaction)."""
    assert item.prompt is not None
    prompt = await uow.prompts.get_by_id(item.prompt, lock=True)
    if (
        prompt is None
        or prompt.status is not PromptStatus.ACTIVE
        or prompt.next_at is None
        or prompt.next_at > now
    ):
        log.info("dropping a due posting of prompt id %s: it is not due now", item.prompt)
        return
    community = await uow.communities.get(prompt.community)
    assert community is not None
    await post(uow, prompt, community, now=now)


# ---------------------------------------------------------------------- built-ins


async def after_close(uow: UnitOfWork, proposal: Proposal, *, now: datetime) -> None:
    """A vote closed: where the community asks for it, its outcome prompt is scheduled
    some weeks on ("#12 … closed 3 weeks ago: what changed?")."""
    community = await uow.communities.get(proposal.community)
    if community is None or community.outcome_prompt_after is None:
        return
    delay = OutcomeDelay.parse(community.outcome_prompt_after)
    at = delay.after(now, ZoneInfo(community.timezone))
    prompt = await uow.prompts.add(
        Prompt(
            id=PromptId(0),
            community=community.id,
            number=PromptNumber(0),
            question=delay.question(proposal.number, proposal.title),
            kind=PromptKind.OUTCOME,
            status=PromptStatus.ACTIVE,
            rule=Once(at).rule,
            proposal=proposal.number,
            next_at=at,
            created_at=now,
            encrypted_origin=proposal.encrypted_origin,
        )
    )
    await uow.due.add_prompt(POST, prompt.id, at)
    await _log(uow, prompt, at=now, kind="prompt scheduled", actor=None, rule=prompt.rule)


async def welcome(uow: UnitOfWork, community: Community, member: Member, *, now: datetime) -> bool:
    """A member joined: where the community has a welcome prompt (and it is not
    paused), they are asked it privately. True if an event was written."""
    question = community.welcome_prompt
    if question is None or member.is_bot:
        return False
    prompt = await uow.prompts.welcome(community.id)
    if prompt is None:
        prompt = await uow.prompts.add(
            Prompt(
                id=PromptId(0),
                community=community.id,
                number=PromptNumber(0),
                question=question,
                kind=PromptKind.WELCOME,
                status=PromptStatus.ACTIVE,
                rule=None,
                proposal=None,
                next_at=None,
                created_at=now,
            )
        )
        await _log(uow, prompt, at=now, kind="prompt scheduled", actor=None, question=question)
    elif prompt.question != question:  # the config file is where its question is set
        updated = replace(prompt, question=question)
        if await uow.prompts.update(updated, expect=prompt):
            await _log(uow, prompt, at=now, kind="prompt edited", actor=None, question=question)
            prompt = updated
    if prompt.status is not PromptStatus.ACTIVE:
        return False
    await uow.outbox.add(
        [MemberWelcomed(community.id, member.id, prompt.number, prompt.question)], at=now
    )
    return True


async def welcome_recipients(uow: UnitOfWork, event: MemberWelcomed) -> list[Channel]:
    """Where a welcome goes: the member's first linked account, privately."""
    accounts = (await uow.members.accounts([event.member])).get(event.member)
    return [Channel.of_account(accounts[0])] if accounts else []


# ---------------------------------------------------------------------- threads


async def record_thread(
    uow: UnitOfWork,
    deps: Deps,
    room: RoomRef,
    community: CommunityId,
    number: PromptNumber,
    posting: int,
    thread_id: str,
) -> bool:
    """Record that posting `posting` of prompt `number` opened thread `thread_id` in
    `room` (adapters open threads; the core remembers where). Idempotent: False if it
    was recorded already."""
    thread_id = thread_id.strip()
    if not thread_id or len(thread_id) > MAX_THREAD_ID:
        raise GovernanceError(f"A thread id has 1 to {MAX_THREAD_ID} characters.")
    if await uow.bindings.community_of(room) != community:
        raise GovernanceError(f"The room {room} is not bound to {community}.")
    prompt = await uow.prompts.get(community, number)
    if prompt is None:
        raise NotFound(f"There is no prompt #{number} in {community}.")
    if not await uow.prompts.record_thread(
        prompt.id, posting, room, thread_id, at=deps.clock.now()
    ):
        return False
    await deps.commit(uow, events=False)
    return True


async def latest_thread(
    uow: UnitOfWork, community: CommunityId, number: PromptNumber, room: RoomRef
) -> str | None:
    """The thread the prompt's latest posting in `room` opened, if any."""
    prompt = await uow.prompts.get(community, number)
    if prompt is None:
        return None
    return next((t.thread_id for t in await uow.prompts.threads(prompt.id) if t.room == room), None)
