"""The console, driven by scripted input through the real `folkmoot console` command;
what members would read is checked word for word."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from governance.text.usage import USAGE

START = "2026-11-23T09:00+00:00"


async def console(tmp_path: Path, script: str | bytes, *, start: str | None = START) -> str:
    out, err, returncode = await console_run(tmp_path, script, start=start)
    assert returncode == 0, err
    assert "Traceback" not in err, err
    return out


async def console_run(
    tmp_path: Path, script: str | bytes, *, start: str | None = START
) -> tuple[str, str, int | None]:
    """One `folkmoot console` run in `tmp_path`'s data directory: its output, errors
    and exit status."""
    env = {**os.environ, "FOLKMOOT_DATA_DIR": str(tmp_path / "data")}
    env.pop("FOLKMOOT_DATABASE_URL", None)
    env.pop("FOLKMOOT_CONFIG", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "console",
        *(["--start", start] if start else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(
        process.communicate(script if isinstance(script, bytes) else script.encode()), timeout=60
    )
    return out.decode(), err.decode(), process.returncode


CONSENT = """\
/as alice
/as bob
/as carol
/as alice
!propose Adopt the four-day week method=consent vote=2d
Everyone works Monday to Thursday.

!vote 1 consent
/as bob
!vote 1 object
!vote 1 object Our Friday customers would lose out.
/as carol
!vote 1 stand aside
/clock +2d
/as alice
!outcome 1 We keep five days and revisit in spring.

"""

CONSENT_SEEN = """\
(to alice) Welcome, alice: you are an admin of demo.
(to bob) Welcome, bob: you are a member of demo.
(to carol) Welcome, carol: you are a member of demo.
(to alice) Proposed as #1.
#1 Adopt the four-day week — voting open until 2026-11-25 09:00 UTC
Proposed by alice.
Everyone works Monday to Thursday.
Method: consent; roll: 3 members; results: live.
Vote: !vote 1 consent, object <reason> or stand-aside
(to alice) Your vote on #1 is recorded: consent.
(to bob) Say why: object needs a reason.
Usage: !vote <id> <ballot> e.g. !vote 12 yes · object <reason> · A C · B > A > C · A=5 B=3 · A:3 B:2
(to bob) Your vote on #1 is recorded: object — “Our Friday customers would lose out.”
(to carol) Your vote on #1 is recorded: stand-aside.
#1 Adopt the four-day week — voting closed
Rejected — 1 objection stands.
choice       votes
consent      1
object       1
stand-aside  1
Ballots: 3 of 3 on the roll.
Objection: Our Friday customers would lose out.
It is 2026-11-25 09:00 UTC.
(to alice) Outcome of #1 recorded.
#1 Adopt the four-day week — outcome recorded by alice
We keep five days and revisit in spring.
"""


async def test_a_consent_proposal_with_an_objection(tmp_path: Path) -> None:
    assert await console(tmp_path, CONSENT) == CONSENT_SEEN


MAJORITY = """\
/as ana
/as ben
/as cleo
/as dev
/as ana
!propose Buy a delivery bike vote=3d quorum=50%

!vote 1 yes
/as ben
!vote 1 no
/as cleo
!vote 1 yes
/clock +2d
!status 1
!vote 1 abstain
/clock +1d
!vote 1 yes
!results 1
"""

MAJORITY_SEEN = """\
(to ana) Welcome, ana: you are an admin of demo.
(to ben) Welcome, ben: you are a member of demo.
(to cleo) Welcome, cleo: you are a member of demo.
(to dev) Welcome, dev: you are a member of demo.
(to ana) Proposed as #1.
#1 Buy a delivery bike — voting open until 2026-11-26 09:00 UTC
Proposed by ana.
Method: majority; roll: 4 members; results: live.
Vote: !vote 1 yes, no or abstain
(to ana) Your vote on #1 is recorded: yes.
(to ben) Your vote on #1 is recorded: no.
(to cleo) Your vote on #1 is recorded: yes.
(to dev) Reminder: you have not voted on #1 Buy a delivery bike; voting closes 2026-11-26 09:00 UTC.
Vote: !vote 1 yes, no or abstain
It is 2026-11-25 09:00 UTC.
#1 Buy a delivery bike — voting until 2026-11-26 09:00 UTC
Method: majority; roll: 4 members; results: live.
Ballots so far: 3 of 4.
Your vote: yes.
Vote: !vote 1 yes, no or abstain
(to cleo) Your vote on #1 is changed to abstain (was yes).
(to dev) Reminder: you have not voted on #1 Buy a delivery bike; voting closes 2026-11-26 09:00 UTC.
Vote: !vote 1 yes, no or abstain
#1 Buy a delivery bike — voting closed
Rejected — 1 yes, 1 no; an even split is not more than 50%.
choice   votes
yes      1
no       1
abstain  1
Ballots: 3 of 4 on the roll.
Quorum: 2 needed (50%) — reached.
Threshold: yes/(yes+no) = 1/2 = 50%; needs more than 50%.
An even split does not pass, whatever ties= says: it settles ties between options, never a threshold.
It is 2026-11-26 09:00 UTC.
(to cleo) Voting on #1 has closed.
#1 Buy a delivery bike — result
Rejected — 1 yes, 1 no; an even split is not more than 50%.
choice   votes
yes      1
no       1
abstain  1
Ballots: 3 of 4 on the roll.
Quorum: 2 needed (50%) — reached.
Threshold: yes/(yes+no) = 1/2 = 50%; needs more than 50%.
An even split does not pass, whatever ties= says: it settles ties between options, never a threshold.
"""


async def test_a_majority_vote_closes_on_the_simulated_clock(tmp_path: Path) -> None:
    assert await console(tmp_path, MAJORITY) == MAJORITY_SEEN


DELIBERATION = """\
/as alice
/as bob
/as carol
/as bob
!propose Share the tools deliberate=2d vote=3d
One shed for the whole street.

