"""Narrative prompts as members meet them: recurring postings exactly once, across a
change of the clocks, paused, resumed and ended, merged after the bot was down, once=,
tied to a proposal, the built-in welcome and outcome prompts, and bad input."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig
from governance.domain.decision_log import verify_chain
from governance.domain.ids import CommunityId, PromptNumber, RoomRef
from governance.domain.prompts import Prompt, PromptKind, PromptStatus
from governance.service.clocks import SimulatedClock
from governance.store import tables as t
from governance.store.engine import make_engine
from tests.chat import Chat, RecordingOutlet
from tests.conftest import COMMUNITIES, ROOM, postgres_only

STORY = CommunityId("story")
STORY_ROOM = RoomRef("test", "room-story")
STORY_COMMUNITY = CommunityConfig(
    name="story",
    timezone="Europe/Berlin",
    welcome_prompt="What brought you here?",
    outcome_prompt_after="3w",
    bridge_patterns=["test:bridge_*"],
)


@pytest.fixture
async def app(db_url: str, clock: SimulatedClock, outlet: RecordingOutlet) -> AsyncIterator[App]:
    """The shared app, with one more community whose built-in prompts are on."""
    built = await bootstrap(
        engine=make_engine(db_url),
        clock=clock,
        outlets={"test": outlet},
        communities=[*COMMUNITIES, STORY_COMMUNITY],
    )
    await ensure_binding(built, ROOM, CommunityId("demo"))
    await ensure_binding(built, STORY_ROOM, STORY)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def story(app: App, clock: SimulatedClock, outlet: RecordingOutlet) -> Chat:
    """A room of "story" (Europe/Berlin; welcome and outcome prompts on) with alice
    (admin), bob and carol."""
    room = Chat(app, clock, outlet, STORY_ROOM, STORY)
    await room.join("alice", admin=True)
    await room.join("bob")
    await room.join("carol")
    await app.dispatcher.drain()
    return room


async def advance_to(chat: Chat, moment: datetime) -> None:
    await chat.advance(seconds=int((moment - chat.clock.now()).total_seconds()))


async def down_until(chat: Chat, moment: datetime) -> None:
    """The bot was down: nothing ran on the way, and everything due runs at `moment`."""
    chat.clock.set(moment)
    await chat.app.governance.run_due()
    await chat.app.dispatcher.drain()


def postings(chat: Chat) -> list[str]:
    """The first line of each prompt posting in the room (``Prompt #1: <question>``)."""
    return [
        line
        for line in (text.splitlines()[0] for text in chat.announced())
        if re.match(r"Prompt #\d+: ", line)
    ]


async def join(chat: Chat, name: str) -> None:
    """Someone joins the room (and what that sends is delivered)."""
    await chat.join(name)
    await chat.app.dispatcher.drain()


async def prompt(chat: Chat, number: int) -> Prompt:
    async with chat.app.uow() as uow:
        found = await uow.prompts.get(chat.community, PromptNumber(number))
    assert found is not None
    return found


async def log_kinds(chat: Chat) -> list[str]:
    async with chat.app.uow() as uow:
        entries = await uow.log.entries(chat.community)
    assert verify_chain(entries) is None
    return [e.kind for e in entries]


# ---------------------------------------------------------------------- recurring


async def test_a_weekly_prompt_is_posted_once_a_week_in_a_thread_of_its_own(chat: Chat) -> None:
    chat.outlet.threads = True
    reply = await chat.ok("alice", "!prompt What changed for you this week? every=mon 10:00")
    assert reply == (
        "Prompt #1 is scheduled every Monday at 10:00 (UTC); "
        "the first posting is 2026-11-23 10:00 UTC."
    )
    assert postings(chat) == []
    await chat.advance(hours=1)
    assert chat.announced()[-1].splitlines() == [
        "Prompt #1: What changed for you this week?",
        "Share your story: reply here, or !story #1 <your story> "
        "[share=public|community|anonymous].",
        "Next posting: 2026-11-30 10:00 UTC.",
    ]
    await chat.advance(days=20)
    assert postings(chat) == ["Prompt #1: What changed for you this week?"] * 3
    # Each posting opened its own thread, recorded so a reply there maps to the prompt.
    keys = [key for _, text, key in chat.outlet.posts if text.startswith("Prompt #1")]
    assert len(set(keys)) == 3
    for key in keys:
        found = await chat.app.governance.prompt_of_thread(ROOM, f"thread-of-{key}")
        assert found is not None and found.number == 1
    assert await chat.app.governance.prompt_of_thread(ROOM, "thread-of-nothing") is None
    first = await prompt(chat, 1)
    async with chat.app.uow() as uow:
        threads = await uow.prompts.threads(first.id)
    assert [th.posting for th in threads] == [3, 2, 1]
    assert first.postings == 3
    # Running the due work again, as a second instance or a late wake-up would, posts nothing.
    await chat.app.governance.run_due()
    await chat.app.dispatcher.drain()
    assert len(postings(chat)) == 3
    assert await chat.app.governance.next_due() == datetime(2026, 12, 14, 10, 0, tzinfo=UTC)


async def test_a_weekly_prompt_keeps_its_local_time_across_the_change_to_summer_time(
    story: Chat,
) -> None:
    await advance_to(story, datetime(2027, 3, 18, 12, 0, tzinfo=UTC))
    assert await story.ok("alice", "!prompt How was your week? every=mon 10:00") == (
        "Prompt #2 is scheduled every Monday at 10:00 (Europe/Berlin); "
        "the first posting is 2027-03-22 10:00 CET."
    )
    await advance_to(story, datetime(2027, 3, 22, 8, 59, tzinfo=UTC))
    assert postings(story) == []
    await story.advance(minutes=1)  # 10:00 CET is 09:00 UTC
    assert story.announced()[-1].splitlines()[-1] == "Next posting: 2027-03-29 10:00 CEST."
    await advance_to(story, datetime(2027, 3, 29, 7, 59, tzinfo=UTC))
    assert len(postings(story)) == 1
    await story.advance(minutes=1)  # 10:00 CEST is 08:00 UTC
    assert len(postings(story)) == 2
    assert story.announced()[-1].splitlines()[-1] == "Next posting: 2027-04-05 10:00 CEST."


async def test_monthly_and_cron_rules(chat: Chat) -> None:
    assert await chat.ok("alice", "!prompt What did we learn? every=month 1 10:00") == (
        "Prompt #1 is scheduled on day 1 of every month at 10:00 (UTC); "
        "the first posting is 2026-12-01 10:00 UTC."
    )
    assert await chat.ok("alice", '!prompt "End of the week: a win?" cron=30 16 * * fri') == (
        "Prompt #2 is scheduled cron 30 16 * * fri (UTC); "
        "the first posting is 2026-11-27 16:30 UTC."
    )
    assert await chat.ok("alice", "!prompt Last day thoughts? every=month last 18:00") == (
        "Prompt #3 is scheduled on the last day of every month at 18:00 (UTC); "
        "the first posting is 2026-11-30 18:00 UTC."
    )
    await chat.advance(days=9)
    assert postings(chat) == [
        "Prompt #2: End of the week: a win?",
        "Prompt #3: Last day thoughts?",
        "Prompt #1: What did we learn?",
    ]


# ---------------------------------------------------------------------- pause, resume, end, edit


async def test_pause_stops_postings_resume_schedules_the_next_future_one_end_stops_for_good(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!prompt Any news? every=day 10:00")
    await chat.advance(hours=2)  # 11:00: posted once
    assert len(postings(chat)) == 1
    assert await chat.ok("alice", "!prompt pause 1") == (
        "Prompt #1 is paused: nothing is posted until !prompt resume 1."
    )
    assert await chat.fails("alice", "!prompt pause #1") == "Prompt #1 is paused already."
    await chat.advance(days=3)
    assert len(postings(chat)) == 1
    assert await chat.ok("alice", "!prompt resume 1") == (
        "Prompt #1 is resumed; the next posting is 2026-11-27 10:00 UTC."
    )
    assert await chat.fails("alice", "!prompt resume 1") == "Prompt #1 is active, not paused."
    await chat.advance(days=1)
    assert len(postings(chat)) == 2  # the days it was paused are not made up for
    assert await chat.ok("alice", "!prompt end 1") == (
        "Prompt #1 has ended: it is not posted again."
    )
    assert chat.announced()[-1].splitlines() == [
        "Prompt #1 has ended",
        "alice ended it: it is not posted again. The stories told for it stay in the archive.",
    ]
    await chat.advance(days=7)
    assert len(postings(chat)) == 2
    assert await chat.fails("alice", "!prompt resume 1") == (
        "Prompt #1 has ended, so it cannot be resumed; an ended prompt stays ended "
        "(schedule a new one with !prompt)."
    )
    assert (await prompt(chat, 1)).status is PromptStatus.ENDED
    assert await chat.app.governance.next_due() is None
    kinds = await log_kinds(chat)
    assert [k for k in kinds if k.startswith("prompt")] == [
        "prompt scheduled",
        "prompt paused",
        "prompt resumed",
        "prompt ended",
    ]


async def test_an_edit_changes_the_question_of_later_postings(chat: Chat) -> None:
    await chat.ok("alice", "!prompt What changed? every=mon 10:00")
    await chat.advance(hours=1)
    assert await chat.ok("alice", "!prompt edit 1 What changed for you, this week?") == (
        "Prompt #1 now asks: What changed for you, this week? (later postings ask it)."
    )
    assert await chat.ok("alice", "!prompt edit 1 What changed for you, this week?") == (
        "Prompt #1 already asks that; nothing changed."
    )
    await chat.advance(days=7)
    assert postings(chat) == [
        "Prompt #1: What changed?",
        "Prompt #1: What changed for you, this week?",
    ]


async def test_prompts_lists_them_with_their_next_posting(chat: Chat) -> None:
    assert await chat.ok("bob", "!prompts") == (
        "No prompts yet. A moderator can ask one: !prompt <question> every=mon 10:00"
    )
    await chat.ok("alice", "!prompt What changed for you this week? every=mon 10:00")
    await chat.ok("alice", "!prompt One question now")
    await chat.ok("alice", "!prompt Ending soon? once=2026-12-01 18:00")
    await chat.ok("alice", "!prompt A long one " + "x" * 80 + " every=day 09:00")
    await chat.ok("alice", "!prompt pause 4")
    await chat.ok("alice", "!prompt end 3")
    assert (await chat.ok("bob", "!prompts")).splitlines() == [
        "Prompts:",
        "prompt  question" + " " * 54 + "when" + " " * 19 + "next",
        "#1      What changed for you this week?"
        + " " * 31
        + "every Monday at 10:00  2026-11-23 10:00 UTC",
        "#2      One question now" + " " * 46 + "once" + " " * 19 + "posted 2026-11-23 09:00 UTC",
        "#4      A long one " + "x" * 48 + "…  every day at 09:00     paused",
    ]
    assert "#3" in await chat.ok("bob", "!prompts all")


# ---------------------------------------------------------------------- downtime


async def test_postings_missed_while_down_are_merged_into_one(chat: Chat) -> None:
    chat.outlet.threads = True
    await chat.ok("alice", "!prompt What changed? every=mon 10:00")
    await chat.advance(hours=1)
    assert len(postings(chat)) == 1
    # Down for three weeks and a day: three postings were missed.
    await down_until(chat, datetime(2026, 12, 15, 12, 0, tzinfo=UTC))
    assert len(postings(chat)) == 2
    assert chat.announced()[-1].splitlines()[-1] == "Next posting: 2026-12-21 10:00 UTC."
    assert (await prompt(chat, 1)).postings == 2
    assert await chat.app.governance.next_due() == datetime(2026, 12, 21, 10, 0, tzinfo=UTC)
    async with chat.app.engine.connect() as conn:
        pending = await conn.scalar(
            select(func.count()).select_from(t.due_work).where(t.due_work.c.done_at.is_(None))
        )
    assert pending == 1
    await chat.advance(days=7)
    assert len(postings(chat)) == 3


async def test_two_runners_at_once_post_a_due_prompt_once(chat: Chat) -> None:
    await chat.ok("alice", "!prompt Any news? every=day 10:00")
    chat.clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    await asyncio.gather(chat.app.governance.run_due(), chat.app.governance.run_due())
    await chat.app.dispatcher.drain()
    assert len(postings(chat)) == 1


@postgres_only
async def test_two_instances_on_one_database_post_a_due_prompt_once(
    chat: Chat, db_url: str
) -> None:
    await chat.ok("alice", "!prompt Any news? every=day 10:00")
    chat.clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    other = await bootstrap(
        engine=make_engine(db_url),
        clock=chat.clock,
        outlets={},
        communities=[*COMMUNITIES, STORY_COMMUNITY],
    )
    try:
        ran = await asyncio.gather(chat.app.governance.run_due(), other.governance.run_due())
    finally:
        await other.close()
    assert sorted(ran) == [0, 1]
    async with chat.app.engine.connect() as conn:
        posted = await conn.scalar(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.kind == "PromptPosted")
        )
    assert posted == 1


# ---------------------------------------------------------------------- once, now, proposals


async def test_once_is_posted_at_its_time_and_stays_open_for_stories(chat: Chat) -> None:
    assert await chat.ok("alice", "!prompt How was the assembly? once=2026-12-01 18:00") == (
        "Prompt #1 will be posted 2026-12-01 18:00 UTC."
    )
    await chat.advance(days=10)
    assert postings(chat) == ["Prompt #1: How was the assembly?"]
    assert len(chat.announced()[-1].splitlines()) == 2  # no next posting
    found = await prompt(chat, 1)
    assert found.status is PromptStatus.ACTIVE and found.next_at is None
    assert await chat.app.governance.next_due() is None


async def test_without_a_schedule_a_prompt_is_posted_at_once(chat: Chat) -> None:
    chat.outlet.threads = True
    assert await chat.ok("alice", "!prompt What is one thing we should stop doing?") == (
        "Prompt #1 is posted now."
    )
    assert postings(chat) == ["Prompt #1: What is one thing we should stop doing?"]
    [(_, _, key)] = [p for p in chat.outlet.posts if p[1].startswith("Prompt #1")]
    found = await chat.app.governance.prompt_of_thread(ROOM, f"thread-of-{key}")
    assert found is not None and found.postings == 1


async def test_a_once_prompt_whose_time_passed_while_paused_is_posted_on_resume(
    chat: Chat,
) -> None:
    await chat.ok("alice", "!prompt Ready? once=2026-11-24 09:00")
    await chat.ok("alice", "!prompt pause 1")
    await chat.advance(days=3)
    assert postings(chat) == []
    assert await chat.ok("alice", "!prompt resume 1") == (
        "Prompt #1 is resumed; its time passed while it was paused, so it is posted now."
    )
    assert postings(chat) == ["Prompt #1: Ready?"]


async def test_a_prompt_tied_to_a_proposal_names_it(chat: Chat) -> None:
    await chat.ok("bob", "!propose Four-day week deliberate=3d")
    assert await chat.ok(
        "alice", "!prompt How would this change your work? proposal=#1 once=2026-11-24 12:00"
    ) == ("Prompt #1 will be posted 2026-11-24 12:00 UTC.")
    await chat.advance(days=1, hours=3)
    assert chat.announced()[-1].splitlines()[:2] == [
        "Prompt #1: How would this change your work?",
        "About #1 Four-day week.",
    ]
    assert (await prompt(chat, 1)).proposal == 1
    assert await chat.fails("alice", "!prompt Why? proposal=7") == (
        "There is no proposal #7 here; !proposals lists them."
    )


# ---------------------------------------------------------------------- built-in prompts


async def test_a_new_member_is_asked_the_welcome_prompt_privately(story: Chat) -> None:
    welcome = (
        "A question for you, new in story: What brought you here?\n"
        "If you like, answer with !story #1 <your story> [share=public|community|anonymous]; "
        "you can edit or withdraw it at any time."
    )
    assert story.outlet.told_to("carol") == [welcome]
    await join(story, "dave")
    assert story.outlet.told_to("dave") == [welcome]
    assert not any("What brought you here" in text for text in story.announced())
    await join(story, "dave")  # known already: not asked again
    assert len(story.outlet.told_to("dave")) == 1
    found = await prompt(story, 1)
    assert found.kind is PromptKind.WELCOME and found.status is PromptStatus.ACTIVE
    assert await story.fails("alice", "!prompt edit 1 Why?") == (
        "Prompt #1 is the welcome prompt: its question is set in the config file (welcome_prompt)."
    )
    assert "take it out there" in await story.fails("alice", "!prompt end 1")
    await story.ok("alice", "!prompt pause 1")
    await join(story, "erin")
    assert story.outlet.told_to("erin") == []
    assert (await story.ok("alice", "!prompt resume 1")) == (
        "Prompt #1 is resumed: new members are asked it again."
    )
    await join(story, "fred")
    assert story.outlet.told_to("fred") == [welcome]
    # A bridge bot is no member to welcome, and communities without the setting say nothing.
    await join(story, "bridge_x")
    assert "What brought you here?" not in "".join(story.outlet.told_to("bridge_x"))


async def test_a_community_without_a_welcome_prompt_welcomes_no_one_privately(
    chat: Chat,
) -> None:
    await join(chat, "dave")
    assert chat.outlet.told_to("dave") == []


async def test_an_outcome_prompt_is_posted_weeks_after_a_vote_closes(story: Chat) -> None:
    story.outlet.threads = True
    await story.ok("bob", "!propose Four-day week vote=2d")
    await story.ok("alice", "!vote 1 yes")
    await story.advance(days=2)  # closed 2026-11-25 10:00 CET
    assert (await prompt(story, 2)).kind is PromptKind.OUTCOME
    listed = await story.ok("bob", "!prompts")
    assert "#1 Four-day week closed 3 weeks ago: what changed?" in listed
    assert "2026-12-16 10:00 CET" in listed
    await advance_to(story, datetime(2026, 12, 16, 8, 59, tzinfo=UTC))
    assert postings(story) == []
    await story.advance(minutes=1)
    assert postings(story) == ["Prompt #2: #1 Four-day week closed 3 weeks ago: what changed?"]
    [(_, _, key)] = [p for p in story.outlet.posts if p[1].startswith("Prompt #2")]
    found = await story.app.governance.prompt_of_thread(STORY_ROOM, f"thread-of-{key}")
    assert found is not None and found.proposal == 1 and found.kind is PromptKind.OUTCOME
    # A community without outcome prompts gets none.
    assert await story.app.governance.next_due() is None


async def test_no_outcome_prompt_where_the_community_has_none(chat: Chat) -> None:
    await chat.ok("bob", "!propose Paint the shop vote=1d")
    await chat.advance(days=30)
    assert postings(chat) == []
    assert await chat.ok("bob", "!prompts") == (
        "No prompts yet. A moderator can ask one: !prompt <question> every=mon 10:00"
    )


# ---------------------------------------------------------------------- threads gone


async def test_a_prompt_whose_thread_was_deleted_gives_its_delivery_up(chat: Chat) -> None:
    chat.outlet.threads = True
    await chat.ok("alice", "!prompt What changed? every=mon 10:00")
    await chat.advance(hours=1)
    [(_, _, key)] = [p for p in chat.outlet.posts if p[1].startswith("Prompt #1")]
    chat.outlet.gone_threads.add(f"thread-of-{key}")
    await chat.ok("alice", "!prompt end 1")
    assert not any("has ended" in text for _, _, text in chat.outlet.in_threads)
    undelivered = await chat.ok("alice", "!undelivered")
    assert "Prompt #1 has ended → room test:room-1" in undelivered
    assert "the thread thread-of-" in undelivered
    # The room goes on: the next announcement is delivered.
    await chat.ok("bob", "!propose Paint the shop")
    assert chat.announced()[-1].startswith("#1 Paint the shop — voting open")


async def test_an_ended_prompt_is_said_in_its_latest_thread_and_not_the_room(
    chat: Chat,
) -> None:
    chat.outlet.threads = True
    await chat.ok("alice", "!prompt What changed? every=mon 10:00")
    await chat.advance(days=7, hours=1)
    keys = [key for _, text, key in chat.outlet.posts if text.startswith("Prompt #1")]
    await chat.ok("alice", "!prompt end 1")
    assert [(thread, text.splitlines()[0]) for _, thread, text in chat.outlet.in_threads] == [
        (f"thread-of-{keys[-1]}", "Prompt #1 has ended")
    ]
    assert not any(text.startswith("Prompt #1 has ended") for text in chat.announced())


# ---------------------------------------------------------------------- permissions, bad input


async def test_members_cannot_schedule_or_steer_prompts(chat: Chat) -> None:
    await chat.ok("alice", "!prompt Any news? every=day 10:00")
    refusals = {
        "!prompt What brought you here?": "schedule prompts",
        "!prompt pause 1": "pause prompts",
        "!prompt resume 1": "resume prompts",
        "!prompt end 1": "end prompts",
        "!prompt edit 1 Better?": "edit prompts",
    }
    for text, action in refusals.items():
        assert await chat.fails("bob", text) == (
            f"Only a moderator or above can {action}; you are a member."
        )
    await chat.ok("alice", "!role bob moderator")
    await chat.ok("bob", "!prompt pause 1")
    assert "#1" in await chat.ok("carol", "!prompts")  # anyone may list them


USAGE_LINE = (
    "Usage: !prompt <question> [every=mon 10:00 | every=month 1 10:00 | cron=0 10 * * 1 | "
    "once=2026-12-01 18:00] [proposal=<id>] · !prompt pause|resume|end <prompt> · "
    "!prompt edit <prompt> <question>"
)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("!prompt pause 9", "There is no prompt #9 here; !prompts lists them."),
        ("!prompt edit 9 Why?", "There is no prompt #9 here; !prompts lists them."),
        (
            "!prompt pause",
            "Say which prompt, e.g. !prompt pause 3. A question that begins with “pause” "
            f"goes in double quotes.\n{USAGE_LINE}",
        ),
        (
            "!prompt end of the year: what did we learn?",
            "“of” is not a prompt id; ids look like 3 or #3.\n" + USAGE_LINE,
        ),
        (
            "!prompt end 3 things",
            "!prompt end takes only a prompt id. A question that begins with “end” goes in "
            f"double quotes.\n{USAGE_LINE}",
        ),
        (
            "!prompt",
            "Give the question to ask, e.g. !prompt What changed for you? every=mon 10:00\n"
            + USAGE_LINE,
        ),
        (
            "!prompt Why? every=someday 10:00",
            "every=: “someday” is not a day; write e.g. every=mon 10:00, every=mon,thu 18:30, "
            f"every=day 09:00 or every=month 1 10:00.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? every=mon",
            f"every=mon: give a time too, e.g. every=mon 10:00.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? every=mon 25:00",
            f"every=: “25:00” is not a time of day; write e.g. every=mon 10:00.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? every=month 32 10:00",
            f"every=month 32: a day of the month is 1 to 31, or last.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? cron=*/5 * * * *",
            "cron=: the minute field “*/5” must be one minute (a prompt is posted at most "
            f"once an hour), e.g. cron=0 10 * * 1.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? cron=0 10 * *",
            "cron=0 10 * * is not a cron rule: give five fields (minute hour day-of-month "
            "month day-of-week), e.g. cron=0 10 * * 1 for Mondays at 10:00.\n" + USAGE_LINE,
        ),
        ("!prompt Why? cron=0 10 * * 9", f"cron=0 10 * * 9: Bad day-of-week field.\n{USAGE_LINE}"),
        (
            "!prompt Why? cron=0 10 30 2 *",
            f"cron=0 10 30 2 *: Bad day-of-month field.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? every=mon 10:00 once=2026-12-01 18:00",
            f"Give one schedule: every= and once= do not go together.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? once=2026-11-01 18:00",
            "once=2026-11-01 18:00 has passed: it is 2026-11-23 09:00 UTC now. "
            f"Give a time to come.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? once=2028-01-01 18:00",
            f"once=2028-01-01 18:00 is more than a year away; give a nearer time.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? once=2026-13-01 18:00",
            "once=2026-13-01 18:00 is not a date and time that exists; write e.g. "
            f"once=2026-12-01 18:00.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why? proposal=x",
            "“x” is not a proposal id; ids look like 12 or #12.\n"
            "Usage: " + USAGE_LINE.removeprefix("Usage: "),
        ),
        ("!prompt Why?\nand more", f"A prompt's question goes on one line.\n{USAGE_LINE}"),
        (
            "!prompt " + "é" * 301,
            f"The question is 301 characters; the limit is 300.\n{USAGE_LINE}",
        ),
        (
            "!prompt Why\u202e?",
            "The question contains a bidirectional control character (U+202E), which can "
            f"disguise text; remove it.\n{USAGE_LINE}",
        ),
        ("!prompts later", "!prompts takes nothing after it, or all.\nUsage: !prompts [all]"),
    ],
)
async def test_bad_input_is_answered_specifically(chat: Chat, text: str, answer: str) -> None:
    assert await chat.fails("alice", text) == answer
    assert await chat.app.governance.next_due() is None


async def test_odd_unicode_within_the_limit_is_kept_as_written(chat: Chat) -> None:
    question = "Qu’est-ce qui a changé ? 👩🏽‍🌾 ما الذي تغير؟ " + "ñ" * 250
    assert len(question) <= 300
    await chat.ok("alice", f"!prompt {question}")
    assert postings(chat) == [f"Prompt #1: {question.strip()}"]


async def test_a_skipped_wall_time_is_refused_for_once(story: Chat) -> None:
    await advance_to(story, datetime(2027, 3, 20, 12, 0, tzinfo=UTC))
    assert (await story.fails("alice", "!prompt Why? once=2027-03-28 02:30")).startswith(
        "2027-03-28 02:30 does not exist in Europe/Berlin"
    )
