"""The run-status table: every listed move, nothing out of a terminal status, exit codes."""

from __future__ import annotations

import pytest

from runbook_engine.core import statuses as s
from runbook_engine.core.statuses import ACTIVE, EXIT_CODES, TERMINAL, TRANSITIONS, next_status

LISTED = [(src, ev, dst) for src, moves in TRANSITIONS.items() for ev, dst in moves.items()]
EVENT_TYPES = sorted({ev for _, ev, _ in LISTED} | {"run.finished", "step.started", "run.created"})


def test_the_table_is_the_documented_one() -> None:
    assert set(LISTED) == {
        (s.PENDING, "run.started", s.RUNNING),
        (s.RUNNING, "approval.requested", s.WAITING_APPROVAL),
        (s.RUNNING, "rollback.started", s.ROLLING_BACK),
        (s.RUNNING, "run.needs_attention", s.NEEDS_ATTENTION),
        (s.WAITING_APPROVAL, "step.succeeded", s.RUNNING),
        (s.WAITING_APPROVAL, "step.failed", s.RUNNING),
        (s.WAITING_APPROVAL, "rollback.started", s.ROLLING_BACK),
        (s.NEEDS_ATTENTION, "run.resolved", s.RUNNING),
        (s.NEEDS_ATTENTION, "rollback.resolved", s.ROLLING_BACK),
        (s.NEEDS_ATTENTION, "rollback.started", s.ROLLING_BACK),
        (s.ROLLING_BACK, "run.needs_attention", s.NEEDS_ATTENTION),
        # the one move out of a terminal status: a child run undone with its parent
        (s.SUCCEEDED, "rollback.started", s.ROLLING_BACK),
        (s.RUNNING, "input.requested", s.WAITING_INPUT),
        (s.WAITING_INPUT, "step.succeeded", s.RUNNING),
        (s.WAITING_INPUT, "step.failed", s.RUNNING),
        (s.WAITING_INPUT, "rollback.started", s.ROLLING_BACK),
    }


@pytest.mark.parametrize(("src", "event", "dst"), LISTED)
def test_every_listed_transition(src: str, event: str, dst: str) -> None:
    assert next_status(src, event, {}) == dst


def test_only_active_statuses_move_and_they_move_to_active_ones() -> None:
    assert set(TRANSITIONS) - {s.SUCCEEDED} <= ACTIVE
    assert TRANSITIONS[s.SUCCEEDED] == {"rollback.started": s.ROLLING_BACK}
    assert {dst for _, _, dst in LISTED} <= ACTIVE
    assert not ACTIVE & TERMINAL


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
@pytest.mark.parametrize("event", EVENT_TYPES)
def test_terminal_statuses_accept_nothing(terminal: str, event: str) -> None:
    if (terminal, event) == (s.SUCCEEDED, "rollback.started"):
        return  # a child run that succeeded is rolled back with its parent
    assert next_status(terminal, event, {"status": s.SUCCEEDED}) == terminal


@pytest.mark.parametrize("active", sorted(ACTIVE))
@pytest.mark.parametrize("final", sorted(TERMINAL))
def test_run_finished_from_every_active_status(active: str, final: str) -> None:
    assert next_status(active, "run.finished", {"status": final}) == final


def test_run_finished_must_name_a_terminal_status() -> None:
    with pytest.raises(ValueError, match="non-terminal"):
        next_status(s.RUNNING, "run.finished", {"status": s.ROLLING_BACK})


@pytest.mark.parametrize("status", sorted(ACTIVE))
def test_unlisted_events_leave_the_status_alone(status: str) -> None:
    for event in ("step.started", "step.output", "approval.decided", "run.cancel_requested"):
        assert next_status(status, event, {}) == status


def test_exit_codes() -> None:
    assert EXIT_CODES == {
        s.SUCCEEDED: 0,
        s.FAILED: 1,
        s.ROLLED_BACK: 1,
        s.ROLLBACK_FAILED: 3,
        s.NEEDS_ATTENTION: 3,
        s.CANCELLED: 4,
        s.REJECTED: 4,
        s.WAITING_APPROVAL: 5,
        s.WAITING_INPUT: 5,
    }
    assert set(TERMINAL) <= set(EXIT_CODES)
    assert (s.EXIT_INVALID, s.EXIT_LOCKED) == (2, 6)
