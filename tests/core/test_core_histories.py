"""Recorded event logs replay to the same final state: this pins the event format.

The logs in tests/fixtures/histories were written by real runs (tests/runtime/record_histories.py).
A change to ``apply`` that reads old logs differently fails here: a resumed engine would see
another state than the one that was recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.core.apply import Layout, replay
from runbook_engine.core.state import RunState
from runbook_engine.spec import load_text
from tests.core.core_sim import Ev

HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> tuple[Layout, list[Ev], dict[str, Any]]:
    fixture = json.loads(path.read_text())
    layout = Layout.of(load_text(fixture["runbook"]).runbook)
    events = [Ev(e["seq"], e["type"], e["data"], e["ts"]) for e in fixture["events"]]
    return layout, events, fixture


def test_there_are_histories() -> None:
    assert {p.stem for p in FILES} >= {
        "flow-succeeded",
        "retried-rolled-back",
        "rejected",
        "crash-resolved",
        "cancelled",
        "rollback-failed",
    }


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_replay_gives_the_recorded_final_state(path: Path) -> None:
    layout, events, fixture = load(path)
    state = replay(layout, events)
    assert state.status == fixture["final"]["status"]
    assert {sid: st.status for sid, st in state.steps.items()} == fixture["final"]["steps"]
    assert state.last_seq == len(events) == events[-1].seq
    assert state.finished_at is not None
    # and the state survives serialisation exactly, as in the store's run row
    assert RunState.from_dict(state.to_dict()) == state
    assert RunState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_prefix_replays_to_a_serialisable_state(path: Path) -> None:
    layout, events, _ = load(path)
    for n in range(1, len(events) + 1):
        state = replay(layout, events[:n])
        assert RunState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def final(name: str) -> RunState:
    layout, events, _ = load(HISTORIES / f"{name}.json")
    return replay(layout, events)


def test_flow_succeeded_details() -> None:
    state = final("flow-succeeded")
    assert state.status == "succeeded"
    assert state.step("poll").visits == 2
    assert state.step("poll").outputs == {"n": 2}
    assert state.step("route").target == "fan"
    assert state.step("unreached").status == "pending"
    assert state.step("two").continued
    assert state.step("report").result == {"message": "polled 2 times", "level": "info"}


def test_retried_rolled_back_details() -> None:
    state = final("retried-rolled-back")
    assert state.status == "rolled_back"
    assert state.step("flaky").attempt == 3
    assert [(c.step, c.rollback) for c in state.completed] == [
        ("flaky", "skipped"),
        ("scale", "succeeded"),
        ("flag", "succeeded"),
        ("note", "skipped"),
    ]
    assert state.rollback_reason == "failed"
    assert state.failure is not None
    assert state.failure["message"] == "health check failed"


def test_rejected_details() -> None:
    state = final("rejected")
    assert state.status == "rejected"
    assert [(d.user, d.decision) for d in state.approvals["ok"]] == [
        ("bob", "approve"),
        ("carol", "reject"),
    ]
    assert (state.step("ok").error or {})["message"] == "rejected by carol: not during the sale"
    assert [(c.step, c.rollback) for c in state.completed] == [("prep", "succeeded")]


def test_crash_resolved_details() -> None:
    state = final("crash-resolved")
    assert state.status == "succeeded"
    assert state.step("migrate").status == "skipped"
    assert state.attention is None


def test_cancelled_details() -> None:
    state = final("cancelled")
    assert state.status == "cancelled"
    assert state.cancelled_by == "bob"
    assert (state.step("wait").error or {})["kind"] == "cancelled"
    assert [(c.step, c.rollback) for c in state.completed] == [("prep", "succeeded")]


def test_rollback_failed_details() -> None:
    state = final("rollback-failed")
    assert state.status == "rollback_failed"
    assert [(c.step, c.rollback) for c in state.completed] == [
        ("prep", "pending"),
        ("flag", "failed"),
    ]
    assert state.rollback_queue == (1, 0)
