"""Single transferable vote, counted exactly under the Scottish rules.

The count follows The Scottish Local Government Elections Order 2007 (SSI 2007/42),
Schedule 1, rules 45–52 (https://www.legislation.gov.uk/ssi/2007/42):

* rule 45 – the first stage credits each option with its first preferences;
* rule 46 – quota = (valid ballots ÷ (seats + 1), decimals ignored) + 1, in whole votes;
* rule 47 – an option whose votes equal or exceed the quota at the end of a stage is
  deemed elected; several at once are listed highest total first;
* rule 48 – an elected option's surplus moves by the weighted inclusive Gregory method:
  *every* paper it holds goes to its next available preference at the transfer value
  ``surplus × value of the paper when received ÷ total``, calculated to five decimal
  places with any remainder ignored. Papers with no next available preference are
  non-transferable; what the ignored remainders add up to is *lost*. The elected option
  is then left with exactly the quota;
* rule 49 – one surplus per stage, the largest first (equal surpluses: the highest total
  at the most recent preceding stage at which they were unequal, else by lot), and all
  surpluses before any exclusion;
* rule 50 – with no surplus left to move, the option with the fewest votes is excluded and
  all its papers move, at the value they had when it received them, in one stage;
* rule 51 – equal fewest: the one with fewer votes at the most recent preceding stage at
  which they were unequal is excluded, else one is chosen by lot;
* rule 52 – when the continuing options are no more than the vacancies left they are all
  deemed elected, and no further transfer is made.

Arithmetic is exact: votes are integers in units of 1/`SCALE` (the five decimal places
of rule 48), so a transfer value is ``surplus * value // total`` with no floating point.

Two readings worth stating:

* *Look-back with three or more equal options.* Rules 49(2) and 51(2) name "the most
  recent preceding stage at which they had unequal numbers of votes". If at that stage
  several of them still share the extreme total, the rule is applied again among just
  those, further back. This is the same as comparing the options' totals stage by stage
  from the most recent backwards (lexicographically); only options equal at *every*
  stage go to `draw`, which receives exactly those options.
* *Last vacancy shortcut.* Rule 52 as made has two paragraphs: (1) continuing options
  equal to vacancies are elected, (2) no further transfer is then made. The count also
  ends early, as many STV rule sets allow, when one vacancy is left and one continuing
  option's votes exceed all the other continuing options' votes together plus every
  surplus not yet transferred. That cannot change who is elected: the others' votes plus
  the surpluses can only shrink or pass to the leader, so no other option can reach the
  leader, and two options cannot both reach the quota for one seat; the leader is elected
  at a later stage either way. It only skips stages (and lots) that cannot matter.

Rule 49(3)'s lot is drawn only when equal surpluses are actually transferred. Options
elected at the same stage with equal votes at every stage are listed by option index
until that lot puts the chosen one first; if their surpluses never move, their order is
immaterial and stays by index.

Ballots with the same ranking always travel together with the same value, so the count
keeps one bundle per distinct ranking and each option holds a pile of bundles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from governance.domain.methods.profile import Draw, Profile

SCALE = 100_000
"""Votes are held as integers in units of 1/100,000 (five decimal places, rule 48)."""


@dataclass(frozen=True, slots=True)
class StvStage:
    number: int
    """1 = first preferences."""
    action: str
    """``"first"``, ``"surplus"`` or ``"exclude"``."""
    subject: int | None
    """The option whose surplus was transferred, or who was excluded."""
    totals: tuple[int, ...]
    """Votes per option (scaled) at the end of this stage. Elected options keep the quota
    once their surplus has moved; excluded options show 0."""
    non_transferable: int
    """Scaled, cumulative."""
    lost: int
    """Scaled, cumulative votes lost by ignoring fractions (rule 48(3))."""
    elected: tuple[int, ...]
    """Options deemed elected at the end of this stage, in order."""
    tie: str | None = None
    """``"look-back"`` or ``"lot"`` when this stage's subject was chosen among equals."""
    tied: tuple[int, ...] = ()
    """The options that were equal, when `tie` is set (`draw` itself receives those of
    them that were equal at every stage)."""


