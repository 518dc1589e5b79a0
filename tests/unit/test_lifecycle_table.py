"""The life of a proposal: every (state, move) pair, legal or not."""

from __future__ import annotations

import itertools

import pytest

from governance.domain.errors import GovernanceError, IllegalTransition
from governance.domain.lifecycle import (
    FINAL_STATES,
    OPEN_STATES,
    TRANSITIONS,
    Move,
    Status,
    next_status,
)

S, M = Status, Move

# Written out from SPEC.md "The life of a proposal", independently of the code's table.
EXPECTED_LEGAL: dict[tuple[Status, Move], Status] = {
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

ALL_PAIRS = list(itertools.product(Status, Move))


def _id(pair: tuple[Status, Move]) -> str:
    return f"{pair[0].value}-{pair[1].value}".replace(" ", "_")


def test_the_table_holds_exactly_the_moves_the_spec_describes() -> None:
    assert TRANSITIONS == EXPECTED_LEGAL


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=[_id(p) for p in ALL_PAIRS])
def test_every_state_and_move(pair: tuple[Status, Move]) -> None:
    state, move = pair
    if pair in EXPECTED_LEGAL:
        assert next_status(state, move) is EXPECTED_LEGAL[pair]
        return
    with pytest.raises(IllegalTransition) as info:
        next_status(state, move)
    message = str(info.value)
    assert state.value in message
    assert move.value in message
    # A user's mistake, shown in plain words, not a bug.
    assert isinstance(info.value, GovernanceError)


def test_illegal_move_message_reads_plainly() -> None:
    with pytest.raises(IllegalTransition) as info:
        next_status(S.CLOSED, M.EDIT)
    assert str(info.value) == "Cannot edit: the proposal is closed (closed)."


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_nothing_leaves_withdrawn_or_cancelled_and_closed_only_records_an_outcome(
    state: Status,
) -> None:
    allowed = {move for move in Move if (state, move) in TRANSITIONS}
    assert allowed == ({M.RECORD_OUTCOME} if state is S.CLOSED else set())
    for move in allowed:
        assert next_status(state, move) is state


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_withdraw_and_cancel_end_every_open_state(state: Status) -> None:
    assert next_status(state, M.WITHDRAW) is S.WITHDRAWN
    assert next_status(state, M.CANCEL) is S.CANCELLED


def test_open_and_final_states_partition_the_states() -> None:
    assert set(Status) == OPEN_STATES | FINAL_STATES
    assert not OPEN_STATES & FINAL_STATES
