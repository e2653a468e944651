"""An operation reads a run's log once: an approval is checked, recorded and driven on from
one load (checkpoint, newer events, results), not one load per layer it passes through."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.server.executor import RunExecutor
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_helpers import runbook

WAITS = """
steps:
  - {id: before, action: log, with: {message: before}}
  - id: ok
    approval: {message: "go?", approvers: [bob]}
  - {id: after, action: log, with: {message: "approved by {{ steps.ok.outputs.approved_by[0] }}"}}
"""


@pytest.fixture
def reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each kind of whole-run read happens."""
    counts: Counter[str] = Counter()
    for name in ("checkpoint", "results", "get_version"):
        original: Callable[..., Any] = getattr(store, name)

        def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            counts[_name] += 1
            return _original(*args)

        monkeypatch.setattr(store, name, counted)
    return counts


class Seen:
    def __init__(self) -> None:
        self.types: list[str] = []

    def on_event(self, run: RunInfo, event: Event, state: Any) -> None:
        self.types.append(event.type)


def test_an_approval_is_checked_recorded_and_driven_from_one_load(
    engine: Engine, store: Store, reads: Counter[str]
) -> None:
    out = engine.start(runbook(WAITS), {}, requester="alice", wait_for_approval=False)
    assert out.status == "waiting_approval"
    seen = Seen()
    engine.subscribers.append(seen)
    reads.clear()

    decided = engine.decide(out.run_id, user="bob", approve=True)
    after = engine.continue_after_decision(decided.run, by="bob")

    assert after.outcome is not None and after.outcome.status == "succeeded"
    assert after.outcome.state.step("after").result == {
        "message": "approved by bob",
        "level": "info",
    }
    assert reads["checkpoint"] == 1  # the one load: the runner did not read the log again
    assert reads["results"] == 1
    assert reads["get_version"] == 1
    # the decision, written while no engine drove the run, still reaches subscribers once
    assert seen.types.count("approval.decided") == 1
    assert seen.types[-1] == "run.finished"


def test_the_executor_drives_the_run_the_decision_loaded(
    engine: Engine, store: Store, reads: Counter[str]
) -> None:
    out = engine.start(runbook(WAITS), {}, requester="alice", wait_for_approval=False)
    executor = RunExecutor(engine)
    reads.clear()

    decided = engine.decide(out.run_id, user="bob", approve=True)
    executor.resume(out.run_id, by="bob", run=decided.run)

    assert executor.wait_idle(30)
    row = store.get_run(out.run_id)
    assert row is not None and row.status == "succeeded"
    assert reads["checkpoint"] == 1


def test_a_run_driven_elsewhere_since_the_load_is_taken_as_it_is_now(
    engine: Engine, store: Store
) -> None:
    out = engine.start(runbook(WAITS), {}, requester="alice", wait_for_approval=False)
    stale = engine.load_run(out.run_id)
    # another process approves and drives the run to its end meanwhile
    other = engine.decide(out.run_id, user="bob", approve=True)
    engine.continue_after_decision(other.run, by="bob")

    again = engine.resume(stale, by="bob")

    assert again.status == "succeeded"
    assert again.state.step("after").status == "succeeded"