!edit 1 title Share the tools and the van
/as carol
!open 1
/clock +1h
/as alice
!summary 1 Everyone is in; Bob keeps the key.
/as bob
!status 1
!open 1
!edit 1 body Too late
!vote 1 yes
/clock +3d
"""

DELIBERATION_SEEN = """\
(to alice) Welcome, alice: you are an admin of demo.
(to bob) Welcome, bob: you are a member of demo.
(to carol) Welcome, carol: you are a member of demo.
(to bob) Proposed as #1; deliberation until 2026-11-25 09:00 UTC, then voting.
#1 Share the tools — in deliberation until 2026-11-25 09:00 UTC, then voting
Proposed by bob.
One shed for the whole street.
Author or moderator: !edit 1 title|body|options …, !summary 1 <text>, !open 1 to vote now.
(to bob) Edited the title of #1: this is version 2.
#1 Share the tools and the van — title edited by bob (version 2)
New title: Share the tools and the van
Only the author of #1 or a moderator can open its vote.
It is 2026-11-23 10:00 UTC.
(to alice) Summary of #1 recorded.
#1 Share the tools and the van — summary by alice
Everyone is in; Bob keeps the key.
#1 Share the tools and the van — in deliberation until 2026-11-25 09:00 UTC
One shed for the whole street.
Method: majority; roll: fixed when voting opens; results: live.
Summary by alice, 2026-11-23 10:00 UTC: Everyone is in; Bob keeps the key.
Versions (2):
v1 2026-11-23 09:00 UTC by bob: as proposed
v2 2026-11-23 09:00 UTC by bob: title “Share the tools and the van”
Author or moderator: !edit 1 title|body|options …, !summary 1 <text>, !open 1 to vote now.
(to bob) Voting on #1 is open until 2026-11-26 10:00 UTC.
#1 Share the tools and the van — voting open until 2026-11-26 10:00 UTC
Opened early by bob.
Roll: 3 members.
Vote: !vote 1 yes, no or abstain
Cannot edit: the proposal is open for voting (voting). Its text was frozen when voting opened.
(to bob) Your vote on #1 is recorded: yes.
(to alice) Reminder: you have not voted on #1 Share the tools and the van; voting closes 2026-11-26 10:00 UTC.
Vote: !vote 1 yes, no or abstain
(to carol) Reminder: you have not voted on #1 Share the tools and the van; voting closes 2026-11-26 10:00 UTC.
Vote: !vote 1 yes, no or abstain
(to alice) Reminder: you have not voted on #1 Share the tools and the van; voting closes 2026-11-26 10:00 UTC.
Vote: !vote 1 yes, no or abstain
(to carol) Reminder: you have not voted on #1 Share the tools and the van; voting closes 2026-11-26 10:00 UTC.
Vote: !vote 1 yes, no or abstain
#1 Share the tools and the van — voting closed
Passed — 1 yes, 0 no.
choice   votes
yes      1
no       0
abstain  0
Ballots: 1 of 3 on the roll.
Threshold: yes/(yes+no) = 1/1 = 100%; needs more than 50%.
It is 2026-11-26 10:00 UTC.
"""


async def test_a_deliberation_with_an_edit_a_summary_and_an_early_open(tmp_path: Path) -> None:
    assert await console(tmp_path, DELIBERATION) == DELIBERATION_SEEN


async def test_bad_input_gets_answers_and_the_console_keeps_running(tmp_path: Path) -> None:
    script = (
        "\n".join(
            [
                "!help",
                "/as",
                "/as 9lives",
                "/warp",
                "/clock tomorrow",
                "/as eve",
                "!vote",
                "!vote abc yes",
                "!vote 7 yes",
                "!propose",
                "",
                "!propose x vote=0h",
                "",
                "!propose " + "t" * 300,
                "",
                "!propose Ring \x07 the bell",
                "",
                "!frobnicate",
                "!propose Still fine after all that",
                "",
                "!proposals",
            ]
        )
        + "\n"
    )
    seen = (await console(tmp_path, script)).splitlines()
    assert seen[0] == "Play a member first: /as alice"
    assert seen[1].startswith("Usage: /as <name>") and seen[2].startswith("Usage: /as <name>")
    assert seen[3] == "Unknown console command /warp; /help lists them."
    assert seen[4] == "Usage: /clock +3d, /clock +2d1h or /clock +90m"
    assert seen[5] == "(to eve) Welcome, eve: you are an admin of demo."
    assert seen[6:8] == [
        "Say which proposal: its id, like 12.",
        "Usage: !vote <id> <ballot> e.g. !vote 12 yes · object <reason> · A C · B > A > C · "
        "A=5 B=3 · A:3 B:2",
    ]
    assert seen[8] == "“abc” is not a proposal id; ids look like 12 or #12."
    assert seen[10] == "(to eve) There is no proposal #7 here; !proposals lists them."
    assert seen[11] == "Give the proposal a title."
    assert seen[13] == "vote=0h is no time at all; give a length like 3d."
    assert seen[15] == "The title is 300 characters; the limit is 200."
    assert seen[16].startswith("Usage: !propose <title>")
    assert seen[17] == "The title contains a control character (U+0007); remove it."
    assert seen[19].startswith("Unknown command “!frobnicate”.")
    assert "(to eve) Proposed as #1." in seen
    assert seen[-1] == "#1 Still fine after all that — voting until 2026-11-30 09:00 UTC"


PROMPTS_CONFIG = """\
[[communities]]
name = "demo"
welcome_prompt = "What brought you here?"
"""

PROMPTS = """\
/as alice
/as bob
!prompt What changed for you this week? every=mon 10:00
/as alice
!prompt What changed for you this week? every=mon 10:00
/clock +1h
/as dave
/as alice
!prompt edit 2 What changed for you, this week?
/clock +7d
!prompt end 2
!prompts all
"""

PROMPTS_SEEN = """\
(to alice) Welcome, alice: you are an admin of demo.
(to alice) A question for you, new in demo: What brought you here?
If you like, answer with !story #1 <your story> [share=public|community|anonymous]; you can edit or withdraw it at any time.
(to bob) Welcome, bob: you are a member of demo.
(to bob) A question for you, new in demo: What brought you here?
If you like, answer with !story #1 <your story> [share=public|community|anonymous]; you can edit or withdraw it at any time.
Only a moderator or above can schedule prompts; you are a member.
(to alice) Prompt #2 is scheduled every Monday at 10:00 (UTC); the first posting is 2026-11-23 10:00 UTC.
── Prompt #2: What changed for you this week? ──
Share your story: reply here, or !story #2 <your story> [share=public|community|anonymous].
Next posting: 2026-11-30 10:00 UTC.

