"""Slash commands: one per core command, with typed options where Discord helps.

A command about a proposal takes it as an integer option that autocompletes from
the community's drafts, deliberations and open votes; ``/vote`` autocompletes the
ballot from the proposal's options; ``/propose`` opens a modal for title, body and
options, with method and timing as command options. Autocompletion and the modal
answer from memory (`Menus`), never from the database. Other words go in one text
option, read by the same grammar as typed commands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import discord
from discord import app_commands, ui

from adapters.discord.components import Voting, answered, voting
from adapters.discord.forms import FORM, Form, Forms, form_id
from adapters.discord.rooms import interaction_room
from governance.domain.commands import Context
from governance.domain.errors import GovernanceError
from governance.domain.ids import AccountRef, RoomRef
from governance.domain.methods import METHODS
from governance.domain.proposal import MAX_BODY, MAX_TITLE
from governance.text.grammar import parse_propose_form
from governance.text.usage import USAGE

CHOICES = 25
"""Discord shows at most this many autocompletions."""
ADMINS_ONLY = frozenset({"bind", "unbind", "role", "class", "undelivered", "erase"})
"""Shown by default only to who may manage the server (its admins)."""
MODERATORS_ONLY = frozenset({"deliberate", "close", "extend", "cancel", "remind", "prompt"})
"""Shown by default only to who may manage messages (its moderators). A server's admins
can show either kind to other roles too (Server Settings → Integrations); the core
still decides who may use them, by the member's role in the community."""
PROPOSAL = "The proposal's number (type to search the titles)"


@runtime_checkable
class Proposing(Voting, Protocol):
    forms: Forms

    async def run_propose(
        self,
        interaction: discord.Interaction,
        *,
        title: str,
        body: str,
        options: str,
        settings: str,
    ) -> None: ...


# ---------------------------------------------------------------------- autocompletion


async def proposal_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    typed = current.strip().lstrip("#").casefold()
    found = []
    for p in voting(interaction).menus.pending(interaction_room(interaction)):
        if typed and not (str(p.number).startswith(typed) or typed in p.title.casefold()):
            continue
        name = f"#{p.number} {p.title} — {p.status}"
        found.append(app_commands.Choice(name=name[:100], value=p.number))
        if len(found) == CHOICES:
            break
    return found


async def ballot_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    number = getattr(interaction.namespace, "proposal", None)
    if not isinstance(number, int):
        return []
    form = voting(interaction).menus.form(interaction_room(interaction), number)
    if form is None:
        return []
    typed = current.strip().casefold()
    found = []
    for answer, label in form.answers:
        if typed and not (answer.casefold().startswith(typed) or typed in label.casefold()):
            continue
        name = answer if answer == label else f"{answer} — {label}"
        found.append(app_commands.Choice(name=name[:100], value=answer))
    return found[:CHOICES]


# ---------------------------------------------------------------------- commands


def _run(interaction: discord.Interaction, text: str, proposal: int | None = None) -> Any:
    return voting(interaction).run_command(interaction, text.strip(), proposal=proposal)


def _with_proposal(name: str, usage: str) -> app_commands.Command[Any, ..., None]:
    words = usage.split()
    optional_id = words[1] == "[id]"
    rest = words[2] if len(words) > 2 else None

    async def id_only(interaction: discord.Interaction, proposal: int) -> None:
        await _run(interaction, f"!{name} {proposal}")

    async def maybe_id(interaction: discord.Interaction, proposal: int | None = None) -> None:
        await _run(interaction, f"!{name} {proposal or ''}")

    async def id_and_text(interaction: discord.Interaction, proposal: int, text: str) -> None:
        await _run(interaction, f"!{name} {proposal} {text}")

    async def id_and_maybe_text(
        interaction: discord.Interaction, proposal: int, text: str | None = None
    ) -> None:
        await _run(interaction, f"!{name} {proposal} {text or ''}")

    callback: Any
    if rest is None:
        callback = maybe_id if optional_id else id_only
    elif rest.startswith("["):
        callback = id_and_maybe_text
    else:
        callback = id_and_text
    described = {"proposal": PROPOSAL}
    if rest is not None:
        described["text"] = " ".join(words[2:])[:100]
    callback = app_commands.describe(**described)(callback)
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=name, description=USAGE[name][1][:100], callback=callback
    )
    command.autocomplete("proposal")(proposal_choices)
    return command


def _vote() -> app_commands.Command[Any, ..., None]:
    @app_commands.describe(proposal=PROPOSAL, ballot="Your ballot, e.g. yes, A C, B > A, A=5")
    async def vote(interaction: discord.Interaction, proposal: int, ballot: str) -> None:
        await _run(interaction, f"!vote {proposal} {ballot}", proposal)

    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name="vote", description=USAGE["vote"][1][:100], callback=vote
    )
    command.autocomplete("proposal")(proposal_choices)
    command.autocomplete("ballot")(ballot_choices)
    return command


