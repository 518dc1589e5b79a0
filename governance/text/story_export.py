"""Stories as people read them: a line in a listing, the bot's post of an anonymous
story, and the archive as a Markdown community book or JSON.

Consent decides what is shown: an anonymous story never carries a name, here or
anywhere; the export for outside the community holds public stories only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from governance.domain.ids import CommunityId, MemberId
from governance.domain.stories import Consent, Story
from governance.text.messages import Attachment, Message

EXCERPT = 120
ANONYMOUS = "anonymous"


def author_of(story: Story, names: Mapping[MemberId, str]) -> str:
    if story.consent is Consent.ANONYMOUS or story.author is None:
        return ANONYMOUS
    return names.get(story.author, "a former member")


def _about(story: Story) -> str:
    parts = []
    if story.prompt is not None:
        parts.append(f"prompt #{story.prompt}")
    if story.proposal is not None:
        parts.append(f"proposal #{story.proposal}")
    if story.tags:
        parts.append(" ".join(f"#{t}" for t in story.tags))
    return f" ({'; '.join(parts)})" if parts else ""


def line(story: Story, names: Mapping[MemberId, str]) -> str:
    text = " ".join(story.text.split())
    if len(text) > EXCERPT:
        text = text[: EXCERPT - 1] + "…"
    day = story.told_at.date().isoformat()
    return f"#{story.number} by {author_of(story, names)}, {day}{_about(story)}: {text}"


def posted(story: Story, names: Mapping[MemberId, str]) -> Message:
    """A story told to the bot privately, posted by the bot in the community's rooms."""
    if story.consent is Consent.ANONYMOUS:
        head = f"Story #{story.number}, told anonymously{_about(story)}"
    else:
        head = f"Story #{story.number}, told by {author_of(story, names)}{_about(story)}"
    return Message(head, (story.text,))


@dataclass(frozen=True, slots=True)
class Book:
    community: CommunityId
    at: datetime
    stories: Sequence[Story]
    names: Mapping[MemberId, str]
    titles: Mapping[int, str]
    """Linked proposals' titles, by number."""
    questions: Mapping[int, str]
    """Prompts' questions, by number."""

    def _slug(self, ext: str) -> str:
        return f"{self.community}-stories-{self.at.date().isoformat()}.{ext}"

    def markdown(self) -> Attachment:
        out = [
            f"# The stories of {self.community}",
            "",
            f"{len(self.stories)} stories, exported {self.at.isoformat(timespec='minutes')}. "
            "Anonymous stories carry no name.",
        ]
        for prompt, group in groupby(self.stories, key=lambda s: s.prompt):
            if prompt is None:
                out += ["", "## Stories told freely"]
            else:
                out += ["", f"## Prompt #{prompt}: {self.questions.get(prompt, '')}".rstrip(": ")]
            for story in group:
                day = story.told_at.date().isoformat()
                out += ["", f"### #{story.number} — {author_of(story, self.names)}, {day}"]
                if story.proposal is not None:
                    title = self.titles.get(story.proposal, "")
                    out.append(f"*About proposal #{story.proposal} {title}*".rstrip())
                if story.tags:
                    out.append("Tags: " + ", ".join(story.tags))
                out += ["", story.text]
        data = ("\n".join(out) + "\n").encode()
        return Attachment(self._slug("md"), data, "text/markdown")

    def json(self) -> Attachment:
        data = {
            "community": self.community,
            "exported_at": self.at.isoformat(),
            "stories": [
                {
                    "number": s.number,
                    "told_at": s.told_at.isoformat(),
                    "edited_at": None if s.edited_at is None else s.edited_at.isoformat(),
                    "consent": s.consent.value,
                    "author": None if s.consent is Consent.ANONYMOUS else author_of(s, self.names),
                    "prompt": s.prompt,
                    "prompt_question": self.questions.get(s.prompt) if s.prompt else None,
                    "proposal": s.proposal,
                    "proposal_title": self.titles.get(s.proposal) if s.proposal else None,
                    "tags": list(s.tags),
                    "text": s.text,
                }
                for s in self.stories
            ],
        }
        encoded = json.dumps(data, ensure_ascii=False, indent=2).encode()
        return Attachment(self._slug("json"), encoded, "application/json")