It is 2026-11-23 10:00 UTC.
(to dave) Welcome, dave: you are a member of demo.
(to dave) A question for you, new in demo: What brought you here?
If you like, answer with !story #1 <your story> [share=public|community|anonymous]; you can edit or withdraw it at any time.
(to alice) Prompt #2 now asks: What changed for you, this week? (later postings ask it).
── Prompt #2: What changed for you, this week? ──
Share your story: reply here, or !story #2 <your story> [share=public|community|anonymous].
Next posting: 2026-12-07 10:00 UTC.

It is 2026-11-30 10:00 UTC.
(to alice) Prompt #2 has ended: it is not posted again.
Prompt #2 has ended
alice ended it: it is not posted again. The stories told for it stay in the archive.
Prompts:
prompt  question                          when                   next
#1      What brought you here?            to each new member     on joining
#2      What changed for you, this week?  every Monday at 10:00  ended
"""


async def test_prompts_are_posted_as_sections_and_newcomers_are_asked_privately(
    tmp_path: Path,
) -> None:
    (tmp_path / "folkmoot.toml").write_text(PROMPTS_CONFIG, encoding="utf-8")
    assert await console(tmp_path, PROMPTS) == PROMPTS_SEEN


STORIES = """\
/as alice
/as bob
/as alice
!prompt What brought you to the co-op?
/as bob
!story #1 I came for the bread and stayed for the people tags=bread
/dm !story #1 I was lonely before share=anonymous
!story #1 I was lonely before share=anonymous
!story
!stories bread
!export stories md
/as alice
!story withdraw 1
!story hide 2 It names a neighbour
!stories
"""

STORIES_SEEN = """\
(to alice) Welcome, alice: you are an admin of demo.
(to bob) Welcome, bob: you are a member of demo.
(to alice) Prompt #1 is posted now.
── Prompt #1: What brought you to the co-op? ──
Share your story: reply here, or !story #1 <your story> [share=public|community|anonymous].

