"""The platform-neutral text command grammar (SPEC.md, "Commands").

`parse` turns one chat message into a `Command`, or raises `ParseError` naming the bad
part and showing the usage line. It never raises anything else, whatever the text.

Rules: the title runs to the first known ``key=``; a value runs to the next known
key (or a flag) or the end of the line; quotes around a value are optional; the
flags ``secret`` and ``draft`` stand among the keys or as the title's last words.
A proposal's body is the rest of the message. Ids are ``12`` or ``#12``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from fractions import Fraction
from typing import Any

from governance.domain import prompts
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
from governance.domain.deliberation import EDIT_FIELDS
from governance.domain.errors import GovernanceError, ParseError
from governance.domain.ids import PromptNumber, ProposalNumber, RoomRef
from governance.domain.methods import METHODS
from governance.domain.policy import (
    MAX_DOTS,
    MAX_SEATS,
    ClassRule,
    Quorum,
    Strength,
    TieRule,
    Visibility,
)
from governance.domain.proposal import MAX_TITLE
from governance.domain.stories import Consent, normalise_tags
from governance.domain.timing import Deadline, Length, LocalTime, NextWeekday
from governance.text.suggest import closest
from governance.text.usage import USAGE, usage

PREFIX = "!"
PROPOSE_KEYS = (
    "method",
    "options",
    "deliberate",
    "vote",
    "quorum",
    "threshold",
    "seats",
    "dots",
    "secret",
    "results",
    "ties",
    "strength",
    "weights",
    "class-quorum",
)
_KEY_RE = re.compile(r"(?<!\S)(" + "|".join(PROPOSE_KEYS) + r")=", re.IGNORECASE)
_LENGTH_RE = re.compile(r"(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?", re.IGNORECASE | re.ASCII)
_FLAG_RE = re.compile(r"(?<!\S)(secret|draft)(?=\s|$)", re.IGNORECASE)
_FLAG_WORD_RE = re.compile(r"secret|draft", re.IGNORECASE)
_ID_RE = re.compile(r"#?(\d{1,9})", re.ASCII)
_ROOM_RE = re.compile(r"([a-z][a-z0-9_-]{0,15}):(\S+)", re.IGNORECASE | re.ASCII)
"""A room as the store and logs write it (`RoomRef`'s text): ``platform:room id``."""
_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)


def is_command(text: str) -> bool:
    return text.lstrip().startswith(PREFIX)


MAX_MESSAGE = 16_384
"""The longest command message read, in characters: room for the longest story (10,000)
or proposal body (4,000) with its command line. A longer one is refused unread."""


def parse(text: str, ctx: Context, *, limit: int | None = MAX_MESSAGE) -> Command:
    """Parse one message that starts with ``!`` into a command for `ctx`.

    A message over `limit` characters, or holding a character that is no text (a lone
    surrogate, as an invalid UTF-8 byte or a platform's stray ``\ud800`` arrives), is
    refused before it is read. The work is linear in the length of the message."""
    check_message(text, limit=limit)
    stripped = text.strip()
    if not stripped.startswith(PREFIX):
        raise ParseError("Commands start with !, e.g. !help.", usage=usage("help"))
    first_line, _, rest = stripped[len(PREFIX) :].partition("\n")
    name, args = _first_word(first_line)
    name = name.lower()
    parser = _PARSERS.get(name)
    if parser is None:
        shown = name[:30] + ("…" if len(name) > 30 else "")
        raise ParseError(
            f"Unknown command “!{shown}”. Commands: " + ", ".join("!" + n for n in USAGE) + ".",
            usage=usage("help"),
        )
    return parser(ctx, args.strip(), rest)


