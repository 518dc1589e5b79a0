"""Reading one long message: the command grammar on adversarial 65,536-character lines.

    python -m bench.parse [--runs N]

For each shape below, a 65,536-character message is parsed with the length limit lifted
(``parse(text, ctx, limit=None)``: the grammar's own work, as if the limit were not
there) and, for a ballot, read against a ranked vote's options (``parse_ballot``). Every
shape also runs once with the limit in place (the refusal a member gets: it must be
instant). Figures are the median and the worst of N runs (default 21), in ms; the ratio of
the median to that of a plain message of the same length (``!propose`` with a 65,536-
character title of ordinary words) parsed in the same process; the median for the same
shape cut to the limit (the longest message a member can make the bot read); and the
median refusal of the full message. Figures go to stdout.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from governance.domain.commands import Context
from governance.domain.errors import GovernanceError
from governance.domain.ids import AccountRef, CommunityId, RoomRef
from governance.domain.methods import METHODS
from governance.text.ballots import parse_ballot
from governance.text.grammar import MAX_MESSAGE, parse

SIZE = 65_536
CTX = Context(
    AccountRef("console", "alice"),
    RoomRef("console", "demo"),
    CommunityId("demo"),
    datetime(2026, 12, 1, tzinfo=UTC),
)
OPTIONS = ("Big Oak", "Small Oak", "Birch")


def _fill(head: str, unit: str) -> str:
    """`head` followed by `unit` repeated to exactly SIZE characters."""
    body = unit * ((SIZE - len(head)) // len(unit) + 1)
    return (head + body)[:SIZE]


SHAPES: dict[str, str] = {
    "plain title (reference)": _fill("!propose ", "share the tools "),
    'unclosed quotes  "a "a "a': _fill("!propose ", '"a '),
    "unclosed quotes  “a “a": _fill("!propose ", "“a "),
    "apostrophes  'a 'a 'a": _fill("!propose ", "'a "),
    'quoted pairs  "a" "a"': _fill("!propose ", '"a" '),
    "many =  a=b=c=": _fill("!propose x ", "a="),
    "misspelt keys  qourum=1": _fill("!propose x ", "qourum=1 "),
    "prose keys  kdbn=1 (title)": _fill("!propose x ", "kdbn=1 "),
    "unknown keys after vote=": _fill("!propose x vote=1d ", "kdbn=1 "),
    "flags  secret secret": _fill("!propose x ", "secret "),
    "quoted bars  options=": _fill("!propose x options=", '"a|b" | '),
    "many >  (ballot)": _fill("!vote 1 ", "Big Oak > "),
    "many words (ballot)": _fill("!vote 1 ", "Big "),
    "many :  (story)": _fill("!story ", "tags=a: "),
    "many =  (prompt)": _fill("!prompt q ", "every=mon "),
    "spaces only": _fill("!propose", " "),
}


def _once(text: str, limit: int | None) -> float:
    start = time.perf_counter()
    try:
        command = parse(text, CTX, limit=limit)
        ballot = getattr(command, "ballot", None)
        if isinstance(ballot, str):
            parse_ballot(ballot, METHODS["ranked"], OPTIONS)
    except GovernanceError:
        pass
    return (time.perf_counter() - start) * 1000


def _timed(run: Callable[[], float], runs: int) -> tuple[float, float]:
    figures = [run() for _ in range(runs)]
    return statistics.median(figures), max(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"folkmoot parsing — {stamp}, Python {platform.python_version()}, {runs} runs")
    print(f"{SIZE:,}-character messages; limit lifted, then with the limit ({MAX_MESSAGE:,})")
    print()
    print(
        f"{'shape':<28} {'median ms':>10} {'max ms':>8} {'× plain':>8}"
        f" {'at limit ms':>12} {'refusal ms':>11}"
    )
    print("-" * 82)
    for text in SHAPES.values():  # warm up: first calls compile the patterns
        _once(text, None)
    plain_median, _ = _timed(lambda: _once(SHAPES["plain title (reference)"], None), runs)
    for name, text in SHAPES.items():
        assert len(text) == SIZE, name
        median, worst = _timed(lambda t=text: _once(t, None), runs)  # type: ignore[misc]
        at_limit, _ = _timed(lambda t=text[:MAX_MESSAGE]: _once(t, MAX_MESSAGE), runs)  # type: ignore[misc]
        refusal, _ = _timed(lambda t=text: _once(t, MAX_MESSAGE), runs)  # type: ignore[misc]
        print(
            f"{name:<28} {median:>10.2f} {worst:>8.2f} {median / plain_median:>7.1f}×"
            f" {at_limit:>12.2f} {refusal:>11.3f}"
        )


if __name__ == "__main__":
    main()
