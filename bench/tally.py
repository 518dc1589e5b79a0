"""Counting ballots: our ranked methods against independent libraries, end to end from
the raw ballots as the store returns them (a ``list[Choice]`` already in memory).

    python -m bench.tally [--quick]

Data sets (seeded): 1k, 10k and 100k random rankings of 8 options, each either complete
or with 30 % of the ballots truncated (those rank a random 1–7 of the options). For each
data set and method, in one process on the same ballots:

- ours: ``METHODS["ranked" | "condorcet" | "stv"].tally(ballots, options, policy, roll)``
  (collapsing identical ballots is part of it), or, while those methods did not exist,
  the counting functions on ``collapse(ballots)``; the output says which was timed.
- the libraries, each fed from the same raw list, the conversion timed as part of their
  cost (as collapsing is part of ours), in the cheapest form each accepts: pref_voting and
  py-vote-core take each distinct ranking once with its count; pyrankvote takes one
  ballot per voter, so identical rankings share one ``Ballot`` object.

Medians of 5 runs (3 at 100k), taken in rounds that run ours and every library once
each in turn, so a change in the machine's load hits them alike. A library run is
stopped after 30 s and shown as "> 30 s". Also times score, approval and dots over 100k
ballots (ours only). As in ``folkmoot run``, start-up objects are frozen out of the
garbage collector's view (``settle_memory``) before any ballot is made. Figures go to
stdout, progress to stderr. Results drift about ±25 % between runs on a small machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from operator import attrgetter
from types import FrameType
from typing import Any

from pref_voting.iterative_methods import instant_runoff_tb
from pref_voting.margin_based_methods import beat_path
from pref_voting.profiles import Profile as PvProfile
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.proportional_methods import stv_scottish
from py3votecore.irv import IRV as CoreIrv
from py3votecore.schulze_method import SchulzeMethod
from pyrankvote import Ballot as PrvBallot
from pyrankvote import Candidate as PrvCandidate
from pyrankvote import instant_runoff_voting, single_transferable_vote

from bot.runner import settle_memory
from governance.domain.ballot import Choice
from governance.domain.methods import METHODS
from governance.domain.methods.irv import count_irv
from governance.domain.methods.profile import collapse
from governance.domain.methods.schulze import count_schulze
from governance.domain.methods.stv import count_stv
from governance.domain.policy import Policy

OPTIONS = tuple("ABCDEFGH")
N = len(OPTIONS)
SEATS = 3
TRUNCATED_SHARE = 0.3
CAP_S = 30.0
RATIO_TARGET_SMALL = 3.0  # 1k rows
RATIO_TARGET = 5.0  # 10k and 100k rows
OURS_100K_TARGET_MS = 200.0  # IRV and Schulze
COUNTING_TARGET_MS = 50.0  # score, approval, dots at 100k
SEED = 20261123

Outcome = frozenset[int]
"""Who won: option indexes."""

_options = attrgetter("options")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class DataSet:
    size: int
    truncated: bool
    ballots: list[Choice]

    @property
    def label(self) -> str:
        return f"{self.size // 1000}k {'truncated' if self.truncated else 'complete'}"

    @property
    def distinct(self) -> int:
        return len(set(map(_options, self.ballots)))


def make_ranked(size: int, truncated: bool, seed: int) -> list[Choice]:
    """Uniformly random rankings of the 8 options; with `truncated`, 30 % of ballots rank
    only a random 1–7 of them."""
    rng = random.Random(seed)
    ballots = []
    for _ in range(size):
        ranking = rng.sample(range(N), N)
        if truncated and rng.random() < TRUNCATED_SHARE:
            ranking = ranking[: rng.randint(1, N - 1)]
        ballots.append(Choice(options=tuple(ranking)))
    return ballots


def make_approval(size: int, rng: random.Random) -> list[Choice]:
    return [
        Choice(options=tuple(sorted(rng.sample(range(N), rng.randint(1, N))))) for _ in range(size)
    ]


def make_score(size: int, rng: random.Random) -> list[Choice]:
    """A score 0–5 per option, about 30 % left blank (at least one scored)."""
    ballots = []
    for _ in range(size):
        marks: list[int | None] = [
            None if rng.random() < TRUNCATED_SHARE else rng.randint(0, 5) for _ in range(N)
        ]
        if all(m is None for m in marks):
            marks[rng.randrange(N)] = rng.randint(0, 5)
        ballots.append(Choice(marks=tuple(marks)))
    return ballots


def make_dots(size: int, budget: int, rng: random.Random) -> list[Choice]:
    """1..budget dots spread at random; an option with no dot is blank (None)."""
    ballots = []
    for _ in range(size):
        spread = [0] * N
        for _ in range(rng.randint(1, budget)):
            spread[rng.randrange(N)] += 1
        ballots.append(Choice(marks=tuple(d or None for d in spread)))
    return ballots


# --------------------------------------------------------------------------- timing


class _TimedOut(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _TimedOut


@dataclass(slots=True)
class Timing:
    runs: list[float] = field(default_factory=list)
    """Seconds per run."""
    capped: bool = False
    outcome: Outcome | None = None

    @property
    def ms(self) -> float:
        return float("inf") if self.capped else statistics.median(self.runs) * 1000

    def cell(self) -> str:
        return f"> {CAP_S:g} s" if self.capped else f"{self.ms:,.1f}"


def run_once(timing: Timing, run: Callable[[], Outcome], cap: float | None) -> None:
    """One timed run added to `timing`; with `cap`, the run is interrupted after `cap`
    seconds and `timing` marked capped (not to be run again)."""
    gc.collect()
    if cap is not None:
        signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        start = time.perf_counter()
        outcome = run()
        timing.runs.append(time.perf_counter() - start)
    except _TimedOut:
        timing.capped = True
        return
    finally:
        if cap is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
    if timing.outcome is not None and outcome != timing.outcome:
        raise RuntimeError(f"the same count gave {timing.outcome} and then {outcome}")
    timing.outcome = outcome


def time_interleaved(
    contenders: Sequence[tuple[Callable[[], Outcome], float | None]], repeat: int
) -> list[Timing]:
    """`repeat` rounds, each running every contender once in turn, so a change in the
    machine's load during the measurement hits them all alike."""
    timings = [Timing() for _ in contenders]
    for _ in range(repeat):
        for timing, (run, cap) in zip(timings, contenders, strict=True):
            if not timing.capped:
                run_once(timing, run, cap)
    return timings


