"""Encrypted rooms: what began in one is said in the community's encrypted rooms only.

A community may be bound to encrypted rooms (Matrix, end-to-end) and unencrypted ones
(a Matrix room without encryption, a Discord channel, the console); binding a room that
makes such a mix asks for ``confirm``. A proposal made in an encrypted room, and
everything said of it (its card, deliberation, reminders in the rooms, result, outcome,
an outcome prompt about it, a story linked to it), a prompt scheduled in an encrypted
room (its postings, its end, the stories told for it) and a story told in an encrypted
room, are announced in the encrypted rooms alone. What began anywhere else goes to
every room, as it always did. Whether a room is encrypted is recorded on its binding
(the adapter reports it); whether something began in one is recorded on it when it is
made, so neither depends on what an adapter remembers after a restart. Questions
asked in an unencrypted room (status, lists, exports, menus) leave it out too:
`may_show`, `holds_back`; so does ``!prompts``, and ``!prompt edit`` of such a prompt,
which would echo its question, is refused there.

Private messages are the one member's concern; but where one cannot be delivered (the
person's direct messages are closed) the notice that says so in a room must not tell a
secret either: `tells_a_secret`.
"""

from __future__ import annotations

from governance.domain.commands import Context, TellStory
from governance.domain.errors import GovernanceError
from governance.domain.events import (
    BallotReceived,
    DeliberationEnding,
    DeliberationOpened,
    DeliberationRescheduled,
    Event,
    OutcomeRecorded,
    PromptEnded,
    PromptPosted,
    ProposalCancelled,
    ProposalClosed,
    ProposalCreated,
    ProposalEdited,
    ProposalWithdrawn,
    ReminderDue,
    StoryHidden,
    StoryShared,
    SummaryRecorded,
    VoteCast,
    VoteWithdrawn,
    VotingExtended,
    VotingOpened,
)
from governance.domain.ids import CommunityId, PromptNumber, ProposalNumber, RoomRef
from governance.domain.prompts import Prompt
from governance.domain.proposal import Proposal
from governance.service.ports import UnitOfWork

OF_A_PROPOSAL = (
    ProposalCreated,
    VotingOpened,
    VotingExtended,
    ProposalClosed,
    ProposalCancelled,
    ProposalWithdrawn,
    OutcomeRecorded,
    ReminderDue,
    DeliberationEnding,
    DeliberationOpened,
    DeliberationRescheduled,
    ProposalEdited,
    SummaryRecorded,
    BallotReceived,
    VoteCast,
    VoteWithdrawn,
)
"""Events whose ``number`` is a proposal's."""


async def said_in_encrypted_room(uow: UnitOfWork, ctx: Context) -> bool:
    """Whether a command was said in an encrypted room of its community (as the adapter
    says now, or as recorded). A private room is no community's: what is told there is
    meant for the community's rooms, and goes where its subject goes."""
    if ctx.community is None or await uow.bindings.community_of(ctx.room) != ctx.community:
        return False
    return ctx.encrypted or await uow.bindings.is_encrypted(ctx.room)


async def said_where_encrypted(uow: UnitOfWork, ctx: Context) -> bool:
    """Whether what a command is answered with is read in an encrypted room: a bound
    one recorded as encrypted, or any the adapter says is (a direct room included)."""
    return ctx.encrypted or await uow.bindings.is_encrypted(ctx.room)


async def may_show(uow: UnitOfWork, ctx: Context, proposal: Proposal) -> bool:
    """Whether a question asked where `ctx` says may be answered with `proposal`'s
    title, text or result: not in an unencrypted room if it began in an encrypted one."""
    return not proposal.encrypted_origin or await said_where_encrypted(uow, ctx)


def kept_back(number: int) -> GovernanceError:
    """The answer to a question about proposal `number` where it may not be shown."""
    return GovernanceError(
        f"#{number} began in an encrypted room, so it is shown in encrypted rooms only; ask there."
    )


async def may_show_prompt(uow: UnitOfWork, ctx: Context, prompt: Prompt) -> bool:
    """Whether a command given where `ctx` says may be answered with `prompt`'s
    question: not in an unencrypted room if it began in an encrypted one."""
    return not await prompt_began_encrypted(uow, prompt) or await said_where_encrypted(uow, ctx)


def prompt_kept_back(number: int) -> GovernanceError:
    """The answer to a command that would show prompt `number`'s question where it may
    not be shown."""
    return GovernanceError(
        f"Prompt #{number} began in an encrypted room, so its question is shown and "
        "edited in encrypted rooms only; do it there."
    )