def check_message(text: str, *, limit: int | None = MAX_MESSAGE) -> None:
    """Refuse a message too long to read or that is not all text (see `parse`)."""
    if limit is not None and len(text) > limit:
        raise ParseError(
            f"That message is {len(text):,} characters; a command may be at most "
            f"{limit:,}. Nothing was done: shorten it and send it again.",
            usage=usage("help"),
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            bad = ord(text[error.start])
            raise ParseError(
                f"That message holds a broken character (U+{bad:04X}: invalid UTF-8, or "
                "half of a character pair), so it cannot be read. Nothing was done: send "
                "it again as plain text.",
                usage=usage("help"),
            ) from None


def _fail(command: str, message: str) -> ParseError:
    return ParseError(message, usage=usage(command))


def _number(command: str, word: str) -> ProposalNumber:
    match = _ID_RE.fullmatch(word)
    if match is None:
        shown = word[:30] if word else "nothing"
        raise _fail(command, f"“{shown}” is not a proposal id; ids look like 12 or #12.")
    return ProposalNumber(int(match.group(1)))


def _id_and_rest(command: str, args: str, *, rest_name: str | None) -> tuple[ProposalNumber, str]:
    word, rest = _first_word(args)
    if not word:
        raise _fail(command, "Say which proposal: its id, like 12.")
    number = _number(command, word)
    rest = rest.strip()
    if rest_name is not None and not rest:
        raise _fail(command, f"Give a {rest_name}.")
    if rest_name is None and rest:
        raise _fail(command, f"!{command} takes only a proposal id.")
    return number, rest


def parse_length(command: str, key: str, value: str) -> Length:
    match = _LENGTH_RE.fullmatch(value.strip())
    if not value.strip() or match is None:
        raise _fail(
            command,
            f"{key}={value[:30]} is not a length; write e.g. {key}=3d, {key}=36h or {key}=1d12h.",
        )
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    length = Length(days, hours, minutes)
    if length.is_zero:
        raise _fail(command, f"{key}={value} is no time at all; give a length like 3d.")
    return length


def parse_deadline(command: str, key: str, value: str) -> Deadline:
    text = " ".join(value.split()).lower()
    if text[:1].isdigit() and "-" in text:
        try:
            return LocalTime(datetime.strptime(text, "%Y-%m-%d %H:%M"))
        except ValueError:
            raise _fail(
                command,
                f"{key}={value[:30]} is not a date and time that exists; "
                f"write e.g. {key}=2026-12-01 18:00.",
            ) from None
    day, _, clock = text.partition(" ")
    if day in _WEEKDAYS:
        time = _TIME_RE.fullmatch(clock)
        if time is None or int(time.group(1)) > 23 or int(time.group(2)) > 59:
            raise _fail(command, f"{key}={value[:30]}: give a time too, e.g. {key}=friday 17:00.")
        return NextWeekday(_WEEKDAYS[day], int(time.group(1)), int(time.group(2)))
    return parse_length(command, key, value)


_SHARE_RE = re.compile(r"\d{1,6}(?:\.\d{1,6})?%|\d{1,6}/\d{1,6}|\d{0,6}\.\d{1,6}|1", re.ASCII)


def parse_share(command: str, key: str, value: str) -> Fraction:
    text = value.strip()
    try:
        if _SHARE_RE.fullmatch(text) is None:
            raise ValueError(text)
        share = Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise _fail(
            command, f"{key}={text[:30]} is not a share; write e.g. {key}=2/3 or {key}=60%."
        ) from None
    if not 0 < share <= 1:
        raise _fail(command, f"{key}={text[:30]} must be more than 0 and at most 100%.")
    return share


def parse_quorum(command: str, key: str, value: str) -> Quorum:
    """``12`` is a count of ballots; ``50%`` or ``2/3`` a share of the roll."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return Quorum(count=_count(command, key, text, high=1_000_000))
    return Quorum(share=parse_share(command, key, text))


def _count(command: str, key: str, value: str, *, high: int) -> int:
    value = value.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 9) or not 1 <= int(value) <= high:
        raise _fail(command, f"{key}={value[:30]} must be a whole number from 1 to {high}.")
    return int(value)


def _unquote(value: str) -> str:
    """`value` without the quotes around it, when one quoted span is the whole of it
    (``"rate=10" | "rate=12"`` is two quoted parts, not one: it is left as it is)."""
    value = value.strip()
    whole = [(0, len(value) - 1)]
    for left, right in _QUOTES.items():
        if (
            len(value) >= 2
            and value.startswith(left)
            and value.endswith(right)
            and _quoted_spans(value) == whole
        ):
            return value[1:-1].strip()
    return value


_QUOTES = {'"': '"', "“": "”", "'": "'"}
_OPENS_AFTER = " \t=|"
_CLOSES_BEFORE = " \t|"


def _quoted_spans(line: str) -> list[tuple[int, int]]:
    """Where quoted text stands: keys, flags and bars inside quotes are just text.

    A quote opens only at the start of a word (or of a value) and closes only at the end
    of one, so an apostrophe in "don't" or "co-op's" quotes nothing. Each quote mark is
    looked at once, and each opening finds its closing by bisection, so an unclosed quote
    costs no more than a closed one.
    """
    closings = {
        close: [
            m.start()
            for m in re.finditer(re.escape(close), line)
            if m.end() == len(line) or line[m.end()] in _CLOSES_BEFORE
        ]
        for close in set(_QUOTES.values())
    }
    spans: list[tuple[int, int]] = []
    covered = -1
    for mark in _QUOTE_MARK_RE.finditer(line):
        i = mark.start()
        if i <= covered or not (i == 0 or line[i - 1] in _OPENS_AFTER):
            continue
        ends = closings[_QUOTES[line[i]]]
        k = bisect.bisect_right(ends, i)
        if k < len(ends):
            spans.append((i, ends[k]))
            covered = ends[k]
    return spans


_QUOTE_MARK_RE = re.compile("[" + re.escape("".join(_QUOTES)) + "]")


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    spans = _quoted_spans(text)
    cuts = [
        m.start() for m in re.finditer(re.escape(separator), text) if not _inside(m.start(), spans)
    ]
    bounds = [-1, *cuts, len(text)]
    return [text[a + 1 : b] for a, b in itertools.pairwise(bounds)]


def _first_word(text: str) -> tuple[str, str]:
    """Split off the first word at any white space (a tab or a no-break space too)."""
    parts = text.strip().split(maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ((parts[0], "") if parts else ("", ""))


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    """Whether `position` is inside one of `spans` (sorted, apart): by bisection."""
    k = bisect.bisect_left(spans, (position,)) - 1
    return k >= 0 and spans[k][0] < position < spans[k][1]


def _next_after(position: int, starts: list[int], default: int) -> int:
    """The first of the sorted `starts` after `position`, else `default`."""
    k = bisect.bisect_right(starts, position)
    return starts[k] if k < len(starts) else default


def _choice_of(command: str, key: str, value: str, allowed: tuple[str, ...]) -> str:
    word = value.strip().lower()
    if word not in allowed:
        raise _fail(command, f"{key}={value[:30]} is not one of: {', '.join(allowed)}.")
    return word


def _propose(ctx: Context, args: str, body: str) -> Propose:
    cmd = "propose"
    line = args
    quoted = _quoted_spans(line)
    matches = [m for m in _KEY_RE.finditer(line) if not _inside(m.start(), quoted)]
    title_end = matches[0].start() if matches else len(line)
    _refuse_unknown_keys(cmd, line, quoted, title_end)
    # ``secret`` and ``draft`` are flags wherever keys are given, and as the title's
    # last words.
    flags = [
        m
        for m in _FLAG_RE.finditer(line)
        if m.start() >= title_end and not _inside(m.start(), quoted)
    ]
    named = {m.group(1).lower() for m in flags}
    title_words = list(re.finditer(r"\S+", line[:title_end]))
    while (
        title_words
        and _FLAG_WORD_RE.fullmatch(title_words[-1].group())
        and not _inside(title_words[-1].start(), quoted)
    ):
        named.add(title_words.pop().group().lower())
    title_part = line[: title_words[-1].end()] if title_words else ""
    secret = "secret" in named
    title = _unquote(title_part)
    if not title:
        raise _fail(cmd, "Give the proposal a title.")
    starts = sorted([m.start() for m in matches] + [m.start() for m in flags])
    for flag in flags:
        stray = line[flag.end() : _next_after(flag.start(), starts, len(line))]
        word = flag.group(1).lower()
        if stray.strip():
            raise _fail(
                cmd,
                f"“{stray.strip()[:40]}” after {word} belongs to no key; if "
                f"“{word}” is part of a value, put the value in double quotes.",
            )
    values: dict[str, str] = {}
    for match in matches:
        key = match.group(1).lower()
        end = _next_after(match.start(), starts, len(line))
        if key in values:
            raise _fail(cmd, f"{key}= is given twice.")
        values[key] = _unquote(line[match.end() : end])
    fields: dict[str, object] = {}
    if "method" in values:
        fields["method"] = _choice_of(cmd, "method", values["method"], tuple(METHODS))
    if "options" in values:
        options = tuple(_unquote(o) for o in _split_outside_quotes(values["options"], "|"))
        if any(not o for o in options):
            raise _fail(cmd, "An option is empty; write options=A | B | C.")
        fields["options"] = options
    if "draft" in named:
        if "deliberate" in values:
            raise _fail(
                cmd,
                "draft and deliberate= do not go together: a draft waits for a moderator's "
                "!deliberate or an !open. Leave out one of them.",
            )
        fields["draft"] = True
    if "deliberate" in values:
        fields["deliberate"] = parse_length(cmd, "deliberate", values["deliberate"])
    if "vote" in values:
        fields["vote"] = parse_deadline(cmd, "vote", values["vote"])
    if "quorum" in values:
        fields["quorum"] = parse_quorum(cmd, "quorum", values["quorum"])
    if "threshold" in values:
        fields["threshold"] = parse_share(cmd, "threshold", values["threshold"])
    if "seats" in values:
        fields["seats"] = _count(cmd, "seats", values["seats"], high=MAX_SEATS)
    if "dots" in values:
        fields["dots"] = _count(cmd, "dots", values["dots"], high=MAX_DOTS)
    if "secret" in values:
        answer = _choice_of(cmd, "secret", values["secret"], ("yes", "no", "true", "false"))
        secret = answer in ("yes", "true")
    if "results" in values:
        fields["results"] = Visibility(
            _choice_of(cmd, "results", values["results"], tuple(v.value for v in Visibility))
        )
    if "ties" in values:
        fields["ties"] = TieRule(
            _choice_of(cmd, "ties", values["ties"], tuple(t.value for t in TieRule))
        )
    if "strength" in values:
        fields["strength"] = Strength(
            _choice_of(cmd, "strength", values["strength"], tuple(s.value for s in Strength))
        )
    if "weights" in values or "class-quorum" in values:
        fields["classes"] = parse_classes(
            cmd, values.get("weights", ""), values.get("class-quorum", "")
        )
    return Propose(ctx, title=title, body=body.strip(), secret=secret, **fields)  # type: ignore[arg-type]


_WORD_KEY_RE = re.compile(r"(?<!\S)([^\W\d_][\w-]*)=")
"""A word shaped like a setting: letters (digits, ``-`` and ``_`` after the first), then
``=``."""
_TITLE_READ = 2 * MAX_TITLE
"""How far into the title misspelt keys are looked for: a longer title is refused."""
_MISSPELT = 0.8
"""How like a known key (difflib's ratio) a word must be to be taken as its misspelling:
``qourum`` (0.83), ``methd`` (0.91) and ``vot`` (0.86) are; ``note`` (0.75), ``colour``
and ``x`` are not."""


def _refuse_unknown_keys(
    cmd: str, line: str, quoted: list[tuple[int, int]], title_end: int
) -> None:
    """A word shaped ``name=`` that is no key is refused if it looks like a misspelt key
    anywhere, or if it stands among the settings (after the first key): there a value
    holding such a word goes in double quotes. In the title, ``x=y`` is prose."""
    # Past _TITLE_READ, a title is refused for its length: no vote opens under defaults.
    in_title = _WORD_KEY_RE.finditer(line, 0, min(title_end, _TITLE_READ))
    for match in itertools.chain(in_title, _WORD_KEY_RE.finditer(line, title_end)):
        name = match.group(1).lower()
        if name in PROPOSE_KEYS or _inside(match.start(), quoted):
            continue
        near = closest(name, PROPOSE_KEYS, cutoff=_MISSPELT)
        shown = match.group(1)[:30]
        if near is not None:
            raise _fail(
                cmd,
                f"“{shown}=” is not a setting (did you mean {near}=?); nothing was proposed.",
            )
        if match.start() > title_end:
            raise _fail(
                cmd,
                f"“{shown}=” is not a setting; settings are "
                + ", ".join(k + "=" for k in PROPOSE_KEYS)
                + ". A value that holds “=” goes in double quotes.",
            )


_PLACEHOLDER = "\x00title"


def parse_propose_form(
    ctx: Context, *, title: str, body: str, options: str, settings: str
) -> Propose:
    """``!propose`` from a form (Discord's modal): title, body and options (one per
    line) taken as they are, so a key= or a bar in them is just text; the settings
    (method=, vote=, secret …) read as on the command line. Options without a method
    make a single-choice vote."""
    for part in (title, body, options, settings):
        check_message(part)
    title = " ".join(title.split())
    if not title:
        raise _fail("propose", "Give the proposal a title.")
    cmd = _propose(ctx, f"{_PLACEHOLDER} {settings}", "")
    if cmd.title != _PLACEHOLDER:
        stray = cmd.title.removeprefix(_PLACEHOLDER).strip()
        raise _fail(
            "propose",
            f"“{stray[:40]}” is not a setting; settings are key=value (vote=3d, "
            "quorum=50%) or the words secret and draft.",
        )
    listed = tuple(o.strip() for o in options.splitlines() if o.strip())
    return replace(
        cmd,
        title=title,
        body=body.strip(),
        options=listed or cmd.options,
        method=cmd.method or ("choice" if listed else None),
    )


_CLASS_ITEM_RE = re.compile(r"([^\s:,]{1,40}):([^\s,]+)")


def _class_items(command: str, key: str, text: str, example: str) -> list[tuple[str, str]]:
    items = [piece for piece in re.split(r"[\s,]+", text.strip()) if piece]
    parsed: list[tuple[str, str]] = []
    for item in items:
        match = _CLASS_ITEM_RE.fullmatch(item)
        if match is None:
            raise _fail(
                command, f"{key}=: “{item[:30]}” is not class:value; write e.g. {key}={example}."
            )
        parsed.append((match.group(1).lower(), match.group(2)))
    if not parsed:
        raise _fail(command, f"{key}= is empty; write e.g. {key}={example}.")
    return parsed


def parse_classes(command: str, weights: str, quorums: str) -> tuple[ClassRule, ...]:
    """``weights=workers:40 users:30 investors:20 public:10`` (shares of 100%, or
    fractions like 2/5) and ``class-quorum=workers:50% users:3`` (share of the class's
    roll, or a count), merged by class name."""
    rules: dict[str, ClassRule] = {}
    if weights:
        for name, value in _class_items(command, "weights", weights, "workers:60 users:40"):
            if name in rules:
                raise _fail(command, f"weights=: the class {name} is named twice.")
            text = value if value.endswith("%") or "/" in value else value + "%"
            try:
                weight = parse_share(command, "weight", text)
            except ParseError:
                raise _fail(
                    command,
                    f"weights=: {name}:{value[:20]} is not a weight; give a share more than 0 "
                    f"and at most 100%, e.g. {name}:40 or {name}:2/5.",
                ) from None
            rules[name] = ClassRule(name, weight)
    if quorums:
        seen: set[str] = set()
        for name, value in _class_items(command, "class-quorum", quorums, "workers:50%"):
            if name in seen:
                raise _fail(command, f"class-quorum=: the class {name} is named twice.")
            seen.add(name)
            quorum = parse_quorum(command, f"quorum of {name}", value)
            rule = rules.get(name, ClassRule(name))
            rules[name] = ClassRule(name, rule.weight, quorum)
    return tuple(rules.values())


def _vote(ctx: Context, args: str, rest: str) -> CastVote:
    number, ballot = _id_and_rest("vote", args, rest_name="ballot, e.g. yes")
    return CastVote(ctx, number, ballot)


def _unvote(ctx: Context, args: str, rest: str) -> Unvote:
    return Unvote(ctx, _id_and_rest("unvote", args, rest_name=None)[0])


def _status(ctx: Context, args: str, rest: str) -> ShowStatus:
    if not args:
        return ShowStatus(ctx)
    return ShowStatus(ctx, _id_and_rest("status", args, rest_name=None)[0])


def _proposals(ctx: Context, args: str, rest: str) -> ListProposals:
    if args:
        raise _fail("proposals", "!proposals takes nothing after it.")
    return ListProposals(ctx)


def _results(ctx: Context, args: str, rest: str) -> ShowResults:
    return ShowResults(ctx, _id_and_rest("results", args, rest_name=None)[0])


def _close(ctx: Context, args: str, rest: str) -> CloseEarly:
    return CloseEarly(ctx, *_id_and_rest("close", args, rest_name="reason"))


def _extend(ctx: Context, args: str, rest: str) -> Extend:
    number, more = _id_and_rest("extend", args, rest_name="length and a reason, e.g. 1d")
    length, reason = _first_word(more)
    by = parse_length("extend", "length", length)
    if not reason.strip():
        raise _fail("extend", "Give a reason for the extension.")
    return Extend(ctx, number, by, reason.strip())


def _cancel(ctx: Context, args: str, rest: str) -> Cancel:
    return Cancel(ctx, *_id_and_rest("cancel", args, rest_name="reason"))


def _withdraw(ctx: Context, args: str, rest: str) -> Withdraw:
    return Withdraw(ctx, _id_and_rest("withdraw", args, rest_name=None)[0])


def _outcome(ctx: Context, args: str, rest: str) -> RecordOutcome:
    number, statement = _id_and_rest("outcome", args, rest_name="statement")
    return RecordOutcome(ctx, number, "\n".join(filter(None, [statement, rest.strip()])))


def _remind(ctx: Context, args: str, rest: str) -> Remind:
    return Remind(ctx, _id_and_rest("remind", args, rest_name=None)[0])


def _undelivered(ctx: Context, args: str, rest: str) -> ShowUndelivered:
    if args:
        raise _fail("undelivered", "!undelivered takes nothing after it.")
    return ShowUndelivered(ctx)


# Deliberation: !edit, !deliberate, !summary, !open.


def _edit(ctx: Context, args: str, rest: str) -> Edit:
    cmd = "edit"
    number, more = _id_and_rest(cmd, args, rest_name="field to edit (title, body or options)")
    word, new = _first_word(more)
    field = word.lower()
    if field not in EDIT_FIELDS:
        raise _fail(
            cmd, f"“{word[:30]}” cannot be edited; say title, body or options, then the new text."
        )
    new, below = new.strip(), rest.strip()
    if field == "body":
        body = "\n".join(filter(None, [new, below]))
        if not body:
            raise _fail(cmd, "Give the new body, after “body” or on the lines below.")
        return Edit(ctx, number, field, text=body)
    if below:
        raise _fail(cmd, f"The new {field} goes on one line, after “{field}”.")
    if not new:
        example = "A | B | C" if field == "options" else "Share the tools"
        raise _fail(cmd, f"Give the new {field}, e.g. !edit {number} {field} {example}.")
    if field == "title":
        return Edit(ctx, number, field, text=_unquote(new))
    options = tuple(_unquote(o) for o in _split_outside_quotes(new, "|"))
    if any(not o for o in options):
        raise _fail(cmd, "An option is empty; write the options as A | B | C.")
    return Edit(ctx, number, field, options=options)


def _timebox(command: str, word: str) -> Length:
    match = _LENGTH_RE.fullmatch(word)
    if not word or match is None:
        raise _fail(
            command, f"“{word[:30]}” is not a timebox; give a length like 2d, 36h or 1d12h."
        )
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    length = Length(days, hours, minutes)
    if length.is_zero:
        raise _fail(command, f"A timebox of {word} is no time at all; give a length like 2d.")
    return length


def _deliberate(ctx: Context, args: str, rest: str) -> Deliberate:
    cmd = "deliberate"
    word, more = _first_word(args)
    if not word:
        raise _fail(cmd, "Say which proposal: its id, like 12.")
    number = _number(cmd, word)
    words = more.split()
    if len(words) > 1 or rest.strip():
        raise _fail(cmd, "!deliberate takes a proposal id and at most a timebox, like 2d.")
    return Deliberate(ctx, number, _timebox(cmd, words[0]) if words else None)


def _summary(ctx: Context, args: str, rest: str) -> Summarise:
    number, text = _id_and_rest("summary", args, rest_name="summary")
    return Summarise(ctx, number, "\n".join(filter(None, [text, rest.strip()])))


def _open(ctx: Context, args: str, rest: str) -> OpenVoting:
    return OpenVoting(ctx, _id_and_rest("open", args, rest_name=None)[0])


def _bind(ctx: Context, args: str, rest: str) -> Bind:
    words = args.split()
    confirm = len(words) == 2 and words[1].lower() == "confirm"
    if confirm:
        words.pop()
    if len(words) != 1:
        raise _fail("bind", "Name one community, e.g. !bind demo (and confirm, if asked).")
    return Bind(ctx, words[0], confirm)


def _unbind(ctx: Context, args: str, rest: str) -> Unbind:
    words = args.split()
    confirm = bool(words) and words[-1].lower() == "confirm"
    if confirm:
        words.pop()
    if len(words) > 1 or rest.strip():
        raise _fail("unbind", "!unbind takes at most one room, and confirm.")
    if not words:
        return Unbind(ctx, None, confirm)
    match = _ROOM_RE.fullmatch(words[0])
    if match is None:
        raise _fail(
            "unbind",
            f"“{words[0][:60]}” is not a room; write it platform:id, as !undelivered and "
            "folkmoot doctor show it, e.g. discord:1234 or matrix:!abc:example.org.",
        )
    return Unbind(ctx, RoomRef(match[1].lower(), match[2]), confirm)


def _member_and_word(command: str, args: str, what: str) -> tuple[str, str]:
    member, _, word = " ".join(args.split()).rpartition(" ")
    if not member or not word:
        raise _fail(command, f"Name the member and the {what}.")
    return member, word


def _role(ctx: Context, args: str, rest: str) -> SetRole:
    return SetRole(ctx, *_member_and_word("role", args, "role"))


def _class(ctx: Context, args: str, rest: str) -> SetClass:
    return SetClass(ctx, *_member_and_word("class", args, "class"))


def _help(ctx: Context, args: str, rest: str) -> Help:
    topic = args.strip().lstrip(PREFIX).lower() or None
    return Help(ctx, topic)


# ---------------------------------------------------------------------- stories

_STORY_KEY_RE = re.compile(r"(?<!\S)(share|proposal|tags)=(\S*)", re.IGNORECASE)
_PAGE_RE = re.compile(r"(?<!\S)page=(\S*)", re.IGNORECASE)


def _consent(command: str, word: str) -> Consent:
    return Consent(_choice_of(command, "share", word, tuple(c.value for c in Consent)))


def _story_number(command: str, word: str, what: str = "story") -> int:
    match = _ID_RE.fullmatch(word)
    if match is None:
        shown = word[:30] if word else "nothing"
        raise _fail(command, f"“{shown}” is not a {what} id; ids look like 7 or #7.")
    return int(match.group(1))


def _story(ctx: Context, args: str, rest: str) -> Command:
    cmd = "story"
    verb, after = _first_word(args)
    verb = verb.lower()
    if verb in ("edit", "withdraw", "hide", "share"):
        word, text = _first_word(after)
        number = _story_number(cmd, word)
        if verb == "withdraw":
            return WithdrawStory(ctx, number)
        if verb == "share":
            return ShareStory(ctx, number, _consent(cmd, text.strip()))
        text = "\n".join(p for p in (text.strip(), rest.strip()) if p)
        if verb == "hide":
            if not text:
                raise _fail(cmd, "Say why the story is hidden: its author is told.")
            return HideStory(ctx, number, text)
        return EditStory(ctx, number, text)
    prompt = None
    if args.startswith("#"):
        word, args = _first_word(args)
        prompt = _story_number(cmd, word, "prompt")
    values: dict[str, str] = {}
    for match in _STORY_KEY_RE.finditer(args):
        key = match.group(1).lower()
        if key in values:
            raise _fail(cmd, f"{key}= is given twice.")
        values[key] = match.group(2)
    line = _STORY_KEY_RE.sub("", args).strip()
    text = "\n".join(p for p in (line, rest.strip()) if p)
    fields: dict[str, Any] = {}
    if "share" in values:
        fields["consent"] = _consent(cmd, values["share"])
    if "proposal" in values:
        fields["proposal"] = _number(cmd, values["proposal"])
    if "tags" in values:
        fields["tags"] = normalise_tags(values["tags"])
    return TellStory(ctx, text, prompt=prompt, **fields)


def _stories(ctx: Context, args: str, rest: str) -> ListStories:
    page = 1
    found = _PAGE_RE.search(args)
    if found is not None:
        if (
            not re.fullmatch(r"[0-9]{1,5}", found.group(1))
            or not 1 <= int(found.group(1)) <= 10_000
        ):
            raise _fail(
                "stories", "page= takes a page number from 1 to 10,000 in digits 0-9, e.g. page=2."
            )
        page = int(found.group(1))
        args = _PAGE_RE.sub("", args)
    return ListStories(ctx, " ".join(args.split()), page)


_EXPORTS = (
    "!export decisions md|json|csv, !export ballots <id> [json|csv] or !export stories md|json"
)


def _export(ctx: Context, args: str, rest: str) -> Command:
    words = [w.lower() for w in args.split()]
    what = words[0] if words else ""
    if what == "stories":
        fmt = next((w for w in words[1:] if w in ("md", "json")), "md")
        unknown = [w for w in words[1:] if w not in ("md", "json", "public")]
        if unknown:
            raise _fail("export", f"“{unknown[0][:20]}” is not a format; use md or json.")
        return ExportStories(ctx, fmt, public_only="public" in words[1:])
    if what == "decisions":
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("md", "json", "csv")):
            raise _fail("export", f"“{words[1][:20]}” is not a format; use md, json or csv.")
        return ExportDecisions(ctx, words[1] if len(words) == 2 else "md")
    if what == "ballots":
        if len(words) < 2:
            raise _fail("export", "Say which vote: !export ballots 12 (or 12 csv).")
        number = _number("export", args.split()[1])
        if len(words) > 3 or (len(words) == 3 and words[2] not in ("json", "csv")):
            raise _fail("export", f"“{words[-1][:20]}” is not a format; use json or csv.")
        return ExportBallots(ctx, number, words[2] if len(words) == 3 else "json")
    if not what:
        raise _fail("export", f"Say what to export: {_EXPORTS}.")
    raise _fail("export", f"“{what[:20]}” cannot be exported; try {_EXPORTS}.")


# Narrative prompts: !prompt, !prompts.

PROMPT_KEYS = ("every", "cron", "once", "proposal")
_PROMPT_KEY_RE = re.compile(r"(?<!\S)(" + "|".join(PROMPT_KEYS) + r")=", re.IGNORECASE)
_PROMPT_ACTIONS: dict[str, Callable[[Context, PromptNumber], Command]] = {
    "pause": PausePrompt,
    "resume": ResumePrompt,
    "end": EndPrompt,
}


def _prompt_number(word: str) -> PromptNumber:
    match = _ID_RE.fullmatch(word)
    if match is None:
        shown = word[:30] if word else "nothing"
        raise _fail("prompt", f"“{shown}” is not a prompt id; ids look like 3 or #3.")
    return PromptNumber(int(match.group(1)))


def _prompt(ctx: Context, args: str, rest: str) -> Command:
    cmd = "prompt"
    if rest.strip():
        raise _fail(cmd, "A prompt's question goes on one line.")
    word, more = _first_word(args)
    action = word.lower()
    if action in (*_PROMPT_ACTIONS, "edit"):
        quoting = f"A question that begins with “{word}” goes in double quotes."
        ident, after = _first_word(more)
        if not ident:
            raise _fail(cmd, f"Say which prompt, e.g. !prompt {action} 3. {quoting}")
        number = _prompt_number(ident)
        if action == "edit":
            question = _unquote(after)
            if not question:
                raise _fail(cmd, f"Give the new question: !prompt edit {number} <question>.")
            return EditPrompt(ctx, number, question)
        if after.strip():
            raise _fail(cmd, f"!prompt {action} takes only a prompt id. {quoting}")
        return _PROMPT_ACTIONS[action](ctx, number)
    quoted = _quoted_spans(args)
    matches = [m for m in _PROMPT_KEY_RE.finditer(args) if not _inside(m.start(), quoted)]
    question = _unquote(args[: matches[0].start()] if matches else args)
    if not question:
        raise _fail(
            cmd, "Give the question to ask, e.g. !prompt What changed for you? every=mon 10:00"
        )
    values: dict[str, str] = {}
    for index, match in enumerate(matches):
        key = match.group(1).lower()
        end = matches[index + 1].start() if index + 1 < len(matches) else len(args)
        if key in values:
            raise _fail(cmd, f"{key}= is given twice.")
        values[key] = _unquote(args[match.end() : end])
    given = [key + "=" for key in ("every", "cron", "once") if key in values]
    if len(given) > 1:
        raise _fail(cmd, f"Give one schedule: {' and '.join(given)} do not go together.")
    fields: dict[str, object] = {}
    try:
        if "every" in values:
            fields["every"] = prompts.every(values["every"])
        if "cron" in values:
            fields["every"] = prompts.cron(values["cron"])
    except GovernanceError as error:
        raise _fail(cmd, error.message) from None
    if "once" in values:
        if not values["once"]:
            raise _fail(cmd, "once= is empty; write e.g. once=2026-12-01 18:00.")
        fields["once"] = parse_deadline(cmd, "once", values["once"])
    if "proposal" in values:
        fields["proposal"] = _number(cmd, values["proposal"])
    return SchedulePrompt(ctx, question, **fields)  # type: ignore[arg-type]


def _prompts(ctx: Context, args: str, rest: str) -> ListPrompts:
    word = args.strip().lower()
    if word not in ("", "all"):
        raise _fail("prompts", "!prompts takes nothing after it, or all.")
    return ListPrompts(ctx, all=word == "all")


# ---------------------------------------------------------------------- identity


def _link(ctx: Context, args: str, rest: str) -> Link:
    code = " ".join(args.split())
    if len(code) > 40:
        raise _fail("link", "A link code looks like ABCDE-FGHJK.")
    return Link(ctx, code or None)


def _unlink(ctx: Context, args: str, rest: str) -> Unlink:
    if args.strip():
        raise _fail(
            "unlink", "!unlink takes nothing after it: send it from the account to split off."
        )
    return Unlink(ctx)


def _erase(ctx: Context, args: str, rest: str) -> Erase:
    member = " ".join(args.split())
    if not member:
        raise _fail("erase", "Name the member to erase, by name or account id.")
    return Erase(ctx, member)


_PARSERS: dict[str, Callable[[Context, str, str], Command]] = {
    "propose": _propose,
    "vote": _vote,
    "unvote": _unvote,
    "status": _status,
    "proposals": _proposals,
    "results": _results,
    "close": _close,
    "extend": _extend,
    "cancel": _cancel,
    "withdraw": _withdraw,
    "outcome": _outcome,
    "remind": _remind,
    "undelivered": _undelivered,
    "bind": _bind,
    "unbind": _unbind,
    "role": _role,
    "class": _class,
    "help": _help,
    # Deliberation
    "edit": _edit,
    "deliberate": _deliberate,
    "summary": _summary,
    "open": _open,
    # Stories
    "story": _story,
    "stories": _stories,
    "export": _export,
    # Narrative prompts
    "prompt": _prompt,
    "prompts": _prompts,
    # Identity
    "link": _link,
    "unlink": _unlink,
    "erase": _erase,
}
