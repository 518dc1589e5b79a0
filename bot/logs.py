"""Structured logs for ``folkmoot run``: one event per line, JSON (default) or plain text.

Each line holds the time, level, logger, message and, while a command is handled, its
event id (a contextvar set per command through the core's observer, made by
bot.metrics.Metrics.observer), so the lines one command caused can be found together.
Known secret values (the platform tokens and passwords in Settings) are replaced by
``[redacted]`` in every line, tracebacks included. The core never logs ballots'
choices or stories' text (tests/cli/test_logs.py holds it to that); third-party
libraries are kept at INFO or above, as their DEBUG lines can carry message payloads,
and matrix-nio at WARNING or above, as it logs a line at INFO for every event it syncs.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import secrets
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Literal

LogFormat = Literal["json", "text"]
REDACTED = "[redacted]"
QUIET_LIBRARIES: dict[str, int] = {
    "discord": logging.INFO,
    "nio": logging.WARNING,
    "aiohttp": logging.INFO,
    "peewee": logging.INFO,
    "apscheduler": logging.INFO,
    "asyncio": logging.INFO,
}
"""Loggers kept at or above their level here whatever the configured level: their DEBUG
lines may hold message payloads (a story, a vote) as the platform sent them, and nio's
INFO lines (one or more for every event of every sync) would drown the bot's own."""

event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "folkmoot_event_id", default=None
)


def new_event_id() -> contextvars.Token[str | None]:
    """Start a new event (one command): the lines it logs carry this id."""
    return event_id.set(secrets.token_hex(4))


class StructuredFormatter(logging.Formatter):
    """One line per record, secrets replaced. JSON: ``{"ts", "level", "logger",
    "msg", "event"?, "exc"?}``; text: ``ts level logger [event] msg``."""

    def __init__(self, fmt: LogFormat, secret_values: Iterable[str] = ()) -> None:
        super().__init__()
        self.fmt = fmt
        # Longest first, so a secret holding another is replaced whole.
        self.secrets = sorted({s for s in secret_values if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self.secrets:
            text = text.replace(value, REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        message = self.redact(record.getMessage())
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        exc = None
        if record.exc_info:
            exc = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            exc = self.redact(record.exc_text)
        event = getattr(record, "event_id", None) or event_id.get()
        if self.fmt == "json":
            line: dict[str, str] = {
                "ts": when,
                "level": record.levelname,
                "logger": record.name,
                "msg": message,
            }
            if event:
                line["event"] = event
            if exc:
                line["exc"] = exc
            return json.dumps(line, ensure_ascii=False)
        text = f"{when} {record.levelname} {record.name}"
        if event:
            text += f" [{event}]"
        text += f": {message}"
        if exc:
            text += "\n" + exc
        return text


@dataclass(slots=True)
class _Installed:
    handler: logging.Handler | None = None
    users: int = 0
    replaced: list[logging.Handler] = field(default_factory=list)
    level: int = logging.NOTSET
    library_levels: dict[str, int] = field(default_factory=dict)


_STATE = _Installed()


def _is_plain_stream(handler: logging.Handler) -> bool:
    """A handler `logging.basicConfig` made (not a test framework's capture)."""
    return type(handler) is logging.StreamHandler


@contextlib.contextmanager
def configured(
    level: str,
    fmt: LogFormat,
    secret_values: Iterable[str],
    stream: IO[str] | None = None,
) -> Iterator[logging.Handler]:
    """Structured logging on the root logger while the block runs, then what was there
    before. Nested or concurrent uses (several instances in one test process) share
    the first one's handler."""
    root = logging.getLogger()
    state = _STATE
    if state.handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(StructuredFormatter(fmt, secret_values))
        state.replaced = [h for h in root.handlers if _is_plain_stream(h)]
        for old in state.replaced:
            root.removeHandler(old)
        root.addHandler(handler)
        state.level = root.level
        root.setLevel(level.upper())
        state.library_levels = {}
        for name, floor in QUIET_LIBRARIES.items():
            library = logging.getLogger(name)
            state.library_levels[name] = library.level
            if library.getEffectiveLevel() < floor:
                library.setLevel(floor)
        state.handler = handler
    state.users += 1
    try:
        yield state.handler
    finally:
        state.users -= 1
        if state.users == 0 and state.handler is not None:
            root.removeHandler(state.handler)
            for old in state.replaced:
                root.addHandler(old)
            root.setLevel(state.level)
            for name, was in state.library_levels.items():
                logging.getLogger(name).setLevel(was)
            state.handler = None
            state.replaced = []
