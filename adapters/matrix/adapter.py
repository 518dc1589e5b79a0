"""The Matrix adapter: one bot account, through matrix-nio.

It reads commands from the rooms it is in and answers them (a reaction for a vote, a
reply for the rest, with its file uploaded when it has one), and it is the core's
`Outlet` on Matrix: announcements as HTML notices, deliberation and prompt threads,
private messages in a direct room with each member.

A command typed in a thread belongs to the room, and is answered in that thread; any
other message in a prompt's thread is a story for the prompt (an anonymous story is
told in the member's direct room with the bot instead, with ``!story``). Such a story
follows its message: its author's edit (``m.replace``) edits it, and a redaction
withdraws it (its author's) or hides it (a community moderator's).

The device, its encryption store and the sync token live in the data directory, so a
restart resumes where the last sync ended: what was said meanwhile is handled then,
votes counted by their ``origin_server_ts``. Each event is handled once: its id is
recorded in the database in the transaction that applies it (`PlatformEvent`), so a
replayed event, after a restart or by a second instance, is skipped, and a crash
before that commit loses nothing the replay does not do.

The first sync after a start asks for the full state of every joined room (its
timeline still only what is new), so every room, quiet or not, can be written to at
once, encrypted where it must be; a room no sync has shown (a direct room opened a
moment ago) has its state read before anything is sent there. Either way the core is
told of each encrypted room (`Governance.room_encrypted`), which nio's callbacks do not
do for state outside the timeline.

Answers to commands are sent at once; one whose sending fails is tried again a few
times in the background over about a minute, then reported lost in the log (what and
where, never its words). Announcements and private messages from the core go through
its outbox, which retries them itself.

An open vote with live results is also a poll (`polls`); its card and poll are edited
(``m.replace``, `cards`) to show the tally as ballots come (at most one edit per
proposal every few seconds, `adapters.coalesce`) and once more at close, before the poll is ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    Event,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RedactionEvent,
    RoomCreateResponse,
    RoomEncryptionEvent,
    RoomGetEventResponse,
    RoomGetStateResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    RoomUpgradeEvent,
    SyncResponse,
    UnknownEvent,
    UploadResponse,
    WhoamiResponse,
)

from adapters.coalesce import Coalesced
from adapters.matrix import cards, incoming, polls, render
from governance.domain.commands import Context, FollowPlatformRole, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.service.app import Governance
from governance.service.ports import ChannelGone, PlatformEvent
from governance.text.grammar import is_command
from governance.text.messages import Attachment, Audience, Block, Message, Reply

log = logging.getLogger(__name__)

PLATFORM = "matrix"
ACK = "✅"
SYNC_TIMEOUT_MS = 30_000
MAX_BACKOFF = 60.0
MAX_TIMEOUTS = 2
REQUEST_TIMEOUT = 60.0
"""Longer than a sync's long poll (SYNC_TIMEOUT_MS)."""
SYNC_FILTER = {"room": {"timeline": {"limit": 500}}, "presence": {"types": []}}
"""A long timeline per room, so a restart after a busy hour still sees every vote."""
UNBOUND_HINT = "This room is not bound to a community; an admin can !bind it."
THREAD_RECORD_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
"""How long a reply in a prompt's thread opened a moment ago waits for the core to have
recorded the thread (the dispatcher does it once the posting is sent): about 3 s."""
RECENT_PROMPT_ROOTS = 256
RECENT_SENDS = 4096
"""How many keyed sends this process remembers having made, so that a delivery tried
again (a result whose card edit failed) sends its first parts no more: Synapse forgets
a transaction id after a while, and the outbox may retry for a day."""
GONE = ("M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM")
"""Error codes that mean the bot may not write to the room (any more)."""
ANSWER_RETRY_WAITS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
"""How long an answer whose sending failed waits before each new try: about a minute
in all, then it is reported lost."""
LIVE_EDIT_EVERY = 10.0
"""Seconds between two edits of a vote's card and poll (each is an event in the room,
under the homeserver's message rate limit)."""

Relate = Callable[[dict[str, Any]], dict[str, Any]]
"""How a message relates to another: a reply, a message in a thread."""


class MatrixStartError(Exception):
    """Start-up cannot go on: the message says why (bad token, unreachable server)."""


class _Client(AsyncClient):  # type: ignore[misc]  # nio has no type hints
    """nio's client, leaving an encrypted event's relation (a reply, a thread, an edit)
    in the clear too, as the spec asks: homeservers aggregate relations by it, and
    clients find edits and threads by it (nio puts it only inside the ciphertext)."""

    def encrypt(
        self, room_id: str, message_type: str, content: dict[Any, Any]
    ) -> tuple[str, dict[str, str]]:
        kind, encrypted = super().encrypt(room_id, message_type, content)
        relation = content.get("m.relates_to")
        if isinstance(relation, dict):
            encrypted = {**encrypted, "m.relates_to": relation}
        return kind, encrypted


def _failure(room_id: str, response: object) -> Exception:
    """What a refused request to `room_id` means: the bot is out of it (ChannelGone) or
    the homeserver failed (ConnectionError, worth another try)."""
    status = getattr(response, "status_code", None)
    if status in GONE:
        return ChannelGone(f"{room_id}: {getattr(response, 'message', status)}")
    return ConnectionError(f"{room_id}: {response}")


