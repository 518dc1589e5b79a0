"""The ``folkmoot`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime

from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.config import ConfigError, Settings, load_file_config
from bot.console import run_console
from bot.private import private_data_dir, private_umask
from bot.runner import AdapterStartError, NoAdapterConfigured, run_bot
from governance.domain.decision_log import verify_chain
from governance.domain.ids import CommunityId
from governance.store.engine import make_engine
from governance.store.migrate import (
    NewerSchema,
    current,
    downgrade,
    head,
    revisions,
    upgrade,
)
from governance.store.uow import SqlUnitOfWork

log = logging.getLogger("folkmoot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="folkmoot",
        description="A chat-native governance bot. Configuration: FOLKMOOT_CONFIG (a TOML "
        "file), FOLKMOOT_DATABASE_URL (an SQLAlchemy URL; default SQLite in "
        "FOLKMOOT_DATA_DIR), FOLKMOOT_DATA_DIR (default ./data).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="run every configured adapter, the scheduler and the outbox")
    console = sub.add_parser("console", help="play members of a community in the terminal")
    console.add_argument(
        "--start",
        metavar="TIME",
        help="the simulated clock's start, ISO 8601 (default: now), e.g. 2026-11-23T09:00+00:00",
    )
    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations up to the newest (or to --to REV)",
        description="Bring the database schema to the newest revision, or to --to REV.",
    )
    migrate.add_argument(
        "--to",
        metavar="REV",
        help="the revision to end at, e.g. 0014 (default: head, the newest)",
    )
    migrate.add_argument(
        "--down",
        action="store_true",
        help="allow --to an earlier revision than the database's: a downgrade drops what "
        "the later migrations added, data included, so back up first",
    )
    verify = sub.add_parser("verify-log", help="check a community's hash-chained decision log")
    verify.add_argument("community", nargs="?", help="community name (default: every one)")
    backup = sub.add_parser("backup", help="write the database and data directory to one file")
    backup.add_argument("file", help="the archive to write (a new file)")
    restore = sub.add_parser("restore", help="restore a backup into an empty data directory")
    restore.add_argument("file", help="an archive written by `folkmoot backup`")
    sub.add_parser("doctor", help="check the config, database, platforms, clock and disk")
    sub.add_parser(
        "healthcheck",
        help="ask the running folkmoot's /healthz (a container HEALTHCHECK); exit 0 if healthy",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    private_umask()  # what any command writes (a database, keys, an archive) is private
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "console" and "FOLKMOOT_LOG_LEVEL" not in os.environ:
        logging.getLogger().setLevel(logging.WARNING)  # the terminal is the chat
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        if args.command == "doctor":
            from bot import doctor

            return doctor.run(settings)
        config = load_file_config(settings.config_path())
        if args.command == "console":
            start = _start_time(args.start)
            return asyncio.run(run_console(settings, config, start=start))
        if args.command == "run":
            return asyncio.run(run_bot(settings, config))
        if args.command == "healthcheck":
            from bot import healthcheck

            return healthcheck.run(settings, config)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings, args.to, down=args.down))
        if args.command == "verify-log":
            return asyncio.run(_verify(settings, args.community))
        if args.command in ("backup", "restore"):
            from bot import backup

            return backup.run(args.command, settings, args.file)
    except (ConfigError, NoAdapterConfigured, AdapterStartError, NewerSchema) as error:
        print(f"folkmoot: {error}", file=sys.stderr)
        return 2
    except CommandError as error:  # Alembic's: most likely, migrations/ is not installed
        print(
            f"folkmoot: the database migrations cannot be read ({error}); reinstall "
            "folkmoot: its migrations/ directory belongs beside governance/",
            file=sys.stderr,
        )
        return 2
    except (ArgumentError, DBAPIError, OSError) as error:
        where = _shown_url(settings.db_url())
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(
            f"folkmoot: cannot use the database {where} (FOLKMOOT_DATABASE_URL): {reason}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.command)


def _shown_url(url: str) -> str:
    """The URL as it may be shown: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


LAST_START_YEAR = 9998
"""The console's clock starts before this year, as `/clock` stops short of 9999."""


def _start_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--start {text!r} is not an ISO 8601 time") from None
    if start.tzinfo is None:
        raise ConfigError("--start needs a UTC offset, e.g. 2026-11-23T09:00+00:00")
    if start.year >= LAST_START_YEAR:
        raise ConfigError(
            f"--start {text[:40]!r} is too late: dates run out in year 9999, and votes need "
            f"room after it; start before {LAST_START_YEAR}"
        )
    return start


async def _migrate(settings: Settings, to: str | None, *, down: bool) -> int:
    known = revisions()
    target = head() if to in (None, "head") else to
    if target not in known:
        raise ConfigError(f"--to {to}: no such revision (known: {known[0]} to {known[-1]})")
    if down and to is None:
        raise ConfigError("--down goes with --to REV, the revision to go down to")
    private_data_dir(settings.data_dir)
    engine = make_engine(settings.db_url())
    try:
        now = await current(engine)
        if now is not None and now not in known:
            raise NewerSchema(now)
        if now is not None and known.index(target) < known.index(now):
            if not down:
                raise ConfigError(
                    f"the database is at revision {now}; going down to {target} drops what "
                    "the later migrations added, data included. Back up first "
                    "(folkmoot backup), then add --down to do it"
                )
            await downgrade(engine, target)
        else:
            await upgrade(engine, target)
        print(f"database at revision {await current(engine)} (head {head()})")
    finally:
        await engine.dispose()
    return 0


async def _verify(settings: Settings, community: str | None) -> int:
    engine = make_engine(settings.db_url())
    bad = 0
    try:
        async with SqlUnitOfWork(engine) as uow:
            known = await uow.communities.names()
            if community is not None and community not in known:
                raise ConfigError(
                    f"there is no community called {community!r} in the database "
                    f"(known: {', '.join(known) or 'none'})"
                )
            names = [community] if community else known
            for name in names:
                entries = await uow.log.entries(CommunityId(name))
                problem = verify_chain(entries)
                if problem is None:
                    print(f"{name}: {len(entries)} entries, chain intact")
                else:
                    bad += 1
                    print(f"{name}: entry {problem.seq} is bad: {problem.reason}")
    finally:
        await engine.dispose()
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
