"""The story archive: listing, searching and exporting 100,000 stories, on SQLite (FTS5)
and PostgreSQL (``to_tsvector('simple', …)`` under GIN).

    python -m bench.stories [--sqlite-only] [--pg-url URL] [--stories N] [--runs N]
                            [--exports N] [--quick]

Each database gets an archive of one community built through ``bootstrap()`` (a SQLite
file in a temporary directory, WAL as in production; a scratch PostgreSQL database
``folkmoot_bench_<hex>``, dropped at the end): 200 members who joined, 20 proposals
proposed through the app, then the stories inserted in bulk through SQLAlchemy Core
(the FTS5 triggers and the GIN index keep the search indexes as they do in use). The
text is drawn from a vocabulary with a Zipf-like distribution, so very common, topical
and rare words all exist; stories carry tags, some a prompt or a proposal, all three
consents, and a few are hidden. On PostgreSQL the tables are then vacuumed and analysed,
as autovacuum would soon do after such an insert; SQLite gets nothing (folkmoot never
runs ANALYZE there).

Every query goes the real way: ``Governance.handle_text(room, member, "!stories …")``
in a bound room, so parsing, the handler, the queries, author names and rendering all
count. The queries run round-robin, ``--runs`` rounds after a warm-up, so each sees the
same conditions; the figures are medians and nearest-rank p95s. Each reply's total
("…, N in all") is checked against what the generator put in, and the export's story
count too, or the benchmark stops with an error.

References, in the same process on the same database: ``!status 1`` through the same
path, and one story read by its number in a read-only unit of work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import platform
import random
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from bot.bootstrap import App, bootstrap, ensure_binding
from bot.config import CommunityConfig
from bot.runner import settle_memory
from governance.domain.commands import Context, Join
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.members import Role
from governance.domain.stories import Consent
from governance.service.clocks import SystemClock
from governance.service.ports import SEARCH_COUNT_LIMIT
from governance.service.stories import PAGE
from governance.store import tables as t
from governance.store.engine import make_engine
from governance.text import story_export

COMMUNITY = CommunityId("bench")
ROOM = RoomRef("bench", "room")
MEMBERS = 200
PROPOSALS = 20
PROMPTS = 50
TARGET_P95_MS = 50.0
TARGET_EXPORT_S = 5.0
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_TOTAL = re.compile(r"— page (\d+)(?: of \d+)?, (more than )?([\d,]+) in all\b")
_EXPORTED = re.compile(r": ([\d,]+), in ")
_WORD = re.compile(r"[a-z]+")


class BenchError(Exception):
    """Set-up or a check went wrong: the figures would mean nothing."""


def progress(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def percentile(values: Sequence[float], q: int) -> float:
    """Nearest-rank percentile (q in 1..100): the smallest value with q % at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[rank - 1]


def _account(i: int) -> AccountRef:
    return AccountRef("bench", f"m{i}")


# --------------------------------------------------------------------------- the archive


def _words(text: str) -> list[str]:
    return text.split()


# The most frequent words first; the rest of the vocabulary is made of syllables.
_COMMON = _words(
    "the and we to a of in it was i our that for my on with they is at had were when "
    "us this but as all from so be there one what first our you their them not by have "
    "an out up more about who after then would could time year years people day work "
    "new back over just every how before still because made no only some into each "
    "other like many members month week morning"
)
_TOPICAL = _words(
    "kitchen bakery van market vote meeting members coop bread shift wages rent "
    "garden harvest roof winter summer delivery customers bike repair workshop school "
    "children neighbours proposal decision assembly budget loan bank share surplus "
    "warehouse farm cheese coffee printing bookshop housing tenants childcare clinic "
    "training newcomer founder federation union strike festival library cleaning "
    "software servers moderation translation accounts audit insurance solar wind "
    "water well tractor oven orchard honey wool pottery radio newsletter"
)
_SYLLABLES = _words(
    "ba be bi bo bu da de di do du fa fe fi fo ka ke ki ko ku la le li lo lu ma me mi "
    "mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu "
    "va ve vi vo za ze zi zo"
)
_TAGS = _words(
    "founding kitchen money housing food work decision newcomer van winter training "
    "conflict joy health children garden market repair tech federation"
)


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = list(dict.fromkeys(_COMMON + _TOPICAL))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(n: int, s: float = 1.0, q: float = 2.7) -> list[float]:
    """Zipf–Mandelbrot: the word of rank r (from 1) weighs 1 / (r + q)^s."""
    return [1.0 / (r + q) ** s for r in range(1, n + 1)]


