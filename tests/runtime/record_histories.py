"""Record real runs as event-log fixtures for ``tests/core/test_core_histories.py``.

Regenerate (only when the event format changes on purpose) with::

    .venv/bin/python tests/runtime/record_histories.py

Each scenario runs a runbook through the Engine on a throw-away SQLite store, with the built-in
and test actions; the log is written with times relative to the first event, so the files are
small and stable. ``tests/runtime/test_runtime_histories.py`` checks that the runtime still
writes logs of the same shape.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_engine.core.apply import Layout, replay
from runbook_engine.identity import Directory
from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.service import Engine
from runbook_engine.spec import LoadedRunbook, load_text
from runbook_engine.store import EventRecord, Store
from tests.runtime.runtime_actions import BOARD, TEST_ACTIONS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"

HEADER = "apiVersion: runbook/v1\nname: {name}\nversion: 1\n"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    body: str
    play: Callable[[Engine, LoadedRunbook], str]  # returns the run id

    def loaded(self) -> LoadedRunbook:
        return load_text(HEADER.format(name=self.name) + self.body)


def _start(params: dict[str, Any] | None = None) -> Callable[[Engine, LoadedRunbook], str]:
    def play(engine: Engine, loaded: LoadedRunbook) -> str:
        return engine.start(loaded, params or {}, requester="alice", run_id="run").run_id

    return play


def _reject(engine: Engine, loaded: LoadedRunbook) -> str:
    out = engine.start(loaded, {}, requester="alice", run_id="run", wait_for_approval=False)
    engine.decide(out.run_id, user="bob", approve=True)
    engine.resume(out.run_id, by="bob", wait_for_approval=False)
    engine.decide(out.run_id, user="carol", approve=False, reason="not during the sale")
    engine.resume(out.run_id, by="carol")
    return out.run_id


def _crash_then_skip(engine: Engine, loaded: LoadedRunbook) -> str:
    store, rb = engine.store, loaded.runbook
    store.save_version(rb.name, rb.version, loaded.digest, loaded.source, loaded.document)
    store.create_run(
        "run", runbook=rb.name, version=1, digest=loaded.digest, params={}, requester="alice"
    )
    store.append_event("run", "run.started", {}, status="running")
    store.append_event(
        "run",
        "step.started",
        {"step": "migrate", "attempt": 1, "action": "shell.command", "with": {"command": "true"}},
        step_id="migrate",
    )
    engine.resume("run", by="bob")  # needs attention: shell.command is not idempotent
    engine.resume("run", choice="skip", by="bob")
    return "run"


def _cancel(engine: Engine, loaded: LoadedRunbook) -> str:
    def cancel_when_sleeping() -> None:
        while not any(e.data.get("step") == "wait" for e in engine.store.events("run")):
            time.sleep(0.02)
        engine.cancel("run", by="bob", reason="wrong cluster")

    thread = threading.Thread(target=cancel_when_sleeping)
    thread.start()
    engine.start(loaded, {}, requester="alice", run_id="run")
    thread.join()
    return "run"


SCENARIOS = (
    Scenario(
        "flow-succeeded",
        "goto loop, skipped step, branch over a step, parallel group with a continued child",
        """\
parameters: {level: {type: integer, default: 4}}
steps:
  - {id: poll, action: test.count, with: {key: poll}, outputs: {n: "{{ result.n }}"}}
  - {id: again, goto: poll, if: "steps.poll.outputs.n < 2"}
  - {id: optional, action: log, with: {message: loud}, if: "params.level > 9"}
  - id: route
    branch:
      - {if: "params.level > 3", goto: fan}
      - {goto: end}
  - {id: unreached, action: log, with: {message: never}}
  - id: fan
    max_concurrency: 1
    parallel:
      - {id: one, action: log, with: {message: one}}
      - {id: two, action: fail, with: {message: optional}, on_failure: continue}
  - {id: report, action: log, with: {message: "polled {{ steps.poll.outputs.n }} times"}}
""",
        _start(),
    ),
    Scenario(
        "retried-rolled-back",
        "a flaky step retried twice, then a failure rolled back: undo, block, nothing to undo",
        """\
