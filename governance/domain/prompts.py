"""Narrative prompts: a question the bot posts on a schedule, each posting opening a
thread where members answer with stories.

Rules (SPEC.md, "Narrative prompts and the story archive"):

- A moderator schedules a prompt once (``once=``) or recurring (``every=``,
  ``cron=``), in the community's zone; without a schedule it is posted at once.
- Every legal move is in `TRANSITIONS`: ``active ⇄ paused`` (pause, resume), ``active
  | paused → ended`` (end; final). Editing the question keeps the state; later postings
  ask the new question. Only an active prompt is posted.
- Each posting happens exactly once. Postings missed while the bot was down are merged
  into one, and the next is scheduled after now (`Schedule.next_after`).
- A once prompt stays active after its posting, with nothing more scheduled: members
  still answer it until a moderator ends it.
- Two kinds are built in, switched on per community in the config file: the
  **welcome** prompt (one per community, sent privately to each new member, never
  posted in rooms) and **outcome** prompts (one per closed vote, posted once some weeks
  after it closed).

Wall times are DST-correct: a weekly prompt at 10:00 stays at 10:00 local time across
a change of the clocks. A wall time the clocks skip moves to the first one that exists
that night; one they repeat is its first occurrence (as cron does it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from cronsim import CronSim, CronSimError

from governance.domain.errors import IllegalTransition, InvalidPrompt
from governance.domain.ids import (
    CommunityId,
    MemberId,
    PromptId,
    PromptNumber,
    ProposalNumber,
    RoomRef,
)
from governance.domain.timing import (
    Deadline,
    LocalTime,
    end_of,
    format_local,
    localize,
    localize_written,
)

MAX_QUESTION = 300
"""A question's limit in characters: a prompt is one question, not an essay (and it
names its thread, which platforms cut at 100)."""
MAX_OUTCOME_WEEKS = 52
MAX_AHEAD = timedelta(days=366)
"""How far ahead a once= prompt may be scheduled."""


class PromptStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class PromptKind(StrEnum):
    CUSTOM = "custom"
    """Scheduled by a moderator with ``!prompt``."""
    WELCOME = "welcome"
    """Sent privately to each new member (``welcome_prompt`` in the config)."""
    OUTCOME = "outcome"
    """Posted some weeks after a vote closed (``outcome_prompt_after`` in the config)."""


class PromptMove(StrEnum):
    PAUSE = "be paused"
    RESUME = "be resumed"
    END = "be ended"
    EDIT = "be edited"
    POST = "be posted"


P, PM = PromptStatus, PromptMove
TRANSITIONS: dict[tuple[PromptStatus, PromptMove], PromptStatus] = {
    (P.ACTIVE, PM.PAUSE): P.PAUSED,
    (P.ACTIVE, PM.END): P.ENDED,
    (P.ACTIVE, PM.EDIT): P.ACTIVE,
    (P.ACTIVE, PM.POST): P.ACTIVE,
    (P.PAUSED, PM.RESUME): P.ACTIVE,
    (P.PAUSED, PM.END): P.ENDED,
    (P.PAUSED, PM.EDIT): P.PAUSED,
}


# ---------------------------------------------------------------------- schedules

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        )
    )
    for name in names
}
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)
_DOM_RE = re.compile(r"\d{1,2}|last", re.ASCII)
_CRON_FIELD_RE = re.compile(r"[0-9A-Za-z*/,#-]{1,60}", re.ASCII)
EVERY_EXAMPLES = "every=mon 10:00, every=mon,thu 18:30, every=day 09:00 or every=month 1 10:00"


def _time(text: str, example: str) -> tuple[int, int]:
    match = _TIME_RE.fullmatch(text)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        shown = text[:20] if text else "no time"
        raise InvalidPrompt(f"every=: “{shown}” is not a time of day; write e.g. {example}.")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True, slots=True)
class Once:
    """Posted once, at `at`."""

    at: datetime

    @property
    def rule(self) -> str:
        return f"once {self.at.astimezone(UTC).isoformat()}"

    def next_after(self, moment: datetime, zone: tzinfo) -> datetime | None:
        return self.at if self.at > moment else None

    def describe(self, zone: tzinfo) -> str:
        return f"once, {format_local(self.at, zone)}"


@dataclass(frozen=True, slots=True)
class Recurring:
    """Posted whenever a cron rule matches the community's wall clock."""

    cron: str
    """Five fields: minute, hour, day of month, month, day of week."""
    every: str | None = None
    """How it was written with ``every=`` (``mon 10:00``); None for ``cron=``."""

    @property
    def rule(self) -> str:
        return f"every {self.every}" if self.every is not None else f"cron {self.cron}"

    def next_after(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """The first posting strictly after `moment` (UTC), or None if the rule never
        matches again (within 50 years)."""
        try:
            times = CronSim(self.cron, moment.astimezone(zone))
            for _ in range(4):  # a repeated wall time may first give one not after it
                candidate = next(times)
                if candidate > moment:
                    return candidate.astimezone(UTC)
        except (StopIteration, CronSimError):
            return None
        return None

    def describe(self, zone: tzinfo | None = None) -> str:
        if self.every is None:
            return f"cron {self.cron}"
        what, _, clock = self.every.rpartition(" ")
        if what == "day":
            return f"every day at {clock}"
        if what.startswith("month "):
            day = what.removeprefix("month ")
            on = "the last day" if day == "last" else f"day {day}"
            return f"on {on} of every month at {clock}"
        days = [_DAY_WORDS[DAY_NAMES.index(d)] for d in what.split(",")]
        listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
        return f"every {listed} at {clock}"


Schedule = Once | Recurring


def once_at(spec: Deadline, now: datetime, zone: tzinfo) -> datetime:
    """When a ``once=`` prompt is posted: a local date and time (one the clocks skip is
    refused), the next such weekday and time, or a length from now; in the future and
    at most a year ahead."""
    if isinstance(spec, LocalTime):
        at = localize_written(spec.at, zone).astimezone(UTC)
    else:
        at = end_of(spec, now, zone, timedelta.max)
    if at <= now:
        raise InvalidPrompt(
            f"once={spec} has passed: it is {format_local(now, zone)} now. Give a time to come."
        )
    if at - now > MAX_AHEAD:
        raise InvalidPrompt(f"once={spec} is more than a year away; give a nearer time.")
    return at


def every(text: str) -> Recurring:
    """``every=``: ``mon 10:00``, ``mon,thu 18:30``, ``day 09:00``, ``month 1 10:00`` or
    ``month last 10:00``."""
    words = " ".join(text.lower().split()).split(" ")
    if not words or not words[0]:
        raise InvalidPrompt(f"every= is empty; write e.g. {EVERY_EXAMPLES}.")
    if words[0] in ("day", "daily"):
        if len(words) != 2:
            raise InvalidPrompt("every=day takes a time of day, e.g. every=day 09:00.")
        hour, minute = _time(words[1], "every=day 09:00")
        return Recurring(f"{minute} {hour} * * *", f"day {hour:02d}:{minute:02d}")
    if words[0] in ("month", "monthly"):
        if len(words) != 3 or _DOM_RE.fullmatch(words[1]) is None:
            raise InvalidPrompt(
                "every=month takes a day of the month (1 to 31, or last) and a time, "
                "e.g. every=month 1 10:00."
            )
        hour, minute = _time(words[2], "every=month 1 10:00")
        day = words[1]
        if day != "last" and not 1 <= int(day) <= 31:
            raise InvalidPrompt(f"every=month {day}: a day of the month is 1 to 31, or last.")
        dom = "L" if day == "last" else str(int(day))
        written = "last" if day == "last" else str(int(day))
        return Recurring(f"{minute} {hour} {dom} * *", f"month {written} {hour:02d}:{minute:02d}")
    names = [n for n in words[0].split(",") if n]
    unknown = [n for n in names if n not in _WEEKDAYS]
    if not names or unknown:
        shown = (unknown or [words[0]])[0][:20]
        raise InvalidPrompt(f"every=: “{shown}” is not a day; write e.g. {EVERY_EXAMPLES}.")
    if len(words) != 2:
        raise InvalidPrompt(f"every={words[0][:20]}: give a time too, e.g. every=mon 10:00.")
    hour, minute = _time(words[1], "every=mon 10:00")
    days = sorted({_WEEKDAYS[n] for n in names})
    # cron counts the days from Sunday (0); Python from Monday (0).
    cron_days = ",".join(str((d + 1) % 7) for d in days)
    written = ",".join(DAY_NAMES[d] for d in days)
    return Recurring(f"{minute} {hour} * * {cron_days}", f"{written} {hour:02d}:{minute:02d}")


def cron(text: str) -> Recurring:
    """``cron=``: a five-field rule (minute hour day-of-month month day-of-week) naming
    one minute, so a prompt is posted at most once an hour."""
    fields = text.split()
    if len(fields) != 5 or not all(_CRON_FIELD_RE.fullmatch(f) for f in fields):
        raise InvalidPrompt(
            f"cron={text[:40]} is not a cron rule: give five fields (minute hour "
            "day-of-month month day-of-week), e.g. cron=0 10 * * 1 for Mondays at 10:00."
        )
    if not fields[0].isdigit():
        raise InvalidPrompt(
            f"cron=: the minute field “{fields[0][:20]}” must be one minute (a prompt is "
            "posted at most once an hour), e.g. cron=0 10 * * 1."
        )
    rule = " ".join(fields)
    try:
        CronSim(rule, datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        raise InvalidPrompt(f"cron={rule[:40]}: {error} field.") from None
    return Recurring(rule)


def schedule_of(rule: str | None) -> Schedule | None:
    """The schedule a stored rule names (``every mon 10:00``, ``cron 0 10 * * 1``,
    ``once 2026-12-01T17:00:00+00:00``); None for none (the welcome prompt)."""
    if rule is None:
        return None
    kind, _, rest = rule.partition(" ")
    if kind == "once":
        return Once(datetime.fromisoformat(rest))
    if kind == "every":
        return every(rest)
    if kind == "cron":
        return cron(rest)
    raise ValueError(f"unknown prompt rule {rule!r}")


# ---------------------------------------------------------------------- outcome prompts


@dataclass(frozen=True, slots=True)
class OutcomeDelay:
    """How long after a vote closes its outcome prompt is posted (``3w``, ``10d``)."""

    days: int

    @classmethod
    def parse(cls, text: str) -> OutcomeDelay:
        match = re.fullmatch(r"(\d{1,3})([wd])", text.strip().lower(), re.ASCII)
        days = 0 if match is None else int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        if match is None or not 1 <= days <= MAX_OUTCOME_WEEKS * 7:
            raise InvalidPrompt(
                f"“{text[:20]}” is not a delay for outcome prompts: give weeks or days, "
                f"e.g. 3w or 10d, at most {MAX_OUTCOME_WEEKS} weeks."
            )
        return cls(days)

    @property
    def words(self) -> str:
        if self.days % 7 == 0:
            weeks = self.days // 7
            return f"{weeks} week{'s' if weeks != 1 else ''}"
        return f"{self.days} day{'s' if self.days != 1 else ''}"

    def after(self, closed_at: datetime, zone: tzinfo) -> datetime:
        """The same wall time, `days` calendar days after the close."""
        wall = closed_at.astimezone(zone).replace(tzinfo=None) + timedelta(days=self.days)
        return localize(wall, zone).astimezone(UTC)

    def question(self, number: int, title: str) -> str:
        tail = f" closed {self.words} ago: what changed?"
        head = f"#{number} "
        room = MAX_QUESTION - len(head) - len(tail)
        shown = title if len(title) <= room else title[: room - 1].rstrip() + "…"
        return head + shown + tail


# ---------------------------------------------------------------------- the prompt


@dataclass(frozen=True, slots=True)
class Prompt:
    id: PromptId
    community: CommunityId
    number: PromptNumber
    question: str
    kind: PromptKind
    status: PromptStatus
    rule: str | None
    """The schedule as stored (`schedule_of` reads it); None for the welcome prompt."""
    proposal: ProposalNumber | None
    """The proposal it is tied to (``proposal=``; an outcome prompt's vote)."""
    next_at: datetime | None
    """When it is posted next; None while paused, ended, or with nothing more to post."""
    created_at: datetime
    created_by: MemberId | None = None
    """The moderator who scheduled it; None for the built-in ones."""
    postings: int = 0
    """How many times it has been posted (a merged catch-up counts once)."""
    last_posted_at: datetime | None = None
    encrypted_origin: bool = False
    """Scheduled in an encrypted room, or about a proposal made in one: it is posted in
    the community's encrypted rooms only."""

    @property
    def ref(self) -> str:
        return f"Prompt #{self.number}"

    @property
    def schedule(self) -> Schedule | None:
        return schedule_of(self.rule)

    def _move(self, move: PromptMove) -> PromptStatus:
        after = TRANSITIONS.get((self.status, move))
        if after is not None:
            return after
        if self.status is PromptStatus.ENDED:
            raise IllegalTransition(
                f"{self.ref} has ended, so it cannot {move.value}; an ended prompt stays "
                "ended (schedule a new one with !prompt)."
            )
        if move is PromptMove.RESUME:
            raise IllegalTransition(f"{self.ref} is {self.status.value}, not paused.")
        raise IllegalTransition(f"{self.ref} is {self.status.value} already.")

    def check(self, move: PromptMove) -> None:
        """Raise if `move` is not legal now, naming the state and the move."""
        self._move(move)

    def paused(self) -> Prompt:
        return replace(self, status=self._move(PromptMove.PAUSE), next_at=None)

    def resumed(self, next_at: datetime | None) -> Prompt:
        return replace(self, status=self._move(PromptMove.RESUME), next_at=next_at)

    def ended(self) -> Prompt:
        return replace(self, status=self._move(PromptMove.END), next_at=None)

    def edited(self, question: str) -> Prompt:
        self._move(PromptMove.EDIT)
        return replace(self, question=question)

    def posted(self, *, at: datetime, next_at: datetime | None) -> Prompt:
        """One posting made at `at` (standing for every one missed before it)."""
        self._move(PromptMove.POST)
        return replace(self, postings=self.postings + 1, last_posted_at=at, next_at=next_at)

    def resume_at(self, now: datetime, zone: tzinfo) -> datetime | None:
        """When a resumed prompt is posted next: the rule's next time after now; a once
        prompt not yet posted whose time passed while it was paused, now."""
        schedule = self.schedule
        if schedule is None:
            return None
        if isinstance(schedule, Once):
            if self.postings:
                return None
            return max(schedule.at, now)
        return schedule.next_after(now, zone)


@dataclass(frozen=True, slots=True)
class PromptThread:
    """The thread one posting of a prompt opened in one room."""

    prompt: PromptId
    room: RoomRef
    thread_id: str
    posting: int
    recorded_at: datetime
