"""The composition root: one `bootstrap()` takes every dependency and wires the core.
Nothing is built at import time; tests compose fakes through the same function."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import CommunityConfig, ConfigError
from governance.domain.federation import Federation, Weighting, check_federations
from governance.domain.ids import CommunityId, RoomRef
from governance.domain.members import Community
from governance.service.app import Governance
from governance.service.deps import Deps
from governance.service.dispatcher import Dispatcher
from governance.service.ports import Clock, Outlet, Wakeup
from governance.store.migrate import upgrade
from governance.store.scrub import scrub
from governance.store.uow import SqlUnitOfWork, SqlUnitOfWorkFactory, uow_factory

log = logging.getLogger(__name__)


@dataclass(slots=True)
class App:
    engine: AsyncEngine
    governance: Governance
    dispatcher: Dispatcher
    deps: Deps
    factory: SqlUnitOfWorkFactory

    def uow(self) -> SqlUnitOfWork:
        return self.factory()

    async def close(self) -> None:
        await self.governance.close()
        await self.engine.dispose()


async def bootstrap(
    *,
    engine: AsyncEngine,
    clock: Clock,
    outlets: Mapping[str, Outlet],
    communities: Sequence[CommunityConfig],
    wakeup: Wakeup | None = None,
    migrate: bool = True,
    author_key: bytes | None = None,
) -> App:
    """Migrate, declare the configured communities, and wire the core."""
    federations = {c.name: c.members for c in communities if c.members}
    try:
        check_federations(federations, [c.name for c in communities])
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if migrate:
        await upgrade(engine)
    factory = uow_factory(engine)
    deps = Deps(clock=clock)
    if author_key is not None:
        deps.author_key = author_key
    deps.scrub_store = lambda: scrub(engine)
    deps.federations = {
        CommunityId(c.name): Federation(
            CommunityId(c.name),
            tuple(CommunityId(m) for m in c.members),
            Weighting(c.member_weights),
        )
        for c in communities
        if c.members
    }
    if wakeup is not None:
        deps.wakeup = wakeup
    governance = Governance(factory, deps)
    dispatcher = Dispatcher(factory, deps, outlets)
    deps.on_events = dispatcher.wake
    async with factory() as uow:
        for c in communities:
            await uow.communities.upsert(
                Community(
                    CommunityId(c.name),
                    c.timezone,
                    c.default_vote,
                    c.quorum,
                    frozenset(c.admins),
                    tuple(c.bridge_patterns),
                    c.weights_text(),
                    c.class_quorum_text(),
                    c.max_vote,
                    tuple(c.reminders),
                    c.welcome_prompt,
                    c.outcome_prompt_after,
                )
            )
        await uow.commit()
    return App(engine, governance, dispatcher, deps, factory)


def author_key(data_dir: Path) -> bytes:
    """The key of anonymous stories' author tags: a file beside the database, made on
    first use and readable by this user only. Lose it, and anonymous authors can no
    longer edit or withdraw their stories (nobody else learns anything)."""
    path = data_dir / "author-key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return key


async def ensure_binding(app: App, room: RoomRef, community: CommunityId) -> None:
    """Bind `room` (used for the console's own room, which needs no admin to bind)."""
    async with app.uow() as uow:
        if await uow.bindings.community_of(room) is None:
            await uow.bindings.bind(room, community)
            await uow.commit()
