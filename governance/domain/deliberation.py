"""Deliberation: the versions of a proposal's text, its summaries and its threads.

Before voting opens the author (or a moderator) may edit the title, body or options;
every version is kept, version 1 being the text as proposed. Summaries are kept
too: the latest is the current one. A thread is where a platform holds the
deliberation; adapters create it and the core records where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from governance.domain.ids import MemberId, RoomRef

EDIT_FIELDS = ("title", "body", "options")
MAX_SUMMARY = 4_000
MAX_THREAD_ID = 255


@dataclass(frozen=True, slots=True)
class Version:
    number: int
    title: str
    body: str
    options: tuple[str, ...]
    edited_by: MemberId
    edited_at: datetime

    def changed(self, before: Version) -> tuple[str, ...]:
        """The fields that differ from `before`, in `EDIT_FIELDS` order."""
        return tuple(f for f in EDIT_FIELDS if getattr(self, f) != getattr(before, f))


@dataclass(frozen=True, slots=True)
class Summary:
    text: str
    by: MemberId
    at: datetime


@dataclass(frozen=True, slots=True)
class ThreadBinding:
    room: RoomRef
    thread_id: str
    recorded_at: datetime
