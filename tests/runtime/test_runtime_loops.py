"""``for_each`` loops through the Engine on a real store, with real shell commands."""

from __future__ import annotations

import threading
from pathlib import Path

from runbook_engine.core.apply import Layout
from runbook_engine.core.state import RunState
from runbook_engine.runtime.loading import load
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_helpers import of_type, runbook, wait_for

ROLLING = """
parameters:
  hosts: {type: list}
  out: {type: string}
steps:
  - id: restart
    action: shell.command
    for_each: "{{ params.hosts }}"
    as: host
    max_concurrency: {concurrency}
    with: {command: "echo {{ host }} >> {{ params.out | quote }}; echo up-{{ host }}"}
    outputs: {said: "{{ result.stdout | trim }}", host: "{{ host }}"}
    rollback:
      action: shell.command
      with: {command: "echo undo-{{ host }}-{{ loop.index }} >> {{ params.out | quote }}"}
  - id: check
    action: shell.command
    with:
      command: >-
        echo {{ steps.restart.outputs.said | join(',') | quote }} >> {{ params.out | quote }}
  - id: boom
    action: fail
    if: "{{ params.hosts | length > 3 }}"
    with: {message: "too many"}
"""


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_loop_runs_every_item_and_later_steps_read_its_outputs_as_lists(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    out_file = tmp_path / "out"
    loaded = runbook(ROLLING.replace("{concurrency}", "2"))
    hosts = ["a", "b", "c"]
    out = engine.start(loaded, {"hosts": hosts, "out": str(out_file)}, requester="alice")
    assert out.status == "succeeded", out.state.failure
    written = lines(out_file)
    assert sorted(written[:3]) == hosts
    assert written[3] == "up-a,up-b,up-c"
    assert out.state.step("restart").outputs == {"said": ["up-a", "up-b", "up-c"], "host": hosts}
    (started,) = of_type(store, out.run_id, "loop.started")
    assert started.data["items"] == hosts
    item_starts = [e.data["step"] for e in of_type(store, out.run_id, "step.started")][:3]
    assert sorted(item_starts) == ["restart[0]", "restart[1]", "restart[2]"]
    assert [e.step_id for e in of_type(store, out.run_id, "step.output")][:1] != ["restart"]


def test_a_failure_after_the_loop_undoes_its_items_in_reverse_order(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    out_file = tmp_path / "out"
    loaded = runbook(ROLLING.replace("{concurrency}", "1"))
    hosts = ["a", "b", "c", "d"]
    out = engine.start(loaded, {"hosts": hosts, "out": str(out_file)}, requester="alice")
    assert out.status == "rolled_back"
    assert lines(out_file) == [
        "a",
        "b",
        "c",
        "d",
        "up-a,up-b,up-c,up-d",
        # check (a shell step with no rollback) is skipped; then each item, in reverse
        "undo-d-3",
        "undo-c-2",
        "undo-b-1",
        "undo-a-0",
    ]


def test_an_item_failure_stops_the_loop_and_rolls_back_completed_items(
    engine: Engine, tmp_path: Path
) -> None:
    out_file = tmp_path / "out"
    loaded = runbook(
        """
        parameters: {out: {type: string}}
        steps:
          - id: each
            action: shell.command
            for_each: "{{ ['a', 'b', 'bad', 'c'] }}"
            with: {command: "echo {{ item }} >> {{ params.out | quote }}; test {{ item }} != bad"}
            rollback:
              action: shell.command
              with: {command: "echo undo-{{ item }} >> {{ params.out | quote }}"}
        """
    )
    out = engine.start(loaded, {"out": str(out_file)}, requester="alice")
    assert out.status == "rolled_back"
    assert lines(out_file) == ["a", "b", "bad", "undo-b", "undo-a"]
    failure = out.state.failure or {}
    assert failure["step"] == "each"
    assert "each[2]" in failure["message"] and "1 not started" in failure["message"]


def test_cancel_mid_loop_stops_the_running_item_and_rolls_back_completed_ones(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    out_file = tmp_path / "out"
    loaded = runbook(
        """
        parameters: {out: {type: string}}
        steps:
          - id: each
            action: shell.command
            for_each: "{{ range(6) | list }}"
            with:
              command: >-
                echo {{ item }} >> {{ params.out | quote }};
                if [ {{ item }} = 2 ]; then sleep 30; fi
            rollback:
              action: shell.command
              with: {command: "echo undo-{{ item }} >> {{ params.out | quote }}"}
        """
    )

    def cancel_when_item_2_runs() -> None:
        wait_for(lambda: "2" in lines(out_file), timeout=20, what="item 2 to start")
        engine.cancel("r-loop-cancel", by="bob", reason="wrong hosts")

    canceller = threading.Thread(target=cancel_when_item_2_runs)
    canceller.start()
    out = engine.start(loaded, {"out": str(out_file)}, requester="alice", run_id="r-loop-cancel")
    canceller.join()
    assert out.status == "cancelled"
    assert lines(out_file) == ["0", "1", "2", "undo-1", "undo-0"]
    (failed,) = [e for e in of_type(store, out.run_id, "step.failed") if e.step_id == "each[2]"]
    assert failed.data["error"]["kind"] == "cancelled"


def test_a_loaded_run_has_its_loop_state_and_item_results(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    loaded = runbook(
        """
        steps:
          - id: each
            action: log
            for_each: "{{ range(300) | list }}"
            max_concurrency: 4
            with: {message: "item {{ item }}"}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    row = store.get_run(out.run_id)
    assert row is not None
    again = load(store, Layout.of(loaded.runbook), row)
    state: RunState = again.quiet
    assert state.loops["each"].done == 300
    assert state.loops == out.state.loops
    assert state.step("each[299]").result == out.state.step("each[299]").result
    found = store.checkpoint(out.run_id)
    assert found is not None and "loops" in found[1]


def test_a_loop_over_a_secret_list_gets_the_real_items_and_records_them_masked(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    out_file = tmp_path / "out"
    loaded = runbook(
        """
        parameters:
          tokens: {type: list, secret: true}
          out: {type: string}
        steps:
          - id: each
            action: shell.command
            for_each: "{{ params.tokens }}"
            as: token
            with: {command: "echo {{ token | quote }} >> {{ params.out | quote }}"}
            rollback:
              action: shell.command
              with: {command: "echo undo-{{ token | quote }} >> {{ params.out | quote }}"}
          - {id: boom, action: fail, with: {message: boom}}
        """
    )
    secrets = ["s3cr3t-one", "s3cr3t-two"]
    out = engine.start(loaded, {"tokens": secrets, "out": str(out_file)}, requester="alice")
    assert out.status == "rolled_back"
    assert lines(out_file) == [*secrets, "undo-s3cr3t-two", "undo-s3cr3t-one"]
    logged = " ".join(str(e.data) for e in store.events(out.run_id))
    assert "s3cr3t" not in logged
    (started,) = of_type(store, out.run_id, "loop.started")
    assert started.data["items"] == ["***", "***"]


def test_the_timeout_and_retries_apply_to_each_item(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - id: each
            action: sleep
            for_each: "{{ [0.3, 0.3, 0.3, 3] }}"
            on_item_failure: continue
            timeout: 1s
            retry: {attempts: 2, delay: 0.05}
            with: {duration: "{{ item }}"}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "failed"
    # 0.9 s in all for the first three: the time-out is per item, not for the step
    assert [out.state.step(f"each[{i}]").status for i in range(4)] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
    ]
    assert (out.state.step("each[3]").error or {})["kind"] == "timeout"
    assert out.state.step("each[3]").attempt == 2  # a time-out is retryable: tried twice
    retried = [e.data["step"] for e in of_type(store, out.run_id, "step.retry")]
    assert retried == ["each[3]"]
