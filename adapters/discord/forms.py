"""Forms (Discord modals), each bound to the interaction that opened it.

discord.py keeps one modal per custom id for the whole bot, so two members filling
the same kind of form at once would share one: the first submission would run with
the second member's settings, and the second find nothing. So every form gets a
custom id of its own — ``folkmoot:form:<kind>:<opening interaction>:<what it is
about>`` — and discord.py never keeps it (`show`): the bot reads each submission
itself (`DiscordAdapter.on_interaction`), from the custom id, the submitted fields
and, for what does not fit in an id (a proposal's settings), `Forms`, keyed by the
opening interaction.

A submission the bot cannot place (a form opened before a restart whose settings were
in memory, an older release's id format) and a control it no longer knows are
answered ("This form expired; open it again.") and logged, never left unanswered.
A form is taken once: sent twice, the second is refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import discord
from discord import ui

FORM = "folkmoot:form"
KEEP_FOR = 60 * 60.0
"""Seconds a form's settings and its having been sent are remembered."""
EXPIRED_FORM = "This form expired; open it again."
EXPIRED_CONTROL = "This control expired: use the slash commands (/vote, /status) instead."
ALREADY_SENT = "This form was already sent."


def form_id(kind: str, opened: int, *about: object) -> str:
    return ":".join([FORM, kind, str(opened), *map(str, about)])


class Submitted(Protocol):
    """A form's kind: the pattern of its custom ids and what its submission does."""

    TEMPLATE: ClassVar[re.Pattern[str]]

    @classmethod
    async def submitted(
        cls,
        interaction: discord.Interaction,
        match: re.Match[str],
        values: Mapping[str, str],
    ) -> bool:
        """Act on the submission; False when it cannot (its settings are gone)."""
        ...


class Form(ui.Modal):
    """A modal shown to one member, for one interaction."""

    async def show(self, interaction: discord.Interaction) -> None:
        # Stopped before it is sent, discord.py does not keep it: its store keeps one
        # modal per custom id, and the submission is read by `on_interaction`.
        self.stop()
        await interaction.response.send_modal(self)


def submitted_values(data: Mapping[str, Any] | None) -> dict[str, str]:
    """The text inputs of a modal submission, by custom id, in the form's order (in
    action rows, or in labels)."""
    values: dict[str, str] = {}
    for top in (data or {}).get("components", []):
        inner = [top.get("component", {})] if "component" in top else top.get("components", [])
        for component in inner:
            if component.get("type") == 4:
                values[str(component["custom_id"])] = str(component.get("value") or "")
    return values


class Forms:
    """Which forms were sent, and the settings of those that carry more than their id
    holds, by the interaction that opened them; forgotten after `KEEP_FOR`."""

    def __init__(self) -> None:
        self._settings: dict[int, tuple[int, str, float]] = {}
        self._sent: dict[int, float] = {}

    def _prune(self) -> None:
        now = time.monotonic()
        for opened in [o for o, (_, _, made) in self._settings.items() if now - made > KEEP_FOR]:
            del self._settings[opened]
        for opened in [o for o, at in self._sent.items() if now - at > KEEP_FOR]:
            del self._sent[opened]

    def keep(self, opened: int, user: int, settings: str) -> None:
        self._prune()
        self._settings[opened] = (user, settings, time.monotonic())

    def settings(self, opened: int, user: int) -> str | None:
        kept = self._settings.get(opened)
        if kept is None or kept[0] != user:
            return None
        return kept[1]

    def first_sending(self, opened: int) -> bool:
        """The form opened by `opened` is sent now: False if it was sent before."""
        self._prune()
        if opened in self._sent:
            return False
        self._sent[opened] = time.monotonic()
        return True


def match_form(
    kinds: tuple[type[Submitted], ...], custom_id: str
) -> tuple[type[Submitted], re.Match[str]] | None:
    for kind in kinds:
        found = kind.TEMPLATE.fullmatch(custom_id)
        if found is not None:
            return kind, found
    return None
