"""Runs through Engine.start on a real store: timeouts, retries, parallel limits, outputs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from runbook_engine.core.apply import Layout, replay
from runbook_engine.core.state import RunState
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import alive, of_type, runbook, types, wait_for


def test_a_step_timeout_really_stops_the_action(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    loaded = runbook(
        f"""
        steps:
          - id: hang
            action: shell.command
            timeout: 1s
            with:
              command: "sleep 30 & echo $! > {pids}; echo $$ >> {pids}; wait"
        """
    )
    began = time.monotonic()
    out = engine.start(loaded, {}, requester="alice")
    elapsed = time.monotonic() - began
    assert elapsed < 10, elapsed
    assert out.status == "failed"
    assert out.exit_code == 1
    (failed,) = of_type(store, out.run_id, "step.failed", "hang")
    assert failed.data["error"]["kind"] == "timeout"
    assert failed.data["error"]["retryable"] is True
    assert failed.data["duration"] < 10
    recorded = [int(p) for p in pids.read_text().split()]
    assert len(recorded) == 2  # the background sleep and the shell itself
    wait_for(lambda: not any(alive(p) for p in recorded), timeout=5, what="processes to go")


FLAKY = """
steps:
  - id: flaky
    action: test.flaky
    with: {{key: f, failures: 2, retryable: {retryable}}}
    retry: {{attempts: 3, delay: 50ms, backoff: 2}}
    outputs: {{calls: "{{{{ result.calls }}}}"}}
  - {{id: after, action: log, with: {{message: "took {{{{ steps.flaky.outputs.calls }}}} calls"}}}}
"""


def test_a_flaky_step_succeeds_on_its_third_attempt(engine: Engine, store: Store) -> None:
    out = engine.start(runbook(FLAKY.format(retryable="true")), {}, requester="alice")
    assert out.status == "succeeded"
    assert out.exit_code == 0
    assert [e.data["attempt"] for e in of_type(store, out.run_id, "step.started", "flaky")] == [
        1,
        2,
        3,
    ]
    retries = of_type(store, out.run_id, "step.retry", "flaky")
    assert [(e.data["attempt"], e.data["delay"]) for e in retries] == [(2, 0.05), (3, 0.1)]
    failed = of_type(store, out.run_id, "step.failed", "flaky")
    assert [e.data["error"]["kind"] for e in failed] == ["flaky", "flaky"]
    # the second try was not made before its time
    second = of_type(store, out.run_id, "step.started", "flaky")[1]
    assert second.ts.timestamp() >= retries[0].data["at"] - 0.01
    assert out.state.step("flaky").attempt == 3
    assert out.state.step("flaky").status == "succeeded"
    assert out.state.step("after").result == {"message": "took 3 calls", "level": "info"}
    assert BOARD.calls["f"] == 3


def test_a_non_retryable_error_is_not_retried(engine: Engine, store: Store) -> None:
    out = engine.start(runbook(FLAKY.format(retryable="false")), {}, requester="alice")
    assert out.status == "failed"
    assert "step.retry" not in types(store, out.run_id)
    assert len(of_type(store, out.run_id, "step.started", "flaky")) == 1
    assert BOARD.calls["f"] == 1
    assert out.state.failure is not None
    assert out.state.failure["step"] == "flaky"
    assert out.state.failure["message"] == "flaky failure 1"


def test_parallel_runs_exactly_max_concurrency_at_once(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - id: fan
            max_concurrency: 2
            parallel:
              - {id: c1, action: test.track, with: {key: "1", hold: 0.3}}
              - {id: c2, action: test.track, with: {key: "2", hold: 0.3}}
              - {id: c3, action: test.track, with: {key: "3", hold: 0.3}}
              - {id: c4, action: test.track, with: {key: "4", hold: 0.3}}
        """
    )
    began = time.monotonic()
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    assert BOARD.peak == 2
    assert time.monotonic() - began >= 0.6  # two waves of two
    assert {c: out.state.step(c).status for c in ("c1", "c2", "c3", "c4", "fan")} == dict.fromkeys(
        ("c1", "c2", "c3", "c4", "fan"), "succeeded"
    )
    # the log agrees: never more than two started and not yet finished
    running = peak = 0
    for ev in store.events(out.run_id):
        if ev.type == "step.started":
            running += 1
        elif ev.type in ("step.succeeded", "step.failed") and ev.data["step"] != "fan":
            running -= 1
        peak = max(peak, running)
    assert peak == 2


def test_outputs_of_one_step_feed_the_next(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - id: find
            action: shell.command
            with: {command: "printf 'web-7\\n'"}
            outputs: {host: "{{ result.stdout | trim }}"}
          - id: use
            action: log
            with: {message: "restarting {{ steps.find.outputs.host }}"}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    assert out.state.step("find").outputs == {"host": "web-7"}
    (use,) = of_type(store, out.run_id, "step.started", "use")
    assert use.data["with"] == {"message": "restarting web-7"}
    (lines,) = of_type(store, out.run_id, "step.output", "use")
    assert lines.data["lines"] == ["[info] restarting web-7"]


def test_a_goto_loop_runs_until_its_condition_is_false(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - id: poll
            action: test.count
            with: {key: poll}
            outputs: {n: "{{ result.n }}"}
          - {id: again, goto: poll, if: "steps.poll.outputs.n < 3"}
          - {id: done, action: log, with: {message: "polled {{ steps.poll.outputs.n }} times"}}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    assert len(of_type(store, out.run_id, "step.started", "poll")) == 3
    assert len(of_type(store, out.run_id, "step.jumped", "again")) == 2
    assert out.state.step("done").result == {"message": "polled 3 times", "level": "info"}


def test_the_stored_checkpoint_is_the_replayed_state_without_results(
    engine: Engine, store: Store
) -> None:
    out = engine.start(runbook(FLAKY.format(retryable="true")), {}, requester="alice")
    row = store.get_run(out.run_id)
    assert row is not None
    assert row.status == "succeeded"
    assert row.published_seq == out.state.last_seq == len(store.events(out.run_id))
    # the finish is a status change, so there is a checkpoint of the final state
    found = store.checkpoint(out.run_id)
    assert found is not None
    seq, checkpoint = found
    stored = RunState.from_checkpoint(checkpoint)
    assert seq == stored.last_seq == out.state.last_seq
    # results stay in their events
    assert not any("result" in st for st in checkpoint["steps"].values())
    assert not any("result" in entry for entry in checkpoint["completed"])
    # the run row keeps only the summary list views read
    assert row.state == {"failure": None, "waiting": {}}
    hydrated = stored.with_results(store.results(out.run_id, stored.result_seqs()))
    assert hydrated == out.state


def test_the_live_state_is_the_replay_of_the_log_and_round_trips(
    engine: Engine, store: Store
) -> None:
    loaded = runbook(
        """
        steps:
          - {id: one, action: test.undoable, with: {name: one}}
          - id: fan
            parallel:
              - {id: p1, action: log, with: {message: p1}}
              - id: p2
                action: test.flaky
                with: {key: p2, failures: 1}
                retry: {attempts: 2, delay: 10ms}
          - {id: boom, action: fail, with: {}}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "rolled_back"
    assert out.state == replay(Layout.of(loaded.runbook), store.events(out.run_id))
    assert RunState.from_dict(out.state.to_dict()) == out.state
    assert RunState.from_dict(json.loads(json.dumps(out.state.to_dict()))) == out.state
