"""The Discord adapter: one bot (one set of shards), through discord.py.

Members use slash commands (`slash`), the vote controls on each proposal card
(`components`) and, with the optional message-content intent, the same ``!`` text
commands as elsewhere. Every interaction is deferred before anything slow (Discord's
three seconds), answered ephemerally, and nothing the bot sends pings anyone. How long
each first answer took, and each gateway session resumed or made again, go to the
callbacks it is given (`on_first_response`, `on_reconnect`).

Forms (modals) are read here, each by the custom id of its own it was given (`forms`);
a form or control the bot does not know is answered as expired. What it says names
slash commands unless ``!`` ones work (the message-content intent), and a long answer
goes in several messages.

It is also the core's `Outlet` on Discord: cards as embeds with deadlines in each
reader's own time and persistent vote controls, a live tally edited at most once per
few seconds (`tally`), and at the end the card showing how the vote ended;
deliberation threads, and direct messages. Every send carries a nonce derived from the
delivery's key, so a retried delivery posts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import discord
from discord import app_commands, ui

from adapters.discord import render, slash
from adapters.discord.components import DYNAMIC_ITEMS, MarksModal, ReasonModal, card_view
from adapters.discord.forms import (
    ALREADY_SENT,
    EXPIRED_CONTROL,
    EXPIRED_FORM,
    Forms,
    Submitted,
    match_form,
    submitted_values,
)
from adapters.discord.menus import Menus
from adapters.discord.rooms import interaction_room, room_of
from adapters.discord.slash import ProposeModal
from adapters.discord.stories import (
    ConsentButton,
    Draft,
    Drafts,
    StoryModal,
    story_command,
    story_text_command,
)
from adapters.discord.sync import sync_guild
from adapters.discord.tally import DEFAULT_INTERVAL, TallyEdits
from governance.domain.commands import (
    Context,
    FollowPlatformClass,
    FollowPlatformRole,
    Join,
    TellStory,
)
from governance.domain.errors import GovernanceError
from governance.domain.ids import AccountRef, CommunityId, ProposalNumber, RoomRef
from governance.domain.members import Role
from governance.domain.stories import Consent, normalise_tags
from governance.service.app import Governance
from governance.service.ports import ChannelGone, DirectClosed
from governance.text.grammar import is_command, parse_propose_form
from governance.text.messages import Audience, Block, Message, Reply

log = logging.getLogger(__name__)

PLATFORM = "discord"
ACK = "✅"
READY_TIMEOUT = 30.0
CARD = "card"
RECENT_POSTS = 4096
"""How many announcements this process remembers having posted, by delivery key: a
delivery tried again after a later step failed (a result whose card edit failed) posts
its message no more, even after Discord has forgotten its nonce (a few minutes)."""
CONFLICTED = "\x00conflict"
"""A member's Discord roles map to different classes: their class is left alone."""
MEMBER_TTL = 60.0
"""Seconds a member is taken as known without asking the store (clicks come in bursts)."""
CLOSED_DMS = 50007
"""Discord's error code for a user who takes no direct messages from the bot."""
CLOSED_DMS_NOTICE = (
    "I could not send you a private message; use {command} (answered privately) or open "
    "your direct messages."
)
"""Said in the channel when a typed command's private answer cannot reach its author
(nothing of the answer: the channel sees it)."""
CONTROLS = (*DYNAMIC_ITEMS, ConsentButton)
FORMS: tuple[type[Submitted], ...] = (ProposeModal, ReasonModal, MarksModal, StoryModal)


class DiscordStartError(Exception):
    """Start-up cannot go on: the message says why (a bad token, no gateway)."""


