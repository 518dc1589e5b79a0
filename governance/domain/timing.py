"""Vote lengths and deadlines, in a community's time zone.

``Nd`` is N calendar days at the same local time (so a 7-day vote across a
daylight-saving change still ends at the hour members expect); ``Nh``/``Nm`` are
exact hours/minutes; an absolute end is a local date and time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from governance.domain.errors import InvalidProposal

MAX_VOTE_LENGTH = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Length:
    days: int = 0
    hours: int = 0
    minutes: int = 0

    def __str__(self) -> str:
        parts = [(self.days, "d"), (self.hours, "h"), (self.minutes, "m")]
        return "".join(f"{n}{unit}" for n, unit in parts if n) or "0m"

    @property
    def is_zero(self) -> bool:
        return not (self.days or self.hours or self.minutes)


@dataclass(frozen=True, slots=True)
class LocalTime:
    """An absolute end, as members write it: local wall time in the community's zone."""

    at: datetime  # naive

    def __str__(self) -> str:
        return self.at.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class NextWeekday:
    """``friday 17:00``: the next such local time after the period starts."""

    weekday: int  # Monday is 0
    hour: int
    minute: int

    def __str__(self) -> str:
        day = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        return f"{day[self.weekday]} {self.hour:02d}:{self.minute:02d}"


Deadline = Length | LocalTime | NextWeekday


def localize(naive: datetime, zone: tzinfo) -> datetime:
    """Attach `zone` to a wall time; a wall time skipped by a DST change moves forward."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)


def localize_written(naive: datetime, zone: tzinfo) -> datetime:
    """A wall time a member wrote: refused if the zone skips it (clocks jump forward),
    since any instant we picked would not be the time they wrote. A repeated wall time
    (clocks go back) is its first occurrence."""
    aware = localize(naive, zone)
    if aware.replace(tzinfo=None) != naive:
        raise InvalidProposal(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip that hour "
            "that night. Choose another time."
        )
    return aware


def end_of(
    spec: Deadline, start: datetime, zone: tzinfo, limit: timedelta = MAX_VOTE_LENGTH
) -> datetime:
    """When a period given by `spec` and starting at `start` ends (aware, UTC); at most
    `limit` later on the wall clock."""
    if isinstance(spec, LocalTime):
        end = localize_written(spec.at, zone).astimezone(UTC)
    elif isinstance(spec, NextWeekday):
        local = start.astimezone(zone).replace(tzinfo=None)
        wall = local.replace(hour=spec.hour, minute=spec.minute, second=0, microsecond=0)
        wall += timedelta(days=(spec.weekday - local.weekday()) % 7)
        if wall <= local:
            wall += timedelta(days=7)
        end = localize_written(wall, zone).astimezone(UTC)
    else:
        local = start.astimezone(zone).replace(tzinfo=None) + timedelta(days=spec.days)
        end = localize(local, zone).astimezone(UTC) + timedelta(
            hours=spec.hours, minutes=spec.minutes
        )
    if end <= start:
        raise InvalidProposal(f"The end {format_local(end, zone)} is not in the future.")
    # Measured on the wall clock, so "90d" across a DST change is still 90 days.
    if _wall(end, zone) - _wall(start, zone) > limit:
        raise InvalidProposal(
            f"The end {format_local(end, zone)} is more than {_span(limit)} away, "
            "the longest this community lets a period run."
        )
    return end


def _span(length: timedelta) -> str:
    """``90 days``, ``36 hours``."""
    if length % timedelta(days=1) == timedelta(0):
        days = length.days
        return f"{days} day{'s' if days != 1 else ''}"
    hours = length // timedelta(hours=1)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def to_timedelta(length: Length) -> timedelta:
    return timedelta(days=length.days, hours=length.hours, minutes=length.minutes)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def format_local(moment: datetime, zone: tzinfo) -> str:
    """``2026-11-30 09:00 CET``: how members read a deadline."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z").rstrip()
