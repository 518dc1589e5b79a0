"""The text command grammar: what members type and what the bot understands."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from governance.domain.commands import (
    Bind,
    Cancel,
    CastVote,
    CloseEarly,
    Command,
    Context,
    Deliberate,
    Edit,
    EditPrompt,
    EditStory,
    EndPrompt,
    Erase,
    ExportBallots,
    ExportDecisions,
    ExportStories,
    Extend,
    Help,
    HideStory,
    Link,
    ListPrompts,
    ListProposals,
    ListStories,
    OpenVoting,
    PausePrompt,
    Propose,
    RecordOutcome,
    Remind,
    ResumePrompt,
    SchedulePrompt,
    SetClass,
    SetRole,
    ShareStory,
    ShowResults,
    ShowStatus,
    ShowUndelivered,
    Summarise,
    TellStory,
    Unbind,
    Unlink,
    Unvote,
    Withdraw,
    WithdrawStory,
)
from governance.domain.errors import ParseError
from governance.domain.ids import AccountRef, CommunityId, PromptNumber, ProposalNumber, RoomRef
from governance.domain.policy import Quorum, TieRule, Visibility
from governance.domain.prompts import Recurring
from governance.domain.stories import Consent
from governance.domain.timing import Length, LocalTime, NextWeekday
from governance.text.grammar import is_command, parse, parse_propose_form
from governance.text.usage import USAGE

CTX = Context(
    AccountRef("console", "alice"),
    RoomRef("console", "demo"),
    CommunityId("demo"),
    datetime(2026, 10, 21, 10, 0, tzinfo=UTC),
)


def propose(text: str) -> Propose:
    command = parse(text, CTX)
    assert isinstance(command, Propose)
    assert command.ctx == CTX
    return command


def test_propose_with_method_length_quorum_and_body() -> None:
    command = propose(
        "!propose Buy an oven method=consent vote=3d quorum=50%\n"
        "The old one broke.\n"
        "Budget: 800 EUR."
    )
    assert command.title == "Buy an oven"
    assert command.method == "consent"
    assert command.vote == Length(days=3)
    assert command.quorum == Quorum(share=Fraction(1, 2))
    assert command.body == "The old one broke.\nBudget: 800 EUR."
    assert command.secret is False
    assert command.options == ()
    assert command.threshold is None


def test_propose_title_only() -> None:
    assert propose("!propose Buy an oven") == Propose(CTX, title="Buy an oven")


def test_propose_options() -> None:
    command = propose("!propose Name the co-op method=choice options=Acorn | Big Oak | Cedar")
    assert command.title == "Name the co-op"
    assert command.options == ("Acorn", "Big Oak", "Cedar")


def test_options_may_be_quoted() -> None:
    command = propose("!propose Pick options=\"Acorn\" | 'Big Oak' | “Cedar”")
    assert command.options == ("Acorn", "Big Oak", "Cedar")


def test_title_runs_to_the_first_known_key_and_may_hold_unknown_keys() -> None:
    command = propose("!propose Should colour=blue win? vote=36h")
    assert command.title == "Should colour=blue win?"
    assert command.vote == Length(hours=36)


def test_keys_are_case_insensitive_and_quotes_around_the_title_are_dropped() -> None:
    command = propose('!propose "Buy an oven" METHOD=Majority Vote=2d')
    assert command.title == "Buy an oven"
    assert command.method == "majority"
    assert command.vote == Length(days=2)


def test_trailing_secret_word_sets_secret() -> None:
    command = propose("!propose Elect a treasurer method=choice options=Ana | Bo secret")
    assert command.secret is True
    assert command.options == ("Ana", "Bo")
    assert command.title == "Elect a treasurer"
    assert propose("!propose Elect a treasurer secret").title == "Elect a treasurer"


def test_secret_flag_among_the_keys_in_usage_order() -> None:
    command = propose(
        "!propose Elect a treasurer method=choice options=Ana | Bo secret results=closed"
    )
    assert command.secret is True
    assert command.options == ("Ana", "Bo")
    assert command.results is Visibility.CLOSED
    assert command.title == "Elect a treasurer"


def test_secret_inside_a_quoted_option_is_part_of_the_option() -> None:
    command = propose('!propose Codename method=choice options="Top secret" | Open')
    assert command.options == ("Top secret", "Open")
    assert command.secret is False


@pytest.mark.parametrize(
    ("text", "stray"),
    [
        ("!propose Salary data method=choice options=Publish | Keep secret | Delete", "| Delete"),
        ("!propose Pay rise vote=3d secret for all staff", "for all staff"),
    ],
)
def test_text_stranded_after_the_secret_flag_is_refused_not_dropped(text: str, stray: str) -> None:
    error = parse_error(text)
    assert f"“{stray}” after secret belongs to no key" in error.message
    assert "put the value in double quotes" in error.message


def test_quoted_title_may_hold_a_key_and_the_word_secret() -> None:
    command = propose('!propose "Change the vote= rules, keep it secret" method=consent')
    assert command.title == "Change the vote= rules, keep it secret"
    assert command.method == "consent"
    assert command.vote is None
    assert command.secret is False


def test_quoted_option_may_hold_the_word_secret_followed_by_more() -> None:
    command = propose('!propose X method=choice options="Top secret stuff" | Open secret')
    assert command.options == ("Top secret stuff", "Open")
    assert command.secret is True


def test_single_quoted_option_may_hold_the_word_secret() -> None:
    command = propose("!propose X method=choice options='Top secret stuff' | Open")
    assert command.options == ("Top secret stuff", "Open")


def test_quoted_option_may_hold_a_bar() -> None:
    command = propose('!propose OS method=choice options="Linux | BSD" | Windows')
    assert command.options == ("Linux | BSD", "Windows")


def test_secret_mid_title_is_just_a_word() -> None:
    command = propose("!propose Keep the secret recipe")
    assert command.secret is False
    assert command.title == "Keep the secret recipe"


@pytest.mark.parametrize(
    ("text", "expected"), [("secret=yes", True), ("secret=no", False), ("secret=TRUE", True)]
)
def test_secret_as_key(text: str, expected: bool) -> None:
    assert propose(f"!propose Hidden {text}").secret is expected


@pytest.mark.parametrize(
    ("value", "share"),
    [
        ("2/3", Fraction(2, 3)),
        ("66%", Fraction(66, 100)),
        ("66.5%", Fraction(133, 200)),
        ("0.75", Fraction(3, 4)),
        ("1", Fraction(1)),
        ("100%", Fraction(1)),
    ],
)
def test_threshold(value: str, share: Fraction) -> None:
    assert propose(f"!propose Change the rules threshold={value}").threshold == share


def test_quorum_as_count() -> None:
    assert propose("!propose X quorum=7").quorum == Quorum(count=7)


def test_every_other_propose_key() -> None:
    command = propose(
        "!propose Board seats method=approval options=A | B | C deliberate=2d "
        "vote=friday 17:00 seats=2 dots=5 results=closed ties=status-quo"
    )
    assert command.method == "approval"
    assert command.deliberate == Length(days=2)
    assert command.vote == NextWeekday(weekday=4, hour=17, minute=0)
    assert command.seats == 2
    assert command.dots == 5
    assert command.results is Visibility.CLOSED
    assert command.ties is TieRule.STATUS_QUO


@pytest.mark.parametrize(
    ("value", "deadline"),
    [
        ("3d", Length(days=3)),
        ("36h", Length(hours=36)),
        ("1d12h", Length(days=1, hours=12)),
        ("90m", Length(minutes=90)),
        ("2026-12-01 18:00", LocalTime(datetime(2026, 12, 1, 18, 0))),
        ("friday 17:00", NextWeekday(4, 17, 0)),
        ("Mon 09:30", NextWeekday(0, 9, 30)),
    ],
)
def test_vote_deadlines(value: str, deadline: object) -> None:
    assert propose(f"!propose X vote={value}").vote == deadline


@pytest.mark.parametrize("word", ["12", "#12"])
def test_ids_with_or_without_hash(word: str) -> None:
    assert parse(f"!vote {word} yes", CTX) == CastVote(CTX, ProposalNumber(12), "yes")
    assert parse(f"!results {word}", CTX) == ShowResults(CTX, ProposalNumber(12))


def test_vote_keeps_the_ballot_text_for_the_method_to_read() -> None:
    command = parse("!vote 12 object   it costs too much", CTX)
    assert command == CastVote(CTX, ProposalNumber(12), "object   it costs too much")


def test_command_names_are_case_insensitive_and_surrounding_space_is_ignored() -> None:
    assert parse("  !VOTE 3 yes  ", CTX) == CastVote(CTX, ProposalNumber(3), "yes")


def n(value: int) -> ProposalNumber:
    return ProposalNumber(value)


# One valid example per command in USAGE, with the command it must give.
VALID: dict[str, list[tuple[str, Command]]] = {
    "propose": [("!propose Buy an oven", Propose(CTX, title="Buy an oven"))],
    "vote": [("!vote 12 A C", CastVote(CTX, n(12), "A C"))],
    "unvote": [("!unvote #12", Unvote(CTX, n(12)))],
    "status": [("!status", ShowStatus(CTX)), ("!status 12", ShowStatus(CTX, n(12)))],
    "proposals": [("!proposals", ListProposals(CTX))],
    "results": [("!results 12", ShowResults(CTX, n(12)))],
    "close": [("!close 12 everyone has voted", CloseEarly(CTX, n(12), "everyone has voted"))],
    "extend": [
        (
            "!extend 12 1d two members are travelling",
            Extend(CTX, n(12), Length(days=1), "two members are travelling"),
        )
    ],
    "cancel": [("!cancel 12 duplicate of #11", Cancel(CTX, n(12), "duplicate of #11"))],
    "withdraw": [("!withdraw 12", Withdraw(CTX, n(12)))],
    "outcome": [
        (
            "!outcome 12 Bob orders the oven\nby Friday",
            RecordOutcome(CTX, n(12), "Bob orders the oven\nby Friday"),
        )
    ],
    "remind": [("!remind #12", Remind(CTX, n(12)))],
    "undelivered": [("!undelivered", ShowUndelivered(CTX))],
    "bind": [
        ("!bind demo", Bind(CTX, "demo")),
        ("!bind demo CONFIRM", Bind(CTX, "demo", confirm=True)),
    ],
    "unbind": [
        ("!unbind", Unbind(CTX)),
        ("!unbind CONFIRM", Unbind(CTX, confirm=True)),
        ("!unbind discord:1234", Unbind(CTX, RoomRef("discord", "1234"))),
        (
            "!unbind Matrix:!abc:example.org confirm",
            Unbind(CTX, RoomRef("matrix", "!abc:example.org"), confirm=True),
        ),
    ],
    "role": [
        ("!role alice moderator", SetRole(CTX, "alice", "moderator")),
        ("!role Ana Maria admin", SetRole(CTX, "Ana Maria", "admin")),
    ],
    "class": [("!class alice workers", SetClass(CTX, "alice", "workers"))],
    "help": [("!help", Help(CTX)), ("!help !Vote", Help(CTX, "vote"))],
    "edit": [
        ("!edit 12 title Share the van too", Edit(CTX, n(12), "title", text="Share the van too")),
        ("!edit #12 BODY\nFirst line.\nSecond.", Edit(CTX, n(12), "body", "First line.\nSecond.")),
        (
            '!edit 12 options Acorn | "Birch | Beech" | Cedar',
            Edit(CTX, n(12), "options", options=("Acorn", "Birch | Beech", "Cedar")),
        ),
    ],
    "deliberate": [
        ("!deliberate 12", Deliberate(CTX, n(12))),
        ("!deliberate #12 1d12h", Deliberate(CTX, n(12), Length(days=1, hours=12))),
    ],
    "summary": [
        (
            "!summary 12 We agree on the van.\nBob drives.",
            Summarise(CTX, n(12), "We agree on the van.\nBob drives."),
        )
    ],
    "open": [("!open #12", OpenVoting(CTX, n(12)))],
    "story": [
        (
            "!story #3 We met in a kitchen share=public proposal=12 tags=Kitchen,founding\n"
            "It was cold.",
            TellStory(
                CTX,
                "We met in a kitchen\nIt was cold.",
                Consent.PUBLIC,
                prompt=3,
                proposal=n(12),
                tags=("founding", "kitchen"),
            ),
        ),
        ("!story Just this", TellStory(CTX, "Just this")),
        ("!story edit #7 Better now\nand longer", EditStory(CTX, 7, "Better now\nand longer")),
        ("!story withdraw 7", WithdrawStory(CTX, 7)),
        ("!story share 7 anonymous", ShareStory(CTX, 7, Consent.ANONYMOUS)),
        ("!story hide 7 It names a child", HideStory(CTX, 7, "It names a child")),
    ],
    "stories": [
        ("!stories", ListStories(CTX)),
        ("!stories bread tag:kitchen page=3", ListStories(CTX, "bread tag:kitchen", 3)),
    ],
    "export": [
        ("!export stories", ExportStories(CTX)),
        ("!export stories json public", ExportStories(CTX, "json", public_only=True)),
        ("!export decisions", ExportDecisions(CTX)),
        ("!export decisions CSV", ExportDecisions(CTX, "csv")),
        ("!export ballots #12", ExportBallots(CTX, n(12))),
        ("!export ballots 12 csv", ExportBallots(CTX, n(12), "csv")),
    ],
    "prompt": [
        ("!prompt What changed for you?", SchedulePrompt(CTX, "What changed for you?")),
        (
            "!prompt What changed for you? every=Mon 10:00 proposal=#12",
            SchedulePrompt(
                CTX,
                "What changed for you?",
                every=Recurring("0 10 * * 1", "mon 10:00"),
                proposal=n(12),
            ),
        ),
        (
            "!prompt What did we learn? every=month 1 10:00",
            SchedulePrompt(
                CTX, "What did we learn?", every=Recurring("0 10 1 * *", "month 1 10:00")
            ),
        ),
        (
            "!prompt Friday wins? cron=30 16 * * fri",
            SchedulePrompt(CTX, "Friday wins?", every=Recurring("30 16 * * fri")),
        ),
        (
            "!prompt How was the assembly? once=2026-12-01 18:00",
            SchedulePrompt(
                CTX, "How was the assembly?", once=LocalTime(datetime(2026, 12, 1, 18, 0))
            ),
        ),
        (
            '!prompt "End of year: every=what?" once=friday 17:00',
            SchedulePrompt(CTX, "End of year: every=what?", once=NextWeekday(4, 17, 0)),
        ),
        ("!prompt pause 3", PausePrompt(CTX, PromptNumber(3))),
        ("!prompt RESUME #3", ResumePrompt(CTX, PromptNumber(3))),
        ("!prompt end 3", EndPrompt(CTX, PromptNumber(3))),
        ("!prompt edit 3 What changed?", EditPrompt(CTX, PromptNumber(3), "What changed?")),
    ],
    "prompts": [("!prompts", ListPrompts(CTX)), ("!prompts all", ListPrompts(CTX, all=True))],
    "link": [
        ("!link", Link(CTX)),
        ("!link abcde-fghjk", Link(CTX, "abcde-fghjk")),
        ("!link ABCDE   FGHJK", Link(CTX, "ABCDE FGHJK")),
    ],
    "unlink": [("!unlink", Unlink(CTX))],
    "erase": [("!erase Ana  Maria", Erase(CTX, "Ana Maria")), ("!erase @bob", Erase(CTX, "@bob"))],
}


def test_every_usage_command_has_a_valid_example() -> None:
    assert set(VALID) == set(USAGE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [example for examples in VALID.values() for example in examples],
    ids=[text.split("\n")[0] for examples in VALID.values() for text, _ in examples],
)
def test_every_usage_command_parses(text: str, expected: Command) -> None:
    assert parse(text, CTX) == expected


def test_is_command() -> None:
    assert is_command("  !vote 1 yes")
    assert not is_command("vote 1 yes")


def parse_error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text, CTX)
    error = info.value
    assert "Usage:" in str(error)
    assert error.usage is not None
    assert str(error).endswith("Usage: " + error.usage)
    return error


@pytest.mark.parametrize(
    ("text", "command", "bad_part"),
    [
        ("!frobnicate 12", "help", "!frobnicate"),
        ("!vote abc yes", "vote", "abc"),
        ("!results 12abc", "results", "12abc"),
        ("!propose X vote=0h", "propose", "vote=0h"),
        ("!propose X vote=-1d", "propose", "vote=-1d"),
        ("!propose X vote=2026-02-30 10:00", "propose", "vote=2026-02-30 10:00"),
        ("!propose X vote=friday", "propose", "vote=friday"),
        ("!propose X vote=friday 25:00", "propose", "vote=friday 25:00"),
        ("!propose X deliberate=soon", "propose", "deliberate=soon"),
        ("!propose X quorum=150%", "propose", "quorum=150%"),
        ("!propose X quorum=0", "propose", "quorum=0"),
        ("!propose X threshold=3/2", "propose", "threshold=3/2"),
        ("!propose X threshold=most", "propose", "threshold=most"),
        ("!propose X seats=0", "propose", "seats=0"),
        ("!propose X seats=21", "propose", "seats=21"),
        ("!propose X method=sortition", "propose", "method=sortition"),
        ("!propose X results=never", "propose", "results=never"),
        ("!propose X ties=coin", "propose", "ties=coin"),
        ("!propose X secret=maybe", "propose", "secret=maybe"),
        ("!propose X method=consent vote=3d method=majority", "propose", "method="),
        ("!extend 12 forever because", "extend", "length=forever"),
        ("!edit 12 colour red", "edit", "“colour” cannot be edited"),
        ("!edit twelve title X", "edit", "“twelve” is not a proposal id"),
        ("!deliberate 12 soon", "deliberate", "“soon” is not a timebox"),
        ("!deliberate 12 0d", "deliberate", "0d is no time at all"),
        ("!deliberate 12 friday 17:00", "deliberate", "at most a timebox"),
        ("!propose X draft deliberate=2d", "propose", "draft and deliberate="),
    ],
)
def test_errors_name_the_bad_part_and_show_the_usage(
    text: str, command: str, bad_part: str
) -> None:
    error = parse_error(text)
    assert bad_part in error.message
    assert error.usage == USAGE[command][0]


def test_key_given_twice() -> None:
    error = parse_error("!propose X method=consent vote=3d method=majority")
    assert error.message == "method= is given twice."


def test_empty_option() -> None:
    error = parse_error("!propose Pick one options=Acorn | | Cedar")
    assert error.message == "An option is empty; write options=A | B | C."
    error = parse_error("!propose Pick one options=Acorn | Cedar |")
    assert "option is empty" in error.message


@pytest.mark.parametrize(
    ("text", "command", "words"),
    [
        ("!vote", "vote", "Say which proposal"),
        ("!withdraw   ", "withdraw", "Say which proposal"),
        ("!vote 12", "vote", "Give a ballot"),
        ("!close 12", "close", "Give a reason"),
        ("!cancel 12", "cancel", "Give a reason"),
        ("!outcome 12", "outcome", "Give a statement"),
        ("!extend 12 1d", "extend", "Give a reason for the extension"),
        ("!unvote 12 now", "unvote", "!unvote takes only a proposal id"),
        ("!proposals all", "proposals", "!proposals takes nothing after it"),
        ("!propose", "propose", "Give the proposal a title"),
        ("!propose method=consent", "propose", "Give the proposal a title"),
        ("!bind two words", "bind", "Name one community"),
        ("!bind demo confirm twice", "bind", "Name one community"),
        ("!bind", "bind", "Name one community"),
        ("!unbind discord:1 discord:2", "unbind", "at most one room"),
        ("!unbind 1234", "unbind", "“1234” is not a room; write it platform:id"),
        ("!unbind !abc:example.org", "unbind", "e.g. discord:1234 or matrix:!abc:example.org"),
        ("!role alice", "role", "Name the member and the role"),
        ("!class", "class", "Name the member and the class"),
        ("!edit 12", "edit", "Give a field to edit (title, body or options)"),
        ("!edit 12 title", "edit", "Give the new title"),
        ("!edit 12 options", "edit", "Give the new options, e.g. !edit 12 options A | B | C"),
        ("!edit 12 body", "edit", "Give the new body"),
        ("!edit 12 title New\nand more", "edit", "The new title goes on one line"),
        ("!edit 12 options A | | C", "edit", "An option is empty"),
        ("!deliberate", "deliberate", "Say which proposal"),
        ("!summary 12", "summary", "Give a summary"),
        ("!open", "open", "Say which proposal"),
        ("!open 12 now", "open", "!open takes only a proposal id"),
        ("hello", "help", "Commands start with !"),
        ("!erase", "erase", "Name the member to erase"),
        ("!unlink bob", "unlink", "!unlink takes nothing after it"),
        ("!link " + "A" * 41, "link", "A link code looks like"),
    ],
)
def test_missing_parts_are_named(text: str, command: str, words: str) -> None:
    error = parse_error(text)
    assert words in error.message
    assert error.usage == USAGE[command][0]


def test_unknown_command_lists_the_commands() -> None:
    error = parse_error("!frobnicate 12")
    assert error.message.startswith("Unknown command “!frobnicate”.")
    for name in USAGE:
        assert f"!{name}" in error.message


def test_very_long_unknown_command_is_shortened_in_the_message() -> None:
    error = parse_error("!" + "x" * 5000)
    assert "x" * 30 + "…" in error.message
    assert len(error.message) < 1000


@pytest.mark.parametrize("key", ["seats", "dots", "quorum"])
def test_huge_counts_are_a_parse_error(key: str) -> None:
    error = parse_error(f"!propose X {key}=" + "9" * 5000)
    assert f"{key}=" + "9" * 25 in error.message
    assert "must be a whole number from 1 to" in error.message


@pytest.mark.parametrize(
    ("text", "title", "secret"),
    [
        ("!propose Share the van draft", "Share the van", False),
        ("!propose Share the van DRAFT secret", "Share the van", True),
        ("!propose Share the van secret draft vote=3d", "Share the van", True),
        ("!propose Share the van vote=3d draft", "Share the van", False),
    ],
)
def test_draft_is_a_flag_like_secret(text: str, title: str, secret: bool) -> None:
    command = propose(text)
    assert (command.title, command.draft, command.secret) == (title, True, secret)


def test_a_quoted_title_may_end_in_draft() -> None:
    command = propose('!propose "Adopt the budget draft" vote=3d')
    assert (command.title, command.draft) == ("Adopt the budget draft", False)


def test_a_proposal_from_a_form_takes_its_fields_as_written() -> None:
    cmd = parse_propose_form(
        CTX,
        title='Rename "vote=3d" | to  something',
        body="  Why: options=A | B is just text here.\n",
        options="Red\n\n  Green  \nBlue | Violet\n",
        settings="vote=3d secret",
    )
    assert cmd.title == 'Rename "vote=3d" | to something'
    assert cmd.body == "Why: options=A | B is just text here."
    assert cmd.options == ("Red", "Green", "Blue | Violet")
    assert cmd.method == "choice"  # options without a method: pick one
    assert cmd.secret and cmd.vote is not None


def test_a_form_keeps_its_method_and_refuses_stray_settings() -> None:
    ranked = parse_propose_form(
        CTX, title="Pick", body="", options="A\nB", settings="method=ranked"
    )
    assert ranked.method == "ranked"
    plain = parse_propose_form(CTX, title="Paint", body="", options="", settings="")
    assert plain.method is None and plain.options == ()
    with pytest.raises(ParseError, match="“quorum 50%” is not a setting"):
        parse_propose_form(CTX, title="Paint", body="", options="", settings="quorum 50%")
    with pytest.raises(ParseError, match="Give the proposal a title"):
        parse_propose_form(CTX, title="   ", body="", options="", settings="")