# --------------------------------------------------------------------------- ours


def _lowest(tied: tuple[int, ...], why: str) -> int:
    return tied[0]


def _ours_method(name: str, policy: Policy, ballots: list[Choice]) -> Callable[[], Outcome]:
    method = METHODS[name]

    def run() -> Outcome:
        result = method.tally(ballots, OPTIONS, policy, len(ballots))
        return frozenset(OPTIONS.index(w) for w in result.winners)

    return run


def _ours_irv(ballots: list[Choice]) -> Outcome:
    return frozenset({count_irv(collapse(ballots), N, _lowest).winner})


def _ours_schulze(ballots: list[Choice]) -> Outcome:
    return frozenset(count_schulze(collapse(ballots), N).winners)


def _ours_stv(ballots: list[Choice]) -> Outcome:
    return frozenset(count_stv(collapse(ballots), N, SEATS, _lowest).elected)


# --------------------------------------------------------------------------- the libraries


def _counted(ballots: list[Choice]) -> Counter[tuple[int, ...]]:
    return Counter(map(_options, ballots))


def _pv_profile(ballots: list[Choice], truncated: bool, extended: bool = False) -> Any:
    counted = _counted(ballots)
    if not truncated:
        return PvProfile([list(r) for r in counted], rcounts=list(counted.values()))
    return _pv_with_ties(counted, extended)


def _pv_with_ties(counted: Counter[tuple[int, ...]], extended: bool) -> Any:
    prof = ProfileWithTies(
        [{c: rank for rank, c in enumerate(r, 1)} for r in counted],
        rcounts=list(counted.values()),
        candidates=list(range(N)),
    )
    if extended:
        prof.use_extended_strict_preference()
    return prof


def pv_irv(ballots: list[Choice], truncated: bool) -> Outcome:
    prof = _pv_profile(ballots, truncated)
    return frozenset(instant_runoff_tb(prof, tie_breaker=list(range(N))))


def pv_schulze(ballots: list[Choice], truncated: bool) -> Outcome:
    return frozenset(beat_path(_pv_profile(ballots, truncated, extended=True)))


def pv_stv(ballots: list[Choice], truncated: bool) -> Outcome:
    prof = _pv_with_ties(_counted(ballots), extended=False)
    return frozenset(stv_scottish(prof, num_seats=SEATS, rng=random.Random(0)))


_PRV_CANDIDATES = [PrvCandidate(name) for name in OPTIONS]


