"""Reading a member's ``m.room.message``: the thread it was sent in, and its text
without the quote of a reply (the "reply fallback" older clients put in the body)."""

from __future__ import annotations

from typing import Any


def _relation(content: dict[str, Any]) -> dict[str, Any]:
    relation = content.get("m.relates_to")
    return relation if isinstance(relation, dict) else {}


def thread_root(content: dict[str, Any]) -> str | None:
    """The root event of the thread a message was sent in, or None outside threads."""
    relation = _relation(content)
    root = relation.get("event_id")
    if relation.get("rel_type") == "m.thread" and isinstance(root, str) and root:
        return root
    return None


def text(body: str, content: dict[str, Any]) -> str:
    """`body` without a reply fallback: in a reply (``m.in_reply_to``), the leading
    ``> `` lines quoting the message replied to and the blank line after them."""
    reply = _relation(content).get("m.in_reply_to")
    if not isinstance(reply, dict) or not body.startswith(">"):
        return body
    lines = body.split("\n")
    quoted = 0
    while quoted < len(lines) and lines[quoted].startswith(">"):
        quoted += 1
    if quoted == len(lines) or lines[quoted].strip():
        return body  # no blank line after the quote: not a fallback, the member's own text
    return "\n".join(lines[quoted + 1 :])


def replaced(content: dict[str, Any]) -> tuple[str, str] | None:
    """An edit (``m.replace``): the id of the message it edits and that message's new
    text (``m.new_content``, without a reply fallback); None for any other message."""
    relation = _relation(content)
    original = relation.get("event_id")
    new = content.get("m.new_content")
    if relation.get("rel_type") != "m.replace" or not isinstance(original, str) or not original:
        return None
    if not isinstance(new, dict) or not isinstance(new.get("body"), str):
        return None
    return original, text(new["body"], new)
