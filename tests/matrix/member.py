"""A member of a Matrix room, as a person's client would be: an ``nio.AsyncClient`` that
logs in, syncs in the background, and lets a test await what arrives.

Every event a member's sync delivers (timeline and state, decrypted where it can be) is
appended to ``member.events``; ``await member.wait_for(room, ...)`` returns the first
matching event that no earlier ``wait_for`` returned, waiting for it if it has not come
yet. So an event that arrives before the test starts waiting is not lost, and waiting
twice for "a message from Bob" returns two different messages.

nio delivers polls, poll responses and poll ends as ``UnknownEvent``; whatever the
class, ``event.source`` is the event as the server sent it (decrypted, in an encrypted
room), and ``event_type(event)`` / ``content(event)`` read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import nio

Predicate = Callable[[nio.Event], bool]

DEFAULT_TIMEOUT = 10.0
SYNC_TIMEOUT_MS = 30_000


class MakeMember(Protocol):
    """The ``members`` fixture: ``await members("alice")`` is a new member, syncing."""

    async def __call__(self, name: str, *, encrypted: bool = False) -> Member: ...


def event_type(event: nio.Event) -> str:
    return str(event.source.get("type", ""))


def content(event: nio.Event) -> dict[str, Any]:
    value = event.source.get("content", {})
    return value if isinstance(value, dict) else {}


def relates_to(event: nio.Event) -> dict[str, Any]:
    value = content(event).get("m.relates_to", {})
    return value if isinstance(value, dict) else {}


class Member:
    """One Matrix account with one device, syncing in the background once started.

    ``store_dir`` turns on end-to-end encryption (vodozemac through matrix-nio[e2e]);
    the device keys and the sync token are kept there. Every device is trusted when
    sending (``ignore_unverified_devices``), as a test has no one to verify them.
    """

    def __init__(
        self, homeserver: str, user_id: str, password: str, *, store_dir: Path | None = None
    ) -> None:
        self.user_id = user_id
        self.password = password
        self.encrypted = store_dir is not None
        if store_dir is not None:
            store_dir.mkdir(parents=True, exist_ok=True)
            config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        else:
            config = nio.AsyncClientConfig(encryption_enabled=False)
        self.client = nio.AsyncClient(
            homeserver,
            user_id,
            store_path=str(store_dir) if store_dir is not None else "",
            config=config,
        )
        self.events: list[tuple[str, nio.Event]] = []
        self.invites: list[str] = []
        self._taken: set[int] = set()
        self._arrived = asyncio.Condition()
        self._sync_task: asyncio.Task[None] | None = None
        # Room events (a callback on nio.Event fires for every subclass) and invites.
        self.client.add_event_callback(self._on_event, (nio.Event, nio.InviteEvent))

    def __repr__(self) -> str:
        return f"Member({self.user_id})"

    # ------------------------------------------------------------ lifecycle

    async def start(self, within: float = DEFAULT_TIMEOUT) -> None:
        """Log in, start syncing in the background, return after the first sync."""
        login = await self.client.login(self.password, device_name="folkmoot-test")
        if not isinstance(login, nio.LoginResponse):
            raise RuntimeError(f"{self.user_id} could not log in: {login}")
        synced = asyncio.ensure_future(self.client.synced.wait())
        self._sync_task = asyncio.create_task(
            self.client.sync_forever(timeout=SYNC_TIMEOUT_MS, full_state=True),
            name=f"sync {self.user_id}",
        )
        done, _ = await asyncio.wait(
            {synced, self._sync_task}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        if synced not in done:
            synced.cancel()
            if self._sync_task in done:
                self._sync_task.result()  # raises what stopped the sync
            raise TimeoutError(f"{self.user_id}: no first sync within {within} s")

    async def close(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            # A sync that failed has failed the test already, through ``wait_for``.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sync_task
            self._sync_task = None
        await self.client.close()

    # ------------------------------------------------------------ receiving

    async def _on_event(self, room: nio.MatrixRoom, event: nio.Event) -> None:
        if isinstance(event, nio.InviteEvent):
            if (
                isinstance(event, nio.InviteMemberEvent)
                and event.state_key == self.user_id
                and event.membership == "invite"
            ):
                async with self._arrived:
                    self.invites.append(room.room_id)
                    self._arrived.notify_all()
            return
        async with self._arrived:
            self.events.append((room.room_id, event))
            self._arrived.notify_all()

    async def wait_for(
        self,
        room_id: str,
        predicate: Predicate | None = None,
        *,
        type: str | None = None,
        sender: str | None = None,
        within: float = DEFAULT_TIMEOUT,
    ) -> nio.Event:
        """The first event in ``room_id`` matching every filter given that no earlier
        ``wait_for`` returned; awaits its arrival for at most ``within`` seconds."""

        def matches(event: nio.Event) -> bool:
            return (
                (type is None or event_type(event) == type)
                and (sender is None or event.sender == sender)
                and (predicate is None or predicate(event))
            )

        def first() -> nio.Event | None:
            for index, (room, event) in enumerate(self.events):
                if index not in self._taken and room == room_id and matches(event):
                    self._taken.add(index)
                    return event
            return None

        found: nio.Event | None = None

        def ready() -> bool:
            nonlocal found
            found = first()
            return found is not None

        try:
            async with asyncio.timeout(within), self._arrived:
                await self._arrived.wait_for(ready)
        except TimeoutError:
            if self._sync_task is not None and self._sync_task.done():
                self._sync_task.result()  # the sync stopped: say why
            seen = [
                f"  {event_type(e)} from {e.sender}: {content(e)}"
                for room, e in self.events[-15:]
                if room == room_id
            ]
            raise TimeoutError(
                f"{self.user_id}: no event type={type} sender={sender} "
                f"predicate={predicate} in {room_id} within {within} s; last seen:\n"
                + "\n".join(seen)
            ) from None
        assert found is not None
        return found

    def received(self, room_id: str, predicate: Predicate | None = None) -> list[nio.Event]:
        """Every event received so far in ``room_id`` (matching ``predicate``)."""
        return [
            event
            for room, event in self.events
            if room == room_id and (predicate is None or predicate(event))
        ]

    def reactions_seen(self, room_id: str, event_id: str) -> dict[str, list[str]]:
        """Reactions on ``event_id`` received so far: ``{key: [sender, ...]}``."""
        keys: dict[str, list[str]] = {}
        for event in self.received(room_id):
            relation = relates_to(event)
            if relation.get("rel_type") == "m.annotation" and relation.get("event_id") == event_id:
                keys.setdefault(str(relation.get("key")), []).append(event.sender)
        return keys

    def replies_seen(self, room_id: str, event_id: str) -> list[nio.Event]:
        """Replies (``m.relates_to.m.in_reply_to``) to ``event_id`` received so far."""
        return [
            event
            for event in self.received(room_id)
            if relates_to(event).get("m.in_reply_to", {}).get("event_id") == event_id
        ]

    async def relations(
        self,
        room_id: str,
        event_id: str,
        rel_type: str | None = None,
        event_type: str | None = None,
    ) -> list[dict[str, Any]]:
        """The server's ``/relations`` of ``event_id`` (raw events, newest first)."""
        path = f"/_matrix/client/v1/rooms/{quote(room_id)}/relations/{quote(event_id)}"
        if rel_type:
            path += f"/{quote(rel_type)}"
            if event_type:
                path += f"/{quote(event_type)}"
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            query = f"?limit=100&from={quote(token)}" if token else "?limit=100"
            body = await self.api("GET", path + query)
            events.extend(body.get("chunk", []))
            token = body.get("next_batch")
            if not token:
                return events

    async def reactions(self, room_id: str, event_id: str) -> dict[str, list[str]]:
        """Reactions on ``event_id`` as the server has them: ``{key: [sender, ...]}``."""
        keys: dict[str, list[str]] = {}
        for raw in await self.relations(room_id, event_id, "m.annotation"):
            key = raw.get("content", {}).get("m.relates_to", {}).get("key")
            keys.setdefault(str(key), []).append(str(raw.get("sender")))
        return keys

    async def api(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A raw client-server API call with this member's token; the JSON answer."""
        response = await self.client.send(
            method,
            path,
            nio.Api.to_json(body) if body is not None else None,
            headers={"Authorization": f"Bearer {self.client.access_token}"},
        )
        answer = await response.json()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} -> {response.status} {answer}")
        return dict(answer)

    # ------------------------------------------------------------ rooms

    async def create_room(
        self, *, invite: Iterable[str] = (), encrypted: bool = False, name: str | None = None
    ) -> str:
        """Create a private room (inviting ``invite``); returns once our sync has it."""
        initial_state = []
        if encrypted:
            initial_state.append(
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            )
        response = await self.client.room_create(
            name=name, invite=list(invite), initial_state=initial_state
        )
        if not isinstance(response, nio.RoomCreateResponse):
            raise RuntimeError(f"{self.user_id} could not create a room: {response}")
        await self._await_membership(response.room_id, self.user_id, "join")
        return str(response.room_id)

    async def create_direct_room(self, user_id: str) -> str:
        """A direct chat with `user_id`, as clients open one; returns once they joined."""
        response = await self.client.room_create(
            is_direct=True, invite=[user_id], preset=nio.RoomPreset.trusted_private_chat
        )
        if not isinstance(response, nio.RoomCreateResponse):
            raise RuntimeError(f"{self.user_id} could not open a direct room: {response}")
        await self._await_membership(response.room_id, user_id, "join")
        return str(response.room_id)

    async def download(self, url: str) -> bytes:
        """The content of ``mxc://`` `url` (authenticated media download)."""
        response = await self.client.download(url)
        if not isinstance(response, nio.MemoryDownloadResponse):
            raise RuntimeError(f"{self.user_id} could not download {url}: {response}")
        return bytes(response.body)

    async def invite(self, room_id: str, user_id: str) -> None:
        response = await self.client.room_invite(room_id, user_id)
        if not isinstance(response, nio.RoomInviteResponse):
            raise RuntimeError(f"{self.user_id} could not invite {user_id}: {response}")

    async def wait_for_invite(self, room_id: str, within: float = DEFAULT_TIMEOUT) -> None:
        """Await our invitation to ``room_id`` arriving through our sync."""
        try:
            async with asyncio.timeout(within), self._arrived:
                await self._arrived.wait_for(lambda: room_id in self.invites)
        except TimeoutError:
            raise TimeoutError(f"{self.user_id}: no invite to {room_id} in {within} s") from None

    async def join(self, room_id: str) -> None:
        """Join ``room_id``; returns once our sync shows us joined (state known)."""
        response = await self.client.join(room_id)
        if not isinstance(response, nio.JoinResponse):
            raise RuntimeError(f"{self.user_id} could not join {room_id}: {response}")
        await self._await_membership(room_id, self.user_id, "join")

    async def wait_for_membership(
        self, room_id: str, user_id: str, membership: str = "join"
    ) -> nio.Event:
        """Await ``user_id``'s membership becoming ``membership`` in our sync."""
        return await self._await_membership(room_id, user_id, membership)

    async def _await_membership(self, room_id: str, user_id: str, membership: str) -> nio.Event:
        return await self.wait_for(
            room_id,
            lambda e: (
                isinstance(e, nio.RoomMemberEvent)
                and e.state_key == user_id
                and e.membership == membership
            ),
        )

    # ------------------------------------------------------------ sending

    async def send(self, room_id: str, type: str, body: dict[str, Any]) -> str:
        """Send any event (encrypted in an encrypted room); returns its event id."""
        if self.client.olm is not None and self.client.should_query_keys:
            await self.client.keys_query()  # know the devices of whoever joined lately
        response = await self.client.room_send(
            room_id, type, body, tx_id=secrets.token_hex(8), ignore_unverified_devices=True
        )
        if not isinstance(response, nio.RoomSendResponse):
            raise RuntimeError(f"{self.user_id} could not send {type} to {room_id}: {response}")
        return str(response.event_id)

    async def send_text(
        self,
        room_id: str,
        text: str,
        *,
        thread_root: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        """An ``m.text`` message, optionally in ``thread_root``'s thread or replying."""
        body: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if thread_root is not None:
            body["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": reply_to is None,
                "m.in_reply_to": {"event_id": reply_to or thread_root},
            }
        elif reply_to is not None:
            body["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return await self.send(room_id, "m.room.message", body)

    async def edit_text(self, room_id: str, event_id: str, text: str) -> str:
        """Edit message `event_id` to say `text` (``m.replace``, as clients send it)."""
        new = {"msgtype": "m.text", "body": text}
        return await self.send(
            room_id,
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": f"* {text}",
                "m.new_content": new,
                "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
            },
        )

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        """Delete (redact) event `event_id`; the redaction's event id."""
        response = await self.client.room_redact(room_id, event_id, reason=reason)
        if not isinstance(response, nio.RoomRedactResponse):
            raise RuntimeError(f"{self.user_id} could not redact {event_id}: {response}")
        return str(response.event_id)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send(
            room_id,
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
        )

    async def send_poll_start(
        self,
        room_id: str,
        question: str,
        answers: Sequence[tuple[str, str]],
        *,
        max_selections: int = 1,
        unstable: bool = False,
    ) -> str:
        """A poll (``answers`` as ``(id, text)``): ``m.poll.start`` or, with
        ``unstable``, ``org.matrix.msc3381.poll.start`` as Element sends it."""
        fallback = "\n".join([question, *(f"{i + 1}. {t}" for i, (_, t) in enumerate(answers))])
        if unstable:
            poll = {
                "kind": "org.matrix.msc3381.poll.disclosed",
                "max_selections": max_selections,
                "question": {"org.matrix.msc1767.text": question},
                "answers": [{"id": a, "org.matrix.msc1767.text": t} for a, t in answers],
            }
            return await self.send(
                room_id,
                "org.matrix.msc3381.poll.start",
                {"org.matrix.msc3381.poll.start": poll, "org.matrix.msc1767.text": fallback},
            )
        stable = {
            "kind": "m.disclosed",
            "max_selections": max_selections,
            "question": {"m.text": [{"body": question}]},
            "answers": [{"m.id": a, "m.text": [{"body": t}]} for a, t in answers],
        }
        return await self.send(
            room_id, "m.poll.start", {"m.poll": stable, "m.text": [{"body": fallback}]}
        )

    async def send_poll_response(
        self, room_id: str, poll_id: str, answers: Sequence[str], *, unstable: bool = False
    ) -> str:
        """Answer a poll: ``m.poll.response`` with ``m.selections`` or, with
        ``unstable``, ``org.matrix.msc3381.poll.response``; both ``m.reference`` it."""
        reference = {"rel_type": "m.reference", "event_id": poll_id}
        if unstable:
            return await self.send(
                room_id,
                "org.matrix.msc3381.poll.response",
                {
                    "m.relates_to": reference,
                    "org.matrix.msc3381.poll.response": {"answers": list(answers)},
                },
            )
        return await self.send(
            room_id, "m.poll.response", {"m.relates_to": reference, "m.selections": list(answers)}
        )

    async def send_poll_end(
        self,
        room_id: str,
        poll_id: str,
        text: str = "The poll has ended.",
        *,
        unstable: bool = False,
    ) -> str:
        reference = {"rel_type": "m.reference", "event_id": poll_id}
        if unstable:
            return await self.send(
                room_id,
                "org.matrix.msc3381.poll.end",
                {
                    "m.relates_to": reference,
                    "org.matrix.msc3381.poll.end": {},
                    "org.matrix.msc1767.text": text,
                },
            )
        return await self.send(
            room_id, "m.poll.end", {"m.relates_to": reference, "m.text": [{"body": text}]}
        )