class ProposeModal(Form, title="A new proposal"):
    """Title, body and options, as written; the command's settings wait in `Forms`
    (they may not fit in a custom id)."""

    TEMPLATE: ClassVar[re.Pattern[str]] = re.compile(rf"{FORM}:propose:(?P<opened>[0-9]{{1,20}})")

    title_field: ui.TextInput[ProposeModal] = ui.TextInput(
        label="Title", max_length=MAX_TITLE, custom_id="title"
    )
    body: ui.TextInput[ProposeModal] = ui.TextInput(
        label="Body",
        custom_id="body",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MAX_BODY,
        placeholder="What, why, and what it costs.",
    )
    options: ui.TextInput[ProposeModal] = ui.TextInput(
        label="Options, one per line",
        custom_id="options",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=2000,
        placeholder="Leave empty to vote on the proposal itself.",
    )

    def __init__(self, opened: int) -> None:
        super().__init__(timeout=None, custom_id=form_id("propose", opened))

    @classmethod
    async def submitted(
        cls, interaction: discord.Interaction, match: re.Match[str], values: Mapping[str, str]
    ) -> bool:
        client = interaction.client
        assert isinstance(client, Proposing)
        settings = client.forms.settings(int(match["opened"]), interaction.user.id)
        if settings is None:
            return False
        await client.run_propose(
            interaction,
            title=values.get("title", ""),
            body=values.get("body", ""),
            options=values.get("options", ""),
            settings=settings,
        )
        return True


def _propose() -> app_commands.Command[Any, ..., None]:
    @app_commands.describe(
        method="How to decide (default: majority; with options: choice)",
        vote="How long voting runs, or until when: 3d, 2026-12-01 18:00, friday",
        deliberate="Deliberate first for this long, e.g. 2d",
        settings="More, as in !propose: quorum=50% threshold=2/3 secret draft …",
    )
    @app_commands.choices(
        method=[app_commands.Choice(name=m, value=m) for m in list(METHODS)[:CHOICES]]
    )
    async def propose(
        interaction: discord.Interaction,
        method: str | None = None,
        vote: str | None = None,
        deliberate: str | None = None,
        settings: str | None = None,
    ) -> None:
        given = {"method": method, "vote": vote, "deliberate": deliberate}
        words = [f"{key}={value}" for key, value in given.items() if value]
        if settings:
            words.append(settings)
        refusal = _settings_refusal(interaction, " ".join(words))
        if refusal is not None:  # said now, before the member writes a body for nothing
            await interaction.response.send_message(
                refusal, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            answered(interaction)
            return
        client = interaction.client
        assert isinstance(client, Proposing)
        client.forms.keep(interaction.id, interaction.user.id, " ".join(words))
        # A modal is the first answer itself: nothing may be awaited before it.
        await ProposeModal(interaction.id).show(interaction)
        answered(interaction)

    return app_commands.Command(
        name="propose", description=USAGE["propose"][1][:100], callback=propose
    )


def _settings_refusal(interaction: discord.Interaction, settings: str) -> str | None:
    """What is wrong with `/propose`'s settings (a misspelt key, a bad length), read as
    the form will read them; None if the form may open. Reads no store: the modal must
    be the first answer, within Discord's three seconds."""
    ctx = Context(
        AccountRef("discord", str(interaction.user.id)),
        RoomRef("discord", interaction_room(interaction)),
        None,
        interaction.created_at,
    )
    try:
        parse_propose_form(ctx, title="-", body="", options="", settings=settings)
    except GovernanceError as refusal:
        return refusal.message
    return None


def _plain(name: str) -> app_commands.Command[Any, ..., None]:
    if len(USAGE[name][0].split()) == 1:

        async def bare(interaction: discord.Interaction) -> None:
            await _run(interaction, f"!{name}")

        return app_commands.Command(name=name, description=USAGE[name][1][:100], callback=bare)

    @app_commands.describe(text=USAGE[name][0].partition(" ")[2][:100] or "Nothing needed")
    async def command(interaction: discord.Interaction, text: str | None = None) -> None:
        await _run(interaction, f"!{name} {text or ''}")

    return app_commands.Command(name=name, description=USAGE[name][1][:100], callback=command)


def _shown_to(command: app_commands.Command[Any, ..., None]) -> None:
    if command.name in ADMINS_ONLY:
        command.default_permissions = discord.Permissions(manage_guild=True)
    elif command.name in MODERATORS_ONLY:
        command.default_permissions = discord.Permissions(manage_messages=True)


def commands() -> list[app_commands.Command[Any, ..., None]]:
    """Every core command as a slash command; admins' and moderators' are offered by
    default only to members with the matching Discord permission."""
    made: list[app_commands.Command[Any, ..., None]] = []
    for name, (usage, _) in USAGE.items():
        words = usage.split()
        if name == "story":
            continue  # a modal of its own (`adapters.discord.stories`)
        if name == "propose":
            made.append(_propose())
        elif name == "vote":
            made.append(_vote())
        elif len(words) > 1 and words[1] in ("<id>", "[id]"):
            made.append(_with_proposal(name, usage))
        else:
            made.append(_plain(name))
    for command in made:
        _shown_to(command)
    return made
