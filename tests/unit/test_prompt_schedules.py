"""Prompt schedules (every=, cron=, once=) on the community's wall clock, outcome
delays, and the prompt's transition table."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.domain.errors import GovernanceError, IllegalTransition, InvalidPrompt
from governance.domain.ids import CommunityId, PromptId, PromptNumber
from governance.domain.prompts import (
    TRANSITIONS,
    Once,
    OutcomeDelay,
    Prompt,
    PromptKind,
    PromptMove,
    PromptStatus,
    Recurring,
    cron,
    every,
    once_at,
    schedule_of,
)
from governance.domain.timing import Length, LocalTime, NextWeekday

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "rule", "cron_rule", "described"),
    [
        ("mon 10:00", "every mon 10:00", "0 10 * * 1", "every Monday at 10:00"),
        (
            "Thursday,MON  9:05",
            "every mon,thu 09:05",
            "5 9 * * 1,4",
            "every Monday and Thursday at 09:05",
        ),
        ("sun,sat,fri 18:30", "every fri,sat,sun 18:30", "30 18 * * 5,6,0", None),
        ("day 7:30", "every day 07:30", "30 7 * * *", "every day at 07:30"),
        ("month 1 10:00", "every month 1 10:00", "0 10 1 * *", "on day 1 of every month at 10:00"),
        (
            "month last 18:00",
            "every month last 18:00",
            "0 18 L * *",
            "on the last day of every month at 18:00",
        ),
    ],
)
def test_every_reads_days_and_times_into_a_cron_rule(
    written: str, rule: str, cron_rule: str, described: str | None
) -> None:
    schedule = every(written)
    assert (schedule.rule, schedule.cron) == (rule, cron_rule)
    assert schedule_of(schedule.rule) == schedule
    if described is not None:
        assert schedule.describe() == described


def test_stored_rules_read_back() -> None:
    assert schedule_of(None) is None
    assert schedule_of("cron 0 10 * * 1") == Recurring("0 10 * * 1")
    at = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert schedule_of(Once(at).rule) == Once(at)
    with pytest.raises(ValueError, match="unknown prompt rule"):
        schedule_of("sometimes")


def local(moments: list[datetime]) -> list[str]:
    return [m.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M %Z") for m in moments]


def run(schedule: Recurring, start: datetime, count: int) -> list[datetime]:
    found, moment = [], start
    for _ in range(count):
        following = schedule.next_after(moment, BERLIN)
        assert following is not None and following > moment
        found.append(following)
        moment = following
    return found


def test_a_weekly_rule_keeps_its_wall_time_across_both_changes_of_the_clocks() -> None:
    weekly = every("sun 10:00")
    spring = run(weekly, datetime(2027, 3, 20, tzinfo=UTC), 2)
    assert local(spring) == ["Sun 2027-03-21 10:00 CET", "Sun 2027-03-28 10:00 CEST"]
    assert spring[1] - spring[0] == timedelta(days=7, hours=-1)
    autumn = run(weekly, datetime(2027, 10, 23, tzinfo=UTC), 2)
    assert local(autumn) == ["Sun 2027-10-24 10:00 CEST", "Sun 2027-10-31 10:00 CET"]


def test_a_skipped_wall_time_moves_on_and_a_repeated_one_posts_once() -> None:
    nightly = every("day 02:30")
    spring = run(nightly, datetime(2027, 3, 27, 12, 0, tzinfo=UTC), 2)
    assert local(spring) == ["Sun 2027-03-28 03:00 CEST", "Mon 2027-03-29 02:30 CEST"]
    autumn = run(nightly, datetime(2027, 10, 30, 12, 0, tzinfo=UTC), 2)
    assert local(autumn) == ["Sun 2027-10-31 02:30 CEST", "Mon 2027-11-01 02:30 CET"]


@settings(max_examples=60, deadline=None)
@given(
    day=st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    hour=st.integers(4, 23),
    minute=st.integers(0, 59),
    start=st.datetimes(datetime(2026, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
)
def test_weekly_postings_are_a_week_apart_on_the_wall_clock(
    day: str, hour: int, minute: int, start: datetime, zone: str
) -> None:
    tz = ZoneInfo(zone)
    weekly = every(f"{day} {hour}:{minute:02d}")
    moment = start
    walls = []
    for _ in range(60):
        following = weekly.next_after(moment, tz)
        assert following is not None and following > moment
        assert following - moment <= timedelta(days=7, hours=1)
        walls.append(following.astimezone(tz).replace(tzinfo=None))
        moment = following
    assert {(w.hour, w.minute) for w in walls} == {(hour, minute)}
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(walls))


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "every= is empty"),
        ("someday 10:00", "“someday” is not a day"),
        ("mon,funday 10:00", "“funday” is not a day"),
        ("mon", "every=mon: give a time too"),
        ("mon 10:00 11:00", "every=mon: give a time too"),
        ("mon 10", "“10” is not a time of day"),
        ("mon 24:00", "“24:00” is not a time of day"),
        ("day", "every=day takes a time of day"),
        ("month 10:00", "every=month takes a day of the month"),
        ("month 0 10:00", "a day of the month is 1 to 31"),
        ("month first 10:00", "every=month takes a day of the month"),
    ],
)
def test_a_bad_every_is_refused_naming_it(written: str, message: str) -> None:
    with pytest.raises(InvalidPrompt, match=message):
        every(written)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("0 10 * * 1 *", "give five fields"),
        ("0 10 * *", "give five fields"),
        ("0 10 * * 1;rm", "give five fields"),
        ("*/15 * * * *", "must be one minute"),
        ("0,30 10 * * *", "must be one minute"),
        ("0 24 * * *", "Bad hour"),
        ("0 10 * 13 *", "Bad month"),
    ],
)
def test_a_bad_cron_rule_is_refused_naming_it(written: str, message: str) -> None:
    with pytest.raises(InvalidPrompt, match=message):
        cron(written)


def test_cron_rules_may_name_several_hours_days_and_names() -> None:
    rule = cron("0 9,17 * * MON-FRI")
    assert run(rule, datetime(2026, 11, 27, 12, 0, tzinfo=UTC), 3) == [
        datetime(2026, 11, 27, 16, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
    ]


def test_once_is_a_time_to_come_within_a_year() -> None:
    at = once_at(LocalTime(datetime(2026, 12, 1, 18, 0)), NOW, BERLIN)
    assert at == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert once_at(NextWeekday(4, 17, 0), NOW, BERLIN) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert once_at(Length(days=2), NOW, BERLIN) == NOW + timedelta(days=2)
    with pytest.raises(InvalidPrompt, match="has passed"):
        once_at(LocalTime(datetime(2026, 11, 23, 9, 0)), NOW, BERLIN)
    with pytest.raises(InvalidPrompt, match="more than a year away"):
        once_at(Length(days=367), NOW, BERLIN)
    with pytest.raises(GovernanceError, match="does not exist"):
        once_at(LocalTime(datetime(2027, 3, 28, 2, 30)), NOW, BERLIN)


@pytest.mark.parametrize(
    ("written", "days", "words"),
    [("3w", 21, "3 weeks"), ("1W", 7, "1 week"), ("10d", 10, "10 days"), ("1d", 1, "1 day")],
)
def test_outcome_delays(written: str, days: int, words: str) -> None:
    delay = OutcomeDelay.parse(written)
    assert (delay.days, delay.words) == (days, words)


@pytest.mark.parametrize("written", ["", "3", "3m", "0w", "53w", "3 weeks", "-1d"])
def test_a_bad_outcome_delay_is_refused(written: str) -> None:
    with pytest.raises(InvalidPrompt, match="not a delay for outcome prompts"):
        OutcomeDelay.parse(written)


def test_an_outcome_prompt_comes_at_the_same_wall_time_and_fits_its_limit() -> None:
    delay = OutcomeDelay.parse("3w")
    closed = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)  # 10:00 CET
    assert delay.after(closed, BERLIN) == datetime(2027, 4, 10, 8, 0, tzinfo=UTC)  # 10:00 CEST
    assert delay.question(12, "Paint the shop") == (
        "#12 Paint the shop closed 3 weeks ago: what changed?"
    )
    long = delay.question(12, "x" * 400)
    assert len(long) == 300 and long.endswith("… closed 3 weeks ago: what changed?")


def prompt(status: PromptStatus) -> Prompt:
    return Prompt(
        id=PromptId(1),
        community=CommunityId("demo"),
        number=PromptNumber(4),
        question="Why?",
        kind=PromptKind.CUSTOM,
        status=status,
        rule="every mon 10:00",
        proposal=None,
        next_at=NOW,
        created_at=NOW,
    )


@pytest.mark.parametrize("status", list(PromptStatus))
@pytest.mark.parametrize("move", list(PromptMove))
def test_every_move_is_legal_or_refused_naming_the_state(
    status: PromptStatus, move: PromptMove
) -> None:
    if (status, move) in TRANSITIONS:
        prompt(status).check(move)
        return
    with pytest.raises(IllegalTransition) as refused:
        prompt(status).check(move)
    assert refused.value.message.startswith("Prompt #4 ")
    assert status.value in refused.value.message


def test_moves_change_what_they_should() -> None:
    active = prompt(PromptStatus.ACTIVE)
    paused = active.paused()
    assert (paused.status, paused.next_at) == (PromptStatus.PAUSED, None)
    later = NOW + timedelta(days=7)
    assert paused.resumed(later).next_at == later
    posted = active.posted(at=NOW, next_at=later)
    assert (posted.postings, posted.last_posted_at, posted.next_at) == (1, NOW, later)
    assert active.edited("How?").question == "How?"
    assert active.ended().status is PromptStatus.ENDED
    assert active == prompt(PromptStatus.ACTIVE)  # frozen: moves make new prompts


def test_resuming_finds_the_next_time_after_now() -> None:
    paused = prompt(PromptStatus.PAUSED)
    assert paused.resume_at(NOW, BERLIN) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    once = replace(paused, rule=Once(NOW - timedelta(days=1)).rule)
    assert once.resume_at(NOW, BERLIN) == NOW  # never posted, its time passed: now
    assert replace(once, postings=1).resume_at(NOW, BERLIN) is None


cron_field = st.text(alphabet="0123456789*/,#-LWMONFRIJA", min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 99), st.lists(cron_field, min_size=4, max_size=4))
def test_any_cron_rule_is_read_or_refused_as_a_prompt_error(minute: int, rest: list[str]) -> None:
    rule = " ".join([str(minute), *rest])
    try:
        schedule = cron(rule)
    except InvalidPrompt:
        return
    following = schedule.next_after(NOW, BERLIN)
    assert following is None or following > NOW