@dataclass(slots=True)
class Archive:
    """What the generator put in, for the checks."""

    stories: int
    visible: int
    doc_freq: Counter[str]
    """Visible stories holding each word."""
    pair: tuple[str, str]
    pair_count: int
    tag_count: Counter[str]
    proposal_count: Counter[int]
    consents: Counter[str]
    chars: int
    seed_s: float = 0.0


def _story_text(rng: random.Random, words: list[str], cum: list[float]) -> str:
    n = rng.randint(40, 100)
    drawn = rng.choices(words, cum_weights=cum, k=n)
    out: list[str] = []
    start = 0
    while start < n:
        end = min(n, start + rng.randint(6, 16))
        sentence = " ".join(drawn[start:end])
        out.append(sentence[0].upper() + sentence[1:] + ".")
        start = end
    return " ".join(out)


def generate(
    n: int, member_ids: list[int], proposals: list[int], rng: random.Random, pair: tuple[str, str]
) -> tuple[list[dict[str, Any]], Archive]:
    words = vocabulary(30_000, rng)
    cum: list[float] = []
    acc = 0.0
    for w in zipf_weights(len(words)):
        acc += w
        cum.append(acc)
    tag_cum: list[float] = []
    acc = 0.0
    for w in zipf_weights(len(_TAGS), q=1.0):
        acc += w
        tag_cum.append(acc)
    author_cum: list[float] = []
    acc = 0.0
    for w in zipf_weights(len(member_ids), s=0.8):
        acc += w
        author_cum.append(acc)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    step = timedelta(days=5 * 365) / n
    rows: list[dict[str, Any]] = []
    archive = Archive(n, 0, Counter(), pair, 0, Counter(), Counter(), Counter(), 0)
    for number in range(1, n + 1):
        text = _story_text(rng, words, cum)
        consent = rng.choices((Consent.COMMUNITY, Consent.PUBLIC, Consent.ANONYMOUS), (60, 25, 15))[
            0
        ]
        author = rng.choices(member_ids, cum_weights=author_cum)[0]
        tags = sorted(set(rng.choices(_TAGS, cum_weights=tag_cum, k=rng.choice((0, 1, 1, 2, 3)))))
        prompt = rng.randint(1, PROMPTS) if rng.random() < 0.4 else None
        proposal = rng.choice(proposals) if rng.random() < 0.1 else None
        hidden = "off topic" if rng.random() < 0.005 else None
        anonymous = consent is Consent.ANONYMOUS
        rows.append(
            {
                "community_id": COMMUNITY,
                "number": number,
                "text": text,
                "consent": consent.value,
                "author_id": None if anonymous else author,
                "author_tag": secrets.token_hex(32) if anonymous else None,
                "prompt": prompt,
                "proposal": proposal,
                "tags": f" {' '.join(tags)} ",
                "told_at": start + step * number,
                "edited_at": None,
                "hidden_reason": hidden,
            }
        )
        archive.chars += len(text)
        archive.consents[consent.value] += 1
        if hidden is not None:
            continue
        archive.visible += 1
        present = set(_WORD.findall(text.lower()))
        archive.doc_freq.update(present)
        if pair[0] in present and pair[1] in present:
            archive.pair_count += 1
        archive.tag_count.update(tags)
        if proposal is not None:
            archive.proposal_count[proposal] += 1
    return rows, archive


# --------------------------------------------------------------------------- backends


class SqliteBackend:
    name = "SQLite"

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="folkmoot-bench-")

    async def start(self) -> str:
        return f"sqlite:///{Path(self._dir.name) / 'stories.db'}"

    def size_mb(self) -> float:
        return sum(f.stat().st_size for f in Path(self._dir.name).iterdir()) / 1e6

    async def close(self) -> None:
        self._dir.cleanup()


