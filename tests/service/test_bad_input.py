"""Bad bytes and odd numbers get answers, never an internal error, and nothing that
would break the store is kept (PostgreSQL cannot hold a lone surrogate, nor a number
past 2,147,483,647 in an integer column)."""

from __future__ import annotations

import pytest

from tests.chat import Chat


@pytest.mark.parametrize(
    "text",
    [
        "!propose Fix the \ud800 roof",
        "!propose Fix the roof\nThe \udcff body",
        "!story We began \udfff in a kitchen",
        "!stories \ud83d",
        "!prompt Why \udcc3?",
        "!vote 1 \ud800",
    ],
)
async def test_a_broken_character_gets_an_answer_and_is_not_kept(chat: Chat, text: str) -> None:
    answer = await chat.fails("alice", text)
    assert "broken character" in answer and "Something went wrong" not in answer
    assert (await chat.ok("alice", "!proposals")).startswith("No proposals yet")
    assert "No stories" in await chat.ok("alice", "!stories")


async def test_a_broken_character_in_a_prompts_thread_gets_an_answer(chat: Chat) -> None:
    chat.outlet.threads = True
    await chat.ok("alice", "!prompt What changed for you?")
    key = next(k for _, text, k in chat.outlet.posts if text.startswith("Prompt #1"))
    reply = await chat.app.governance.story_in_thread(
        chat.room, f"thread-of-{key}", chat.account("bob"), "I \ud800 work", chat.clock.now()
    )
    assert reply is not None and not reply.ok
    assert "broken character (U+D800" in reply.message.plain()
    assert "No stories" in await chat.ok("alice", "!stories")


@pytest.mark.parametrize(
    "search",
    ["prompt:2147483648", "proposal:99999999999", "prompt:٣", "proposal:²", "prompt:#1٣"],
)
async def test_story_filters_take_ascii_numbers_within_the_stores_integers(
    chat: Chat, search: str
) -> None:
    key = search.partition(":")[0]
    answer = await chat.fails("alice", f"!stories {search}")
    assert f"is not a {key} number; write it in digits 0-9, at most 999,999,999" in answer


async def test_story_filters_with_plain_numbers_are_read(chat: Chat) -> None:
    await chat.ok("alice", "!propose Share the tools")
    await chat.ok("bob", "!story The drill came back proposal=1")
    assert "The drill came back" in await chat.ok("alice", "!stories proposal:#1")
    assert "No stories" in await chat.ok("alice", "!stories proposal:999999999")
