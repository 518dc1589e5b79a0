"""The ports the service layer talks through. The store, the adapters and the bot
implement them; tests compose fakes of the same shape."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from governance.domain.ballot import Choice
from governance.domain.decision_log import LogEntry
from governance.domain.deliberation import Summary, ThreadBinding, Version
from governance.domain.events import Event
from governance.domain.ids import (
    AccountRef,
    CommunityId,
    MemberId,
    PromptId,
    PromptNumber,
    ProposalId,
    ProposalNumber,
    RoomRef,
)
from governance.domain.lifecycle import Status
from governance.domain.members import Community, Member, Role
from governance.domain.methods import ClassBallots
from governance.domain.prompts import Prompt, PromptThread
from governance.domain.proposal import Proposal
from governance.domain.stories import Consent, Story
from governance.service.identity_ports import Identity
from governance.text.messages import Message


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class ConflictError(Exception):
    """A commit lost a race with another writer (a unique key or a lock); retry it."""


BallotKey = tuple[ProposalId, str]
"""(proposal, voter key): the voter key is ``m<member>`` or a secret tag."""


@dataclass(frozen=True, slots=True)
class BallotWrite:
    proposal: ProposalId
    voter_key: str
    member: MemberId | None
    choice: Choice | None
    """None removes the ballot."""
    at: datetime | None
    existed: bool
    """Whether the voter had a ballot before this write (an update, not an insert)."""
    stakeholder_class: str | None = None
    """The voter's class on the frozen roll."""


ReceiptKey = tuple[ProposalId, str]
"""(proposal, holder tag): how a secret ballot's receipt is found while the vote is open."""


@dataclass(frozen=True, slots=True)
class ReceiptWrite:
    proposal: ProposalId
    holder: str
    code: str | None
    """The holder's new code, replacing any it held; None: it holds none any more."""


@dataclass(frozen=True, slots=True)
class DueItem:
    id: int
    kind: str
    proposal: ProposalId | None
    """The proposal it is for; None for a prompt's posting (`prompt`)."""
    due_at: datetime
    attempts: int = 0
    """How many times it has failed before."""
    detail: str | None = None
    """What the kind needs besides the proposal, e.g. a reminder's offset (``24h``)."""
    prompt: PromptId | None = None
    """The prompt whose posting it is; None for a proposal's work."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    community: CommunityId
    event: Event


class ChannelGone(Exception):
    """Raised by an outlet when a room or account is gone for good (the bot was removed,
    the channel deleted, the account closed): the delivery is given up at once."""


class DirectClosed(ChannelGone):
    """Raised by `Outlet.tell` when the person takes no private messages from the bot
    (Discord members can close them). The dispatcher then says so in one of the
    community's rooms, addressing them as `address` (which must not ping)."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