class PgBackend:
    """A scratch database, folkmoot_bench_<hex>, made at start and dropped at the end."""

    name = "PostgreSQL"

    def __init__(self, admin_url: str) -> None:
        self._admin_url = make_url(admin_url)
        self.database = f"folkmoot_bench_{secrets.token_hex(4)}"
        self._user: str | None = None
        self._made = False

    async def _admin(self) -> Any:
        url = self._admin_url
        users = [url.username] if url.username else []
        users += [u for u in ("postgres", "root") if u not in users]
        errors = []
        for user in users if self._user is None else [self._user]:
            try:
                conn = await asyncpg.connect(
                    host=url.host or "127.0.0.1",
                    port=url.port or 5432,
                    user=user,
                    password=url.password,
                    database=url.database or "postgres",
                    timeout=5,
                )
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                errors.append(f"{user}: {error!r}")
                continue
            self._user = user
            return conn
        raise BenchError(f"cannot reach PostgreSQL at {url.host}:{url.port}: {'; '.join(errors)}")

    @property
    def url(self) -> str:
        url = self._admin_url.set(
            drivername="postgresql", username=self._user, database=self.database
        )
        return url.render_as_string(hide_password=False)

    async def start(self) -> str:
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{self.database}"')
            self._made = True
        finally:
            await admin.close()
        return self.url

    async def vacuum_analyze(self) -> None:
        url = self._admin_url
        conn = await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=self._user,
            password=url.password,
            database=self.database,
        )
        try:
            await conn.execute("VACUUM ANALYZE stories, story_tags")
        finally:
            await conn.close()

    async def size_mb(self) -> float:
        admin = await self._admin()
        try:
            size = await admin.fetchval("SELECT pg_database_size($1)", self.database)
        finally:
            await admin.close()
        return float(size) / 1e6

    async def close(self) -> None:
        if not self._made:
            return
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        finally:
            await admin.close()


Backend = SqliteBackend | PgBackend


# --------------------------------------------------------------------------- measuring


@dataclass(slots=True)
class Query:
    name: str
    text: str
    expected: list[int]
    """The story numbers it must list, newest first (all pages)."""
    page: int = 1
    times: list[float] = field(default_factory=list)

    @property
    def expected_total(self) -> int:
        return len(self.expected)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.times, 95) * 1000


@dataclass(slots=True)
class Export:
    fmt: str
    times: list[float] = field(default_factory=list)
    size: int = 0

    @property
    def median_s(self) -> float:
        return statistics.median(self.times)


@dataclass(slots=True)
class Result:
    db: str
    archive: Archive
    queries: list[Query]
    status: Query
    lookup: Query
    exports: list[Export]
    read_all_s: float
    render_md_s: float
    db_mb: float
    runs: int


async def seed(app: App, n: int, rng: random.Random) -> tuple[Archive, list[Query]]:
    started = time.perf_counter()
    await ensure_binding(app, ROOM, COMMUNITY)
    gov = app.governance
    for i in range(MEMBERS):
        reply = await gov.handle(
            Join(
                Context(_account(i), ROOM, COMMUNITY, datetime.now(UTC)),
                f"member{i}",
                role=Role.ADMIN if i == 0 else None,
            )
        )
        if not reply.ok:
            raise BenchError(f"join of m{i} failed: {reply.message.plain()}")
    for k in range(1, PROPOSALS + 1):
        proposed = await gov.handle_text(
            ROOM, _account(0), f"!propose Bench proposal {k} vote=30d", datetime.now(UTC)
        )
        if proposed is None or not proposed.ok:
            raise BenchError(f"!propose failed: {proposed and proposed.message.plain()!r}")
    async with app.engine.connect() as conn:
        member_ids = list(
            await conn.scalars(select(t.members.c.id).where(t.members.c.community_id == COMMUNITY))
        )
    rows, archive = generate(n, member_ids, list(range(1, PROPOSALS + 1)), rng, PAIR)
    qs = queries(archive, rows)
    chunk = 5_000
    for i in range(0, len(rows), chunk):
        async with app.engine.begin() as conn:
            await conn.execute(insert(t.stories), rows[i : i + chunk])
            # Each story's tags in story_tags too, as StoryRepo.add writes them.
            numbers = [r["number"] for r in rows[i : i + chunk]]
            found = await conn.execute(
                select(t.stories.c.id, t.stories.c.number, t.stories.c.tags).where(
                    t.stories.c.community_id == COMMUNITY, t.stories.c.number.in_(numbers)
                )
            )
            tags = [
                {"story_id": r.id, "tag": tag, "community_id": COMMUNITY}
                for r in found
                for tag in set(r.tags.split())
            ]
            if tags:
                await conn.execute(insert(t.story_tags), tags)
        progress(".")
    del rows
    archive.seed_s = time.perf_counter() - started
    return archive, qs


PAIR = ("market", "winter")