class SeenEvents(Protocol):
    async def direct_room(self, account_id: str) -> str | None: ...
    async def remember_direct_room(self, account_id: str, room_id: str) -> None: ...
    async def forget_direct_room(self, account_id: str) -> None: ...
    async def remember_poll(
        self, room_id: str, proposal: int, event_id: str, kind: str
    ) -> None: ...
    async def poll(self, room_id: str, event_id: str) -> int | None: ...
    async def polls_of(self, room_id: str, proposal: int) -> list[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class MatrixSettings:
    homeserver: str
    user_id: str
    store_dir: Path
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    device_name: str = "folkmoot"
    invite_from: tuple[str, ...] = ()
    """Who may invite the bot: user ids (``@ana:example.org``) or servers (``:example.org``)."""
    power_roles: Mapping[str, int] = field(default_factory=dict)
    """Room power levels that make a new member a moderator or admin (``moderator = 50``)."""


def _unheard() -> None:
    return None


def _mark(event_id: str) -> PlatformEvent:
    """How the core marks event `event_id` handled, with the command it carries."""
    return PlatformEvent(PLATFORM, event_id, datetime.now(UTC))


class MatrixAdapter:
    def __init__(
        self,
        settings: MatrixSettings,
        governance: Governance,
        state: SeenEvents,
        *,
        on_reconnect: Callable[[], None] = _unheard,
    ) -> None:
        """`on_reconnect` is called each time a sync succeeds after syncs failed (the
        homeserver was unreachable or refused them a while)."""
        self.settings = settings
        self._on_reconnect = on_reconnect
        self._governance = governance
        self._state = state
        self._client: AsyncClient | None = None
        self._hinted: set[str] = set()
        self._levels: dict[tuple[CommunityId, str], Role | None] = {}
        """The role each member's power level gave when last seen, to notice a change."""
        self._skip_history = False
        self._sync_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._since: str | None = None
        self._prompt_roots: OrderedDict[str, None] = OrderedDict()
        """Prompt postings this process sent lately: their threads may not be recorded
        yet when the first reply comes."""
        self._retrying: set[asyncio.Task[None]] = set()
        self._sent: OrderedDict[tuple[str, str], str] = OrderedDict()
        """(room, transaction id) → event id of the keyed sends made lately."""
        """Answers being tried again in the background."""
        self._live = Coalesced(self._show_live, interval=LIVE_EDIT_EVERY)
        self._unwatch: Callable[[], None] | None = None
        self._vote_locks: weakref.WeakValueDictionary[tuple[str, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        """One per vote and room: a live edit and the close's edits never interleave."""

    # ------------------------------------------------------------------ lifecycle

    @property
    def client(self) -> AsyncClient:
        assert self._client is not None, "the Matrix adapter is not connected"
        return self._client

    async def start(self) -> None:
        """Log in (or resume the stored session), then handle what was said while the
        bot was away, before returning: missed closes run after the backlog."""
        await self.stop()  # a second start (a lease taken again) replaces the first
        await self._connect()
        try:
            await self._catch_up()
        except BaseException:
            await self.stop()
            raise
        self._stopping.clear()
        self._sync_task = asyncio.create_task(self._sync_forever(), name="matrix-sync")
        # Every ballot this process takes, from any platform, refreshes live cards.
        self._unwatch = self._governance.watch_ballots(self._live.touch)

    async def stop(self) -> None:
        self._stopping.set()
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        await self._live.close()
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sync_task
            self._sync_task = None
        for task in list(self._retrying):
            task.cancel()  # each reports what it could not send
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _connect(self) -> None:
        s = self.settings
        s.store_dir.mkdir(parents=True, exist_ok=True)
        # nio retries a refused connection for ever unless told otherwise; the sync loop
        # below has its own back-off, and start-up must fail rather than hang.
        config = AsyncClientConfig(
            # The sync position is ours to keep (see _sync_once): nio would save it
            # before the batch's events are handled, and lose the rest of a batch
            # whose handling failed or was cut off.
            store_sync_tokens=False,
            encryption_enabled=True,
            max_timeouts=MAX_TIMEOUTS,
            request_timeout=REQUEST_TIMEOUT,
        )
        client = _Client(s.homeserver, s.user_id, store_path=str(s.store_dir), config=config)
        try:
            await self._login(client)
        except MatrixStartError:
            await client.close()
            raise
        except (OSError, TimeoutError, ClientError) as error:
            await client.close()
            raise MatrixStartError(
                f"the Matrix homeserver {s.homeserver} is unreachable ({type(error).__name__})"
            ) from None
        client.add_event_callback(self._on_message, RoomMessageText)
        client.add_event_callback(self._on_unknown, UnknownEvent)
        client.add_event_callback(self._on_invite, InviteMemberEvent)
        client.add_event_callback(self._on_member, RoomMemberEvent)
        client.add_event_callback(self._on_upgrade, RoomUpgradeEvent)
        client.add_event_callback(self._on_redaction, RedactionEvent)
        client.add_event_callback(self._on_encryption, RoomEncryptionEvent)
        self._client = client
        if client.should_upload_keys:
            await client.keys_upload()

    def _session_file(self) -> Path:
        return self.settings.store_dir / "session.json"

    async def _login(self, client: AsyncClient) -> None:
        s = self.settings
        saved = self._saved_session()
        if saved is not None and await self._resume(client, saved["device_id"], saved["token"]):
            return
        if s.token:
            client.access_token = s.token
            who = await client.whoami()
            if not isinstance(who, WhoamiResponse) or who.user_id != s.user_id:
                raise MatrixStartError(
                    f"the Matrix access token was refused for {s.user_id} "
                    "(FOLKMOOT_MATRIX_TOKEN); give a valid one or a password"
                )
            client.restore_login(s.user_id, who.device_id or "", s.token)
            self._save_session(who.device_id or "", s.token)
            return
        if not s.password:
            raise MatrixStartError(
                "no Matrix credentials: set FOLKMOOT_MATRIX_PASSWORD or FOLKMOOT_MATRIX_TOKEN"
            )
        response = await client.login(password=s.password, device_name=s.device_name)
        if not isinstance(response, LoginResponse):
            raise MatrixStartError(
                f"Matrix login as {s.user_id} failed: {getattr(response, 'message', response)}"
            )
        self._save_session(response.device_id, response.access_token)
        client.load_store()

    async def _resume(self, client: AsyncClient, device_id: str, token: str) -> bool:
        client.restore_login(self.settings.user_id, device_id, token)
        who = await client.whoami()
        if isinstance(who, WhoamiResponse) and who.user_id == self.settings.user_id:
            return True
        log.warning("the stored Matrix session was refused; logging in again")
        client.access_token = ""
        return False

    def _saved_session(self) -> dict[str, str] | None:
        try:
            data = json.loads(self._session_file().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("user_id") != self.settings.user_id:
            return None
        return {"device_id": str(data["device_id"]), "token": str(data["token"])}

    def _save_session(self, device_id: str, token: str) -> None:
        """The device and its token, readable by this user only (it is a secret)."""
        path = self._session_file()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(
                {"user_id": self.settings.user_id, "device_id": device_id, "token": token}, out
            )

    def _token_file(self) -> Path:
        return self.settings.store_dir / "sync-token"

    async def _sync_once(self, *, poll_ms: int, full_state: bool = False) -> SyncResponse:
        """One sync from the last position fully handled; the position moves on only
        once every event of the batch was handled, so a batch cut off (an error, a
        stop, a crash) is read again, and the core skips what was done (its mark
        commits with its effect).

        `full_state`: every joined room's whole state comes too (the timeline still
        starts at the position), so nio knows every room, quiet ones included."""
        since = self._since
        response = await self.client.sync(
            timeout=poll_ms,
            since=since,
            full_state=full_state or since is None,
            sync_filter=SYNC_FILTER,
        )
        if not isinstance(response, SyncResponse):
            raise ConnectionError(f"Matrix sync failed: {response}")
        await self._keys()
        self._since = response.next_batch
        self._token_file().write_text(response.next_batch, encoding="utf-8")
        if since is not None:
            self._warn_if_cut(response)
        return response

    def _warn_if_cut(self, response: SyncResponse) -> None:
        """Warn of a room whose new messages did not all fit in this sync (some were not
        seen). A room the bot joined in this very batch is not one: its first sync
        holds only the latest of its history, as it should."""
        me = self.settings.user_id
        for room_id, room in response.rooms.join.items():
            if not room.timeline.limited:
                continue
            joined_now = any(
                isinstance(event, RoomMemberEvent)
                and event.state_key == me
                and event.membership == "join"
                and event.prev_membership != "join"
                for event in room.timeline.events
            )
            if not joined_now:
                log.warning("room %s had more messages while away than one sync holds", room_id)

    async def _catch_up(self) -> None:
        try:
            self._since = self._token_file().read_text(encoding="utf-8").strip() or None
        except OSError:
            self._since = None
        # A first start ever: the rooms' history is not ours to act on.
        self._skip_history = self._since is None
        try:
            await self._sync_once(poll_ms=0, full_state=True)
        except ConnectionError as error:
            raise MatrixStartError(str(error)) from None
        finally:
            self._skip_history = False
        # The full state shows every room's encryption, which nio runs no callback for
        # (it is no timeline event): a room bound before its encryption was recorded.
        for room in list(self.client.rooms.values()):
            if room.encrypted:
                await self._on_encryption(room)

    async def _keys(self) -> None:
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())

    async def _sync_forever(self) -> None:
        delay = 1.0
        failed = 0
        while not self._stopping.is_set():
            try:
                await self._sync_once(poll_ms=SYNC_TIMEOUT_MS)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failed += 1
                log.warning("Matrix sync failed (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            if failed:
                self._on_reconnect()
                log.info("Matrix sync works again after %d failed attempt(s)", failed)
            delay, failed = 1.0, 0

    # ------------------------------------------------------------------ incoming

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key != self.settings.user_id or event.membership != "invite":
            return
        if not self._may_invite(event.sender):
            log.info("ignoring an invite to %s from %s", room.room_id, event.sender)
            return
        joined = await self.client.join(room.room_id)
        if isinstance(joined, JoinError):
            log.warning("could not join %s: %s", room.room_id, joined.message)

    def _may_invite(self, sender: str) -> bool:
        return any(
            sender == allowed or (allowed.startswith(":") and sender.endswith(allowed))
            for allowed in self.settings.invite_from
        )

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if self._skip_history or event.sender == self.settings.user_id:
            return
        content = event.source.get("content", {})
        if not isinstance(content, dict):
            return
        edit = incoming.replaced(content)
        if edit is not None:
            await self._edited(room, event, *edit)
            return
        text = incoming.text(event.body, content)
        thread = incoming.thread_root(content)
        if not is_command(text):
            if thread is not None:
                await self._in_thread(room, event, thread, text)
            return
        # From here it must finish even if the sync is stopped (a replay would do it
        # again otherwise; the core skips it once handled).
        handling = self._command(
            room, event.event_id, event.sender, event.server_timestamp, text, thread=thread
        )
        await asyncio.shield(self._guarded(handling, event.event_id))

    async def _in_thread(
        self, room: MatrixRoom, event: RoomMessageText, root: str, text: str
    ) -> None:
        """A message in a thread: in a prompt's thread of a bound room, a story for it."""
        ref = RoomRef(PLATFORM, room.room_id)
        community = await self._governance.community_of(ref)
        if community is None or not await self._is_prompt_thread(ref, root):
            return  # a deliberation's thread, or any other: talk among members
        handling = self._story(room, community, event, root, text)
        await asyncio.shield(self._guarded(handling, event.event_id))

    async def _edited(
        self, room: MatrixRoom, event: RoomMessageText, original: str, text: str
    ) -> None:
        """An edit (``m.replace``) of a message in a bound room: if that message was told
        as a story and this is its author's edit, the story follows (a refusal, say of an
        emptied message, is answered in the story's thread)."""
        ref = RoomRef(PLATFORM, room.room_id)
        if await self._governance.community_of(ref) is None:
            return
        handling = self._follow_edit(room, event, original, text)
        await asyncio.shield(self._guarded(handling, event.event_id))

    async def _follow_edit(
        self, room: MatrixRoom, event: RoomMessageText, original: str, text: str
    ) -> None:
        ref = RoomRef(PLATFORM, room.room_id)
        actor = AccountRef(PLATFORM, event.sender)
        reply = await self._governance.thread_story_edited(
            ref, actor, original, text, event=_mark(event.event_id)
        )
        if reply is None or reply.ok:
            return  # the edit shows itself; the story follows it quietly
        root = await self._thread_of(room.room_id, original)
        answer = (
            None if root is None else partial(render.thread_reply, root=root, event_id=original)
        )
        key = f"folkmoot-reply-{event.event_id}"
        await self._reliably(
            lambda: self._say(room.room_id, reply.message, key, relate=answer),
            f"the refusal of edit {event.event_id}",
            room.room_id,
        )

    async def _thread_of(self, room_id: str, event_id: str) -> str | None:
        """The thread root of message `event_id` (read from the homeserver), if any."""
        found = await self.client.room_get_event(room_id, event_id)
        if not isinstance(found, RoomGetEventResponse):
            return None
        content = found.event.source.get("content", {})
        return incoming.thread_root(content) if isinstance(content, dict) else None

    async def _on_redaction(self, room: MatrixRoom, event: RedactionEvent) -> None:
        """A message redacted in a bound room: if it was told as a story, its author's
        redaction withdraws the story, a community moderator's hides it, and anyone
        else's changes nothing (the core decides, from who redacted it)."""
        if self._skip_history or event.sender == self.settings.user_id:
            return
        ref = RoomRef(PLATFORM, room.room_id)
        if await self._governance.community_of(ref) is None:
            return
        handling = self._follow_redaction(
            ref, AccountRef(PLATFORM, event.sender), event.redacts, _mark(event.event_id)
        )
        await asyncio.shield(self._guarded(handling, event.event_id))

    async def _follow_redaction(
        self, ref: RoomRef, actor: AccountRef, redacted: str, seen: PlatformEvent
    ) -> None:
        # Nothing is said: the message is gone, and a moderator's hiding is told to the
        # author privately by the core.
        await self._governance.thread_story_deleted(ref, actor, redacted, event=seen)

    async def _is_prompt_thread(self, ref: RoomRef, root: str) -> bool:
        """Whether `root` opened a prompt's thread; for a posting sent a moment ago by
        this process, once the core has recorded it (waiting a few seconds at most)."""
        waits = iter(THREAD_RECORD_WAITS)
        while await self._governance.prompt_of_thread(ref, root) is None:
            delay = next(waits, None)
            if root not in self._prompt_roots or delay is None:
                self._prompt_roots.pop(root, None)
                return False
            await asyncio.sleep(delay)
        self._prompt_roots.pop(root, None)
        return True

    async def _story(
        self,
        room: MatrixRoom,
        community: CommunityId,
        event: RoomMessageText,
        root: str,
        text: str,
    ) -> None:
        actor = AccountRef(PLATFORM, event.sender)
        await self._join(room, community, actor)
        sent_at = datetime.fromtimestamp(event.server_timestamp / 1000, UTC)
        ref = RoomRef(PLATFORM, room.room_id)
        reply = await self._governance.story_in_thread(
            ref,
            root,
            actor,
            text,
            sent_at,
            message_id=event.event_id,
            encrypted=room.encrypted,
            event=_mark(event.event_id),
        )
        if reply is None:
            return
        # The consent question (or what is wrong) goes to the author, in the thread.
        answer = partial(render.thread_reply, root=root, event_id=event.event_id)
        key = f"folkmoot-reply-{event.event_id}"
        await self._reliably(
            lambda: self._say(room.room_id, reply.message, key, relate=answer),
            f"the answer to story {event.event_id}",
            room.room_id,
        )

    @staticmethod
    async def _guarded(handling: Awaitable[None], event_id: str) -> None:
        try:
            await handling
        except Exception:
            log.exception("handling Matrix event %s failed", event_id)

    async def _on_member(self, room: MatrixRoom, event: RoomMemberEvent) -> None:
        """Whoever joins a bound room joins its community (roles from power levels); a
        member who leaves their direct room with the bot gets a new one next time."""
        if self._skip_history or event.state_key == self.settings.user_id:
            return
        if event.membership in ("leave", "ban"):
            if await self._state.direct_room(event.state_key) == room.room_id:
                await self._state.forget_direct_room(event.state_key)
            return
        if event.membership != "join":
            return
        community = await self._governance.community_of(RoomRef(PLATFORM, room.room_id))
        if community is not None:
            await self._join(room, community, AccountRef(PLATFORM, event.state_key))

    async def _on_upgrade(self, room: MatrixRoom, event: RoomUpgradeEvent) -> None:
        """The room was upgraded (tombstoned): its binding moves to the new room, and the
        bot joins it (at once if it may; else when it is invited there)."""
        if self._skip_history or not event.replacement_room:
            return
        community = await self._governance.move_room(
            RoomRef(PLATFORM, room.room_id),
            RoomRef(PLATFORM, event.replacement_room),
            event=_mark(event.event_id),
        )
        if community is None:
            return
        log.info("%s was upgraded to %s (%s)", room.room_id, event.replacement_room, community)
        joined = await self.client.join(event.replacement_room)
        if isinstance(joined, JoinError):
            log.info("waiting for an invite to %s (%s)", event.replacement_room, joined.message)

    async def _join_everyone(self, room: MatrixRoom, community: CommunityId) -> None:
        """A room just bound: the people in it become members of the community."""
        for user_id in list(room.users):
            if user_id != self.settings.user_id:
                await self._join(room, community, AccountRef(PLATFORM, user_id))

    async def _on_unknown(self, room: MatrixRoom, event: UnknownEvent) -> None:
        """Poll responses (nio knows no poll events): a response is a ballot."""
        if self._skip_history or event.sender == self.settings.user_id:
            return
        if event.type not in polls.RESPONSES:
            return
        found = polls.response(event.source.get("content", {}))
        if found is None:
            return
        poll_event, answers = found
        proposal = await self._state.poll(room.room_id, poll_event)
        if proposal is None:
            return  # a poll that is not ours, or unknown: nothing to count
        kinds = dict(await self._state.polls_of(room.room_id, proposal))
        if kinds.get(poll_event) not in polls.STARTS:
            return  # a "response" to the card, not to its poll
        text = f"!vote {proposal} {' '.join(answers)}" if answers else f"!unvote {proposal}"
        handling = self._command(room, event.event_id, event.sender, event.server_timestamp, text)
        await asyncio.shield(self._guarded(handling, event.event_id))

    async def _command(
        self,
        room: MatrixRoom,
        event_id: str,
        sender: str,
        timestamp: int,
        text: str,
        *,
        thread: str | None = None,
    ) -> None:
        """A command, typed in the room or in one of its threads (it is the room's
        either way; the answer goes where it was asked)."""
        ref = RoomRef(PLATFORM, room.room_id)
        actor = AccountRef(PLATFORM, sender)
        sent_at = datetime.fromtimestamp(timestamp / 1000, UTC)
        community = await self._governance.community_of(ref)
        direct = community is None and await self._is_direct(room, actor)
        private = await self._community_for(actor) if direct else None
        if community is not None:
            await self._join(room, community, actor)
        reply = await self._governance.handle_text(
            ref,
            actor,
            text,
            sent_at,
            community=private,
            encrypted=room.encrypted,
            event=_mark(event_id),
        )
        if reply is None:
            return
        if community is None and reply.ok and text.lstrip().lower().startswith("!bind"):
            bound = await self._governance.community_of(ref)
            if bound is not None:
                self._hinted.discard(room.room_id)  # if it is unbound again, hint again
                await self._join_everyone(room, bound)
        if community is None and private is None and not reply.ok:
            if room.room_id in self._hinted and not text.lstrip().startswith("!bind"):
                return  # one hint per unbound room is enough
            self._hinted.add(room.room_id)
        await self._answer(room, event_id, actor, reply, thread=thread, direct=direct)

    async def _is_direct(self, room: MatrixRoom, actor: AccountRef) -> bool:
        """A room of the member and the bot alone: the one the bot opened with them, or
        one they opened (two members, no name)."""
        if await self._state.direct_room(actor.account_id) == room.room_id:
            return True
        return bool(room.member_count == 2 and room.is_group)

    async def _community_for(self, actor: AccountRef) -> CommunityId | None:
        found = await self._governance.communities_of(actor)
        return found[0] if len(found) == 1 else None

    async def _join(self, room: MatrixRoom, community: CommunityId, actor: AccountRef) -> None:
        """`actor` a member of `community` (joined now if new); a power level changed
        since they were last seen changes their role too (by the config's mapping)."""
        mapped = self._mapped_role(room, actor)
        key = (community, actor.account_id)
        ctx = Context(actor, RoomRef(PLATFORM, room.room_id), community, datetime.now(UTC))
        if await self._governance.member(community, actor) is not None:
            seen = self._levels.get(key)
            if mapped is not None and seen is not None and seen != mapped:
                await self._governance.handle(FollowPlatformRole(ctx, mapped))
            self._levels[key] = mapped
            return
        name = room.user_name(actor.account_id) or actor.account_id.split(":")[0].lstrip("@")
        role = None if mapped is Role.MEMBER else mapped
        await self._governance.handle(Join(ctx, name[:80], role=role))
        self._levels[key] = mapped

    def _mapped_role(self, room: MatrixRoom, actor: AccountRef) -> Role | None:
        """The role `actor`'s power level in `room` gives by the config (member below
        every threshold); None when the config maps no power levels."""
        if not self.settings.power_roles:
            return None
        level = room.power_levels.get_user_level(actor.account_id)
        role = Role.MEMBER
        for word, threshold in sorted(self.settings.power_roles.items(), key=lambda i: i[1]):
            if level >= threshold:
                role = Role.named(word)
        return role

    async def _answer(
        self,
        room: MatrixRoom,
        event_id: str,
        actor: AccountRef,
        reply: Reply,
        *,
        thread: str | None = None,
        direct: bool = False,
    ) -> None:
        """The answer to a command: in a shared room, a quiet one is a reaction when it
        went well and otherwise said in the member's direct room (a file with it too, and
        what the member must read, like a receipt code); in the direct room, and for the
        rest, a reply (in the thread it was asked in)."""
        message = reply.message
        key = f"folkmoot-reply-{event_id}"
        # A receipt's log line names neither the event nor the member: that they cast
        # a secret ballot is theirs alone, in the log too.
        what = "a receipt" if reply.must_read else f"{_kind_of(reply)} to {event_id}"
        if reply.audience is Audience.QUIET and not direct:
            if reply.ok:
                ack = render.reaction(event_id, ACK)
                await self._reliably(
                    lambda: self._send(room.room_id, "m.reaction", ack, f"folkmoot-ack-{event_id}"),
                    f"the {ACK} on {event_id}",
                    room.room_id,
                )
            if not reply.ok or message.attachment is not None or reply.must_read:
                await self._tell_reliably(actor, message, key, what, named=not reply.must_read)
            return
        if reply.audience is Audience.PRIVATE and not direct:  # the member's eyes only
            await self._tell_reliably(actor, message, key, what, named=not reply.must_read)
            return
        relate: Relate = (
            partial(render.in_reply_to, event_id=event_id)
            if thread is None
            else partial(render.thread_reply, root=thread, event_id=event_id)
        )
        where = "a member's direct room" if reply.must_read else room.room_id
        await self._reliably(
            lambda: self._say(room.room_id, message, key, relate=relate), what, where
        )

    async def _tell_reliably(
        self, actor: AccountRef, message: Message, key: str, what: str, *, named: bool
    ) -> None:
        """`_reliably` to `actor`'s direct room; `named`: the log may say whose it is."""
        where = "a member's direct room"
        if named:
            room = await self._state.direct_room(actor.account_id) or "a new direct room"
            where = f"{room} (with {actor.account_id})"
        await self._reliably(lambda: self.tell(actor, message, key=key), what, where)

    async def _reliably(self, send: Callable[[], Awaitable[object]], what: str, where: str) -> None:
        """Send an answer now; if that fails, try again in the background (the sync goes
        on meanwhile) a few times, then report it lost. `what` and `where` name it in
        the log: never its words, which may be a receipt code."""
        try:
            await send()
            return
        except ChannelGone as error:  # out of a shared room: no try will do
            log.error("%s was lost: the bot cannot write to %s (%s)", what, where, _why(error))
            return
        except Exception as error:
            log.warning("sending %s to %s failed (%s); trying again", what, where, _why(error))
        task = asyncio.create_task(self._retry(send, what, where), name=f"retry {what}")
        self._retrying.add(task)
        task.add_done_callback(self._retrying.discard)

    async def _retry(self, send: Callable[[], Awaitable[object]], what: str, where: str) -> None:
        error: Exception | None = None
        tries = 1
        try:
            for wait in ANSWER_RETRY_WAITS:
                await asyncio.sleep(wait)
                tries += 1
                try:
                    await send()
                except ChannelGone as gone:
                    error = gone
                    break
                except Exception as failed:
                    error = failed
                else:
                    log.info("%s reached %s at try %d", what, where, tries)
                    return
        except asyncio.CancelledError:
            log.error("%s was lost: the bot stopped before it reached %s", what, where)
            raise
        log.error(
            "%s was lost: %d tries to send it to %s failed (%s)", what, tries, where, _why(error)
        )

    # ------------------------------------------------------------------ outgoing (Outlet)

    async def _room(self, room_id: str) -> MatrixRoom:
        """`room_id` as nio knows it, state and all. Every joined room comes with its
        state in the first sync after a start, and each room joined later in its first
        sync; for one no sync has shown yet (a direct room opened a moment ago) the
        state is read from the homeserver here, so nio knows whether it is encrypted
        before anything is sent there. ChannelGone if the bot is not in the room."""
        client = self.client
        room = client.rooms.get(room_id)
        if room is not None:
            return room
        response = await client.room_get_state(room_id)
        if not isinstance(response, RoomGetStateResponse):
            raise _failure(room_id, response)
        me = self.settings.user_id
        state = [raw for raw in response.events if isinstance(raw, dict)]
        mine = next(
            (
                raw.get("content", {}).get("membership")
                for raw in state
                if raw.get("type") == "m.room.member" and raw.get("state_key") == me
            ),
            None,
        )
        if mine != "join":  # the state as it was when the bot left (or was removed)
            raise ChannelGone(f"{room_id}: the bot is not in it ({mine})")
        room = client.rooms.get(room_id)  # a sync may have brought it meanwhile
        if room is not None:
            return room
        room = MatrixRoom(room_id, me)
        for raw in state:
            event = Event.parse_event(raw)
            if isinstance(event, RoomMemberEvent):
                room.handle_membership(event)
            elif isinstance(event, Event):
                room.handle_event(event)
        client.rooms[room_id] = room
        if room.encrypted:
            client.encrypted_rooms.add(room_id)
            if client.olm is not None:
                client.olm.update_tracked_users(room)
            await self._on_encryption(room)
        return room

    async def _send(
        self, room_id: str, kind: str, content: dict[str, Any], key: str | None = None
    ) -> str:
        sent = None if key is None else self._sent.get((room_id, key))
        if sent is not None:
            return sent  # sent by an earlier try of the same delivery
        room = await self._room(room_id)
        if room.encrypted and self.client.olm is None:  # never in clear to such a room
            raise ConnectionError(f"{room_id} is encrypted and the bot's keys are not ready")
        response = await self.client.room_send(
            room_id, kind, content, tx_id=key, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            raise _failure(room_id, response)
        if key is not None:
            self._sent[(room_id, key)] = str(response.event_id)
            while len(self._sent) > RECENT_SENDS:
                self._sent.popitem(last=False)
        return str(response.event_id)

    async def _say(
        self,
        room_id: str,
        message: Message,
        key: str | None = None,
        *,
        relate: Relate | None = None,
        card: cards.Card | None = None,
    ) -> str:
        """Send `message` (and its file, when it has one, right after it, related the
        same way); the event id of the message. A vote's `card` is kept in the event
        too, to edit it later."""
        body = render.content(message)
        if card is not None:
            body[cards.KEY] = cards.stored(card)
        event_id = await self._send(
            room_id, "m.room.message", body if relate is None else relate(body), key
        )
        if message.attachment is not None:
            upload = await self._upload(room_id, message.attachment)
            await self._send(
                room_id,
                "m.room.message",
                upload if relate is None else relate(upload),
                None if key is None else f"{key}-file",
            )
        return event_id

    async def _upload(self, room_id: str, attachment: Attachment) -> dict[str, Any]:
        """Upload `attachment` (encrypted for an encrypted room); its ``m.file`` content."""
        encrypt = (await self._room(room_id)).encrypted
        data = attachment.data
        # nio uploads without a time limit of its own.
        async with asyncio.timeout(REQUEST_TIMEOUT):
            response, keys = await self.client.upload(
                lambda _limited, _timeouts: data,
                content_type=attachment.media_type,
                filename=attachment.name,
                encrypt=encrypt,
                filesize=len(data),
            )
        if not isinstance(response, UploadResponse):
            raise ConnectionError(f"uploading {attachment.name} failed: {response}")
        return render.file(attachment, str(response.content_uri), keys if encrypt else None)

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        """An announcement. A vote's card is remembered (to edit it later), with its
        poll when it has one; a result edits them and ends the poll."""
        number = _vote_of(message)
        card = None if number is None else cards.card(message, number)
        shown = message if card is None else replace(message, blocks=card.message().blocks)
        event_id = await self._say(room.room_id, shown, key, card=card)
        if number is not None:
            await self._state.remember_poll(room.room_id, number, event_id, cards.KIND)
        if message.poll is not None:
            kind = polls.START
            poll = await self._send(room.room_id, kind, polls.start(message.poll), f"{key}-{kind}")
            await self._state.remember_poll(room.room_id, message.poll.proposal, poll, kind)
        if message.ends_poll is not None:
            await self._close_vote(room.room_id, message.ends_poll, message, key)

    def _vote_lock(self, room_id: str, number: int) -> asyncio.Lock:
        return self._vote_locks.setdefault((room_id, number), asyncio.Lock())

    async def _close_vote(self, room_id: str, number: int, result: Message, key: str) -> None:
        """Voting on `number` is over: its card and poll are edited to show the result,
        then each poll is ended (an edit after the end would be ignored). Each with a
        key of its own, so a delivery tried again sends none of them twice."""
        async with self._vote_lock(room_id, number):
            posted = await self._state.polls_of(room_id, number)
            card_event = next((e for e, kind in posted if kind == cards.KIND), None)
            card = None if card_event is None else await self._card(room_id, card_event)
            if card is not None and card_event is not None:
                closed = cards.closed(card, result)
                await self._edit(room_id, card_event, closed, card, key=f"{key}-card")
            for event_id, kind in posted:
                if kind == polls.START and card is not None and card.poll is not None:
                    question = cards.closed_question(card.poll, result)
                    edit = polls.edit(event_id, card.poll, question)
                    await self._send(room_id, kind, edit, f"{key}-edit-{event_id}")
            summary = cards.summary(result)
            for event_id, kind in posted:
                if kind in polls.END:
                    end_kind, content = polls.end(kind, event_id, summary)
                    await self._send(room_id, end_kind, content, f"{key}-end-{event_id}")

    async def _show_live(self, community: CommunityId, number: int) -> bool:
        """The tally so far under `number`'s card, and in its poll's question, in each
        of the community's rooms where it is a poll (its results are live); False once
        voting is over."""
        for room in await self._governance.rooms_of(community):
            if room.platform != PLATFORM:
                continue
            try:
                async with self._vote_lock(room.room_id, number):
                    # Read under the lock: once the close has edited, this finds voting over.
                    tally = await self._governance.card_tally(community, number)
                    if not tally:
                        return False  # voting is over: the result is the card's last word
                    await self._show_tally(room.room_id, number, tally)
            except Exception:  # one room's trouble is not the others'
                log.warning(
                    "the live tally of #%d in %s was not shown", number, room.room_id, exc_info=True
                )
        return True

    async def _show_tally(self, room_id: str, number: int, tally: tuple[Block, ...]) -> None:
        posted = await self._state.polls_of(room_id, number)
        card_event = next((e for e, kind in posted if kind == cards.KIND), None)
        poll_event = next((e for e, kind in posted if kind == polls.START), None)
        if card_event is None or poll_event is None:
            return  # not a poll here: its results are not live
        card = await self._card(room_id, card_event)
        if card is None or card.poll is None:
            return
        await self._edit(room_id, card_event, card.message(*tally), card)
        question = cards.live_question(card.poll, tally)
        await self._send(room_id, polls.START, polls.edit(poll_event, card.poll, question))

    async def _card(self, room_id: str, event_id: str) -> cards.Card | None:
        """The vote card kept in event `event_id` (read from the homeserver, decrypted
        in an encrypted room); None if it cannot be read."""
        found = await self.client.room_get_event(room_id, event_id)
        if not isinstance(found, RoomGetEventResponse):
            if getattr(found, "status_code", None) in GONE:
                return None  # the card is not there (any more): nothing to edit
            raise ConnectionError(f"reading the card {event_id} in {room_id} failed: {found}")
        event = found.event
        if isinstance(event, MegolmEvent):
            try:
                event = self.client.decrypt_event(event)
            except EncryptionError as error:
                log.warning("the card %s in %s cannot be decrypted: %s", event_id, room_id, error)
                return None
        content = event.source.get("content", {})
        return cards.read(content) if isinstance(content, dict) else None

    async def _edit(
        self,
        room_id: str,
        event_id: str,
        message: Message,
        card: cards.Card,
        *,
        key: str | None = None,
    ) -> None:
        """Edit card `event_id` to say `message` (the card itself kept in the edit too)."""
        body = render.content(message)
        body[cards.KEY] = cards.stored(card)
        await self._send(room_id, "m.room.message", render.replacement(body, event_id), key)

    async def open_thread(self, room: RoomRef, message: Message, *, key: str) -> str:
        """The announcement is the thread's root: the deliberation, or the stories told
        for a prompt's posting, go under it."""
        root = await self._say(room.room_id, message, key)
        if message.prompt is not None:
            self._prompt_roots[root] = None
            while len(self._prompt_roots) > RECENT_PROMPT_ROOTS:
                self._prompt_roots.popitem(last=False)
        return root

    async def post_in_thread(
        self, room: RoomRef, thread: str, message: Message, *, key: str
    ) -> None:
        await self._say(room.room_id, message, key, relate=partial(render.in_thread, root=thread))

    async def tell(self, account: AccountRef, message: Message, *, key: str) -> None:
        room_id = await self._direct_room(account.account_id)
        try:
            await self._say(room_id, message, key)
        except ChannelGone:
            # The bot is out of that room: the next message opens a new one.
            await self._state.forget_direct_room(account.account_id)
            raise ConnectionError(f"the direct room with {account} is gone") from None

    async def _direct_room(self, user_id: str) -> str:
        """The direct room the bot shares with `user_id`, opened now if there is none.
        (A room just opened is not in nio's rooms until a sync shows it: `_room` reads
        its state before the first message goes there.)"""
        known = await self._state.direct_room(user_id)
        if known is not None:
            return known
        created = await self.client.room_create(
            is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat
        )
        if not isinstance(created, RoomCreateResponse):
            raise ConnectionError(f"could not open a direct room with {user_id}: {created}")
        await self._state.remember_direct_room(user_id, created.room_id)
        return str(created.room_id)

    async def _on_encryption(self, room: MatrixRoom, _: RoomEncryptionEvent | None = None) -> None:
        """Encryption was turned on in a room (it can never be turned off), or a room's
        state shows it is on: if the room is bound, what begins there from now on is said
        in encrypted rooms only. (A message in an encrypted room says so too, should this
        be missed.)"""
        try:
            await self._governance.room_encrypted(RoomRef(PLATFORM, room.room_id))
        except Exception:
            log.exception("could not record that %s is encrypted", room.room_id)


def _vote_of(message: Message) -> int | None:
    """The proposal whose open vote `message` is the card of, if it is one."""
    if message.ballot is not None:
        return message.ballot.proposal
    return None if message.poll is None else message.poll.proposal


def _why(error: BaseException | None) -> str:
    """An error in a log line about an answer: its kind only, since its message names
    the room, which `where` names when it may."""
    return "unknown" if error is None else type(error).__name__


def _kind_of(reply: Reply) -> str:
    """What an answer is, for the log (never its words)."""
    if not reply.ok:
        return "the refusal"
    if reply.message.attachment is not None:
        return "the file"
    if reply.audience is Audience.PRIVATE:
        return "the private answer"
    return "the answer"