class CardStore(Protocol):
    async def remember_poll(
        self, room_id: str, proposal: int, event_id: str, kind: str
    ) -> None: ...
    async def polls_of(self, room_id: str, proposal: int) -> list[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token: str = field(repr=False)
    guilds: tuple[int, ...] = ()
    """Guilds whose slash commands are synced at start (each at once, unlike global ones)."""
    role_names: Mapping[str, str] = field(default_factory=dict)
    """Discord role name → core role word: members' roles follow their Discord roles."""
    class_names: Mapping[str, str] = field(default_factory=dict)
    """Discord role name → stakeholder class: members' classes follow too."""
    message_content: bool = False
    """The privileged intent: only then do ``!`` text commands work in channels."""
    server_admins: bool = True
    """A server's owner and who may manage it are admins of the community bound there,
    when all its Discord channels are in that server (not one bound in several)."""
    shard_count: int | None = None
    """How many shards the bot runs in all; None lets Discord say (``GET /gateway/bot``)."""
    shard_ids: tuple[int, ...] | None = None
    """The shards this process runs (of `shard_count`); None: all of them."""
    tally_every: float = DEFAULT_INTERVAL
    """Seconds between two edits of a card's live tally (Discord limits edits)."""
    guild_ready_timeout: float = 2.0
    """How long discord.py waits for more guilds after the last one before READY."""

    @property
    def shard_set(self) -> str:
        """The name of this process's shards, for the lease that keeps them to one
        process: ``all``, or ``0,1/4``."""
        if self.shard_ids is None:
            return "all"
        return f"{','.join(map(str, self.shard_ids))}/{self.shard_count}"


def _unheard(*args: object) -> None:
    return None


class DiscordAdapter(discord.AutoShardedClient):
    def __init__(
        self,
        settings: DiscordSettings,
        governance: Governance,
        cards: CardStore,
        *,
        on_reconnect: Callable[[], None] = _unheard,
        on_first_response: Callable[[float], None] = _unheard,
    ) -> None:
        """`on_reconnect` is called each time a shard's gateway session is resumed or
        identified again (its first READY is no reconnect); `on_first_response` with
        the seconds from an interaction's creation to our first answer to it."""
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = settings.message_content
        shards: dict[str, Any] = {"shard_count": settings.shard_count}
        if settings.shard_ids is not None:
            shards["shard_ids"] = list(settings.shard_ids)
        super().__init__(
            intents=intents,
            allowed_mentions=render.NO_PINGS,
            guild_ready_timeout=settings.guild_ready_timeout,
            **shards,
        )
        self.settings = settings
        self._governance = governance
        self._cards = cards
        self._on_reconnect = on_reconnect
        self._on_first_response = on_first_response
        self._shards_seen: set[int] = set()
        """Shards that said READY once: another READY is a new session after a lost one."""
        self.menus = Menus(governance, PLATFORM)
        self.tallies = TallyEdits(
            governance.card_tally, self._show_tally, interval=settings.tally_every
        )
        self._unwatch_ballots: Callable[[], None] | None = None
        self.tree = app_commands.CommandTree(self)
        for command in (*slash.commands(), story_command(), story_text_command()):
            self.tree.add_command(command)
        self.drafts = Drafts()
        self.forms = Forms()
        self._runner: asyncio.Task[None] | None = None
        self._checked: dict[tuple[CommunityId, str], float] = {}
        """When each member's membership was last read from the store (`MEMBER_TTL`)."""
        self._known: dict[tuple[CommunityId, str], tuple[Role | None, str | None]] = {}
        """(community, account) pairs known to be members, with the role their Discord
        roles gave when last seen: a click needs no lookup, and a change is noticed."""
        self._posted: OrderedDict[tuple[str, str], int] = OrderedDict()
        """(channel, delivery key) → the message each recent announcement posted."""
        self._card_locks: weakref.WeakValueDictionary[tuple[str, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        """One per proposal and channel: a live tally's edit and the close's edit of its
        cards never interleave (a tally edit read before the close would undo it)."""

    # ------------------------------------------------------------------ lifecycle

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*CONTROLS)
        await self.menus.load()
        if self.settings.shard_ids is None or 0 in self.settings.shard_ids:
            # One process registers the commands: the one running shard 0 (`sync`).
            for guild in self.settings.guilds:
                await sync_guild(self, self.tree, guild)

    async def start_adapter(self) -> None:
        """Log in and connect; return once the gateway said READY."""
        try:
            await self.login(self.settings.token)
        except discord.LoginFailure:
            await self.close()
            raise DiscordStartError(
                "the Discord token was refused (FOLKMOOT_DISCORD_TOKEN)"
            ) from None
        except (OSError, discord.HTTPException) as error:
            await self.close()
            raise DiscordStartError(f"Discord is unreachable ({type(error).__name__})") from None
        self._runner = asyncio.create_task(self.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.ensure_future(self.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._runner}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            await self.stop_adapter()
            raise DiscordStartError("the Discord gateway did not become ready")
        # Every ballot this process takes, from any platform, refreshes the live tally.
        self._unwatch_ballots = self._governance.watch_ballots(self.tallies.touch)

    async def on_shard_connect(self, shard_id: int) -> None:
        """A shard's READY (after IDENTIFY): the first one, or a new session after
        Discord dropped the last one (an invalid session)."""
        if shard_id in self._shards_seen:
            self._on_reconnect()
            log.info("Discord shard %d connected again with a new session", shard_id)
        self._shards_seen.add(shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        """A shard's session resumed after its socket was closed (a reconnect that
        Discord asked for, or a dropped connection)."""
        self._on_reconnect()
        log.info("Discord shard %d resumed its session", shard_id)

    def answered(self, interaction: discord.Interaction) -> None:
        """Our first answer to `interaction` (a defer, a modal, a message) is given:
        how long after Discord made it (Discord allows three seconds)."""
        waited = datetime.now(UTC) - interaction.created_at
        self._on_first_response(waited.total_seconds())

    async def stop_adapter(self) -> None:
        if self._unwatch_ballots is not None:
            self._unwatch_ballots()
            self._unwatch_ballots = None
        await self.tallies.close()
        await self.close()
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._runner
            self._runner = None

    # ------------------------------------------------------------------ incoming

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Every form's submission (`adapters.discord.forms`), and the controls nothing
        else answers: one the bot no longer knows (an older release's) says so."""
        data: Mapping[str, Any] = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is discord.InteractionType.modal_submit:
            await self._form_sent(interaction, custom_id, data)
        elif interaction.type is discord.InteractionType.component and not any(
            control.__discord_ui_compiled_template__.fullmatch(custom_id) for control in CONTROLS
        ):
            log.info("a control the bot does not know was used: %r", custom_id)
            await self._say(interaction, EXPIRED_CONTROL)

    async def _form_sent(
        self, interaction: discord.Interaction, custom_id: str, data: Mapping[str, Any]
    ) -> None:
        found = match_form(FORMS, custom_id)
        if found is None:
            log.info("a form the bot does not know was sent: %r", custom_id)
            await self._say(interaction, EXPIRED_FORM)
            return
        kind, match = found
        if not self.forms.first_sending(int(match["opened"])):
            log.info("a form was sent again: %r", custom_id)
            await self._say(interaction, ALREADY_SENT)
        elif not await kind.submitted(interaction, match, submitted_values(data)):
            log.info("a form whose settings are gone was sent: %r", custom_id)
            await self._say(interaction, EXPIRED_FORM)

    async def _say(self, interaction: discord.Interaction, text: str) -> None:
        """An ephemeral first answer."""
        await interaction.response.send_message(text, ephemeral=True)
        self.answered(interaction)

    async def run_command(
        self, interaction: discord.Interaction, text: str, *, proposal: int | None = None
    ) -> None:
        """Defer at once (Discord's three seconds), then do the work and answer. A vote
        (`proposal`) also refreshes the cards' live tally."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.answered(interaction)
        reply = await self._handle(
            int(interaction_room(interaction)), interaction.user, text, interaction.created_at
        )
        if proposal is None and reply is not None and reply.ok:
            await self._refresh_menus(interaction)
        answer = reply.message if reply is not None else Message(None, ("Done.",))
        await self._answer(interaction, answer)
        if proposal is not None and reply is not None and reply.ok:
            await self._after_vote(interaction, proposal, answer)

    async def run_propose(
        self,
        interaction: discord.Interaction,
        *,
        title: str,
        body: str,
        options: str,
        settings: str,
    ) -> None:
        """``/propose``'s modal, submitted: its fields as written, never parsed."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.answered(interaction)
        channel = interaction_room(interaction)
        room = RoomRef(PLATFORM, str(channel))
        actor = AccountRef(PLATFORM, str(interaction.user.id))
        community = await self._joined(room, interaction.user)
        ctx = Context(actor, room, community, interaction.created_at.astimezone(UTC))
        try:
            cmd = parse_propose_form(
                ctx, title=title, body=body, options=options, settings=settings
            )
        except GovernanceError as error:
            reply = Reply.text(str(error), ok=False)
        else:
            reply = await self._governance.handle(cmd)
        await self._refresh_menus(interaction)
        await self._answer(interaction, reply.message)

    def _native(self, message: Message) -> Message:
        """`message` in Discord's words: slash commands where ``!`` ones do not work
        (without the message-content intent); with it, both work and ``!`` stays."""
        return message if self.settings.message_content else render.slashed(message)

    async def _answer(self, interaction: discord.Interaction, answer: Message) -> None:
        """The ephemeral follow-up(s) of a deferred interaction (a long answer, the
        command list, takes several), with its file if any on the last."""
        parts = render.texts(self._native(answer))
        for part in parts[:-1]:
            await interaction.followup.send(part, ephemeral=True, allowed_mentions=render.NO_PINGS)
        attachment = answer.attachment
        if attachment is None:
            await interaction.followup.send(
                parts[-1], ephemeral=True, allowed_mentions=render.NO_PINGS
            )
            return
        await interaction.followup.send(
            parts[-1],
            file=discord.File(io.BytesIO(attachment.data), filename=attachment.name),
            ephemeral=True,
            allowed_mentions=render.NO_PINGS,
        )

    async def _reply(self, message: discord.Message, said: Message) -> None:
        """An answer to a member's message, in as many messages as it takes."""
        for part in render.texts(self._native(said)):
            await message.reply(part, allowed_mentions=render.NO_PINGS)

    async def _direct(self, user: discord.User | discord.Member, said: Message) -> None:
        """A direct message to `user`, in as many messages as it takes."""
        for part in render.texts(self._native(said)):
            await user.send(part, allowed_mentions=render.NO_PINGS)

    async def tell_story(
        self, interaction: discord.Interaction, draft: Draft, consent: Consent
    ) -> None:
        """A story from `/story`'s modal, with the consent its author chose. Told to
        the bot alone (a private room), so the bot posts it for the community."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.answered(interaction)
        room = RoomRef(PLATFORM, str(draft.channel))
        community = await self._joined(room, interaction.user)
        actor = AccountRef(PLATFORM, str(interaction.user.id))
        private = RoomRef(PLATFORM, f"modal:{interaction.user.id}")
        ctx = Context(actor, private, community, interaction.created_at.astimezone(UTC))
        try:
            cmd = TellStory(
                ctx,
                draft.text,
                consent,
                prompt=draft.prompt,
                proposal=None if draft.proposal is None else ProposalNumber(draft.proposal),
                tags=normalise_tags(draft.tags),
            )
        except GovernanceError as error:
            reply = Reply.text(str(error), ok=False)
        else:
            reply = await self._governance.handle(cmd)
        await self._answer(interaction, reply.message)

    async def _refresh_menus(self, interaction: discord.Interaction) -> None:
        """After a command that may change what is pending (a proposal, an edit, a bind,
        an unbind …), before answering: what the member does next autocompletes it."""
        room = RoomRef(PLATFORM, interaction_room(interaction))
        community = await self._governance.community_of(room)
        if community is None:
            self.menus.forget(room.room_id)
        else:
            await self.menus.refresh(room.room_id, community)

    async def _after_vote(
        self, interaction: discord.Interaction, proposal: int, receipt: Message
    ) -> None:
        channel = interaction_room(interaction)
        community = self.menus.community(channel)
        if community is None:
            return
        form = self.menus.form(channel, proposal)
        if form is not None and form.secret:
            await self._receipt_by_dm(interaction, proposal, receipt)

    async def _receipt_by_dm(
        self, interaction: discord.Interaction, proposal: int, receipt: Message
    ) -> None:
        """A secret ballot's receipt, kept in the member's DMs too. Where they are
        closed, the member alone is told so: a word in the channel would show who voted."""
        try:
            await self._direct(interaction.user, receipt)
        except discord.Forbidden as error:
            if error.code != CLOSED_DMS:
                raise
            await interaction.followup.send(
                f"Your direct messages are closed to me, so this receipt for #{proposal} "
                "is not kept there: note its code now.",
                ephemeral=True,
                allowed_mentions=render.NO_PINGS,
            )

    async def on_message(self, message: discord.Message) -> None:
        """``!`` commands, and stories told in a prompt's thread (both need the
        message-content intent)."""
        if message.author.bot:
            return
        channel = int(room_of(message.channel, message.channel.id))
        if not is_command(message.content):
            # Without the intent Discord sends the message with its text blanked: it is
            # not an empty story, and no reply should say so.
            if isinstance(message.channel, discord.Thread) and self.settings.message_content:
                await self._story_in_thread(message, channel)
            return
        reply = await self._handle(channel, message.author, message.content, message.created_at)
        if reply is None:
            return
        if reply.audience is Audience.QUIET:
            if reply.ok:
                await message.add_reaction(ACK)
            if reply.must_read or not reply.ok:  # a receipt code, or a refusal: a DM
                await self._privately(message, reply)
        elif reply.audience is Audience.PRIVATE:  # for the member's eyes only (a code)
            await self._privately(message, reply)
        else:
            await self._reply(message, reply.message)

    async def _privately(self, message: discord.Message, reply: Reply) -> None:
        """The answer to a typed command, by direct message. Where that fails, the log
        says so (never its words), and the channel hears a notice that says nothing of
        the answer; but not for a receipt: a word in the channel would show who voted
        in a secret ballot."""
        what = "the receipt" if reply.must_read else "a private answer"
        author = message.author
        try:
            await self._direct(author, reply.message)
            return
        except discord.Forbidden as error:
            log.info(
                "%s to %s in channel %s was not sent by direct message: %s",
                what,
                author.id,
                message.channel.id,
                "their direct messages are closed" if error.code == CLOSED_DMS else error.status,
            )
        except discord.HTTPException as error:
            log.warning(
                "%s to %s in channel %s was not sent by direct message: %s",
                what,
                author.id,
                message.channel.id,
                error.status,
            )
            return
        if reply.must_read:
            return
        word = message.content.strip().removeprefix("!").split(maxsplit=1)[:1]
        name = word[0].lower() if word else ""
        command = f"/{name}" if self.tree.get_command(name) is not None else "its slash command"
        notice = CLOSED_DMS_NOTICE.format(command=command)
        with contextlib.suppress(discord.HTTPException):
            await message.reply(notice, allowed_mentions=render.NO_PINGS)

    async def _story_in_thread(self, message: discord.Message, channel: int) -> None:
        room = RoomRef(PLATFORM, str(channel))
        if await self._joined(room, message.author) is None:
            return
        reply = await self._governance.story_in_thread(
            room,
            str(message.channel.id),
            AccountRef(PLATFORM, str(message.author.id)),
            message.content,
            message.created_at.astimezone(UTC),
            message_id=str(message.id),
        )
        if reply is not None:
            await self._reply(message, reply.message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """A message edited in a thread: if it was told as a story and this is its
        author's edit, the story follows (needs the message-content intent: without it
        the new text is blank)."""
        message = payload.message
        if message.author.bot or not self.settings.message_content:
            return
        if not isinstance(message.channel, discord.Thread):
            return
        room = RoomRef(PLATFORM, room_of(message.channel, message.channel.id))
        actor = AccountRef(PLATFORM, str(message.author.id))
        reply = await self._governance.thread_story_edited(
            room, actor, str(message.id), message.content
        )
        if reply is not None and not reply.ok:  # refused: the story keeps its words
            with contextlib.suppress(discord.HTTPException):
                await self._reply(message, reply.message)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A message deleted: if it was told as a story in a prompt's thread, the story
        is withdrawn. Discord does not say who deleted it, and only its author or someone
        with Manage Messages can: the core takes it as the author's (README: Stories)."""
        channel = self.get_channel(payload.channel_id)
        if channel is not None and not isinstance(channel, discord.Thread):
            return  # stories are told in threads only
        room = RoomRef(PLATFORM, room_of(channel, payload.channel_id))
        await self._governance.thread_story_deleted(room, None, str(payload.message_id))

    async def _handle(
        self, channel_id: int, user: discord.abc.User, text: str, sent_at: datetime
    ) -> Reply | None:
        room = RoomRef(PLATFORM, str(channel_id))
        actor = AccountRef(PLATFORM, str(user.id))
        await self._joined(room, user)
        return await self._governance.handle_text(room, actor, text, sent_at.astimezone(UTC))

    async def _joined(self, room: RoomRef, user: discord.abc.User) -> CommunityId | None:
        """The room's community, with `user` a member of it (joined now if new)."""
        community = await self._governance.community_of(room)
        if community is None:
            self.menus.forget(room.room_id)  # unbound since it was loaded, perhaps
            return None
        actor = AccountRef(PLATFORM, str(user.id))
        key = (community, actor.account_id)
        server_admin = await self._server_admin(community, user)
        mapped = (self._mapped_role(user, server_admin), self._mapped_class(user))
        ctx = Context(actor, room, community, datetime.now(UTC))
        seen = self._known.get(key)
        if seen is not None and mapped[1] == CONFLICTED:  # which class? neither: as it was
            mapped = (mapped[0], seen[1])
        now = time.monotonic()
        if now - self._checked.get(key, -MEMBER_TTL) >= MEMBER_TTL:
            # Asked again now and then, not at every click: a member may have been
            # erased (and come back) meanwhile.
            found = await self._governance.member(community, actor)
            if found is None:
                granted = None if mapped[0] is Role.MEMBER else mapped[0]
                joined = await self._governance.handle(Join(ctx, _name(user)[:80], role=granted))
                if not joined.ok:
                    return community  # the command itself will say what is wrong
                if mapped[1] and mapped[1] != CONFLICTED:
                    await self._governance.handle(FollowPlatformClass(ctx, mapped[1]))
                seen = None  # just joined with what the roles give: nothing to follow
            elif found.role < Role.ADMIN and server_admin:
                # The server's owner or manager, a member from before: an admin now.
                await self._governance.handle(FollowPlatformRole(ctx, Role.ADMIN))
            self._checked[key] = now
        if seen is not None:
            # Their Discord roles changed since we last saw them: role and class follow.
            if mapped[0] is not None and seen[0] not in (None, mapped[0]):
                await self._governance.handle(FollowPlatformRole(ctx, mapped[0]))
            if mapped[1] is not None and seen[1] not in (None, mapped[1]):
                await self._governance.handle(FollowPlatformClass(ctx, mapped[1] or None))
        self._known[key] = mapped
        return community

    def _mapped_class(self, user: discord.abc.User) -> str | None:
        """The class `user`'s Discord roles give by the config ("" for none); None when
        the config maps no classes; `CONFLICTED` when roles map to different classes
        (the member's class is then left as it is, and the conflict logged)."""
        names = self.settings.class_names
        if not names:
            return None
        found = sorted({names[r] for r in _roles(user) if r in names})
        if len(found) > 1:
            log.warning("Discord roles mapped to different classes (%s): class unchanged", found)
            return CONFLICTED
        return found[0] if found else ""

    def _mapped_role(self, user: discord.abc.User, server_admin: bool) -> Role | None:
        """The role `user`'s Discord roles give by the config (the highest; member when
        none is mapped), admin for a `server_admin` (`_server_admin`); None when the
        config maps no Discord roles and servers give no admins."""
        names = self.settings.role_names
        if not names and not self.settings.server_admins:
            return None
        granted = [Role.named(names[r]) for r in _roles(user) if r in names]
        if server_admin:
            granted.append(Role.ADMIN)
        return max(granted, default=Role.MEMBER)

    async def _server_admin(self, community: CommunityId, user: discord.abc.User) -> bool:
        """Whether `user` owns the server or may manage it, and that makes them an admin
        of `community` (`server_admins`): only when every Discord channel bound to it is
        in that one server. A community bound in several servers (a partner's too) has
        its admins from the config, roles or `/role`: one server's managers are not
        admins of the others'. A bound channel the bot cannot see (deleted, or on
        another process's shards) counts as another server's."""
        if not self.settings.server_admins or not isinstance(user, discord.Member):
            return False
        permissions = user.resolved_permissions or user.guild_permissions
        if not (permissions.manage_guild or permissions.administrator):
            return False
        for room in await self._governance.rooms_of(community):
            if room.platform != PLATFORM:
                continue
            channel = self.get_channel(int(room.room_id)) if room.room_id.isdigit() else None
            guild = getattr(channel, "guild", None)
            if guild is None or guild.id != user.guild.id:
                return False
        return True

    # ------------------------------------------------------------------ outgoing (Outlet)

    async def _channel(self, channel_id: str) -> discord.abc.Messageable:
        try:
            channel = self.get_channel(int(channel_id)) or await self.fetch_channel(int(channel_id))
        except (discord.NotFound, discord.Forbidden) as error:
            raise ChannelGone(f"channel {channel_id}: {error.text or error.status}") from None
        if not isinstance(channel, discord.abc.Messageable):
            raise ChannelGone(f"channel {channel_id} takes no messages")
        return channel

    async def _send(
        self, channel_id: str, message: Message, key: str, view: ui.View | None = None
    ) -> discord.Message:
        channel = await self._channel(channel_id)
        try:
            if view is None:
                return await channel.send(
                    embed=render.embed(self._native(message)),
                    nonce=render.nonce(key),
                    allowed_mentions=render.NO_PINGS,
                )
            return await channel.send(
                embed=render.embed(self._native(message)),
                view=view,
                nonce=render.nonce(key),
                allowed_mentions=render.NO_PINGS,
            )
        except (discord.NotFound, discord.Forbidden) as error:
            raise ChannelGone(f"channel {channel_id}: {error.text or error.status}") from None

    async def post(self, room: RoomRef, message: Message, *, key: str) -> None:
        form = message.ballot
        posted = self._posted.get((room.room_id, key))
        if posted is None:
            view = card_view(form) if form is not None else None
            posted = (await self._send(room.room_id, message, key, view)).id
            self._posted[(room.room_id, key)] = posted
            while len(self._posted) > RECENT_POSTS:
                self._posted.popitem(last=False)
            self.menus.posted(room.room_id, message)
        if form is not None:
            await self._cards.remember_poll(room.room_id, form.proposal, str(posted), CARD)
        if message.ends_poll is not None:
            await self._end_cards(room.room_id, message.ends_poll, message)

    async def _end_cards(self, channel_id: str, proposal: int, ending: Message) -> None:
        """At close, cancellation or withdrawal: each card of `proposal` here shows how
        it ended, without its controls (a click would only be refused). A card deleted
        or out of reach is left; any other failure raises, so the delivery (its nonce
        keeps the ending posted once) is retried."""
        channel = await self._channel(channel_id)
        async with self._card_lock(channel_id, proposal):
            for message_id, kind in await self._cards.polls_of(channel_id, proposal):
                if kind != CARD:
                    continue
                try:
                    card = await channel.fetch_message(int(message_id))
                    if card.embeds:
                        final = render.final_card(card.embeds[0], self._native(ending))
                        await card.edit(embed=final, view=None, allowed_mentions=render.NO_PINGS)
                    else:
                        await card.edit(view=None)
                except (discord.NotFound, discord.Forbidden) as error:
                    log.warning(
                        "the card of #%d in channel %s could not show how it ended: %s",
                        proposal,
                        channel_id,
                        error.text or error.status,
                    )

    def _card_lock(self, channel_id: str, proposal: int) -> asyncio.Lock:
        return self._card_locks.setdefault((channel_id, proposal), asyncio.Lock())

    async def _show_tally(
        self, community: CommunityId, proposal: int, tally: tuple[Block, ...]
    ) -> None:
        """Edit each card of `proposal` in the community's channels to show its tally
        (`tally` when it was read; read again under each channel's card lock, so a close
        that edited the cards meanwhile is not undone: the vote is over then)."""
        for channel_id in self.menus.channels(community):
            async with self._card_lock(channel_id, proposal):
                tally = await self._governance.card_tally(community, proposal)
                if not tally:
                    return  # voting is over: the result is the card's last word
                for message_id, kind in await self._cards.polls_of(channel_id, proposal):
                    if kind != CARD:
                        continue
                    with contextlib.suppress(ChannelGone, discord.NotFound, discord.Forbidden):
                        channel = await self._channel(channel_id)
                        card = await channel.fetch_message(int(message_id))
                        if card.embeds and not render.is_final(card.embeds[0]):
                            await card.edit(embed=render.with_tally(card.embeds[0], tally))

    async def open_thread(self, room: RoomRef, message: Message, *, key: str) -> str:
        sent = await self._send(room.room_id, message, key)
        self.menus.posted(room.room_id, message)
        thread = await sent.create_thread(name=(message.title or "Deliberation")[:100])
        return str(thread.id)

    async def post_in_thread(
        self, room: RoomRef, thread: str, message: Message, *, key: str
    ) -> None:
        await self._send(thread, message, f"{key}-thread")

    async def tell(self, account: AccountRef, message: Message, *, key: str) -> None:
        try:
            dm = await self.create_dm(discord.Object(int(account.account_id)))
            for index, part in enumerate(render.texts(self._native(message))):
                nonce = render.nonce(key if index == 0 else f"{key}-{index}")
                await dm.send(part, nonce=nonce, allowed_mentions=render.NO_PINGS)
        except discord.Forbidden as error:
            if error.code == CLOSED_DMS:
                raise DirectClosed(
                    f"{account}: direct messages are closed", address=f"<@{account.account_id}>"
                ) from None
            raise ChannelGone(f"{account}: {error.text or error.status}") from None
        except discord.NotFound:
            raise ChannelGone(f"{account}: no such user") from None


def _name(user: discord.abc.User) -> str:
    return user.display_name or user.name


def _roles(user: discord.abc.User) -> list[str]:
    return [role.name for role in getattr(user, "roles", [])]
