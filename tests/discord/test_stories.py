"""Stories on Discord, over the wire: told in a modal, shared as their author chose,
exported as a file."""

from __future__ import annotations

import asyncio
import json

import pytest

from governance.domain.ids import AccountRef, RoomRef
from governance.service.app import Governance
from governance.text.messages import Reply
from tests.discord.conftest import WITHIN, Deployment
from tests.discord.fake import INTENT_GUILD_MESSAGES, FakeChannel, FakeDiscord, FakeUser


async def _tell(
    fake: FakeDiscord, member: FakeUser, channel: FakeChannel, fields: dict[str, str], choice: str
) -> str:
    """``/story``, its modal filled in, then the consent button; the bot's answer."""
    ix = await fake.slash(member, "story", {}, channel=channel)
    assert (await fake.interaction_response(ix, within=WITHIN)).json["type"] == 9
    submit = await fake.modal_submit(member, fake.modal_id(ix), fields)
    ask = await fake.interaction_response(submit, within=WITHIN)
    assert ask.json["data"]["flags"] & 64  # only the author sees the question
    buttons = [c for row in ask.json["data"]["components"] for c in row["components"]]
    chosen = next(b for b in buttons if b["custom_id"].endswith(f":{choice}"))
    assert submit.original_id is not None
    click = await fake.click(member, submit.original_id, chosen["custom_id"])
    answer = await fake.next_call("POST", click.webhook_path, within=WITHIN)
    assert answer.json["flags"] & 64
    return str(answer.json["content"])