@dataclass(frozen=True, slots=True)
class StvCount:
    seats: int
    valid: int
    """Number of valid ballots (sum of profile weights)."""
    quota: int
    """Whole votes, rule 46."""
    elected: tuple[int, ...]
    """In order of election."""
    stages: tuple[StvStage, ...]
    last_vacancies: bool
    """True if the count ended under rule 52 (continuing options no more than vacancies)
    or the last-vacancy shortcut, rather than by every seat reaching the quota."""


@dataclass(slots=True)
class _Stage:
    number: int
    action: str
    subject: int | None
    totals: tuple[int, ...]
    non_transferable: int
    lost: int
    elected: list[int] = field(default_factory=list)
    tie: str | None = None
    tied: tuple[int, ...] = ()


def count_stv(profile: Profile, n_options: int, seats: int, draw: Draw) -> StvCount:
    """Count `profile` for `seats` seats among options ``0 .. n_options - 1``.

    `draw` is called only for a lot the rules require (``"surplus"``: which equal
    surplus goes first; ``"exclude"``: which equal lowest option is excluded); whatever
    it raises propagates.
    """
    valid = sum(profile.values())
    quota = valid // (seats + 1) + 1
    q = quota * SCALE

    # Bundles: one per distinct ranking, as parallel lists.
    ranks = [ranking for ranking, weight in profile.items() if weight]
    counts = [weight for weight in profile.values() if weight]
    piles: list[list[int]] = [[] for _ in range(n_options)]
    for b, ranking in enumerate(ranks):
        piles[ranking[0]].append(b)
    totals = [sum(counts[b] for b in pile) * SCALE for pile in piles]
    values = [SCALE] * len(ranks)
    positions = [0] * len(ranks)

    continuing = [True] * n_options
    n_continuing = n_options
    elected: list[int] = []
    pending: list[int] = []  # elected with a surplus not yet transferred, in election order
    history: list[tuple[int, ...]] = []  # totals at the end of each stage
    stages: list[_Stage] = []
    elected_at: dict[int, _Stage] = {}
    non_transferable = 0
    lost = 0
    last_vacancies = False

    def look_back(options: list[int]) -> tuple[tuple[int, ...], ...]:
        """Per option, its totals from the most recent stage backwards."""
        return tuple(tuple(h[c] for h in reversed(history)) for c in options)

    def move(bundles: list[int]) -> int:
        """Send bundles (values already set) to their next continuing preference; returns
        the scaled votes that found none."""
        dropped = 0
        for b in bundles:
            ranking = ranks[b]
            pos = positions[b] + 1
            end = len(ranking)
            while pos < end and not continuing[ranking[pos]]:
                pos += 1
            if pos < end:
                positions[b] = pos
                target = ranking[pos]
                piles[target].append(b)
                totals[target] += counts[b] * values[b]
            else:
                dropped += counts[b] * values[b]
        return dropped

    def close_stage(
        action: str, subject: int | None, tie: str | None = None, tied: tuple[int, ...] = ()
    ) -> bool:
        """Record the stage, elect under rule 47 and 52; True when the count is over."""
        nonlocal n_continuing, last_vacancies
        snapshot = tuple(totals)
        history.append(snapshot)
        stage = _Stage(
            len(stages) + 1, action, subject, snapshot, non_transferable, lost, tie=tie, tied=tied
        )
        stages.append(stage)
        reached = [c for c in range(n_options) if continuing[c] and totals[c] >= q]
        if reached:
            keys = dict(zip(reached, look_back(reached), strict=True))
            reached.sort(key=lambda c: (keys[c], -c), reverse=True)
            for c in reached:
                continuing[c] = False
                n_continuing -= 1
                elected.append(c)
                stage.elected.append(c)
                elected_at[c] = stage
                if totals[c] > q:
                    pending.append(c)
        vacancies = seats - len(elected)
        if vacancies <= 0:
            return True
        rest = [c for c in range(n_options) if continuing[c]]
        if n_continuing <= vacancies:
            keys = dict(zip(rest, look_back(rest), strict=True))
            rest.sort(key=lambda c: (keys[c], -c), reverse=True)
        elif vacancies == 1:
            leader = max(rest, key=totals.__getitem__)
            behind = sum(totals[c] for c in rest) - totals[leader]
            behind += sum(totals[c] - q for c in pending)
            if totals[leader] <= behind:
                return False
            rest = [leader]
        else:
            return False
        for c in rest:
            continuing[c] = False
            elected.append(c)
            stage.elected.append(c)
        last_vacancies = True
        return True

    over = close_stage("first", None)
    while not over:
        tie: str | None = None
        tied: tuple[int, ...] = ()
        if pending:
            top = max(totals[c] for c in pending)
            equal = [c for c in pending if totals[c] == top]
            subject = equal[0]
            if len(equal) > 1:
                tied = tuple(sorted(equal))
                keys = dict(zip(equal, look_back(equal), strict=True))
                best = max(keys.values())
                ahead = sorted(c for c in equal if keys[c] == best)
                if len(ahead) == 1:
                    tie, subject = "look-back", ahead[0]
                else:
                    tie, subject = "lot", _drawn(draw, tuple(ahead), "surplus")
                    _put_first(elected, ahead, subject)
                    _put_first(elected_at[subject].elected, ahead, subject)
            pending.remove(subject)
            total = totals[subject]
            surplus = total - q
            pile = piles[subject]
            piles[subject] = []
            transfer: dict[int, int] = {}
            moving: list[int] = []
            sent = 0
            for b in pile:
                value = values[b]
                tv = transfer.get(value)
                if tv is None:
                    tv = transfer[value] = surplus * value // total
                if tv:
                    values[b] = tv
                    moving.append(b)
                    sent += counts[b] * tv
            dropped = move(moving)
            non_transferable += dropped
            lost += surplus - sent
            totals[subject] = q
            over = close_stage("surplus", subject, tie, tied)
        else:
            low = min(totals[c] for c in range(n_options) if continuing[c])
            equal = [c for c in range(n_options) if continuing[c] and totals[c] == low]
            subject = equal[0]
            if len(equal) > 1:
                tied = tuple(equal)
                keys = dict(zip(equal, look_back(equal), strict=True))
                worst = min(keys.values())
                last = [c for c in equal if keys[c] == worst]
                if len(last) == 1:
                    tie, subject = "look-back", last[0]
                else:
                    # With no votes there is nothing to transfer: every option at 0 is
                    # excluded before any transfer, so which of them goes first matters
                    # only if rule 52 ends the count first, and then any of them could be
                    # the one left: they are interchangeable.
                    why = "exclude-symmetric" if low == 0 else "exclude"
                    tie, subject = "lot", _drawn(draw, tuple(last), why)
            continuing[subject] = False
            n_continuing -= 1
            pile = piles[subject]
            piles[subject] = []
            totals[subject] = 0
            non_transferable += move(pile)
            over = close_stage("exclude", subject, tie, tied)

    return StvCount(
        seats=seats,
        valid=valid,
        quota=quota,
        elected=tuple(elected),
        stages=tuple(
            StvStage(
                s.number,
                s.action,
                s.subject,
                s.totals,
                s.non_transferable,
                s.lost,
                tuple(s.elected),
                s.tie,
                s.tied,
            )
            for s in stages
        ),
        last_vacancies=last_vacancies,
    )


def _drawn(draw: Draw, tied: tuple[int, ...], purpose: str) -> int:
    chosen = draw(tied, purpose)
    if chosen not in tied:
        raise ValueError(f"draw chose {chosen}, not one of {tied}")
    return chosen


def _put_first(order: list[int], group: list[int], chosen: int) -> None:
    """Move `chosen` ahead of the rest of `group` within `order`, in their slots."""
    slots = [i for i, c in enumerate(order) if c in group]
    members = [chosen] + [order[i] for i in slots if order[i] != chosen]
    for i, c in zip(slots, members, strict=True):
        order[i] = c
