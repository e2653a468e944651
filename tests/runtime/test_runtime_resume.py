"""Resume after the engine died mid-step: re-run what is safe, ask a human about the rest."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.errors import RunbookError, StoreError
from runbook_engine.plugin import Registry
from runbook_engine.runtime import runner as runner_module
from runbook_engine.runtime.bus import Bus
from runbook_engine.runtime.runner import Runner
from runbook_engine.service import Engine
from runbook_engine.spec import LoadedRunbook
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import alive, of_type, runbook, started, types, wait_for

PLAN = """
steps:
  - {{id: prep, action: test.undoable, with: {{name: prep}}}}
  - {{id: work, action: {action}, with: {with_}}}
  - {{id: after, action: test.undoable, with: {{name: after}}}}
"""


def crashed(store: Store, loaded: LoadedRunbook, run_id: str, work_with: dict[str, Any]) -> None:
    """Write the log a dead engine leaves behind: prep done, work started, nothing after."""
    rb = loaded.runbook
    store.save_version(rb.name, rb.version, loaded.digest, loaded.source, loaded.document)
    store.create_run(
        run_id,
        runbook=rb.name,
        version=rb.version,
        digest=loaded.digest,
        params={},
        requester="alice",
    )
    prep = {"step": "prep", "attempt": 1, "action": "test.undoable", "with": {"name": "prep"}}
    store.append_event(run_id, "run.started", {}, status="running")
    store.append_event(run_id, "step.started", prep, step_id="prep")
    store.append_event(
        run_id,
        "step.succeeded",
        {**prep, "result": {"done": "prep"}, "outputs": {}},
        step_id="prep",
    )
    work = {"step": "work", "attempt": 1, "action": loaded.runbook.steps[1].action}  # type: ignore[union-attr]
    store.append_event(run_id, "step.started", {**work, "with": work_with}, step_id="work")


def test_an_idempotent_step_in_flight_is_run_again(engine: Engine, store: Store) -> None:
    loaded = runbook(PLAN.format(action="test.undoable", with_="{name: work}"))
    crashed(store, loaded, "r1", {"name": "work"})
    out = engine.resume("r1", by="bob")
    assert out.status == "succeeded"
    (interrupted,) = of_type(store, "r1", "step.interrupted")
    assert interrupted.data == {"step": "work", "rerun": True}
    assert [e.data["attempt"] for e in of_type(store, "r1", "step.started", "work")] == [1, 2]
    assert BOARD.journal == [("do", "work", None), ("do", "after", None)]  # prep not re-run
    assert "run.resumed" in types(store, "r1")


@pytest.fixture
def attention(engine: Engine, store: Store, tmp_path: Path) -> tuple[str, Path]:
    """A run stopped at a non-idempotent step that was in flight."""
    marker = tmp_path / "ran"
    loaded = runbook(
        PLAN.format(action="shell.command", with_=f'{{command: "echo again >> {marker}"}}')
    )
    crashed(store, loaded, "r2", {"command": f"echo again >> {marker}"})
    out = engine.resume("r2", by="bob")
    assert out.status == "needs_attention"
    assert out.exit_code == 3
    assert out.state.attention is not None
    assert out.state.attention["step"] == "work"
    assert out.state.attention["choices"] == ["retry", "skip", "rollback"]
    assert not marker.exists()  # not run again on its own
    return "r2", marker


def test_needs_attention_then_skip(
    engine: Engine, store: Store, attention: tuple[str, Path]
) -> None:
    run_id, marker = attention
    with pytest.raises(RunbookError, match="choose one of"):
        engine.resume(run_id, choice="ignore", by="bob")
    out = engine.resume(run_id, choice="skip", by="bob")
    assert out.status == "succeeded"
    assert out.state.step("work").status == "skipped"
    assert not marker.exists()
    (resolved,) = of_type(store, run_id, "run.resolved")
    assert resolved.data == {"choice": "skip", "by": "bob"}
    assert BOARD.journal == [("do", "after", None)]


def test_a_step_skipped_after_a_crash_is_rolled_back_like_a_done_one(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    undone = tmp_path / "undone"
    loaded = runbook(
        f"""
        steps:
          - {{id: prep, action: test.undoable, with: {{name: prep}}}}
          - id: work
            action: shell.command
            with: {{command: "true"}}
            rollback:
              action: shell.command
              with: {{command: "echo {{{{ params_used.command }}}} >> {undone}"}}
          - {{id: after, action: fail, with: {{message: broke}}}}
        """
    )
    crashed(store, loaded, "r4", {"command": "true"})
    assert engine.resume("r4", by="bob").status == "needs_attention"
    out = engine.resume("r4", choice="skip", by="bob")
    assert out.status == "rolled_back"
    assert undone.read_text() == "true\n"
    assert [e.data["step"] for e in of_type(store, "r4", "rollback.step_succeeded")] == [
        "work",
        "prep",
    ]


def test_needs_attention_then_retry(
    engine: Engine, store: Store, attention: tuple[str, Path]
) -> None:
    run_id, marker = attention
    out = engine.resume(run_id, choice="retry", by="bob")
    assert out.status == "succeeded"
    assert marker.read_text() == "again\n"
    assert [e.data["attempt"] for e in of_type(store, run_id, "step.started", "work")] == [1, 2]


def test_needs_attention_then_rollback(
    engine: Engine, store: Store, attention: tuple[str, Path]
) -> None:
    run_id, marker = attention
    out = engine.resume(run_id, choice="rollback", by="bob")
    assert out.status == "rolled_back"
    assert out.exit_code == 1
    assert BOARD.journal == [("undo", "prep", "prep")]
    assert not marker.exists()
    assert of_type(store, run_id, "rollback.started")[0].data["reason"] == "requested"
    with pytest.raises(RunbookError, match="already finished"):
        engine.cancel(run_id, by="bob")
    again = engine.resume(run_id, by="bob")
    assert again.message == "the run has already finished"


def test_a_choice_only_applies_to_a_run_that_needs_attention(engine: Engine, store: Store) -> None:
    out = engine.start(
        runbook('steps:\n  - {id: ok, approval: {message: "go?"}}\n'),
        {},
        requester="alice",
        wait_for_approval=False,
    )
    with pytest.raises(RunbookError, match="applies only"):
        engine.resume(out.run_id, choice="skip", by="bob")


def test_resume_after_killing_a_real_runner_mid_step(
    engine: Engine, store: Store, registry: Registry, tmp_path: Path
) -> None:
    first, pid_file = tmp_path / "first", tmp_path / "pid"
    loaded = runbook(
        f"""
        steps:
          - {{id: prep, action: test.undoable, with: {{name: prep}}}}
          - id: work
            action: shell.command
            with:
              command: >-
                if [ -e {first} ]; then echo second;
                else touch {first}; echo $$ > {pid_file}; exec sleep 30; fi
          - {{id: after, action: log, with: {{message: after}}}}
        """
    )
    rb = loaded.runbook
    store.save_version(rb.name, rb.version, loaded.digest, loaded.source, loaded.document)
    store.create_run(
        "r3", runbook=rb.name, version=1, digest=loaded.digest, params={}, requester="alice"
    )

    async def run_and_die() -> None:
        runner = Runner(
            store=store,
            registry=registry,
            loaded=loaded,
            run_id="r3",
            params={},
            requester="alice",
            bus=Bus(),
            owner="dead-host:1",
        )
        task = asyncio.create_task(runner.run())
        while not pid_file.exists() or not pid_file.read_text().strip():
            await asyncio.sleep(0.02)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run_and_die())
    row = store.get_run("r3")
    assert row is not None
    assert row.status == "running"
    assert row.owner is None
    assert types(store, "r3")[-1] in ("step.started", "step.output")
    pid = int(pid_file.read_text())
    wait_for(lambda: not alive(pid), timeout=5, what="the command to be stopped")

    stopped = engine.resume("r3", by="bob")
    assert stopped.status == "needs_attention"
    assert stopped.state.step("work").status == "interrupted"
    done = engine.resume("r3", choice="retry", by="bob")
    assert done.status == "succeeded"
    (second,) = of_type(store, "r3", "step.succeeded", "work")
    assert second.data["result"]["stdout"] == "second\n"
    assert BOARD.journal == [("do", "prep", None)]  # prep ran once, before the crash


def test_an_engine_whose_run_was_taken_over_stops_driving_it(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "HEARTBEAT_EVERY", 0.05)
    loaded = runbook(
        """
        steps:
          - {id: wait, action: sleep, with: {duration: 30}}
          - {id: after, action: test.undoable, with: {name: after}}
        """
    )

    def take_over() -> None:
        wait_for(started(store, "r-lost", "wait"), what="the sleep")
        store.set_owner("r-lost", "other-host:1")  # another engine claimed it

    thief = threading.Thread(target=take_over)
    thief.start()
    began = time.monotonic()
    with pytest.raises(StoreError, match="taken over by another engine"):
        engine.start(loaded, {}, requester="alice", run_id="r-lost")
    thief.join()
    assert time.monotonic() - began < 10
    row = store.get_run("r-lost")
    assert row is not None
    assert row.owner == "other-host:1"  # not cleared by the engine that lost it
    assert types(store, "r-lost")[-1] == "step.started"  # nothing written after losing it
    assert BOARD.journal == []
