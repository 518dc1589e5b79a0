"""The life of a proposal: every legal move, in one table.

Rules (SPEC.md, "The life of a proposal"):

- ``draft → deliberation → voting → closed``. Voting may also open straight from
  draft (no deliberation asked for).
- ``edit`` is allowed only before voting opens (draft, deliberation); it keeps the state.
- ``set the timebox`` (a moderator's new end for a deliberation) and ``record a
  summary`` only during deliberation; they keep the state.
- ``extend`` only while voting; it keeps the state.
- ``close`` ends voting as one of the closed kinds (passed, rejected, no_quorum, tied,
  decided, concluded); which one is the decision method's result, not this table's.
- ``withdraw`` (the author) and ``cancel`` (a moderator) end any open state
  (draft, deliberation, voting).
- ``record_outcome`` only once closed.
- Closed, withdrawn and cancelled are final: nothing leaves them.

Any pair missing from `TRANSITIONS` is illegal, and `next_status` raises an error that
names both the state and the move.
"""

from __future__ import annotations

from enum import StrEnum

from governance.domain.errors import IllegalTransition


class Status(StrEnum):
    DRAFT = "draft"
    DELIBERATION = "deliberation"
    VOTING = "voting"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class ClosedAs(StrEnum):
    PASSED = "passed"
    REJECTED = "rejected"
    NO_QUORUM = "no_quorum"
    TIED = "tied"
    DECIDED = "decided"
    CONCLUDED = "concluded"


class Move(StrEnum):
    OPEN_DELIBERATION = "open deliberation"
    OPEN_VOTING = "open voting"
    EDIT = "edit"
    EXTEND = "extend"
    CLOSE = "close"
    WITHDRAW = "withdraw"
    CANCEL = "cancel"
    RECORD_OUTCOME = "record an outcome"
    SET_TIMEBOX = "set the timebox"
    SUMMARISE = "record a summary"


S, M = Status, Move

TRANSITIONS: dict[tuple[Status, Move], Status] = {
    (S.DRAFT, M.OPEN_DELIBERATION): S.DELIBERATION,
    (S.DRAFT, M.OPEN_VOTING): S.VOTING,
    (S.DRAFT, M.EDIT): S.DRAFT,
    (S.DRAFT, M.WITHDRAW): S.WITHDRAWN,
    (S.DRAFT, M.CANCEL): S.CANCELLED,
    (S.DELIBERATION, M.OPEN_VOTING): S.VOTING,
    (S.DELIBERATION, M.EDIT): S.DELIBERATION,
    (S.DELIBERATION, M.SET_TIMEBOX): S.DELIBERATION,
    (S.DELIBERATION, M.SUMMARISE): S.DELIBERATION,
    (S.DELIBERATION, M.WITHDRAW): S.WITHDRAWN,
    (S.DELIBERATION, M.CANCEL): S.CANCELLED,
    (S.VOTING, M.EXTEND): S.VOTING,
    (S.VOTING, M.CLOSE): S.CLOSED,
    (S.VOTING, M.WITHDRAW): S.WITHDRAWN,
    (S.VOTING, M.CANCEL): S.CANCELLED,
    (S.CLOSED, M.RECORD_OUTCOME): S.CLOSED,
}

OPEN_STATES = frozenset({S.DRAFT, S.DELIBERATION, S.VOTING})
FINAL_STATES = frozenset({S.CLOSED, S.WITHDRAWN, S.CANCELLED})

_STATE_WORDS = {
    S.DRAFT: "is a draft",
    S.DELIBERATION: "is in deliberation",
    S.VOTING: "is open for voting",
    S.CLOSED: "is closed",
    S.WITHDRAWN: "was withdrawn",
    S.CANCELLED: "was cancelled",
}


def state_words(state: Status) -> str:
    return _STATE_WORDS[state]


def next_status(state: Status, move: Move) -> Status:
    """The state after `move`, or an `IllegalTransition` naming the state and the move."""
    try:
        return TRANSITIONS[(state, move)]
    except KeyError:
        raise IllegalTransition(
            f"Cannot {move.value}: the proposal {_STATE_WORDS[state]} ({state.value})."
        ) from None
