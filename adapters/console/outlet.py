"""The console's outlet: announcements and replies printed as plain text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from governance.domain.ids import AccountRef, RoomRef
from governance.text.messages import Audience, Message, Reply


def section(message: Message) -> str:
    """``── Prompt #1: What changed? ──`` above the message's lines, a blank line below."""
    body = Message(None, message.blocks).plain()
    return f"── {message.title} ──\n{body}\n"


class ConsoleOutlet:
    def __init__(self, write: Callable[[str], None], files: Path | None = None) -> None:
        self._write = write
        self._files = files or Path("exports")
        self._delivered: set[str] = set()

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        if key in self._delivered:  # a retried delivery shows once
            return
        self._delivered.add(key)
        self._write(message.plain())

    async def open_thread(self, room: RoomRef, message: Message, *, key: str) -> str | None:
        if message.prompt is not None and key not in self._delivered:
            # A prompt's posting: a section of its own, set apart by a rule and a blank
            # line, where a platform would open a thread for the stories.
            self._delivered.add(key)
            self._write(section(message))
            return None
        await self.post(room, message, key=key)  # one room, no threads: said in place
        return None

    async def post_in_thread(
        self, room: RoomRef, thread: str, message: Message, *, key: str
    ) -> None:
        return None  # the console opens no threads

    async def tell(self, account: AccountRef, message: Message, *, key: str) -> None:
        if key in self._delivered:
            return
        self._delivered.add(key)
        self._write(f"(to {account.account_id}) {message.plain()}")

    def reply(self, reply: Reply, actor: str) -> None:
        text = reply.message.plain()
        if reply.audience in (Audience.QUIET, Audience.PRIVATE):
            text = f"(to {actor}) {text}"
        self._write(text)
        attachment = reply.message.attachment
        if attachment is not None:
            self._files.mkdir(parents=True, exist_ok=True)
            path = self._files / Path(attachment.name).name  # a name, never a path
            path.write_bytes(attachment.data)
            self._write(f"(file written: {path})")

    def reply_text(self, text: str) -> None:
        self._write(text)