Thank you: your story is #1 (for the community only). You can !story edit 1 or !story withdraw 1 at any time.
(to bob) Thank you: your story is #2 (posted without your name). You can !story edit 2 or !story withdraw 2 at any time.
Story #2, told anonymously (prompt #1)
I was lonely before
An anonymous story is given privately, so no one sees who told it: send it to me in a direct message (on Discord, /story).
The story is empty: tell it after the command, e.g. !story We started in a kitchen…
Stories of demo matching “bread” — page 1 of 1, 1 in all:
#1 by bob, 2026-11-23 (prompt #1; #bread): I came for the bread and stayed for the people
The stories of demo: 2, in demo-stories-2026-11-23.md.
(file written: <data>/exports/demo-stories-2026-11-23.md)
Only the author of story #1 can withdraw it.
Story #2 is hidden; its author is told why.
(to bob) Your story #2 was hidden by alice
Reason: It names a neighbour
It no longer shows in listings or exports.
Stories of demo — page 1 of 1, 1 in all:
#1 by bob, 2026-11-23 (prompt #1; #bread): I came for the bread and stayed for the people
"""


async def test_stories_are_told_listed_exported_and_hidden(tmp_path: Path) -> None:
    seen = await console(tmp_path, STORIES)
    assert seen.replace(str(tmp_path / "data"), "<data>") == STORIES_SEEN
    book = (tmp_path / "data" / "exports" / "demo-stories-2026-11-23.md").read_text()
    assert book.startswith("# The stories of demo\n\n2 stories, exported")
    assert "## Prompt #1: What brought you to the co-op?" in book
    assert "### #2 — anonymous, 2026-11-23\n\nI was lonely before" in book


UNBIND = """\
/as alice
/as bob
!unbind
/as alice
!unbind
!unbind confirm
!status
!bind demo
!propose Paint the shop