async def story_begins_encrypted(uow: UnitOfWork, cmd: TellStory) -> bool:
    """A story told in an encrypted room, or about a proposal or for a prompt that began
    in one."""
    community = cmd.ctx.community
    assert community is not None
    return (
        await said_in_encrypted_room(uow, cmd.ctx)
        or await proposal_began_encrypted(uow, community, cmd.proposal)
        or await _prompt_began_encrypted(uow, community, cmd.prompt)
    )


async def holds_back(uow: UnitOfWork, ctx: Context) -> bool:
    """Whether an answer in the room of `ctx` leaves out what began in an encrypted
    room: it is not encrypted, and its community has encrypted rooms (otherwise nothing
    of the kind can be new, and lists are not slowed by the filter)."""
    if ctx.community is None or await said_where_encrypted(uow, ctx):
        return False
    return bool(await uow.bindings.encrypted_rooms(ctx.community))


async def proposal_began_encrypted(
    uow: UnitOfWork, community: CommunityId, number: int | None
) -> bool:
    if number is None:
        return False
    proposal = await uow.proposals.get(community, ProposalNumber(number))
    return proposal is not None and proposal.encrypted_origin


async def began_encrypted(uow: UnitOfWork, event: Event) -> bool:
    """Whether `event` tells of something that began in an encrypted room: then it is
    said in the community's encrypted rooms only."""
    if isinstance(event, OF_A_PROPOSAL):
        return await proposal_began_encrypted(uow, event.community, event.number)
    if isinstance(event, StoryShared):
        story = await uow.stories.get(event.community, event.number)
        if story is not None and story.encrypted_origin:
            return True
        return await proposal_began_encrypted(
            uow, event.community, event.proposal
        ) or await _prompt_began_encrypted(uow, event.community, event.prompt)
    if isinstance(event, PromptPosted | PromptEnded):
        return await _prompt_began_encrypted(uow, event.community, event.prompt)
    return False


async def _prompt_began_encrypted(
    uow: UnitOfWork, community: CommunityId, number: int | None
) -> bool:
    """Scheduled in an encrypted room, or about a proposal made in one."""
    if number is None:
        return False
    prompt = await uow.prompts.get(community, PromptNumber(number))
    return prompt is not None and await prompt_began_encrypted(uow, prompt)


async def prompt_began_encrypted(uow: UnitOfWork, prompt: Prompt) -> bool:
    """`prompt` was scheduled in an encrypted room, or is about a proposal made in one."""
    return prompt.encrypted_origin or await proposal_began_encrypted(
        uow, prompt.community, prompt.proposal
    )


async def mixing_warning(
    uow: UnitOfWork, community: CommunityId, room: RoomRef, *, encrypted: bool
) -> str | None:
    """What binding `room` to `community` would mix, said so an admin can decide; None
    when the community's rooms would stay all encrypted or all unencrypted."""
    rooms = await uow.bindings.rooms(community)
    secure = set(await uow.bindings.encrypted_rooms(community))
    others = [r for r in rooms if r != room]
    if encrypted:
        plain = sum(1 for r in others if r not in secure)
        if not plain:
            return None
        return (
            f"This room is encrypted, and {community} has {_rooms(plain, 'an unencrypted')}. "
            "What begins here — proposals made here, with their cards, "
            "deliberation, reminders, results and outcomes, and stories told here — will be "
            f"posted in {community}'s encrypted rooms only, never in the unencrypted ones. "
            "What begins in an unencrypted room will be posted here too. "
            f"Say !bind {community} confirm to bind it."
        )
    sealed = sum(1 for r in others if r in secure)
    if not sealed:
        return None
    return (
        f"This room is not encrypted, and {community} has {_rooms(sealed, 'an encrypted')}. "
        "What begins in an encrypted room — proposals made there, with their "
        "cards, deliberation, reminders, results and outcomes, and stories told there — "
        "will not be posted here. What begins here will be posted in all of "
        f"{community}'s rooms, the encrypted ones too. Say !bind {community} confirm to "
        "bind it."
    )


async def tells_a_secret(uow: UnitOfWork, event: Event) -> bool:
    """Whether saying in a room that `event` could not be told to someone privately
    would give a secret away: for a secret vote (a reminder, a receipt) that they had
    or had not voted yet; for an anonymous story (its hiding) that it was theirs."""
    if isinstance(event, StoryHidden):
        story = await uow.stories.get(event.community, event.number)
        return story is None or story.author is None
    if isinstance(event, OF_A_PROPOSAL):
        proposal = await uow.proposals.get(event.community, event.number)
        return proposal is None or proposal.policy.secret
    return False


def _rooms(count: int, kind: str) -> str:
    """``an encrypted room``, ``2 encrypted rooms``."""
    return f"{kind} room" if count == 1 else f"{count} {kind.split()[-1]} rooms"
