"""Reading members' messages (no homeserver needed): threads and reply fallbacks."""

from __future__ import annotations

from adapters.matrix import incoming

THREADED = {"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}
REPLY = {"m.relates_to": {"m.in_reply_to": {"event_id": "$said"}}}


def test_the_thread_of_a_message_is_its_roots_event() -> None:
    assert incoming.thread_root(THREADED) == "$root"
    assert incoming.thread_root(REPLY) is None
    assert (
        incoming.thread_root({"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}) is None
    )
    assert incoming.thread_root({"m.relates_to": "nonsense"}) is None
    assert incoming.thread_root({}) is None


def test_a_replys_quote_is_not_part_of_what_was_said() -> None:
    fallback = "> <@ana:example.org> What changed?\n> Tell us\n\n!story #1 A lot"
    assert incoming.text(fallback, REPLY) == "!story #1 A lot"
    # Without a reply, or without the blank line that ends a quote, it is the text.
    assert incoming.text(fallback, {}) == fallback
    assert incoming.text("> quoting myself\nand more", REPLY) == "> quoting myself\nand more"
    assert incoming.text("> only a quote", REPLY) == "> only a quote"
    assert incoming.text("plain", REPLY) == "plain"
