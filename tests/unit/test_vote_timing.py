"""Vote lengths and deadlines in the community's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from governance.domain.errors import InvalidProposal
from governance.domain.timing import Length, LocalTime, NextWeekday, end_of, format_local

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def test_days_across_the_autumn_dst_change_keep_local_wall_time() -> None:
    start = berlin(2026, 10, 23, 9, 0)  # CEST, UTC+2; clocks go back on 25 October
    end = end_of(Length(days=3), start, BERLIN)
    assert end == berlin(2026, 10, 26, 9, 0)
    assert end.astimezone(BERLIN).strftime("%H:%M %Z") == "09:00 CET"
    assert end - start == timedelta(hours=73)
    assert end.utcoffset() == timedelta(0)
    assert end == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_days_across_the_spring_dst_change_keep_local_wall_time() -> None:
    start = berlin(2026, 3, 27, 9, 0)  # CET; clocks go forward on 29 March
    end = end_of(Length(days=3), start, BERLIN)
    assert end == berlin(2026, 3, 30, 9, 0)
    assert end - start == timedelta(hours=71)


def test_hours_are_exact_hours_even_across_dst() -> None:
    start = berlin(2026, 10, 24, 9, 0)
    end = end_of(Length(hours=36), start, BERLIN)
    assert end - start == timedelta(hours=36)
    assert end.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 10, 25, 20, 0)


def test_days_and_hours_combine() -> None:
    start = berlin(2026, 10, 24, 9, 0)
    end = end_of(Length(days=1, hours=12, minutes=30), start, BERLIN)
    # One calendar day to 09:00 on the 25th (25 h because of DST), then 12 h 30 exact.
    assert end - start == timedelta(hours=37, minutes=30)


def test_absolute_local_time() -> None:
    start = berlin(2026, 11, 20, 12, 0)
    end = end_of(LocalTime(datetime(2026, 12, 1, 18, 0)), start, BERLIN)
    assert end == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "at", [datetime(2026, 11, 19, 18, 0), datetime(2026, 11, 20, 12, 0)], ids=["past", "now"]
)
def test_local_time_not_in_the_future_is_refused(at: datetime) -> None:
    start = berlin(2026, 11, 20, 12, 0)
    with pytest.raises(InvalidProposal) as info:
        end_of(LocalTime(at), start, BERLIN)
    assert "is not in the future" in str(info.value)
    assert at.strftime("%Y-%m-%d %H:%M") in str(info.value)


@pytest.mark.parametrize(
    "spec",
    [Length(days=91), Length(hours=90 * 24 + 1), LocalTime(datetime(2027, 6, 1, 9, 0))],
    ids=["91d", "2161h", "absolute"],
)
def test_more_than_ninety_days_is_refused(spec: Length | LocalTime) -> None:
    start = berlin(2026, 11, 20, 12, 0)
    with pytest.raises(InvalidProposal, match="more than 90 days away"):
        end_of(spec, start, BERLIN)


def test_exactly_ninety_days_is_allowed_without_a_dst_change() -> None:
    start = berlin(2026, 11, 20, 12, 0)
    assert end_of(Length(days=90), start, BERLIN) - start == timedelta(days=90)


def test_ninety_days_across_the_autumn_dst_change_is_allowed() -> None:
    # 90 calendar days, but 90 d + 1 h of real time: the limit is on the wall clock.
    start = berlin(2026, 8, 1, 9, 0)
    end = end_of(Length(days=90), start, BERLIN)
    assert end == berlin(2026, 10, 30, 9, 0)
    assert end - start == timedelta(days=90, hours=1)
    with pytest.raises(InvalidProposal, match="more than 90 days away"):
        end_of(Length(days=90, minutes=1), start, BERLIN)


def test_next_weekday_later_in_the_week() -> None:
    start = berlin(2026, 10, 21, 10, 0)  # a Wednesday
    end = end_of(NextWeekday(weekday=4, hour=17, minute=0), start, BERLIN)
    assert end == berlin(2026, 10, 23, 17, 0)
    assert end.astimezone(BERLIN).strftime("%A") == "Friday"


def test_next_weekday_on_the_same_day_before_the_time() -> None:
    start = berlin(2026, 10, 23, 16, 0)  # Friday 16:00
    assert end_of(NextWeekday(4, 17, 0), start, BERLIN) == berlin(2026, 10, 23, 17, 0)


@pytest.mark.parametrize("hour", [17, 18], ids=["at-the-time", "after-the-time"])
def test_next_weekday_on_the_same_day_at_or_after_the_time_is_a_week_later(hour: int) -> None:
    start = berlin(2026, 10, 23, hour, 0)  # Friday; the next Friday is after the DST change
    end = end_of(NextWeekday(4, 17, 0), start, BERLIN)
    assert end == berlin(2026, 10, 30, 17, 0)
    assert end == datetime(2026, 10, 30, 16, 0, tzinfo=UTC)


def test_deadline_texts() -> None:
    assert str(NextWeekday(4, 17, 0)) == "friday 17:00"
    assert str(Length(days=1, hours=12)) == "1d12h"
    assert str(LocalTime(datetime(2026, 12, 1, 18, 0))) == "2026-12-01 18:00"
    assert format_local(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), BERLIN) == "2026-11-30 09:00 CET"


@pytest.mark.parametrize(
    "spec",
    [LocalTime(datetime(2027, 3, 28, 2, 30)), NextWeekday(weekday=6, hour=2, minute=30)],
    ids=["absolute", "next-sunday"],
)
def test_a_wall_time_the_clocks_skip_is_refused(spec: LocalTime | NextWeekday) -> None:
    # Europe/Berlin jumps from 02:00 to 03:00 on Sunday 2027-03-28.
    start = berlin(2027, 3, 25, 12, 0)
    with pytest.raises(InvalidProposal) as info:
        end_of(spec, start, BERLIN)
    assert str(info.value).startswith(
        "2027-03-28 02:30 does not exist in Europe/Berlin: the clocks skip that hour"
    )


def test_a_wall_time_the_clocks_repeat_is_its_first_occurrence() -> None:
    # 02:30 happens twice on 2026-10-25 in Berlin: first in summer time (00:30 UTC).
    start = berlin(2026, 10, 20, 12, 0)
    end = end_of(LocalTime(datetime(2026, 10, 25, 2, 30)), start, BERLIN)
    assert end == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_the_longest_period_is_the_communitys_to_set() -> None:
    start = berlin(2026, 11, 20, 12, 0)
    assert end_of(Length(days=100), start, BERLIN, timedelta(days=120)) - start == timedelta(
        days=100
    )
    with pytest.raises(InvalidProposal) as info:
        end_of(Length(days=2), start, BERLIN, timedelta(hours=36))
    assert str(info.value) == (
        "The end 2026-11-22 12:00 CET is more than 36 hours away, the longest this "
        "community lets a period run."
    )
