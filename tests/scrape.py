"""Reading what `folkmoot run` serves at /metrics, and awaiting its log lines."""

from __future__ import annotations

import asyncio
import logging
import re

LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Said(logging.Handler):
    """Log records of the loggers it is added to, awaited by their message."""

    def __init__(self, within: float) -> None:
        super().__init__(logging.DEBUG)
        self.within = within
        self.records: list[logging.LogRecord] = []
        self._news = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self._news.set()

    async def said(self, text: str, *, times: int = 1) -> logging.LogRecord:
        """The `times`-th record whose message holds `text`, once logged."""
        async with asyncio.timeout(self.within):
            while True:
                self._news.clear()
                found = [r for r in self.records if text in r.getMessage()]
                if len(found) >= times:
                    return found[times - 1]
                await self._news.wait()


def sample(text: str, name: str, **labels: str) -> float | None:
    """A sample's value in Prometheus' text format (None if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    head = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(head + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def assert_no_label_holds(text: str, *words: str) -> None:
    """No label value of any sample holds one of `words` (a member's name, an account
    or room id, a choice): labels come from fixed sets."""
    values = [
        value
        for line in text.splitlines()
        if "{" in line and not line.startswith("#")
        for _, value in LABEL.findall(line.partition("{")[2].rpartition("}")[0])
    ]
    assert values, "no labelled sample to check"
    for word in words:
        assert not any(word.casefold() in value.casefold() for value in values), word
