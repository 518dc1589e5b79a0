"""Telling a story on Discord: ``/story`` opens a modal for the text and tags, then
three private buttons ask how it may be shared (public, community only, anonymous).

Everything happens between the member and the bot, so nobody sees who wrote it; the
bot then posts it for the community (an anonymous one without the author). The text
waits in memory between the modal and the button, for a quarter of an hour at most.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import discord
from discord import app_commands, ui

from adapters.discord.components import answered, voting
from adapters.discord.forms import FORM, Form, form_id
from adapters.discord.rooms import interaction_room
from adapters.discord.slash import proposal_choices
from governance.domain.stories import MAX_STORY, Consent
from governance.text.usage import USAGE

PART = 4000
"""Discord's longest text input; a story takes up to three (see `MAX_STORY`)."""
KEEP_FOR = 15 * 60.0
_MANAGE = "edit 7 <text> · withdraw 7 · share 7 public · hide 7 <reason>"
_CHOICES = (
    (Consent.COMMUNITY, "For the community", discord.ButtonStyle.primary),
    (Consent.PUBLIC, "Public", discord.ButtonStyle.secondary),
    (Consent.ANONYMOUS, "Anonymous", discord.ButtonStyle.secondary),
)


@dataclass(frozen=True, slots=True)
class Draft:
    user: int
    channel: int
    text: str
    tags: str
    prompt: int | None
    proposal: int | None
    made: float


@runtime_checkable
class Telling(Protocol):
    drafts: Drafts

    async def tell_story(
        self, interaction: discord.Interaction, draft: Draft, consent: Consent
    ) -> None: ...


def telling(interaction: discord.Interaction) -> Telling:
    client = interaction.client
    assert isinstance(client, Telling)
    return client


class Drafts:
    """Stories between their modal and their consent, by a random token."""

    def __init__(self) -> None:
        self._drafts: dict[str, Draft] = {}

    def keep(self, draft: Draft) -> str:
        now = time.monotonic()
        for token in [t for t, d in self._drafts.items() if now - d.made > KEEP_FOR]:
            del self._drafts[token]
        token = secrets.token_hex(6)
        self._drafts[token] = draft
        return token

    def take(self, token: str, user: int) -> Draft | None:
        draft = self._drafts.get(token)
        if draft is None or draft.user != user or time.monotonic() - draft.made > KEEP_FOR:
            return None
        del self._drafts[token]
        return draft


class StoryModal(Form, title="Your story"):
    """The story's words; the prompt and proposal it answers are in its id."""

    TEMPLATE: ClassVar[re.Pattern[str]] = re.compile(
        rf"{FORM}:story:(?P<opened>[0-9]{{1,20}}):(?P<prompt>[0-9]{{1,9}}|-):(?P<proposal>[0-9]{{1,9}}|-)"
    )

    text: ui.TextInput[StoryModal] = ui.TextInput(
        label="Your story",
        custom_id="text",
        style=discord.TextStyle.paragraph,
        max_length=PART,
        placeholder="What happened, and what it meant to you.",
    )
    more: ui.TextInput[StoryModal] = ui.TextInput(
        label="…and more, if it is long",
        custom_id="more",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=PART,
    )
    end: ui.TextInput[StoryModal] = ui.TextInput(
        label="…to its end",
        custom_id="end",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MAX_STORY - 2 * PART,
    )
    tags: ui.TextInput[StoryModal] = ui.TextInput(
        label="Tags (optional), separated by commas",
        custom_id="tags",
        required=False,
        max_length=300,
        placeholder="kitchen, founding",
    )

    def __init__(self, opened: int, prompt: int | None, proposal: int | None) -> None:
        about = ("-" if n is None else n for n in (prompt, proposal))
        super().__init__(timeout=None, custom_id=form_id("story", opened, *about))

    @classmethod
    async def submitted(
        cls, interaction: discord.Interaction, match: re.Match[str], values: Mapping[str, str]
    ) -> bool:
        parts = (values.get("text", ""), values.get("more", ""), values.get("end", ""))
        draft = Draft(
            interaction.user.id,
            int(interaction_room(interaction)),
            "\n".join(p for p in parts if p),
            values.get("tags", ""),
            None if match["prompt"] == "-" else int(match["prompt"]),
            None if match["proposal"] == "-" else int(match["proposal"]),
            time.monotonic(),
        )
        token = telling(interaction).drafts.keep(draft)
        view = ui.View(timeout=KEEP_FOR)
        for consent, label, style in _CHOICES:
            view.add_item(ConsentButton(token, consent, label, style))
        await interaction.response.send_message(
            "How may your story be shared? For the community: members read it under your "
            "name. Public: it may also be shared beyond the community. Anonymous: the bot "
            "posts it without your name, and nobody — moderators included — sees who "
            "told it.",
            view=view,
            ephemeral=True,
        )
        answered(interaction)
        return True


class ConsentButton(
    ui.DynamicItem[ui.Button[Any]],
    template=r"folkmoot:consent:(?P<token>[0-9a-f]{12}):(?P<consent>[a-z]{6,9})",
):
    def __init__(
        self,
        token: str,
        consent: Consent,
        label: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(
            ui.Button(
                label=label or consent.value,
                style=style,
                custom_id=f"folkmoot:consent:{token}:{consent.value}",
            )
        )
        self.token = token
        self.consent = consent

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> ConsentButton:
        return cls(match["token"], Consent(match["consent"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = telling(interaction)
        draft = bot.drafts.take(self.token, interaction.user.id)
        if draft is None:
            await interaction.response.edit_message(
                content="This story is no longer waiting (it was sent, or a quarter of an "
                "hour passed): tell it again with /story.",
                view=None,
            )
            answered(interaction)
            return
        await bot.tell_story(interaction, draft, self.consent)


def story_command() -> app_commands.Command[Any, ..., None]:
    @app_commands.describe(
        prompt="The prompt it answers (its number), if any",
        proposal="A proposal it speaks to (type to search)",
    )
    async def story(
        interaction: discord.Interaction, prompt: int | None = None, proposal: int | None = None
    ) -> None:
        voting(interaction)  # the bot, as every command expects
        # A modal is the first answer itself: nothing may be awaited before it.
        await StoryModal(interaction.id, prompt, proposal).show(interaction)
        answered(interaction)

    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name="story",
        description="Tell a story, privately; then choose how it may be shared.",
        callback=story,
    )
    command.autocomplete("proposal")(proposal_choices)
    return command


def story_text_command() -> app_commands.Command[Any, ..., None]:
    """Editing, withdrawing, re-sharing and hiding: ``/story-manage text: edit 7 …``."""

    async def manage(interaction: discord.Interaction, text: str) -> None:
        await voting(interaction).run_command(interaction, f"!story {text}".strip())

    manage = app_commands.describe(text=_MANAGE)(manage)
    return app_commands.Command(
        name="story-manage", description=USAGE["story"][1][:100], callback=manage
    )