@dataclass(frozen=True, slots=True)
class Channel:
    """Where one delivery goes: a room, or one member's account (a private message)."""

    kind: Literal["room", "dm"]
    platform: str
    target: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.platform}:{self.target}"

    @classmethod
    def parse(cls, text: str) -> Channel:
        kind, platform, target = text.split(":", 2)
        assert kind in ("room", "dm"), text
        return cls("room" if kind == "room" else "dm", platform, target)

    @classmethod
    def of_room(cls, room: RoomRef) -> Channel:
        return cls("room", room.platform, room.room_id)

    @classmethod
    def of_account(cls, account: AccountRef) -> Channel:
        return cls("dm", account.platform, account.account_id)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    outbox_id: int
    channel: Channel
    event: Event
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime | None
    created_at: datetime
    """When the event was committed."""
    first_failed_at: datetime | None = None
    """When delivering it first failed (giving up is counted from then)."""

    def ready(self, now: datetime) -> bool:
        return self.next_attempt_at <= now and (
            self.claimed_until is None or self.claimed_until < now
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    outbox_id: int
    event: Event
    channel: Channel
    attempts: int
    dead_at: datetime
    last_error: str | None


class Communities(Protocol):
    async def get(self, community: CommunityId) -> Community | None: ...


class Members(Protocol):
    async def by_account(self, community: CommunityId, account: AccountRef) -> Member | None: ...
    async def by_accounts(
        self, community: CommunityId, accounts: Sequence[AccountRef]
    ) -> dict[AccountRef, Member]: ...
    async def find(self, community: CommunityId, ref: str) -> list[Member]: ...
    async def get(self, member: MemberId) -> Member | None: ...
    async def add(
        self,
        community: CommunityId,
        account: AccountRef,
        display_name: str,
        role: Role,
        is_bot: bool,
    ) -> Member: ...
    async def update(self, member: Member) -> None: ...
    async def voters(self, community: CommunityId) -> list[MemberId]: ...
    async def classes(self, community: CommunityId) -> set[str]:
        """The stakeholder classes the community's present members hold."""
        ...

    async def communities_of(self, account: AccountRef) -> list[CommunityId]: ...
    async def accounts(self, members: Sequence[MemberId]) -> dict[MemberId, list[AccountRef]]:
        """Each member's accounts, oldest link first."""
        ...

    async def count(self, community: CommunityId, role: Role | None = None) -> int: ...


class Bindings(Protocol):
    async def community_of(self, room: RoomRef) -> CommunityId | None: ...
    async def bind(
        self, room: RoomRef, community: CommunityId, *, encrypted: bool = False
    ) -> None: ...
    async def unbind(self, room: RoomRef) -> None: ...
    async def rooms(self, community: CommunityId) -> list[RoomRef]: ...
    async def is_encrypted(self, room: RoomRef) -> bool:
        """Whether a bound room is known to be end-to-end encrypted (False if unbound)."""
        ...

    async def mark_encrypted(self, room: RoomRef) -> bool:
        """Record that a bound room is encrypted now; False when it was known already or
        is not bound (encryption is never turned off)."""
        ...

    async def encrypted_rooms(self, community: CommunityId) -> list[RoomRef]:
        """The community's rooms known to be encrypted."""
        ...

    async def on_platform(self, platform: str) -> list[tuple[RoomRef, CommunityId]]: ...


class Proposals(Protocol):
    async def add(self, proposal: Proposal) -> Proposal:
        """Store a new proposal; returns it with its id and number assigned."""
        ...

    async def get(
        self, community: CommunityId, number: ProposalNumber, *, lock: bool = False
    ) -> Proposal | None: ...
    async def get_by_id(self, proposal: ProposalId, *, lock: bool = False) -> Proposal | None: ...
    async def prefetch(self, proposals: Sequence[ProposalId]) -> None:
        """Read and lock these in one go: the next ``get_by_id(p, lock=True)`` of each
        in this unit of work is answered from it (once)."""
        ...

    async def get_many(
        self, community: CommunityId, numbers: Sequence[ProposalNumber]
    ) -> dict[ProposalNumber, Proposal]:
        """Read and share-lock, so a close cannot slip in before the batch commits."""
        ...

    async def update(self, proposal: Proposal, *, expect: Status) -> bool:
        """Write `proposal` only if its stored status is still `expect`."""
        ...

    async def recent(self, community: CommunityId, *, limit: int) -> list[Proposal]: ...
    async def add_outcome(
        self, proposal: ProposalId, statement: str, by: MemberId, at: datetime
    ) -> None: ...
    async def outcome(self, proposal: ProposalId) -> str | None: ...
    async def add_version(self, proposal: ProposalId, version: Version) -> None: ...
    async def versions(self, proposal: ProposalId) -> list[Version]:
        """Every version of the text, oldest (as proposed) first."""
        ...

    async def add_summary(self, proposal: ProposalId, summary: Summary) -> None: ...
    async def summaries(self, proposal: ProposalId) -> list[Summary]:
        """Every summary, oldest first; the last is the current one."""
        ...


class Threads(Protocol):
    async def record(
        self, proposal: ProposalId, room: RoomRef, thread_id: str, *, at: datetime
    ) -> bool:
        """Bind the proposal's thread in `room`; False if it was bound to it already."""
        ...

    async def of(self, proposal: ProposalId) -> list[ThreadBinding]: ...


class Ballots(Protocol):
    async def freeze_roll(self, proposal: ProposalId, members: Sequence[MemberId]) -> None: ...
    async def roll(self, proposal: ProposalId) -> list[MemberId]: ...
    async def on_roll(
        self, pairs: Sequence[tuple[ProposalId, MemberId]]
    ) -> dict[tuple[ProposalId, MemberId], str | None]:
        """The pairs on the roll, each with the voter's stakeholder class."""
        ...

    async def current(self, keys: Sequence[BallotKey]) -> dict[BallotKey, Choice]: ...
    async def write(self, writes: Sequence[BallotWrite], *, history: bool) -> None:
        """Apply ballot inserts, changes and removals; with `history`, keep each one."""
        ...

    async def choices(self, proposal: ProposalId) -> list[Choice]: ...
    async def prefetch_choices(self, proposals: Sequence[ProposalId]) -> None:
        """Read these proposals' ballots in one go: the next ``choices(p)`` of each in
        this unit of work is answered from it (once)."""
        ...

    async def by_class(self, proposal: ProposalId) -> list[ClassBallots]:
        """Ballots grouped by their voters' classes, with each class's size on the roll."""
        ...

    async def count(self, proposal: ProposalId) -> int: ...
    async def seal_secret(self, proposal: ProposalId) -> None:
        """After a secret vote closes: keep the choices, lose every trace of order."""
        ...

    async def set_key(self, proposal: ProposalId, key: bytes) -> None: ...
    async def keys(self, proposals: Sequence[ProposalId]) -> dict[ProposalId, bytes]: ...
    async def destroy_key(self, proposal: ProposalId) -> None:
        """Delete a secret vote's key; `keys_destroyed` is then true for this unit of
        work, whose caller scrubs the store once it is committed (`Deps.scrub`)."""
        ...

    @property
    def keys_destroyed(self) -> bool:
        """Whether this unit of work destroyed a secret vote's key."""
        ...


class Receipts(Protocol):
    """Receipt codes of secret ballots (`governance.domain.receipts`)."""

    async def held(self, keys: Sequence[ReceiptKey]) -> dict[ReceiptKey, str]: ...
    async def write(self, writes: Sequence[ReceiptWrite]) -> None: ...
    async def seal(self, proposal: ProposalId) -> list[str]:
        """At close: forget every holder; returns the codes, sorted (the published list)."""
        ...

    async def codes(self, proposal: ProposalId) -> list[str]:
        """The proposal's codes, sorted."""
        ...


class DecisionLog(Protocol):
    async def append(
        self,
        community: CommunityId,
        *,
        at: datetime,
        kind: str,
        proposal: ProposalNumber | None,
        actor: MemberId | None,
        data: dict[str, Any],
    ) -> LogEntry: ...
    async def entries(self, community: CommunityId) -> list[LogEntry]: ...


class Outbox(Protocol):
    async def add(self, events: Sequence[Event], *, at: datetime) -> None: ...
    async def unrouted(self, *, limit: int) -> list[OutboxRow]:
        """Committed events not yet routed into deliveries, oldest first."""
        ...

    async def route(self, routes: Sequence[tuple[int, Sequence[Channel]]], *, at: datetime) -> int:
        """Mark each row routed and add a delivery per channel, for the rows no other
        process routed first; returns how many this call routed."""
        ...

    async def open_deliveries(
        self, *, platforms: Sequence[str], skip: Sequence[str] = (), limit: int
    ) -> list[Delivery]:
        """Deliveries not yet delivered nor given up, on these platforms, in outbox
        order, leaving out the channels in `skip`."""
        ...

    async def claim(self, deliveries: Sequence[int], *, now: datetime, until: datetime) -> set[int]:
        """Take deliveries until `until`; returns those no other process holds."""
        ...

    async def release(self, deliveries: Sequence[int]) -> None:
        """Give claimed deliveries back untried."""
        ...

    async def delivered(self, deliveries: Sequence[int], *, at: datetime) -> None: ...
    async def forget(self, deliveries: Sequence[int]) -> None:
        """Private deliveries are done: remove them, leaving no record of who was told."""
        ...

    async def failed(
        self, delivery: int, *, at: datetime, retry_at: datetime, error: str
    ) -> None: ...
    async def give_up(self, delivery: int, *, at: datetime, error: str) -> None: ...
    async def give_up_channel(self, channel: Channel, *, at: datetime, error: str) -> int:
        """Give up every delivery to `channel` not yet delivered nor given up (with no
        attempt counted: none was made for this); returns how many."""
        ...

    async def dead_letters(self, community: CommunityId, *, limit: int) -> list[DeadLetter]:
        """Deliveries given up on, newest first."""
        ...


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention batch removed."""

    outbox: int = 0
    deliveries: int = 0
    platform_events: int = 0


class Retention(Protocol):
    """Removing what is done with and no longer needed (governance.service.retention).
    Never the decision log, dead letters, or anything not yet delivered."""

    async def prune_delivered(self, *, before: datetime, limit: int) -> Pruned:
        """Up to `limit` outbox rows, oldest first, routed before `before` whose every
        delivery was delivered before `before`, with their deliveries; in one transaction."""
        ...

    async def prune_seen_events(self, *, before: datetime, limit: int) -> Pruned:
        """Up to `limit` handled-event ids first seen before `before`; in one transaction."""
        ...


class DueWork(Protocol):
    @property
    def scheduled(self) -> list[datetime]:
        """The moments this unit of work added or moved due work to."""
        ...

    async def add(
        self, kind: str, proposal: ProposalId, due_at: datetime, detail: str | None = None
    ) -> None: ...
    async def move(self, kind: str, proposal: ProposalId, due_at: datetime) -> None: ...
    async def drop(self, proposal: ProposalId, kind: str | None = None) -> None:
        """Drop the proposal's pending items (of one kind, or all)."""
        ...

    async def done_details(self, proposal: ProposalId, kind: str) -> set[str]:
        """The details of the proposal's items of `kind` that have run."""
        ...

    async def claim(self, now: datetime) -> DueItem | None:
        """The earliest pending item due by `now`, locked for this transaction."""
        ...

    async def claim_batch(self, now: datetime, *, limit: int) -> list[DueItem]:
        """Up to `limit` pending items due by `now`, earliest first, locked for this
        transaction (on PostgreSQL skipping those another transaction holds)."""
        ...

    async def done(self, item: int, *, at: datetime) -> None: ...
    async def done_many(self, items: Sequence[int], *, at: datetime) -> None: ...
    async def postpone(self, item: int, *, to: datetime) -> None:
        """It failed: count the attempt and try again at `to`."""
        ...

    async def next_due(self) -> datetime | None: ...

    async def add_prompt(self, kind: str, prompt: PromptId, due_at: datetime) -> None:
        """A prompt's due work (its next posting)."""
        ...

    async def drop_prompt(self, prompt: PromptId) -> None:
        """Drop the prompt's pending items."""
        ...


class Prompts(Protocol):
    """Narrative prompts (`governance.domain.prompts`)."""

    async def add(self, prompt: Prompt) -> Prompt:
        """Store a new prompt; returns it with its id and number assigned."""
        ...

    async def get(
        self, community: CommunityId, number: PromptNumber, *, lock: bool = False
    ) -> Prompt | None: ...
    async def get_by_id(self, prompt: PromptId, *, lock: bool = False) -> Prompt | None: ...
    async def welcome(self, community: CommunityId) -> Prompt | None:
        """The community's welcome prompt, if it has one (whatever its status)."""
        ...

    async def update(self, prompt: Prompt, *, expect: Prompt) -> bool:
        """Write `prompt` only if the stored one still has `expect`'s status and
        posting count (so a posting, a pause or an end happens once)."""
        ...

    async def listed(
        self, community: CommunityId, *, ended: bool = False, encrypted: bool = True, limit: int
    ) -> list[Prompt]:
        """The community's prompts by number, ended ones only if asked for; without
        `encrypted`, none that began in an encrypted room (`confidentiality`)."""
        ...

    async def count(
        self, community: CommunityId, status: str | None = None, *, encrypted: bool = True
    ) -> int: ...
    async def record_thread(
        self, prompt: PromptId, posting: int, room: RoomRef, thread_id: str, *, at: datetime
    ) -> bool:
        """Record the thread a posting opened in `room`; False if it was recorded already."""
        ...

    async def by_thread(self, room: RoomRef, thread_id: str) -> Prompt | None:
        """The prompt whose posting opened thread `thread_id` in `room`."""
        ...

    async def threads(self, prompt: PromptId) -> list[PromptThread]:
        """The threads the prompt's postings opened, latest posting first."""
        ...


@dataclass(frozen=True, slots=True)
class PartRef:
    """One member community's part of a federation proposal, as stored."""

    community: CommunityId
    proposal: ProposalId
    number: ProposalNumber
    roll: int
    weight: int


@dataclass(frozen=True, slots=True)
class FederatedIn:
    """The federation proposal a part belongs to."""

    proposal: ProposalId
    community: CommunityId
    number: ProposalNumber


class Federation(Protocol):
    """Federation proposals and their parts (`governance.domain.federation`)."""

    async def add_part(
        self,
        federation: ProposalId,
        community: CommunityId,
        part: ProposalId,
        *,
        roll: int,
        weight: int,
    ) -> None: ...
    async def parts(self, federation: ProposalId) -> list[PartRef]:
        """The federation proposal's parts, by community name (none before it opens)."""
        ...

    async def federation_of(self, part: ProposalId) -> FederatedIn | None:
        """The federation proposal `part` is a part of; None for any other proposal."""
        ...

    async def parts_numbered(
        self, community: CommunityId, number: ProposalNumber
    ) -> list[tuple[CommunityId, ProposalNumber]]:
        """The parts in `community` of federation proposals numbered `number` (in their
        federations): each federation and the part's number here."""
        ...


class Stories(Protocol):
    async def add(self, story: Story) -> Story:
        """Insert with the community's next number; returns the story with its id."""
        ...

    async def get(self, community: CommunityId, number: int) -> Story | None: ...
    async def edit(self, story: Story, text_: str, *, at: datetime) -> None: ...
    async def reshare(self, story: Story) -> None:
        """Store `story`'s consent and author (or author tag) as they are now."""
        ...

    async def hide(self, story: Story, reason: str) -> None: ...
    async def withdraw(self, story: Story) -> None:
        """Delete the story and every index entry of its words."""
        ...

    async def record_source(self, story: Story, platform: str, message_id: str) -> None:
        """Note the chat message `story` was told as (a reply in a prompt's thread)."""
        ...

    async def by_source(self, platform: str, message_id: str) -> Story | None:
        """The story told as that chat message, if it is one still."""
        ...

    async def count_for(self, community: CommunityId, proposal: int) -> int: ...
    async def find(
        self, community: CommunityId, query: StoryQuery, *, limit: int, offset: int = 0
    ) -> FoundStories: ...
    async def all(self, community: CommunityId, consents: Sequence[Consent]) -> list[Story]: ...


@dataclass(frozen=True, slots=True)
class StoryQuery:
    """What `!stories` asks for: words (full text), tags, a prompt or a proposal."""

    words: str = ""
    tags: tuple[str, ...] = ()
    prompt: int | None = None
    proposal: int | None = None
    consents: tuple[Consent, ...] = tuple(Consent)
    hidden: bool = False
    encrypted: bool = True
    """Whether stories that began in an encrypted room are included."""


SEARCH_COUNT_LIMIT = 1_000
"""A search (words or tags) counts its matches up to this many. Past it, a page within
the first ``SEARCH_COUNT_LIMIT`` matches says "more than 1,000" instead of an exact total:
counting 85,000 matches of "the" costs more than the page, and tells a reader nothing a
narrower search would not. A listing without words or tags is always counted exactly
(from an index), and so is a search asked for a page past the limit."""


@dataclass(frozen=True, slots=True)
class FoundStories:
    """One page of `StoryRepo.find`, newest first."""

    stories: list[Story]
    total: int
    """How many match in all; with `more`, a lower bound (`SEARCH_COUNT_LIMIT`)."""
    more: bool = False
    """More than `total` match: the search was not counted past `SEARCH_COUNT_LIMIT`."""


@dataclass(frozen=True, slots=True)
class PlatformEvent:
    """A platform event that carries a command (a Matrix message, a poll response):
    its mark as handled is written in the transaction of the command's effect, so a
    crash loses neither (a replay after a restart is then skipped, or handled anew)."""

    platform: str
    event_id: str
    seen_at: datetime


class HandledEvents(Protocol):
    """Marks of the platform events handled: each is written once, ever."""

    async def mark(self, events: Sequence[PlatformEvent]) -> set[PlatformEvent]:
        """Mark `events` handled in this unit of work; the ones that were not yet (the
        others were handled before: skip them). Another instance marking the same
        event waits for this transaction, then finds it marked."""
        ...

    @property
    def unsaved(self) -> bool:
        """Whether a mark was written since the last commit (it goes with the next)."""
        ...


class UnitOfWork(Protocol):
    @property
    def communities(self) -> Communities: ...
    @property
    def members(self) -> Members: ...
    @property
    def bindings(self) -> Bindings: ...
    @property
    def proposals(self) -> Proposals: ...
    @property
    def ballots(self) -> Ballots: ...
    @property
    def log(self) -> DecisionLog: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def due(self) -> DueWork: ...
    @property
    def threads(self) -> Threads: ...
    @property
    def stories(self) -> Stories: ...
    @property
    def prompts(self) -> Prompts: ...
    @property
    def receipts(self) -> Receipts: ...
    @property
    def federation(self) -> Federation: ...
    @property
    def identity(self) -> Identity: ...
    @property
    def handled(self) -> HandledEvents: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def write_behind(self) -> None:
        """Let inserts and updates that nothing in this unit of work reads back wait
        until commit, and go in one statement per table (batched due work)."""
        ...

    async def commit(self) -> None:
        """Commit; raises `ConflictError` if another writer won a race."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work; `read_only` ones never write, so the store may let them run
        beside the writer (SQLite: a deferred transaction instead of an immediate one)."""
        ...


class Outlet(Protocol):
    """One platform's way of posting the core's messages."""

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        """Post `message` in `room`. `key` is stable across retries of the same
        delivery, for the platform's idempotency (Matrix txn id, Discord nonce).
        Raises `ChannelGone` if the room is gone for good."""
        ...

    async def open_thread(self, room: RoomRef, message: Message, *, key: str) -> str | None:
        """Post `message` as the start of a thread (a deliberation's) and return the
        thread's id, the same on a retry with the same key; or post it as usual and
        return None where the platform has no threads."""
        ...

    async def post_in_thread(
        self, room: RoomRef, thread: str, message: Message, *, key: str
    ) -> None:
        """Post `message` in a thread this outlet opened (`open_thread`) too."""
        ...

    async def tell(self, account: AccountRef, message: Message, *, key: str) -> None:
        """Say `message` to one person privately (a direct room, a DM), with the same
        idempotency and errors as `post`."""
        ...


class Wakeup(Protocol):
    def due_at(self, moment: datetime) -> None:
        """Due work now exists at `moment`: wake up by then."""
        ...


Outcome = Literal["ok", "refused", "error"]
"""How a command ended: done, refused (the member's to fix), or failed (a bug, an
outage: logged with a reference)."""
UNPARSED = "unparsed"
"""The kind of a message that did not parse into a command (an unknown word, a bad
argument)."""


class Observer(Protocol):
    """Told about each message or command the core handles, for figures and logs
    (``folkmoot run`` counts and times them). It learns a command's kind (its class
    name, or `UNPARSED`), its outcome, and the platform and timestamp of what brought
    it: never who sent it, where, or what it said."""

    def handling(self) -> AbstractContextManager[object]:
        """Entered around one command, from its arrival to its reply: what is logged
        meanwhile belongs to it."""
        ...

    def on_command(self, kind: str, outcome: Outcome) -> None:
        """A command (or a message that did not parse) was handled, with `outcome`."""
        ...

    def on_reply(self, platform: str, sent_at: datetime) -> None:
        """The reply to what was sent on `platform` at `sent_at` (the platform's
        timestamp) is ready."""
        ...