def queries(archive: Archive, rows: list[dict[str, Any]]) -> list[Query]:
    """The timed queries, each with the story numbers it must list (newest first),
    worked out from the rows as generated."""
    pages = math.ceil(archive.visible / PAGE)
    freq = archive.doc_freq
    common = freq.most_common(1)[0][0]
    topical = "kitchen"
    # The rarest word that is still in a handful of stories.
    rare = min((w for w, c in freq.items() if 3 <= c <= 10), key=lambda w: (freq[w], w))
    tag, rare_tag = archive.tag_count.most_common()[0][0], archive.tag_count.most_common()[-1][0]
    proposal = archive.proposal_count.most_common(1)[0][0]
    topical_pages = math.ceil(freq[topical] / PAGE)
    Match = Callable[[dict[str, Any], set[str]], bool]
    every: Match = lambda row, words: True  # noqa: E731
    specs: list[tuple[str, str, int, Match]] = [
        ("list, page 1", "!stories", 1, every),
        (f"list, middle page ({pages // 2:,})", f"!stories page={pages // 2}", pages // 2, every),
        (f"list, last page ({pages:,})", f"!stories page={pages}", pages, every),
        (f"most common word ({common})", f"!stories {common}", 1, lambda r, w: common in w),
        (
            f"most common word, page 20 ({common})",
            f"!stories {common} page=20",
            20,
            lambda r, w: common in w,
        ),
        (f"topical word ({topical})", f"!stories {topical}", 1, lambda r, w: topical in w),
        (
            f"topical word, last page ({topical_pages})",
            f"!stories {topical} page={topical_pages}",
            topical_pages,
            lambda r, w: topical in w,
        ),
        (f"rare word ({rare})", f"!stories {rare}", 1, lambda r, w: rare in w),
        (
            f"two words ({' '.join(PAIR)})",
            f"!stories {' '.join(PAIR)}",
            1,
            lambda r, w: PAIR[0] in w and PAIR[1] in w,
        ),
        (f"tag (tag:{tag})", f"!stories tag:{tag}", 1, lambda r, w: f" {tag} " in r["tags"]),
        (
            f"rare tag (tag:{rare_tag})",
            f"!stories tag:{rare_tag}",
            1,
            lambda r, w: f" {rare_tag} " in r["tags"],
        ),
        (
            f"proposal (proposal:{proposal})",
            f"!stories proposal:{proposal}",
            1,
            lambda r, w: r["proposal"] == proposal,
        ),
    ]
    found: list[list[int]] = [[] for _ in specs]
    for row in rows:
        if row["hidden_reason"] is not None:
            continue
        words = set(_WORD.findall(row["text"].lower()))
        for i, (*_, matches) in enumerate(specs):
            if matches(row, words):
                found[i].append(row["number"])
    return [
        Query(name, text_, numbers[::-1], page)
        for (name, text_, page, _), numbers in zip(specs, found, strict=True)
    ]


async def ask(app: App, text: str) -> Any:
    reply = await app.governance.handle_text(ROOM, _account(1), text, datetime.now(UTC))
    if reply is None or not reply.ok:
        raise BenchError(f"{text!r} failed: {reply and reply.message.plain()!r}")
    return reply


def check_listing(query: Query, reply: Any) -> None:
    lines = reply.message.plain().splitlines()
    found = _TOTAL.search(lines[0]) if lines else None
    if found is None:
        raise BenchError(f"{query.text!r}: unexpected reply {lines[:3]!r}")
    page, more, total = int(found[1]), found[2] is not None, int(found[3].replace(",", ""))
    searching = query.text.split()[1:2] != [] and not query.text.split()[1].startswith(
        ("page=", "proposal:", "prompt:")
    )
    capped = (
        searching
        and query.expected_total > SEARCH_COUNT_LIMIT
        and query.page * PAGE <= SEARCH_COUNT_LIMIT
    )
    expected = SEARCH_COUNT_LIMIT if capped else query.expected_total
    if (total, more, page) != (expected, capped, query.page):
        raise BenchError(
            f"{query.text!r}: page {page}, {'more than ' * more}{total} in all; expected page "
            f"{query.page}, {'more than ' * capped}{expected}"
        )
    shown = [int(line[1:].split()[0]) for line in lines[1:] if line.startswith("#")]
    wanted = query.expected[(page - 1) * PAGE : page * PAGE]
    if shown != wanted:
        raise BenchError(f"{query.text!r}: listed {shown}, expected {wanted}")


async def timed(app: App, query: Query, check: bool = False) -> None:
    start = time.perf_counter()
    reply = await ask(app, query.text)
    query.times.append(time.perf_counter() - start)
    if check:
        check_listing(query, reply)


async def lookup_one(app: App, number: int, query: Query) -> None:
    start = time.perf_counter()
    async with app.factory(read_only=True) as uow:
        story = await uow.stories.get(COMMUNITY, number)
    query.times.append(time.perf_counter() - start)
    if story is None or story.number != number:
        raise BenchError(f"story #{number} was not found")


async def export(app: App, fmt: str, expected: int, into: Export) -> None:
    start = time.perf_counter()
    reply = await ask(app, f"!export stories {fmt}")
    into.times.append(time.perf_counter() - start)
    attachment = reply.message.attachment
    found = _EXPORTED.search(reply.message.plain())
    if attachment is None or found is None or int(found.group(1).replace(",", "")) != expected:
        raise BenchError(f"!export stories {fmt}: {reply.message.plain()!r}")
    into.size = len(attachment.data)
    del reply, attachment


async def export_parts(app: App) -> tuple[float, float]:
    """Seconds to read every visible story (StoryRepo.all), and to render them as
    Markdown (Book.markdown), each timed alone."""
    start = time.perf_counter()
    async with app.factory(read_only=True) as uow:
        stories = await uow.stories.all(COMMUNITY, tuple(Consent))
    read = time.perf_counter() - start
    book = story_export.Book(COMMUNITY, datetime.now(UTC), stories, {}, {}, {})
    start = time.perf_counter()
    book.markdown()
    render = time.perf_counter() - start
    return read, render


async def run_backend(backend: Backend, args: argparse.Namespace) -> Result:
    url = await backend.start()
    app = await bootstrap(
        engine=make_engine(url),
        clock=SystemClock(),
        outlets={},
        communities=[CommunityConfig(name=str(COMMUNITY))],
    )
    try:
        progress(f"{backend.name}: seeding {args.stories:,} stories ")
        archive, qs = await seed(app, args.stories, random.Random(7))
        if isinstance(backend, PgBackend):
            await backend.vacuum_analyze()
        progress(f" {archive.seed_s:.0f} s\n")
        settle_memory()  # as `folkmoot run` does after start-up
        status = Query("reference: !status 1", "!status 1", [])
        lookup = Query("reference: one story by number", "", [])
        rng = random.Random(11)
        for q in qs:  # warm-up, and the checks
            for _ in range(3):
                await timed(app, q, check=True)
            q.times.clear()
        for _ in range(3):
            await timed(app, status)
            await lookup_one(app, rng.randint(1, archive.stories), lookup)
        status.times.clear()
        lookup.times.clear()
        progress(f"{backend.name}: {args.runs} rounds of {len(qs) + 2} queries ")
        for i in range(args.runs):
            for q in qs:
                await timed(app, q)
            await timed(app, status)
            await lookup_one(app, rng.randint(1, archive.stories), lookup)
            if i % 20 == 19:
                progress(".")
        progress("\n")
        progress(f"{backend.name}: exports ")
        exports = [Export("md"), Export("json")]
        for _ in range(args.exports):
            for e in exports:
                await export(app, e.fmt, archive.visible, e)
                progress(f"{e.fmt} {e.times[-1]:.1f} s; ")
        read_all, render_md = await export_parts(app)
        progress("\n")
        size = backend.size_mb() if isinstance(backend, SqliteBackend) else 0.0
    finally:
        await app.close()
    if isinstance(backend, PgBackend):
        size = await backend.size_mb()
    return Result(
        backend.name,
        archive,
        qs,
        status,
        lookup,
        exports,
        read_all,
        render_md,
        size,
        args.runs,
    )


# --------------------------------------------------------------------------- report


def render(
    results: list[Result],
    args: argparse.Namespace,
    started: datetime,
    elapsed: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    notes: list[str],
) -> str:
    lines = [
        f"folkmoot story archive — {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}",
    ]
    if results:
        a = results[0].archive
        consents = ", ".join(f"{k} {v:,}" for k, v in sorted(a.consents.items()))
        lines.append(
            f"{a.stories:,} stories in one community ({a.visible:,} visible; {consents}), "
            f"{a.chars / a.stories:.0f} characters on average, {MEMBERS} authors, "
            f"{PROPOSALS} proposals, {PROMPTS} prompts"
        )
        lines.append(
            f"Each query through Governance.handle_text (parse, handler, queries, names, "
            f"rendering); {results[0].runs} rounds, round-robin, after 3 warm-up rounds"
        )
    lines += notes
    for r in results:
        lines.append("")
        header = f"{r.db:<34} {'matches':>8} {'median ms':>10} {'p95 ms':>8} {'p95÷ref':>8}"
        lines.append(header)
        lines.append("-" * len(header))
        ref = r.status.p95_ms
        for q in [*r.queries, r.status, r.lookup]:
            matches = "" if q in (r.status, r.lookup) else f"{q.expected_total:,}"
            lines.append(
                f"{q.name:<34} {matches:>8} {q.median_ms:>10.1f} {q.p95_ms:>8.1f} "
                f"{q.p95_ms / ref:>7.1f}×"
            )
        for e in r.exports:
            lines.append(
                f"!export stories {e.fmt:<5} {e.median_s:>8.2f} s median of {len(e.times)} "
                f"(max {max(e.times):.2f} s), {e.size / 1e6:.1f} MB"
            )
        lines.append(
            f"  of the export: reading every visible story (StoryRepo.all) {r.read_all_s:.2f} s; "
            f"Book.markdown() alone {r.render_md_s:.2f} s"
        )
        lines.append(f"  seeding {r.archive.seed_s:.0f} s; database {r.db_mb:.0f} MB")
    lines.append("")
    lines.append(
        f"Targets: every listing and search p95 ≤ {TARGET_P95_MS:g} ms; "
        f"!export stories md ≤ {TARGET_EXPORT_S:g} s"
    )
    for r in results:
        for q in r.queries:
            verdict = "met" if q.p95_ms <= TARGET_P95_MS else "NOT met"
            lines.append(f"  {r.db:<10} {q.name:<34} p95 {q.p95_ms:>7.1f} ms  {verdict}")
        md = r.exports[0]
        verdict = "met" if md.median_s <= TARGET_EXPORT_S else "NOT met"
        lines.append(f"  {r.db:<10} {'!export stories md':<34} {md.median_s:>8.2f} s  {verdict}")
    (a1, a5, a15), (b1, b5, b15) = load
    lines.append(
        f"\nTotal time {elapsed:.0f} s. Load average (1, 5, 15 min) at the start "
        f"{a1:.2f} {a5:.2f} {a15:.2f}, at the end {b1:.2f} {b5:.2f} {b15:.2f}."
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stories",
        description="Listing, searching and exporting a story archive of 100,000 stories.",
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="admin connection used to create and drop the bench database "
        f"(default {DEFAULT_PG_URL}; user root is tried if that user fails)",
    )
    parser.add_argument("--stories", type=int, default=None, help="default 100,000")
    parser.add_argument("--runs", type=int, default=None, help="rounds of queries (default 200)")
    parser.add_argument("--exports", type=int, default=None, help="runs of each export (3)")
    parser.add_argument(
        "--quick", action="store_true", help="20,000 stories, 30 rounds, one export of each"
    )
    args = parser.parse_args(argv)
    args.stories = args.stories or (20_000 if args.quick else 100_000)
    args.runs = args.runs or (30 if args.quick else 200)
    args.exports = args.exports or (1 if args.quick else 3)
    if args.stories < 1_000 or args.runs < 1 or args.exports < 1:
        parser.error("--stories must be at least 1,000; --runs and --exports at least 1")
    return args


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    load_start = os.getloadavg()
    backends: list[Backend] = [SqliteBackend()]
    if not args.sqlite_only:
        backends.append(PgBackend(args.pg_url))
    results: list[Result] = []
    notes: list[str] = []
    try:
        for backend in backends:
            try:
                results.append(await run_backend(backend, args))
            except BenchError as error:
                if isinstance(backend, PgBackend) and "cannot reach" in str(error):
                    notes.append(f"PostgreSQL skipped: {error}")
                    progress(f"PostgreSQL skipped: {error}\n")
                    continue
                raise
    except BenchError as error:
        progress(f"\nbenchmark failed: {error}\n")
        return 1
    finally:
        for backend in backends:
            with contextlib.suppress(BenchError):
                try:
                    await backend.close()
                except BenchError:
                    raise
                except Exception as error:  # never leave a database behind silently
                    progress(f"cleanup of {backend.name} failed: {error!r}\n")
    print(
        render(
            results,
            args,
            started,
            time.perf_counter() - clock,
            (load_start, os.getloadavg()),
            notes,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