steps:
  - id: flaky
    action: test.flaky
    with: {key: f, failures: 2}
    retry: {attempts: 3, delay: 10ms, backoff: 2}
  - {id: scale, action: test.undoable, with: {name: scale}}
  - id: flag
    action: log
    with: {message: flag}
    rollback: {action: test.record, with: {name: unflag, value: "{{ result.message }}"}}
  - {id: note, action: log, with: {message: note}}
  - {id: boom, action: fail, with: {message: "health check failed"}}
""",
        _start(),
    ),
    Scenario(
        "rejected",
        "two approvers needed; one approves, the next rejects; the prepared step is undone",
        """\
steps:
  - {id: prep, action: test.undoable, with: {name: prep}}
  - id: ok
    approval: {message: "go?", approvers: [bob, carol], required: 2}
  - {id: after, action: log, with: {message: after}}
""",
        _reject,
    ),
    Scenario(
        "crash-resolved",
        "an engine died in a non-idempotent step; a human chose skip on resume",
        """\
steps:
  - {id: migrate, action: shell.command, with: {command: "true"}}
  - {id: after, action: log, with: {message: after}}
""",
        _crash_then_skip,
    ),
    Scenario(
        "cancelled",
        "cancelled during a sleep; the completed step is undone",
        """\
steps:
  - {id: prep, action: test.undoable, with: {name: prep}}
  - {id: wait, action: sleep, with: {duration: 30}}
  - {id: after, action: log, with: {message: after}}
""",
        _cancel,
    ),
    Scenario(
        "rollback-failed",
        "a failure whose rollback fails",
        """\
steps:
  - {id: prep, action: test.undoable, with: {name: prep}}
  - id: flag
    action: log
    with: {message: flag}
    rollback: {action: fail, with: {message: "cannot take the flag down"}}
  - {id: boom, action: fail, with: {message: broken}}
""",
        _start(),
    ),
)


def _relative(data: Any, t0: float) -> Any:
    """Absolute times in event data (retry ``at``, approval ``deadline``) relative to t0."""
    if isinstance(data, dict):
        return {
            k: round(v - t0, 3) if k in ("at", "deadline") and isinstance(v, float) else v
            for k, v in data.items()
        }
    return data


def as_fixture(scenario: Scenario, logged: list[EventRecord]) -> dict[str, Any]:
    loaded = scenario.loaded()
    t0 = logged[0].ts.timestamp()
    state = replay(Layout.of(loaded.runbook), logged)
    return {
        "description": scenario.description,
        "runbook": loaded.source,
        "final": {
            "status": state.status,
            "steps": {sid: st.status for sid, st in sorted(state.steps.items())},
        },
        "events": [
            {
                "seq": e.seq,
                "ts": round(e.ts.timestamp() - t0, 3),
                "type": e.type,
                "step": e.step_id,
                "data": _relative(e.data, t0),
            }
            for e in logged
        ],
    }


def dumps(fixture: dict[str, Any]) -> str:
    """JSON with one event per line: small, and a changed event is a one-line diff."""
    head = {k: v for k, v in fixture.items() if k != "events"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in fixture["events"]]
    return text + ',\n "events": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def record(scenario: Scenario, folder: Path) -> list[EventRecord]:
    """Run ``scenario`` on a new store in ``folder``; its log."""
    BOARD.reset()
    registry = Registry()
    for action_cls in (*builtin_actions(), *TEST_ACTIONS):
        registry.register(action_cls)
    with Store.open("sqlite:///" + str(folder / f"{scenario.name}.db")) as store:
        engine = Engine(store=store, registry=registry, directory=Directory())
        run_id = scenario.play(engine, scenario.loaded())
        return store.events(run_id)


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in SCENARIOS:
            fixture = as_fixture(scenario, record(scenario, Path(tmp)))
            path = FIXTURES / f"{scenario.name}.json"
            path.write_text(dumps(fixture))
            print(f"{path}: {len(fixture['events'])} events, {fixture['final']['status']}")


if __name__ == "__main__":
    main()
