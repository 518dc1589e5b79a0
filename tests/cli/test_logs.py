"""`folkmoot run`'s logs: one JSON object a line, an event id per command, and never a
token, a secret ballot's choice or a story's text."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs
from bot.config import FileConfig, LogConfig, Settings
from bot.metrics import Metrics
from tests.chat import Chat

TOKEN = "MTA5OTk.discord-bot-token.Xy9z"
STORY = "the heron sang at midnight over the weir"
CHOICES = ("Quixote", "Zanzibar")


def lines(out: io.StringIO) -> list[dict[str, str]]:
    text = out.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


async def test_a_secret_vote_and_a_story_leave_no_choice_or_text_in_the_log(chat: Chat) -> None:
    out = io.StringIO()
    chat.app.deps.observer = Metrics().observer(chat.clock)
    with logs.configured("DEBUG", "json", [TOKEN], stream=out):
        logging.getLogger("governance").setLevel(logging.DEBUG)
        try:
            await chat.ok("alice", f"!propose Elect a keeper options={' | '.join(CHOICES)} secret")
            await chat.ok("bob", f"!vote 1 {CHOICES[0]}")
            await chat.ok("carol", f"!vote 1 {CHOICES[1]}")
            await chat.ok("carol", f"!vote 1 {CHOICES[0]}")  # changed
            await chat.fails("carol", "!vote 1 Nobody")
            await chat.ok("bob", f"!story {STORY} share=public")
            await chat.private("carol", f"!story {STORY}, told privately share=anonymous")
            await chat.advance(days=8)  # the vote closes, due work runs
            assert any("passed" in text or "Quixote" in text for text in chat.announced())
        finally:
            logging.getLogger("governance").setLevel(logging.NOTSET)
    records = lines(out)
    commands = [r for r in records if r["logger"] == "bot.metrics"]
    assert len(commands) == 7  # one line per command, each with its own event id
    assert all(r["level"] == "DEBUG" and r.get("event") for r in commands)
    assert len({r["event"] for r in commands}) == 7
    everything = out.getvalue()
    for secret in (*CHOICES, "Nobody", "heron", "midnight", "bob", "carol"):
        assert secret not in everything, secret


def test_known_secrets_are_redacted_in_messages_and_tracebacks() -> None:
    out = io.StringIO()
    log = logging.getLogger("bot.test_logs")
    with logs.configured("INFO", "json", [TOKEN, "hunter2-matrix-password"], stream=out):
        log.info("logging in with %s", TOKEN)
        try:
            raise RuntimeError(f"refused: Bot {TOKEN}")
        except RuntimeError:
            log.exception("could not connect")
        log.debug("not shown at INFO")
    first, second = lines(out)
    assert first["msg"] == "logging in with [redacted]"
    assert first["level"] == "INFO" and first["logger"] == "bot.test_logs" and first["ts"]
    assert "[redacted]" in second["exc"] and "RuntimeError" in second["exc"]
    assert TOKEN not in out.getvalue()


def test_text_format_is_one_line_with_the_event_id() -> None:
    out = io.StringIO()
    with logs.configured("INFO", "text", [], stream=out):
        token = logs.new_event_id()
        try:
            logging.getLogger("bot.test_logs").info("hello")
        finally:
            logs.event_id.reset(token)
    line = out.getvalue()
    assert line.count("\n") == 1
    assert " INFO bot.test_logs [" in line and line.endswith(": hello\n")


def test_level_and_format_come_from_the_environment_before_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FOLKMOOT_LOG_LEVEL", raising=False)
    monkeypatch.delenv("FOLKMOOT_LOG_FORMAT", raising=False)
    config = FileConfig(log=LogConfig(level="warning", format="text"))
    assert Settings(_env_file=None).log_settings(config) == ("WARNING", "text")  # type: ignore[call-arg]
    assert Settings(log_format="json", log_level="debug").log_settings(config) == ("DEBUG", "json")
    assert Settings().log_settings(FileConfig()) == ("INFO", "json")