def _prv_ballots(ballots: list[Choice]) -> list[Any]:
    shared: dict[tuple[int, ...], Any] = {}
    out = []
    for ballot in ballots:
        one = shared.get(ballot.options)
        if one is None:
            one = shared[ballot.options] = PrvBallot([_PRV_CANDIDATES[i] for i in ballot.options])
        out.append(one)
    return out


def _prv_outcome(results: Any) -> Outcome:
    return frozenset(OPTIONS.index(c.name) for c in results.get_winners())


def prv_irv(ballots: list[Choice], truncated: bool) -> Outcome:
    return _prv_outcome(instant_runoff_voting(_PRV_CANDIDATES, _prv_ballots(ballots)))


def prv_stv(ballots: list[Choice], truncated: bool) -> Outcome:
    return _prv_outcome(single_transferable_vote(_PRV_CANDIDATES, _prv_ballots(ballots), SEATS))


def core_irv(ballots: list[Choice], truncated: bool) -> Outcome:
    counted = _counted(ballots)
    irv = CoreIrv([{"ballot": list(r), "count": n} for r, n in counted.items()])
    return frozenset({irv.winner})


def core_schulze(ballots: list[Choice], truncated: bool) -> Outcome:
    counted = _counted(ballots)
    schulze = SchulzeMethod(
        [
            {"ballot": {c: rank for rank, c in enumerate(r, 1)}, "count": n}
            for r, n in counted.items()
        ],
        ballot_notation=SchulzeMethod.BALLOT_NOTATION_RANKING,
    )
    return frozenset({schulze.winner})


@dataclass(frozen=True, slots=True)
class Library:
    name: str
    run: Callable[[list[Choice], bool], Outcome]
    fed: str


@dataclass(frozen=True, slots=True)
class Contest:
    title: str
    method: str
    """Our method's name in METHODS."""
    policy: Policy
    fallback: Callable[[list[Choice]], Outcome]
    fallback_text: str
    libraries: tuple[Library, ...]
    speed_target: bool
    """Whether ours at 100k must be ≤ OURS_100K_TARGET_MS."""


PV_FED = "distinct rankings with counts → "
CONTESTS = (
    Contest(
        "IRV",
        "ranked",
        Policy(),
        _ours_irv,
        "count_irv(collapse(ballots), 8, draw)",
        (
            Library(
                "pref_voting",
                pv_irv,
                PV_FED + "Profile (complete) / ProfileWithTies (truncated); "
                "instant_runoff_tb(tie_breaker=0..7)",
            ),
            Library(
                "pyrankvote",
                prv_irv,
                "one Ballot per voter, shared per distinct ranking; instant_runoff_voting",
            ),
            Library("py3votecore", core_irv, PV_FED + "[{'ballot': [...], 'count': n}]; IRV"),
        ),
        True,
    ),
    Contest(
        "Schulze (margins)",
        "condorcet",
        Policy(),
        _ours_schulze,
        "count_schulze(collapse(ballots), 8)",
        (
            Library(
                "pref_voting",
                pv_schulze,
                PV_FED + "Profile (complete) / ProfileWithTies + "
                "use_extended_strict_preference() (truncated); beat_path",
            ),
            Library(
                "py3votecore",
                core_schulze,
                PV_FED + "[{'ballot': {option: rank}, 'count': n}], ranking notation; "
                "SchulzeMethod (winning votes: the same winner unless strengths tie)",
            ),
        ),
        True,
    ),
    Contest(
        f"STV, {SEATS} seats",
        "stv",
        Policy(seats=SEATS),
        _ours_stv,
        f"count_stv(collapse(ballots), 8, {SEATS}, draw)",
        (
            Library(
                "pref_voting",
                pv_stv,
                PV_FED + "ProfileWithTies (cheaper than a Profile, which stv_scottish "
                "converts); stv_scottish(num_seats=3, rng=Random(0))",
            ),
            Library(
                "pyrankvote",
                prv_stv,
                "one Ballot per voter, shared per distinct ranking; single_transferable_vote",
            ),
        ),
        False,
    ),
)


# --------------------------------------------------------------------------- running


@dataclass(slots=True)
class Row:
    label: str
    size: int
    distinct: int
    ours: Timing
    libraries: dict[str, Timing]

    def fastest(self) -> tuple[str, float]:
        name = min(self.libraries, key=lambda k: self.libraries[k].ms)
        return name, self.libraries[name].ms

    def ratio(self) -> float:
        return self.fastest()[1] / self.ours.ms


