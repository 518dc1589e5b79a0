"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; this module
mirrors it for queries (tests check the two agree)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = UTCDateTime()

communities = Table(
    "communities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("default_vote", String(32), nullable=False),
    Column("quorum", String(16)),
    Column("admins", JSON, nullable=False),
    Column("bridge_patterns", JSON, nullable=False),
    Column("weights", String(1000)),
    Column("class_quorum", String(1000)),
    Column("max_vote", String(16), nullable=False, server_default="90d"),
    Column("reminders", String(200), nullable=False, server_default="24h,1h"),
    Column("welcome_prompt", String(300)),
    Column("outcome_prompt_after", String(16)),
)

members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), ForeignKey("communities.id"), nullable=False),
    Column("display_name", String(80), nullable=False),
    Column("role", Integer, nullable=False),
    Column("stakeholder_class", String(40)),
    Column("is_bot", Boolean, nullable=False),
    Column("joined_at", TS, nullable=False),
    Column("merged_into", Integer),
    Column("erased_at", TS),
    Index("ix_members_community_name", "community_id", "display_name"),
)
"""A member whose accounts were linked into another's keeps its row, with
``merged_into`` (closed votes still refer to it); an erased one keeps its id alone,
with ``erased_at``. Neither has accounts, nor goes on a roll (migration 0009)."""

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), ForeignKey("communities.id"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("account_id", String(255), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id"), nullable=False),
    UniqueConstraint("community_id", "platform", "account_id", name="uq_accounts_account"),
)

bindings = Table(
    "bindings",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("room_id", String(255), primary_key=True),
    Column("community_id", String(64), ForeignKey("communities.id"), nullable=False),
    Column("bound_at", TS, nullable=False),
    Column("encrypted", Boolean, nullable=False, server_default=false()),
)

proposals = Table(
    "proposals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), ForeignKey("communities.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("author_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("method", String(32), nullable=False),
    Column("options", JSON, nullable=False),
    Column("policy", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("closed_as", String(16)),
    Column("vote_length", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("opens_at", TS),
    Column("opened_at", TS),
    Column("closes_at", TS),
    Column("closed_at", TS),
    Column("roll_size", Integer, nullable=False),
    Column("result", JSON),
    Column("encrypted_origin", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("community_id", "number", name="uq_proposals_number"),
)

roll = Table(
    "roll",
    metadata,
    Column("proposal_id", Integer, ForeignKey("proposals.id"), primary_key=True),
    Column("member_id", Integer, ForeignKey("members.id"), primary_key=True),
    Column("stakeholder_class", String(40)),
)
"""The voter roll, frozen when voting opens, with each voter's class at that moment."""

ballots = Table(
    "ballots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False),
    Column("voter_key", String(80), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id")),
    Column("choice", JSON, nullable=False),
    Column("cast_at", TS),
    Column("stakeholder_class", String(40)),
    UniqueConstraint("proposal_id", "voter_key", name="uq_ballots_voter"),
)
"""One ballot per voter per proposal. Open votes: voter_key ``m<member>``, member_id
and cast_at set. Secret votes: voter_key a keyed tag, member_id and cast_at NULL.
stakeholder_class is the voter's class on the roll (for class quorums and weights)."""

ballot_history = Table(
    "ballot_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("choice", JSON),
    Column("at", TS, nullable=False),
    Index("ix_ballot_history_proposal_member", "proposal_id", "member_id"),
)
"""Open votes only: every cast, change and withdrawal (choice NULL)."""

proposal_keys = Table(
    "proposal_keys",
    metadata,
    Column("proposal_id", Integer, ForeignKey("proposals.id"), primary_key=True),
    Column("secret_key", LargeBinary, nullable=False),
)
"""The key that links secret ballots to voters while the vote is open; deleted at close."""

outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False, index=True),
    Column("statement", Text, nullable=False),
    Column("recorded_by", Integer, ForeignKey("members.id"), nullable=False),
    Column("recorded_at", TS, nullable=False),
)

decision_log = Table(
    "decision_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", String(40), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("proposal", Integer),
    Column("actor", Integer),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("community_id", "seq", name="uq_decision_log_seq"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("routed_at", TS),
    Index("ix_outbox_unrouted", "routed_at", "id"),
)
"""Committed events, in order. The dispatcher routes each into its deliveries.
``ix_outbox_unrouted`` serves two scans: the dispatcher's (``routed_at IS NULL``, by
id) and retention's (``routed_at <`` a cut-off, by ``routed_at, id``); a partial index
for the first alone would leave retention reading the whole table."""

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, ForeignKey("outbox.id"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("channel", String(300), nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("next_attempt_at", TS, nullable=False),
    Column("claimed_until", TS),
    Column("first_failed_at", TS),
    Column("delivered_at", TS),
    Column("dead_at", TS),
    Column("last_error", Text),
    UniqueConstraint("outbox_id", "channel", name="uq_deliveries_channel"),
    Index(
        "ix_deliveries_open",
        "channel",
        "outbox_id",
        sqlite_where=text("delivered_at IS NULL AND dead_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL AND dead_at IS NULL"),
    ),
    Index("ix_deliveries_dead", "dead_at"),
)
"""One event to one channel (``room:<platform>:<room>`` or ``dm:<platform>:<account>``):
delivered in outbox order per channel, retried with backoff, and given up on (dead)
when the channel is gone for good."""

due_work = Table(
    "due_work",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("proposal_id", Integer, ForeignKey("proposals.id")),
    Column("due_at", TS, nullable=False),
    Column("done_at", TS),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("detail", String(32)),
    Column("prompt_id", Integer, ForeignKey("prompts.id"), index=True),
    Index("ix_due_work_pending", "done_at", "due_at"),
)
"""Every timed thing, one row each: a proposal's (proposal_id) or a prompt's posting
(prompt_id). A row that ran keeps its done_at."""

# Deliberation (migration 0004).

proposal_versions = Table(
    "proposal_versions",
    metadata,
    Column("proposal_id", Integer, ForeignKey("proposals.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("edited_by", Integer, ForeignKey("members.id"), nullable=False),
    Column("edited_at", TS, nullable=False),
)
"""Every version of a proposal's text: version 1 as proposed, one more per edit."""

summaries = Table(
    "summaries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("written_by", Integer, ForeignKey("members.id"), nullable=False),
    Column("written_at", TS, nullable=False),
)
"""Every summary of a deliberation; the latest is the current one."""

threads = Table(
    "threads",
    metadata,
    Column("proposal_id", Integer, ForeignKey("proposals.id"), primary_key=True),
    Column("platform", String(16), primary_key=True),
    Column("room_id", String(255), primary_key=True),
    Column("thread_id", String(255), nullable=False),
    Column("recorded_at", TS, nullable=False),
)
"""Where each room holds a proposal's deliberation thread (adapters create threads)."""


platform_events = Table(
    "platform_events",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("seen_at", TS, nullable=False),
    Index("ix_platform_events_seen_at", "seen_at"),
)
"""Platform events already handled (a Matrix event id): a replayed one is not handled
twice, across restarts and instances. Retention removes the oldest by ``seen_at``
(migration 0015 indexed it)."""

direct_rooms = Table(
    "direct_rooms",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("account_id", String(255), primary_key=True),
    Column("room_id", String(255), nullable=False),
)
"""The private room the bot shares with each member, created on demand and reused."""

platform_polls = Table(
    "platform_polls",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("room_id", String(255), nullable=False),
    Column("proposal", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Index("ix_platform_polls_room", "platform", "room_id", "proposal"),
)
"""What a platform posted for a proposal and edits later: native polls (a Matrix poll
start, by its event type), so their responses count as ballots and their end is sent at
close, and the proposal's card (kind ``m.room.message`` on Matrix; Discord's cards too),
so it can be edited with the live tally and at close."""


# Narrative prompts (migration 0008).

prompts = Table(
    "prompts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), ForeignKey("communities.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("question", String(300), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rule", String(200)),
    Column("proposal_id", Integer, ForeignKey("proposals.id")),
    Column("next_at", TS),
    Column("postings", Integer, nullable=False, default=0, server_default="0"),
    Column("last_posted_at", TS),
    Column("created_by", Integer, ForeignKey("members.id")),
    Column("created_at", TS, nullable=False),
    Column("encrypted_origin", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("community_id", "number", name="uq_prompts_number"),
    Index(
        "uq_prompts_welcome",
        "community_id",
        unique=True,
        sqlite_where=text("kind = 'welcome'"),
        postgresql_where=text("kind = 'welcome'"),
    ),
    Index(
        "uq_prompts_outcome",
        "proposal_id",
        unique=True,
        sqlite_where=text("kind = 'outcome'"),
        postgresql_where=text("kind = 'outcome'"),
    ),
)
"""Narrative prompts: numbered per community apart from proposals. One welcome prompt
per community at most, one outcome prompt per proposal."""

prompt_threads = Table(
    "prompt_threads",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("room_id", String(255), primary_key=True),
    Column("thread_id", String(255), primary_key=True),
    Column("prompt_id", Integer, ForeignKey("prompts.id"), nullable=False, index=True),
    Column("posting", Integer, nullable=False),
    Column("recorded_at", TS, nullable=False),
)
"""The thread each posting of a prompt opened in each room (adapters open threads; the
core records them), so a reply in a thread can be mapped back to its prompt."""

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), ForeignKey("communities.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("consent", String(16), nullable=False),
    Column("author_id", Integer, ForeignKey("members.id")),
    Column("author_tag", String(64)),
    Column("prompt", Integer),
    Column("proposal", Integer),
    Column("tags", String(400), nullable=False),
    Column("told_at", TS, nullable=False),
    Column("edited_at", TS),
    Column("hidden_reason", Text),
    Column("encrypted_origin", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("community_id", "number", name="uq_stories_number"),
    Index("ix_stories_prompt", "community_id", "prompt"),
    Index("ix_stories_proposal", "community_id", "proposal"),
    Index(
        "ix_stories_listed",
        "community_id",
        "number",
        sqlite_where=text("hidden_reason IS NULL"),
        postgresql_where=text("hidden_reason IS NULL"),
    ),
)
"""Members' stories. ``tags`` is `` a b `` (each tag between spaces, for LIKE). An
anonymous story has no ``author_id``, only ``author_tag``. Its text is searched through
``stories_fts`` (SQLite FTS5, kept by triggers) or a GIN index on
``to_tsvector('simple', text)`` (PostgreSQL); neither is mirrored here."""

# Linked accounts (migration 0009).

link_codes = Table(
    "link_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", String(64), ForeignKey("communities.id"), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("issued_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    UniqueConstraint("code_hash", name="uq_link_codes_code_hash"),
)
"""One-time codes that link an account to the member who asked for one: only a keyed
hash of each is kept. A used code stays (with ``used_at``) a day, so a second use is
told apart from a wrong code."""

link_attempts = Table(
    "link_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("account_id", String(255), nullable=False),
    Column("at", TS, nullable=False),
    Index("ix_link_attempts_account", "platform", "account_id", "at"),
)
"""Refused codes, per account sending them, for the limit on tries (kept an hour)."""

story_numbers = Table(
    "story_numbers",
    metadata,
    Column("community_id", String(64), ForeignKey("communities.id"), primary_key=True),
    Column("last", Integer, nullable=False),
)
"""Each community's last story number: numbers are never given twice, even after the
newest story is withdrawn."""

story_tags = Table(
    "story_tags",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(30), primary_key=True),
    Column("community_id", String(64), nullable=False),
    Index("ix_story_tags_tag", "community_id", "tag", "story_id"),
)
"""Each story's tags, one row each, for tag filters (``stories.tags`` keeps them for
showing)."""

story_sources = Table(
    "story_sources",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("message_id", String(255), nullable=False),
    UniqueConstraint("platform", "message_id", name="uq_story_sources_message"),
)
"""The chat message a story told in a prompt's thread came from (migration 0016): an
edit of it by its author edits the story, its deletion withdraws it. Ids only, never
text."""

UNMIRRORED = ("stories_fts", "ix_stories_fts")
"""Prefixes of what migrations create for full-text search and this module does not
mirror (FTS5's virtual table and its shadow tables; PostgreSQL's GIN index)."""


# Receipts of secret ballots (migration 0010).

receipts = Table(
    "receipts",
    metadata,
    Column("proposal_id", Integer, ForeignKey("proposals.id"), primary_key=True),
    Column("code", String(16), primary_key=True),
    Column("holder", String(80)),
    UniqueConstraint("proposal_id", "holder", name="uq_receipts_holder"),
)
"""One receipt code per counted secret ballot, with no voter column. While the vote is
open ``holder`` is a keyed tag (`governance.domain.receipts.receipt_holder`) that finds
the row again when its voter changes or withdraws their ballot; at close it is cleared
and the rows are rewritten in code order, so neither a column nor the row order links a
code to a voter or to a ballot."""
federation_parts = Table(
    "federation_parts",
    metadata,
    Column("federation_proposal_id", Integer, ForeignKey("proposals.id"), primary_key=True),
    Column("community_id", String(64), ForeignKey("communities.id"), primary_key=True),
    Column("part_proposal_id", Integer, ForeignKey("proposals.id"), nullable=False),
    Column("roll", Integer, nullable=False),
    Column("weight", Integer, nullable=False),
    UniqueConstraint("part_proposal_id", name="uq_federation_parts_part_proposal_id"),
)
"""A federation proposal's parts: the vote it opened in each member community, with that
community's roll when it opened and its weight at federation level."""