async def test_an_anonymous_story_told_in_a_modal_is_posted_without_its_author(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    bob = fake.add_member("bobby")
    answer = await _tell(
        fake,
        bob,
        channel,
        {"text": "I almost quit", "more": "and then the co-op paid my rent", "tags": "Rent"},
        "anonymous",
    )
    assert answer.startswith("Thank you: your story is #1 (posted without your name).")
    await deployed.deliver()
    post = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    embed = post.json["embeds"][0]
    assert embed["title"] == "Story #1, told anonymously (#rent)"
    assert embed["description"] == "I almost quit\nand then the co-op paid my rent"
    assert "bobby" not in json.dumps(post.json) and str(bob.id) not in json.dumps(post.json)
    assert post.json["allowed_mentions"]["parse"] == []


async def test_a_named_story_and_the_archive_as_a_file(deployed: Deployment) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    ana = fake.add_member("ana")
    answer = await _tell(fake, ana, channel, {"text": "We met @everyone"}, "public")
    assert answer.startswith("Thank you: your story is #1 (public).")
    assert "/story-manage edit 1" in answer  # as it is done on Discord
    await deployed.deliver()
    post = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    assert post.json["embeds"][0]["title"] == "Story #1, told by Ana"
    ix = await fake.slash(ana, "export", {"text": "stories md"}, channel=channel)
    reply = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert reply.json["flags"] & 64
    (name, data), *_ = reply.files.items()
    assert name.endswith(".md") and "### #1 — Ana".encode() in data
    ix = await fake.slash(ana, "story-manage", {"text": "withdraw 1"}, channel=channel)
    withdrawn = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    assert "withdrawn" in withdrawn.json["content"]


async def test_a_long_story_is_told_once_however_often_its_button_is_clicked(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    ana = fake.add_member("ana")
    ix = await fake.slash(ana, "story", {}, channel=channel)
    await fake.interaction_response(ix, within=WITHIN)
    fields = {"text": "x" * 4000, "end": "y"}
    submit = await fake.modal_submit(ana, fake.modal_id(ix), fields)
    ask = await fake.interaction_response(submit, within=WITHIN)
    buttons = [c for row in ask.json["data"]["components"] for c in row["components"]]
    assert submit.original_id is not None
    mine = await fake.click(ana, submit.original_id, buttons[0]["custom_id"])
    answer = await fake.next_call("POST", mine.webhook_path, within=WITHIN)
    assert answer.json["content"].startswith("Thank you: your story is #1")
    again = await fake.click(ana, submit.original_id, buttons[0]["custom_id"])
    twice = await fake.interaction_response(again, within=WITHIN)
    assert "no longer waiting" in twice.json["data"]["content"]  # told once, not twice


async def _prompt_thread(deployed: Deployment, channel: FakeChannel) -> FakeChannel:
    """A steward asks "What changed for you?" in `channel`: the thread its posting opens."""
    fake = deployed.fake
    sam = fake.add_member("sam", roles=[fake.add_role("Stewards")])
    ix = await fake.slash(sam, "prompt", {"text": "What changed for you?"}, channel=channel)
    await fake.next_call("POST", ix.webhook_path, within=WITHIN)
    await deployed.deliver()
    posting = await fake.next_call("POST", rf"/channels/{channel.id}/messages", within=WITHIN)
    thread = await fake.next_call(
        "POST", rf"/channels/{channel.id}/messages/{posting.response['id']}/threads", within=WITHIN
    )
    return fake.channels[int(thread.response["id"])]


async def test_a_reply_in_a_prompts_thread_is_a_story_with_the_content_intent(
    deployed: Deployment,
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    async with deployed.restarted(message_content=True):
        in_thread = await _prompt_thread(deployed, channel)
        ana = fake.add_member("ana")
        await fake.member_message(in_thread, ana, "I work four days now @everyone")
        answer = await fake.next_call("POST", rf"/channels/{in_thread.id}/messages", within=WITHIN)
        assert answer.json["content"].startswith("Thank you: your story is #1, kept for the")
        assert answer.json["allowed_mentions"]["parse"] == []
        ix = await fake.slash(ana, "stories", {"text": ""}, channel=channel)
        listed = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
        assert "#1 by Ana" in listed.json["content"] and "(prompt #1)" in listed.json["content"]
        # A command typed in the thread belongs to the channel the thread hangs under.
        await fake.member_message(in_thread, ana, "!stories four")
        found = await fake.next_call("POST", rf"/channels/{in_thread.id}/messages", within=WITHIN)
        assert "#1 by Ana" in found.json["content"]


def _followed(monkeypatch: pytest.MonkeyPatch) -> asyncio.Queue[Reply | None]:
    """What the core answered each edit or deletion of a message the bot followed, in
    order: a test awaits it instead of guessing when the gateway event was handled."""
    done: asyncio.Queue[Reply | None] = asyncio.Queue()
    edited, deleted = Governance.thread_story_edited, Governance.thread_story_deleted

    async def on_edit(
        self: Governance, room: RoomRef, actor: AccountRef, message_id: str, text: str
    ) -> Reply | None:
        reply = await edited(self, room, actor, message_id, text)
        done.put_nowait(reply)
        return reply

    async def on_delete(
        self: Governance, room: RoomRef, actor: AccountRef | None, message_id: str
    ) -> Reply | None:
        reply = await deleted(self, room, actor, message_id)
        done.put_nowait(reply)
        return reply

    monkeypatch.setattr(Governance, "thread_story_edited", on_edit)
    monkeypatch.setattr(Governance, "thread_story_deleted", on_delete)
    return done


async def test_a_thread_story_follows_its_message_edited_and_deleted_with_the_content_intent(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = deployed.fake
    channel = fake.channel("governance")
    followed = _followed(monkeypatch)
    async with deployed.restarted(message_content=True):
        in_thread = await _prompt_thread(deployed, channel)
        ana = fake.add_member("ana")
        told = await fake.member_message(in_thread, ana, "I work four days now")
        answer = await fake.next_call("POST", rf"/channels/{in_thread.id}/messages", within=WITHIN)
        assert answer.json["content"].startswith("Thank you: your story is #1")

        await fake.member_edit(told, "I work four days now, and sleep more")
        async with asyncio.timeout(WITHIN):
            edited = await followed.get()
        assert edited is not None and edited.ok
        ix = await fake.slash(ana, "stories", {"text": ""}, channel=channel)
        listed = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
        assert "(prompt #1): I work four days now, and sleep more" in listed.json["content"]

        await fake.member_delete(told)
        async with asyncio.timeout(WITHIN):
            deleted = await followed.get()
        assert deleted is not None and deleted.ok
        # The same deletion again (a replayed event) changes nothing.
        event = {"id": told["id"], "channel_id": told["channel_id"], "guild_id": told["guild_id"]}
        await fake.dispatch(
            "MESSAGE_DELETE", event, in_thread.guild_id, intent=INTENT_GUILD_MESSAGES
        )
        async with asyncio.timeout(WITHIN):
            assert await followed.get() is None
        ix = await fake.slash(ana, "stories", {"text": ""}, channel=channel)
        listed = await fake.next_call("POST", ix.webhook_path, within=WITHIN)
        assert listed.json["content"] == "No stories yet. Tell one: !story <text>"
        assert not [
            c
            for c in fake.calls_to("POST", rf"/channels/{in_thread.id}/messages")
            if c is not answer
        ]  # followed quietly: the edit and the deletion show themselves
