"""The vote controls on a proposal card, and the short private flows behind them.

Every control is a persistent `DynamicItem`: its custom id holds all it needs (the
proposal, the answer, a ranking so far), so a card keeps working after a restart and
never times out. Whatever the control, voting ends as ``!vote <number> <ballot>``
through the same core command as typed text.

- verdicts (yes/no/abstain, consent/object …): a button each; one that needs a
  reason asks for it in a modal;
- one option of at most five: a button each; more, or a set of options: a select;
- a ranking: a button opens a private flow that picks options best first;
- scores or dots: a button opens a modal with a field per option (or one field for
  more than five options).

The modals are `Form`s: their custom ids, too, hold what they need, and each is
bound to the click that opened it (`adapters.discord.forms`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import discord
from discord import ui

from adapters.discord import render
from adapters.discord.forms import FORM, Form, form_id
from adapters.discord.menus import Menus
from adapters.discord.rooms import interaction_room
from governance.text.messages import BallotForm

BUTTONS_PER_ROW = 5
MAX_BUTTONS = 5
"""More options than one row of buttons holds go in a select."""
MAX_SELECT = 25
LETTERS = r"[A-Z]{0,25}"
WHOLE_BALLOT = "ballot"
"""The one field of a scores or dots form past five options."""
_GOOD = frozenset({"yes", "consent", "agree", "support"})
_BAD = frozenset({"no", "object", "disagree", "block"})


@runtime_checkable
class Voting(Protocol):
    """What the controls need from the bot."""

    menus: Menus

    async def run_command(
        self, interaction: discord.Interaction, text: str, *, proposal: int | None = None
    ) -> None: ...

    def answered(self, interaction: discord.Interaction) -> None:
        """Our first answer to `interaction` is given (for the first-response times)."""
        ...


def voting(interaction: discord.Interaction) -> Voting:
    client = interaction.client
    assert isinstance(client, Voting)
    return client


def answered(interaction: discord.Interaction) -> None:
    """Call right after the first answer to `interaction` (a modal, a message, an
    edit) made here rather than by `run_command`, which defers and tells it itself."""
    voting(interaction).answered(interaction)


def _label(answer: str, label: str) -> str:
    return (label if answer == label else f"{answer} {label}")[:80]


def _style(word: str) -> discord.ButtonStyle:
    if word in _GOOD:
        return discord.ButtonStyle.success
    if word in _BAD:
        return discord.ButtonStyle.danger
    return discord.ButtonStyle.secondary


class VoteButton(
    ui.DynamicItem[ui.Button[Any]],
    template=r"folkmoot:vote:(?P<number>[0-9]{1,9}):(?P<answer>[A-Za-z-]{1,16})",
):
    """Votes ``<answer>`` at once."""

    def __init__(self, number: int, answer: str, label: str | None = None) -> None:
        super().__init__(
            ui.Button(
                label=(label or answer)[:80],
                style=_style(answer),
                custom_id=f"folkmoot:vote:{number}:{answer}",
            )
        )
        self.number = number
        self.answer = answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        label = item.label if isinstance(item, ui.Button) else None
        return cls(int(match["number"]), match["answer"], label)

    async def callback(self, interaction: discord.Interaction) -> None:
        await voting(interaction).run_command(
            interaction, f"!vote {self.number} {self.answer}", proposal=self.number
        )


class ReasonModal(Form):
    """Why a member objects (or blocks …): the proposal and the word are in its id."""

    TEMPLATE: ClassVar[re.Pattern[str]] = re.compile(
        rf"{FORM}:reason:(?P<opened>[0-9]{{1,20}}):(?P<number>[0-9]{{1,9}}):(?P<word>[a-z-]{{1,16}})"
    )

    def __init__(self, opened: int, number: int, word: str) -> None:
        super().__init__(
            title=f"#{number}: {word}"[:45],
            timeout=None,
            custom_id=form_id("reason", opened, number, word),
        )
        self.reason: ui.TextInput[ReasonModal] = ui.TextInput(
            label=f"Why do you {word}?"[:45],
            custom_id="reason",
            style=discord.TextStyle.paragraph,
            max_length=1000,
        )
        self.add_item(self.reason)

    @classmethod
    async def submitted(
        cls, interaction: discord.Interaction, match: re.Match[str], values: Mapping[str, str]
    ) -> bool:
        number, word = int(match["number"]), match["word"]
        reason = " ".join(values.get("reason", "").split())
        await voting(interaction).run_command(
            interaction, f"!vote {number} {word} {reason}", proposal=number
        )
        return True


class ReasonButton(
    ui.DynamicItem[ui.Button[Any]],
    template=r"folkmoot:why:(?P<number>[0-9]{1,9}):(?P<word>[a-z-]{1,16})",
):
    """A verdict that needs a reason (object, block …): asks for it first."""

    def __init__(self, number: int, word: str) -> None:
        super().__init__(
            ui.Button(
                label=f"{word}…", style=_style(word), custom_id=f"folkmoot:why:{number}:{word}"
            )
        )
        self.number = number
        self.word = word

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> ReasonButton:
        return cls(int(match["number"]), match["word"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await ReasonModal(interaction.id, self.number, self.word).show(interaction)
        answered(interaction)


class PickSelect(ui.DynamicItem[ui.Select[Any]], template=r"folkmoot:pick:(?P<number>[0-9]{1,9})"):
    """One option, or a set of them, from a menu."""

    def __init__(self, number: int, select: ui.Select[Any] | None = None) -> None:
        super().__init__(select or ui.Select(custom_id=f"folkmoot:pick:{number}"))
        self.number = number

    @classmethod
    def of(cls, form: BallotForm) -> PickSelect:
        many = form.shape == "option set"
        select: ui.Select[Any] = ui.Select(
            custom_id=f"folkmoot:pick:{form.proposal}",
            placeholder="Choose your options…" if many else "Choose an option…",
            min_values=1,
            max_values=min(len(form.answers), MAX_SELECT) if many else 1,
            options=[
                discord.SelectOption(label=_label(a, label)[:100], value=a)
                for a, label in form.answers[:MAX_SELECT]
            ],
        )
        return cls(form.proposal, select)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> PickSelect:
        return cls(int(match["number"]), item if isinstance(item, ui.Select) else None)

    async def callback(self, interaction: discord.Interaction) -> None:
        chosen = " ".join(self.item.values)
        await voting(interaction).run_command(
            interaction, f"!vote {self.number} {chosen}", proposal=self.number
        )


# ---------------------------------------------------------------------- ranking


def ranking_text(form: BallotForm, so_far: str) -> str:
    names = dict(form.answers)
    lines = [f"Rank #{form.proposal} {form.title}, best first."]
    lines += [f"{place}. {names.get(a, a)}" for place, a in enumerate(so_far, 1)]
    if len(so_far) < len(form.answers):
        lines.append("Pick the next one, or cast the ranking as it is.")
    return render.cut("\n".join(lines), 2000)


def ranking_view(form: BallotForm, so_far: str) -> ui.View:
    view = ui.View(timeout=None)
    left = [(a, label) for a, label in form.answers if a not in so_far]
    if left:
        view.add_item(RankPick.of(form, so_far, left))
    if so_far:
        view.add_item(RankCast(form.proposal, so_far))
        view.add_item(RankButton(form.proposal, "Start over"))
    return view


async def _show_ranking(interaction: discord.Interaction, number: int, so_far: str) -> None:
    bot = voting(interaction)
    form = bot.menus.form(interaction_room(interaction), number)
    if form is None or form.shape != "ranking":
        # Not (or no longer) an open ranked vote: let the core say why.
        await bot.run_command(interaction, f"!vote {number}", proposal=number)
        return
    text, view = ranking_text(form, so_far), ranking_view(form, so_far)
    message = interaction.message
    if message is not None and message.flags.ephemeral:
        await interaction.response.edit_message(content=text, view=view)
    else:
        await interaction.response.send_message(text, view=view, ephemeral=True)
    answered(interaction)


class RankButton(ui.DynamicItem[ui.Button[Any]], template=r"folkmoot:rank:(?P<number>[0-9]{1,9})"):
    """On the card: opens the ranking flow; in the flow: starts it over."""

    def __init__(self, number: int, label: str = "Rank the options…") -> None:
        super().__init__(
            ui.Button(
                label=label, style=discord.ButtonStyle.primary, custom_id=f"folkmoot:rank:{number}"
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> RankButton:
        return cls(int(match["number"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _show_ranking(interaction, self.number, "")


class RankPick(
    ui.DynamicItem[ui.Select[Any]],
    template=rf"folkmoot:rank-next:(?P<number>[0-9]{{1,9}}):(?P<so_far>{LETTERS})",
):
    """The next place in a ranking."""

    def __init__(self, number: int, so_far: str, select: ui.Select[Any] | None = None) -> None:
        super().__init__(select or ui.Select(custom_id=f"folkmoot:rank-next:{number}:{so_far}"))
        self.number = number
        self.so_far = so_far

    @classmethod
    def of(cls, form: BallotForm, so_far: str, left: list[tuple[str, str]]) -> RankPick:
        select: ui.Select[Any] = ui.Select(
            custom_id=f"folkmoot:rank-next:{form.proposal}:{so_far}",
            placeholder=f"Your choice number {len(so_far) + 1}…",
            options=[
                discord.SelectOption(label=_label(a, label)[:100], value=a)
                for a, label in left[:MAX_SELECT]
            ],
        )
        return cls(form.proposal, so_far, select)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> RankPick:
        select = item if isinstance(item, ui.Select) else None
        return cls(int(match["number"]), match["so_far"], select)

    async def callback(self, interaction: discord.Interaction) -> None:
        picked = "".join(v for v in self.item.values if v not in self.so_far)
        await _show_ranking(interaction, self.number, self.so_far + picked)


class RankCast(
    ui.DynamicItem[ui.Button[Any]],
    template=r"folkmoot:rank-cast:(?P<number>[0-9]{1,9}):(?P<so_far>[A-Z]{1,25})",
):
    def __init__(self, number: int, so_far: str) -> None:
        super().__init__(
            ui.Button(
                label="Cast this ranking",
                style=discord.ButtonStyle.success,
                custom_id=f"folkmoot:rank-cast:{number}:{so_far}",
            )
        )
        self.number = number
        self.so_far = so_far

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> RankCast:
        return cls(int(match["number"]), match["so_far"])

    async def callback(self, interaction: discord.Interaction) -> None:
        ranking = " > ".join(self.so_far)
        await voting(interaction).run_command(
            interaction, f"!vote {self.number} {ranking}", proposal=self.number
        )


# ---------------------------------------------------------------------- scores and dots


class MarksModal(Form):
    """A score (or a number of dots) per option, in a field each (blank ones are left
    out), or past five options one field for the whole ballot; the proposal and the
    kind of marks are in its id."""

    TEMPLATE: ClassVar[re.Pattern[str]] = re.compile(
        rf"{FORM}:marks:(?P<opened>[0-9]{{1,20}}):(?P<number>[0-9]{{1,9}}):(?P<shape>scores|dots)"
    )

    def __init__(self, opened: int, form: BallotForm) -> None:
        dots = form.shape == "dots"
        super().__init__(
            title=f"#{form.proposal} {form.title}"[:45],
            timeout=None,
            custom_id=form_id("marks", opened, form.proposal, form.shape),
        )
        mark = ":" if dots else "="
        low, high = form.marks
        if len(form.answers) <= 5:
            for answer, label in form.answers:
                self.add_item(
                    ui.TextInput(
                        label=_label(answer, label)[:45],
                        custom_id=answer,
                        placeholder=f"dots, up to {high} in all" if dots else f"{low}–{high}",
                        required=False,
                        max_length=4,
                    )
                )
        else:
            example = " ".join(
                f"{a}{mark}{high if i == 0 else low}" for i, (a, _) in enumerate(form.answers[:3])
            )
            self.add_item(
                ui.TextInput(
                    label="Your ballot",
                    custom_id=WHOLE_BALLOT,
                    style=discord.TextStyle.paragraph,
                    placeholder=f"e.g. {example}",
                    max_length=400,
                )
            )

    @staticmethod
    def ballot(values: Mapping[str, str], mark: str) -> str:
        marks = []
        for answer, written in values.items():
            value = " ".join(written.split())
            if value and answer != WHOLE_BALLOT:
                marks.append(f"{answer}{mark}{value}")
            elif value:
                marks.append(value)
        return " ".join(marks)

    @classmethod
    async def submitted(
        cls, interaction: discord.Interaction, match: re.Match[str], values: Mapping[str, str]
    ) -> bool:
        number = int(match["number"])
        ballot = cls.ballot(values, ":" if match["shape"] == "dots" else "=")
        await voting(interaction).run_command(
            interaction, f"!vote {number} {ballot}".strip(), proposal=number
        )
        return True


class MarksButton(
    ui.DynamicItem[ui.Button[Any]], template=r"folkmoot:marks:(?P<number>[0-9]{1,9})"
):
    def __init__(self, number: int, label: str = "Score the options…") -> None:
        super().__init__(
            ui.Button(
                label=label, style=discord.ButtonStyle.primary, custom_id=f"folkmoot:marks:{number}"
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> MarksButton:
        label = item.label if isinstance(item, ui.Button) and item.label else "Score the options…"
        return cls(int(match["number"]), label)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = voting(interaction)
        form = bot.menus.form(interaction_room(interaction), self.number)
        if form is None or form.shape not in ("scores", "dots"):
            await bot.run_command(interaction, f"!vote {self.number}", proposal=self.number)
            return
        await MarksModal(interaction.id, form).show(interaction)
        answered(interaction)


DYNAMIC_ITEMS = (VoteButton, ReasonButton, PickSelect, RankButton, RankPick, RankCast, MarksButton)


def card_view(form: BallotForm) -> ui.View:
    """The controls under a card, by the ballot's shape."""
    view = ui.View(timeout=None)
    n = form.proposal
    if form.shape == "verdict":
        for index, (word, _) in enumerate(form.answers[:MAX_SELECT]):
            item: ui.DynamicItem[Any] = (
                ReasonButton(n, word) if word in form.reasons else VoteButton(n, word)
            )
            item.item.row = index // BUTTONS_PER_ROW
            view.add_item(item)
    elif form.shape == "one option" and len(form.answers) <= MAX_BUTTONS:
        for answer, label in form.answers:
            view.add_item(VoteButton(n, answer, _label(answer, label)))
    elif form.shape in ("one option", "option set"):
        view.add_item(PickSelect.of(form))
    elif form.shape == "ranking":
        view.add_item(RankButton(n))
    elif form.shape in ("scores", "dots"):
        view.add_item(
            MarksButton(n, "Spread your dots…" if form.shape == "dots" else "Score the options…")
        )
    return view
