"""How prompts read: a posting (which opens a thread), an ended prompt, the private
welcome, and the ``!prompts`` table."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from governance.domain.events import Event, MemberWelcomed, PromptEnded, PromptPosted
from governance.domain.prompts import Once, Prompt, PromptKind, PromptStatus
from governance.domain.timing import format_local
from governance.text.messages import Deadline, Message, Reply, Table

SHOWN = 60
"""How much of a question the ``!prompts`` table shows."""


def story_hint(number: int) -> str:
    return (
        f"Share your story: reply here, or !story #{number} <your story> "
        "[share=public|community|anonymous]."
    )


def render_prompt(event: Event) -> Message | None:
    """The message for a prompt event; None for other events."""
    match event:
        case PromptPosted():
            blocks: list[str] = []
            if event.proposal is not None and event.kind != PromptKind.OUTCOME:
                about = f"#{event.proposal}"
                if event.proposal_title:
                    about += f" {event.proposal_title}"
                blocks.append(f"About {about}.")
            blocks.append(story_hint(event.prompt))
            zone = ZoneInfo(event.timezone)
            if event.next_at is not None:
                blocks.append(f"Next posting: {format_local(event.next_at, zone)}.")
            return Message(
                f"Prompt #{event.prompt}: {event.question}",
                tuple(blocks),
                deadline=None if event.next_at is None else Deadline("Next posting", event.next_at),
                prompt=event.prompt,
            )
        case PromptEnded():
            return Message(
                f"Prompt #{event.prompt} has ended",
                (
                    f"{event.by} ended it: it is not posted again. "
                    "The stories told for it stay in the archive.",
                ),
            )
        case MemberWelcomed():
            return Message(
                f"A question for you, new in {event.community}: {event.question}",
                (
                    f"If you like, answer with !story #{event.prompt} <your story> "
                    "[share=public|community|anonymous]; you can edit or withdraw it at any time.",
                ),
            )
    return None


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1].rstrip() + "…"


def _when(prompt: Prompt, zone: ZoneInfo) -> str:
    if prompt.kind is PromptKind.WELCOME:
        return "to each new member"
    plan = prompt.schedule
    if plan is None:
        return "—"
    if isinstance(plan, Once):
        return "once"
    return plan.describe(zone)


def _next(prompt: Prompt, zone: ZoneInfo) -> str:
    if prompt.status is not PromptStatus.ACTIVE:
        return prompt.status.value
    if prompt.next_at is not None:
        return format_local(prompt.next_at, zone)
    if prompt.kind is PromptKind.WELCOME:
        return "on joining"
    if prompt.last_posted_at is not None:
        return f"posted {format_local(prompt.last_posted_at, zone)}"
    return "—"


def prompt_table(prompts: Sequence[Prompt], timezone: str, *, more: bool = False) -> Reply:
    zone = ZoneInfo(timezone)
    rows = tuple(
        (
            f"#{p.number}",
            _shown(p.question),
            _when(p, zone),
            _next(p, zone),
        )
        for p in prompts
    )
    blocks: list[str | Table] = [Table(("prompt", "question", "when", "next"), rows)]
    if more:
        blocks.append(f"Only the first {len(prompts)} are shown.")
    return Reply(Message("Prompts:", tuple(blocks)))