@dataclass(slots=True)
class Plan:
    sizes: tuple[int, ...]
    repeat_small: int = 5
    repeat_100k: int = 3

    def repeat(self, size: int) -> int:
        return self.repeat_100k if size >= 100_000 else self.repeat_small


def progress(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def our_path(contest: Contest) -> str:
    """What is timed as ours: the method if METHODS has it, else the counting function."""
    if contest.method not in METHODS:
        return contest.fallback_text
    seats = f"seats={contest.policy.seats}" if contest.policy.seats > 1 else ""
    return f'METHODS["{contest.method}"].tally(ballots, options, Policy({seats}), roll_size)'


def measure(contest: Contest, data: DataSet, repeat: int) -> Row:
    progress(f"  {contest.title}, {data.label} ({repeat} rounds) …")
    if contest.method in METHODS:
        ours = _ours_method(contest.method, contest.policy, data.ballots)
    else:
        ours = partial(contest.fallback, data.ballots)
    contenders: list[tuple[Callable[[], Outcome], float | None]] = [(ours, None)]
    contenders += [
        (partial(library.run, data.ballots, data.truncated), CAP_S) for library in contest.libraries
    ]
    mine, *others = time_interleaved(contenders, repeat)
    theirs = {lib.name: t for lib, t in zip(contest.libraries, others, strict=True)}
    progress(
        f" ours {mine.cell()} ms, "
        + ", ".join(f"{name} {t.cell()}" for name, t in theirs.items())
        + "\n"
    )
    return Row(data.label, data.size, data.distinct, mine, theirs)


def _ratio_target(size: int) -> float:
    return RATIO_TARGET_SMALL if size < 10_000 else RATIO_TARGET


def _names(outcome: Outcome | None) -> str:
    return "?" if outcome is None else "".join(OPTIONS[i] for i in sorted(outcome))


def render_contest(contest: Contest, path: str, rows: list[Row]) -> list[str]:
    names = [lib.name for lib in contest.libraries]
    lines = [f"{contest.title} — ours: {path}", ""]
    header = (
        f"{'data set':<15} {'distinct':>8} {'ours ms':>9} "
        + " ".join(f"{name + ' ms':>15}" for name in names)
        + f" {'fastest library':>16} {'ratio':>7}"
    )
    lines += [header, "-" * len(header)]
    disagreements = []
    for row in rows:
        fastest, ms = row.fastest()
        ratio = row.ratio()
        lines.append(
            f"{row.label:<15} {row.distinct:>8,} {row.ours.cell():>9} "
            + " ".join(f"{row.libraries[name].cell():>15}" for name in names)
            + f" {fastest:>16} {('> ' if ms == float('inf') else '') + _ratio_text(ratio):>7}"
        )
        for name in names:
            timing = row.libraries[name]
            if timing.outcome is not None and timing.outcome != row.ours.outcome:
                disagreements.append(
                    f"  {row.label}: ours elected {_names(row.ours.outcome)}, "
                    f"{name} {_names(timing.outcome)}"
                )
    lines.append("")
    lines.append("Libraries were fed:")
    lines += [f"  {lib.name}: {lib.fed}" for lib in contest.libraries]
    if disagreements:
        lines.append("Winners differ:")
        lines += disagreements
    else:
        lines.append("Every library elected the same options as ours on every data set.")
    lines.append("")
    return lines


def _ratio_text(ratio: float) -> str:
    return "∞" if ratio == float("inf") else f"{ratio:.1f}×"


def render_targets(results: list[tuple[Contest, list[Row]]]) -> list[str]:
    lines = [
        f"Targets: fastest library ÷ ours ≥ {RATIO_TARGET:g}× at 10k and 100k, "
        f"≥ {RATIO_TARGET_SMALL:g}× at 1k; ours ≤ {OURS_100K_TARGET_MS:g} ms at 100k "
        "(IRV, Schulze)"
    ]
    for contest, rows in results:
        for row in rows:
            need = _ratio_target(row.size)
            ratio = row.ratio()
            verdict = "PASS" if ratio >= need else "FAIL"
            lines.append(
                f"  {contest.title:<18} {row.label:<15} ratio "
                f"{_ratio_text(ratio):>7} (≥ {need:g}×)   {verdict}"
            )
        if contest.speed_target:
            for row in rows:
                if row.size >= 100_000:
                    verdict = "PASS" if row.ours.ms <= OURS_100K_TARGET_MS else "FAIL"
                    lines.append(
                        f"  {contest.title:<18} {row.label:<15} ours "
                        f"{row.ours.ms:>7.1f} ms (≤ {OURS_100K_TARGET_MS:g} ms)   {verdict}"
                    )
    return lines


def counting_methods(size: int, repeat: int) -> list[str]:
    """Score, approval and dots over `size` ballots, ours only (target ≤ 50 ms at 100k)."""
    wanted = [m for m in ("score", "approval", "dots") if m in METHODS]
    missing = [m for m in ("score", "approval", "dots") if m not in METHODS]
    lines = [f"Counting methods, ours only, {size:,} ballots over 8 options, median of {repeat}"]
    if missing:
        lines.append(f"  not timed (not in METHODS yet): {', '.join(missing)}")
    policy = Policy()
    makers: dict[str, Callable[[random.Random], list[Choice]]] = {
        "score": lambda rng: make_score(size, rng),
        "approval": lambda rng: make_approval(size, rng),
        "dots": lambda rng: make_dots(size, policy.dot_budget, rng),
    }
    shapes = {
        "score": "marks: a score 0–5 per option, ~30 % blank (None)",
        "approval": "options: a random non-empty set",
        "dots": f"marks: 1–{policy.dot_budget} dots spread at random, None where none",
    }
    for name in wanted:
        ballots = makers[name](random.Random(f"{SEED}/{name}"))
        method = METHODS[name]
        for ballot in ballots[:1000]:  # the shape production stores
            method.check_ballot(ballot, OPTIONS, policy)
        progress(f"{name} ({size:,} ballots) …")
        (timing,) = time_interleaved([(_ours_method(name, policy, ballots), None)], repeat)
        progress(f" {timing.ms:.1f} ms\n")
        verdict = "PASS" if timing.ms <= COUNTING_TARGET_MS else "FAIL"
        if size < 100_000:
            verdict += " (the target is for 100k)"
        lines.append(
            f"  {name:<9} {timing.ms:>7.1f} ms (≤ {COUNTING_TARGET_MS:g} ms)   {verdict}"
            f"   — {shapes[name]}"
        )
        del ballots
    return lines


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tally",
        description="Counting ballots: ours against pref_voting, pyrankvote and py-vote-core.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1k and 10k only, 3 runs each (under a minute)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = (
        Plan(sizes=(1_000, 10_000), repeat_small=3)
        if args.quick
        else Plan(sizes=(1_000, 10_000, 100_000))
    )
    signal.signal(signal.SIGALRM, _alarm)
    # As `folkmoot run` does after start-up: what the imports built is frozen, so a full
    # collection scans only what the count creates (here it is also the libraries' heap).
    settle_memory()
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    clock = time.perf_counter()
    out = [
        f"folkmoot counting — {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, pref_voting {version('pref_voting')}, "
        f"pyrankvote {version('pyrankvote')}, py-vote-core {version('py-vote-core')}",
        f"8 options; medians of {plan.repeat_small} runs"
        + (f" ({plan.repeat_100k} at 100k)" if 100_000 in plan.sizes else "")
        + "; ms from the raw list[Choice] to the winners, conversion included; "
        f"truncated = {TRUNCATED_SHARE:.0%} of ballots rank 1–7 options; "
        "ratio = fastest library ÷ ours; start-up objects frozen (gc.freeze) as in folkmoot run",
        "",
    ]
    rows: dict[str, list[Row]] = {contest.title: [] for contest in CONTESTS}
    for size in plan.sizes:
        for truncated in (False, True):
            # One data set in memory at a time: the others' objects would only slow the
            # garbage collector for everyone.
            progress(f"making {size:,} {'truncated' if truncated else 'complete'} ballots\n")
            data = DataSet(
                size, truncated, make_ranked(size, truncated, SEED + size + int(truncated))
            )
            for contest in CONTESTS:
                rows[contest.title].append(measure(contest, data, plan.repeat(size)))
            del data
    results = [(contest, rows[contest.title]) for contest in CONTESTS]
    for contest, contest_rows in results:
        out += render_contest(contest, our_path(contest), contest_rows)
    out += render_targets(results)
    out.append("")
    counting_size = 100_000 if not args.quick else 10_000
    out += counting_methods(counting_size, plan.repeat(counting_size))
    out.append(
        f"\nTotal time {time.perf_counter() - clock:.0f} s. Load average (1, 5, 15 min) "
        f"at the start {_load(load_start)}, at the end {_load(os.getloadavg())}."
    )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
