"""The config file's community defaults: checked on load, applied to proposals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.bootstrap import App, ensure_binding
from bot.config import CommunityConfig
from governance.domain.ids import CommunityId, RoomRef
from governance.service.clocks import SimulatedClock
from tests.chat import Chat, RecordingOutlet


@pytest.mark.parametrize("quorum", ["50%", "2/3", "12"])
def test_a_quorum_is_a_share_or_a_count(quorum: str) -> None:
    assert CommunityConfig(name="c", quorum=quorum).quorum == quorum


@pytest.mark.parametrize("quorum", ["abc", "0", "150%", "9" * 20])
def test_a_bad_quorum_is_refused_naming_it(quorum: str) -> None:
    with pytest.raises(ValidationError) as info:
        CommunityConfig(name="c", quorum=quorum)
    assert f"quorum={quorum[:30]}" in str(info.value)


async def test_the_community_defaults_apply_to_its_proposals(
    app: App, clock: SimulatedClock, outlet: RecordingOutlet
) -> None:
    room = RoomRef("test", "coop-room")
    await ensure_binding(app, room, CommunityId("coop"))
    chat = Chat(app, clock, outlet, room, CommunityId("coop"))
    for name in ("ana", "ben", "cy"):
        await chat.join(name, admin=name == "ana")
    await chat.ok("ana", "!propose Use the Berlin defaults")
    await chat.ok("ana", "!vote 1 yes")
    # default_vote="3d" in Europe/Berlin; the quorum of 2 ballots is not reached.
    await chat.advance(days=3)
    assert chat.outlet.texts()[-1].splitlines()[:2] == [
        "#1 Use the Berlin defaults — voting closed",
        "No quorum — 1 of 3 voted.",
    ]
    assert "Quorum: 2 needed (2 ballots) — not reached." in chat.outlet.texts()[-1]
    assert chat.outlet.texts()[0].startswith(
        "#1 Use the Berlin defaults — voting open until 2026-11-26 10:00 CET"
    )
