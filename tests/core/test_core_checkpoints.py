"""Loading from a checkpoint is the same as folding the whole log.

A run's state is loaded as its newest checkpoint (``RunState.to_checkpoint``, kept without the
actions' results) plus the events after it, with the results read back from the events they
came in. For every recorded history in tests/fixtures/histories, and for generated ones, a
checkpoint taken after any prefix gives exactly the state that folding from the first event
gives.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.core.apply import Layout, replay
from runbook_engine.core.state import RunState
from tests.core.core_sim import Ev, Outcome, Sim, error
from tests.core.test_core_histories import FILES, load


def from_checkpoint_at(layout: Layout, events: list[Ev], k: int) -> RunState:
    """The state a loader builds from a checkpoint taken after ``k`` events."""
    stored = json.loads(json.dumps(replay(layout, events[:k]).to_checkpoint()))
    start = RunState.from_checkpoint(stored)
    assert start.last_seq == (events[k - 1].seq if k else 0)
    state = replay(layout, [e for e in events if e.seq > start.last_seq], start=start)
    by_seq = {e.seq: e.data.get("result") for e in events}
    return state.with_results({seq: by_seq[seq] for seq in state.result_seqs()})


def check_every_checkpoint(layout: Layout, events: list[Ev]) -> None:
    truth = replay(layout, events)
    for k in range(len(events) + 1):
        assert from_checkpoint_at(layout, events, k) == truth, f"checkpoint after {k} events"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_recorded_histories_load_the_same_from_any_checkpoint(path: Any) -> None:
    layout, events, _ = load(path)
    check_every_checkpoint(layout, events)


def test_a_checkpoint_holds_no_results() -> None:
    sim = Sim.of(
        """
        steps:
          - {id: big, action: test.out, with: {}}
          - {id: after, action: log, with: {message: "{{ steps.big.result.stdout | length }}"}}
        """
    )
    sim.drive(lambda cmd: {"stdout": "x" * 10_000} if cmd.step == "big" else {})
    checkpoint = json.dumps(sim.state.to_checkpoint())
    assert "x" * 100 not in checkpoint
    assert len(checkpoint) < 2_000
    check_every_checkpoint(sim.layout, sim.events)


BODY = """
steps:
  - id: a
    action: test.undoable
    with: {n: 1}
    retry: {attempts: 3, delay: 1s}
    rollback: {action: log, with: {message: undo a}}
  - id: gate
    if: "{{ steps.a.result.n == 1 }}"
    goto: group
  - {id: skipped, action: log, with: {message: never}}
  - id: group
    parallel:
      - {id: p1, action: test.undoable, with: {n: 2}}
      - {id: p2, action: test.undoable, with: {n: 3}, on_failure: continue}
  - id: last
    action: test.undoable
    with: {n: 4}
"""


@settings(max_examples=60, deadline=None)
@given(
    outcomes=st.lists(
        st.sampled_from(["ok", "ok", "ok", "retryable", "fatal"]), min_size=1, max_size=12
    ),
    undo=st.booleans(),
    rollbacks_fail=st.booleans(),
)
def test_generated_histories_load_the_same_from_any_checkpoint(
    outcomes: list[str], undo: bool, rollbacks_fail: bool
) -> None:
    plays = iter(outcomes)

    def behaviour(cmd: Any) -> Outcome:
        kind = next(plays, "ok")
        if kind == "retryable":
            return error("exit", retryable=True)
        if kind == "fatal":
            return error("exit")
        return {"n": cmd.params.get("n"), "out": "y" * 50}

    def rollback(cmd: Any) -> Outcome:
        return error("exit") if rollbacks_fail else {"undone": cmd.step}

    sim = Sim.of(BODY, undo=frozenset({"test.undoable"}) if undo else frozenset())
    sim.drive(behaviour, rollback)
    assert sim.events
    check_every_checkpoint(sim.layout, sim.events)
