"""A neutral `Message` as Matrix content: a plain-text body and HTML beside it.

Everything that came from people (titles, bodies, reasons, names) is escaped: HTML in
a title shows as text, never as markup. ``m.mentions: {}`` on every message means
nothing the bot says pings anyone, whatever the text holds (``@room`` included).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from governance.text.messages import Attachment, Message, Table


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in table.header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _html_block(block: str | Table) -> str:
    if isinstance(block, Table):
        return _html_table(block)
    return "<p>" + escape(block).replace("\n", "<br/>") + "</p>"


def html(message: Message) -> str:
    parts = [] if message.title is None else [f"<p><strong>{escape(message.title)}</strong></p>"]
    parts += [_html_block(block) for block in message.blocks]
    return "".join(parts)


def content(message: Message, *, notice: bool = True) -> dict[str, Any]:
    """An ``m.room.message`` content: ``m.notice`` for what the bot announces (clients
    and other bots know it is automated), with HTML and no mentions."""
    return {
        "msgtype": "m.notice" if notice else "m.text",
        "body": message.plain(),
        "format": "org.matrix.custom.html",
        "formatted_body": html(message),
        "m.mentions": {},
    }


def in_reply_to(body: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {**body, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


def in_thread(body: dict[str, Any], root: str) -> dict[str, Any]:
    return {
        **body,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }


def reaction(event_id: str, key: str) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}


def thread_reply(body: dict[str, Any], root: str, event_id: str) -> dict[str, Any]:
    """An answer in `root`'s thread to `event_id` there: a real reply, so not falling back."""
    return {
        **body,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": False,
            "m.in_reply_to": {"event_id": event_id},
        },
    }


def file(attachment: Attachment, url: str, keys: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An ``m.file`` message for an uploaded `attachment`: its ``url``, or in an encrypted
    room ``file`` (the url with the keys to decrypt what was uploaded)."""
    body: dict[str, Any] = {
        "msgtype": "m.file",
        "body": attachment.name,
        "filename": attachment.name,
        "info": {"mimetype": attachment.media_type, "size": len(attachment.data)},
        "m.mentions": {},
    }
    if keys is None:
        body["url"] = url
    else:
        body["file"] = {**keys, "url": url, "mimetype": attachment.media_type}
    return body


_FALLBACK_KEYS = frozenset({"msgtype", "body", "format", "formatted_body", "m.mentions"})


def replacement(body: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An edit (``m.replace``) of message `event_id` to say `body`; clients that know no
    edits show the starred fallback."""
    fallback = {key: value for key, value in body.items() if key in _FALLBACK_KEYS}
    fallback["body"] = f"* {body.get('body', '')}"
    if "formatted_body" in body:
        fallback["formatted_body"] = f"* {body['formatted_body']}"
    return {
        **fallback,
        "m.new_content": body,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }
