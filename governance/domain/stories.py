"""Stories: what members tell when asked, kept with the consent their authors gave.

A story belongs to its author, who may edit or withdraw it at any time; withdrawal
deletes the text. An anonymous story names no author anywhere: the link to its author
is only a keyed tag (like a secret ballot's), which the bot can recompute to let the
author edit or withdraw it, and which says nothing to anyone reading the database
without the bot's key.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from governance.domain.errors import GovernanceError
from governance.domain.ids import CommunityId, MemberId
from governance.domain.proposal import check_text

MAX_STORY = 10_000
MAX_TAGS = 10
MAX_TAG = 30
MAX_HIDE_REASON = 500


class InvalidStory(GovernanceError):
    pass


class Consent(StrEnum):
    PUBLIC = "public"
    """May be shared beyond the community, with the author's name."""
    COMMUNITY = "community"
    """For the community's members, with the author's name (the default)."""
    ANONYMOUS = "anonymous"
    """For the community, without the author: given privately, posted by the bot."""

    @property
    def words(self) -> str:
        return {
            Consent.PUBLIC: "public",
            Consent.COMMUNITY: "for the community only",
            Consent.ANONYMOUS: "anonymous",
        }[self]


@dataclass(frozen=True, slots=True)
class Story:
    id: int
    community: CommunityId
    number: int
    text: str
    consent: Consent
    author: MemberId | None
    """None for an anonymous story."""
    author_tag: str | None
    """An anonymous story's keyed link to its author (`author_tag`)."""
    prompt: int | None
    proposal: int | None
    tags: tuple[str, ...]
    told_at: datetime
    edited_at: datetime | None = None
    hidden_reason: str | None = None
    encrypted_origin: bool = False
    """Told in an encrypted room (or in a prompt's thread there), or about a proposal or
    for a prompt that began in one: what is said of it goes to the community's encrypted
    rooms only."""

    def is_by(self, member: MemberId, key: bytes) -> bool:
        if self.author is not None:
            return self.author == member
        return self.author_tag is not None and hmac.compare_digest(
            self.author_tag, author_tag(key, self.community, member)
        )


def author_tag(key: bytes, community: CommunityId, member: MemberId) -> str:
    return hmac.new(key, f"{community}:{member}".encode(), hashlib.sha256).hexdigest()


def check_story(text: str) -> str:
    try:
        return check_text("story", text, MAX_STORY, multiline=True)
    except GovernanceError as error:
        raise InvalidStory(str(error).replace("The story is empty.", _EMPTY)) from None


_EMPTY = "The story is empty: tell it after the command, e.g. !story We started in a kitchen…"


def normalise_tags(text: str) -> tuple[str, ...]:
    """``tags=kitchen, Founding`` → ("founding", "kitchen"): NFKC, lower case, letters,
    digits, ``-`` and ``_`` only, so the same tag is always written the same."""
    tags: set[str] = set()
    for raw in text.replace(";", ",").split(","):
        tag = unicodedata.normalize("NFKC", raw).strip().casefold().replace(" ", "-")
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise InvalidStory(
                f"A tag may be at most {MAX_TAG} characters; “{tag[:20]}…” is longer."
            )
        odd = next((ch for ch in tag if not (ch.isalnum() or ch in "-_")), None)
        if odd is not None:
            raise InvalidStory(
                f"A tag may hold letters, digits, - and _ only; “{tag}” has "
                f"U+{ord(odd):04X}. Separate tags with commas: tags=kitchen,founding"
            )
        tags.add(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidStory(f"A story may have at most {MAX_TAGS} tags; this one has {len(tags)}.")
    return tuple(sorted(tags))