"""

UNBIND_SEEN = """\
(to alice) Welcome, alice: you are an admin of demo.
(to bob) Welcome, bob: you are a member of demo.
Only an admin of demo can unbind a room from it.
This room is demo's last bound room. With none, nothing demo announces (new proposals, \
votes opening, results) reaches anyone, nor is it kept to send later. Bind another room \
first (!bind demo there); or, to unbind it anyway: !unbind confirm
This room is no longer bound to demo. demo has no room bound now: what it announces \
reaches no one until an admin binds one (!bind demo).
This room is not bound to a community; an admin can !bind it.
This room is now bound to demo.
"""


async def test_the_consoles_one_room_is_unbound_only_when_confirmed_and_bound_at_start(
    tmp_path: Path,
) -> None:
    seen = await console(tmp_path, UNBIND)
    assert seen.startswith(UNBIND_SEEN)
    assert "#1 Paint the shop — voting open" in seen.removeprefix(UNBIND_SEEN)
    await console(tmp_path, "/as alice\n!unbind confirm\n")
    # The next start binds the console's room to demo again.
    assert await console(tmp_path, "/as alice\n!status\n") == (
        "Open now:\n#1 Paint the shop — voting until 2026-11-30 09:00 UTC\n"
    )


def _clock_lines(output: str) -> list[datetime]:
    return [
        datetime.strptime(line, "It is %Y-%m-%d %H:%M UTC.").replace(tzinfo=UTC)
        for line in output.splitlines()
        if line.startswith("It is ")
    ]


async def test_a_restart_never_moves_the_simulated_clock_backwards(tmp_path: Path) -> None:
    first = await console(tmp_path, "/as alice\n!propose Paint the shed vote=1d\n\n/clock +17d\n")
    assert _clock_lines(first) == [datetime(2026, 12, 10, 9, tzinfo=UTC)]
    # Started again without --start: where the first run left off (or now, if later).
    second = await console(
        tmp_path, "/clock\n/as alice\n!propose Fix the gate vote=1d\n\n", start=None
    )
    (resumed,) = _clock_lines(second)
    assert resumed >= datetime(2026, 12, 10, 9, tzinfo=UTC)
    assert f"voting open until {(resumed + timedelta(days=1)):%Y-%m-%d %H:%M} UTC" in second
    # An earlier --start is refused with one line, and nothing runs.
    out, err, returncode = await console_run(tmp_path, "/clock\n", start=START)
    assert returncode == 2 and out == ""
    assert err.startswith(f"folkmoot: --start {datetime.fromisoformat(START).isoformat()} is")
    assert "before the console's clock in this data directory" in err
    later = await console(tmp_path, "/clock\n", start="2027-01-01T12:00+00:00")
    assert _clock_lines(later) == [datetime(2027, 1, 1, 12, tzinfo=UTC)]


async def test_bad_bytes_and_a_clock_past_year_9998_get_answers(tmp_path: Path) -> None:
    script = b"/as alice\n!propose Fix the \xff roof\n\n" + b"/clock +9999d\n" * 300
    seen = (await console(tmp_path, script + b"!proposals\n")).splitlines()
    assert seen[1].startswith("That message holds a broken character (U+DCFF")
    assert seen[-1] == "No proposals yet. Start with !propose <title>."
    refusals = [line for line in seen if "year 9999" in line]
    assert refusals[0] == (
        "/clock +9999d would take the clock into year 9999 or later, where dates run "
        "out (deadlines need room after it); move it less."
    )
    assert seen[-2] == refusals[0]
    assert seen[-len(refusals) - 2] == "It is 9993-05-29 09:00 UTC."  # the last step taken


async def test_a_propose_that_will_be_refused_is_answered_before_its_body(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "FOLKMOOT_DATA_DIR": str(tmp_path / "data")}
    env.pop("FOLKMOOT_DATABASE_URL", None)
    env.pop("FOLKMOOT_CONFIG", None)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "console", "--start", START),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdin is not None and process.stdout is not None

    async def answer_to(line: str) -> list[str]:
        """Send `line` and read up to the usage line that ends a refusal; the body is
        not sent yet, so only an answer given at once arrives."""
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line.encode() + b"\n")
        await process.stdin.drain()
        seen: list[str] = []
        while not seen or not seen[-1].startswith("Usage:"):
            seen.append((await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip())
        return seen

    process.stdin.write(b"/as alice\n")
    assert (await answer_to("!propose Raise dues qourum=60%"))[-2:] == [
        "“qourum=” is not a setting (did you mean quorum=?); nothing was proposed.",
        "Usage: " + USAGE["propose"][0],
    ]
    process.stdin.write(b"The body, passed over\n!vote 1 yes, passed over too\n\n")
    assert (await answer_to("!propose vote=3d"))[-2] == "Give the proposal a title."
    process.stdin.write(b"\n!proposals\n")
    process.stdin.close()
    rest, _ = await asyncio.wait_for(process.communicate(), 60)
    assert rest.decode().splitlines() == ["No proposals yet. Start with !propose <title>."]
    assert process.returncode == 0


async def test_a_broken_kept_clock_or_a_start_past_the_calendar_is_one_line(
    tmp_path: Path,
) -> None:
    clock = tmp_path / "data" / "console-clock"
    clock.parent.mkdir()
    for broken in (b"\xff\xfe not text", b"9999-12-31T23:00-05:00\n", b"yesterday\n"):
        clock.write_bytes(broken)
        out, err, returncode = await console_run(tmp_path, "/clock\n", start=None)
        assert returncode == 2 and out == "", err
        assert err.startswith("folkmoot: ") and "console-clock" in err, err
        assert "Traceback" not in err
    clock.unlink()
    out, err, returncode = await console_run(tmp_path, "/clock\n", start="9999-06-01T00:00+00:00")
    assert returncode == 2 and out == ""
    assert "dates run out in year 9999" in err and "Traceback" not in err


async def test_a_data_directory_from_before_the_kept_clock_goes_on_from_its_record(
    tmp_path: Path,
) -> None:
    await console(
        tmp_path,
        "/as alice\n!propose Paint the shed vote=1d\n\n/clock +2d\n",
        start="2030-01-01T09:00+00:00",
    )
    (tmp_path / "data" / "console-clock").unlink()  # as an earlier version left it
    (resumed,) = _clock_lines(await console(tmp_path, "/clock\n", start=None))
    assert resumed >= datetime(2030, 1, 2, 9, tzinfo=UTC)  # the close, not today
