"""Call steps: a child run per call, linked both ways, its outputs and failure the step's, rolled
back as a unit with its parent; through Engine on a real store (SQLite in tmp_path)."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest

from runbook_engine.catalog import Catalog
from runbook_engine.errors import RunbookInvalid
from runbook_engine.identity import Directory
from runbook_engine.plugin import Registry
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import of_type, wait_for

CHILD = """
parameters:
  host: {type: string}
steps:
  - id: drain
    action: test.undoable
    with: {name: "drain {{ params.host }}"}
  - id: restart
    action: test.undoable
    with: {name: "restart {{ params.host }}"}
    outputs: {restarted: "{{ params.host }}"}
"""


def write(folder: Path, name: str, body: str, version: int = 1) -> None:
    head = f"apiVersion: runbook/v1\nname: {name}\nversion: {version}\n"
    (folder / f"{name}-{version}.yaml").write_text(head + textwrap.dedent(body))


@pytest.fixture
def books(tmp_path: Path) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    write(folder, "restart-one", CHILD)
    return folder


@pytest.fixture
def engine(store: Store, registry: Registry, books: Path) -> Engine:
    return Engine(
        store=store,
        registry=registry,
        catalog=Catalog([books]),
        directory=Directory({"sre": frozenset({"bob"}), "leads": frozenset({"carol"})}),
    )


def rescan(engine: Engine) -> None:
    """The tests write their runbooks after the engine exists: read the folder again."""
    engine.catalog = Catalog(engine.catalog.dirs)


def start(engine: Engine, name: str, **kwargs: object) -> tuple[str, str]:
    rescan(engine)
    loaded = engine.catalog.resolve(name)
    out = engine.start(loaded, {}, requester="alice", **kwargs)  # type: ignore[arg-type]
    return out.run_id, out.status


def test_a_call_runs_the_child_and_takes_its_outputs(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "parent",
        """
        steps:
          - id: one
            call: {runbook: restart-one, with: {host: web-1}}
          - id: after
            action: log
            with: {message: "restarted {{ steps.one.outputs.restart.restarted }}"}
        """,
    )
    run_id, status = start(engine, "parent")
    assert status == "succeeded"
    _, _, state = engine.state_of(run_id)
    child = state.step("one").child
    assert child is not None and child.startswith("c")
    assert state.step("one").outputs == {"restart": {"restarted": "web-1"}}
    assert state.step("one").result["status"] == "succeeded"
    assert state.step("after").result["message"] == "restarted web-1"
    # linked both ways: the parent's log names the child, the child's its parent
    started = of_type(store, run_id, "child.started", "one")
    assert started[0].data["run"] == child
    assert started[0].data["runbook"] == "restart-one" and started[0].data["version"] == 1
    record = store.get_run(child)
    assert record is not None and record.status == "succeeded"
    assert engine.parent_of(record) == {"run": run_id, "step": "one"}
    assert record.requester == "alice"
    assert [n for w, n, _ in BOARD.journal if w == "do"] == ["drain web-1", "restart web-1"]


def test_the_newest_version_at_the_start_is_pinned(
    engine: Engine, store: Store, books: Path
) -> None:
    write(books, "restart-one", CHILD.replace("restarted: ", "v2: "), version=2)
    write(
        books,
        "parent",
        """
        steps:
          - id: newest
            call: {runbook: restart-one, with: {host: a}}
          - id: pinned
            call: {runbook: restart-one, version: 1, with: {host: b}}
        """,
    )
    run_id, status = start(engine, "parent")
    assert status == "succeeded"
    assert of_type(store, run_id, "run.started")[0].data["calls"] == {"newest": 2}
    _, _, state = engine.state_of(run_id)
    assert state.step("newest").outputs == {"restart": {"v2": "a"}}
    assert state.step("pinned").outputs == {"restart": {"restarted": "b"}}


def test_a_failed_child_fails_the_step_and_is_not_undone_twice(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "breaks",
        """
        steps:
          - {id: first, action: test.undoable, with: {name: child-first}}
          - {id: boom, action: test.flaky, with: {key: boom, failures: 5, retryable: false}}
        """,
    )
    write(
        books,
        "parent",
        """
        steps:
          - {id: prep, action: test.undoable, with: {name: parent-prep}}
          - id: call
            call: {runbook: breaks}
        """,
    )
    run_id, status = start(engine, "parent")
    assert status == "rolled_back"
    _, _, state = engine.state_of(run_id)
    error = state.step("call").error or {}
    child = state.step("call").child
    assert error["kind"] == "child"
    assert f"child run {child} (breaks@1) ended rolled_back" in error["message"]
    record = store.get_run(str(child))
    assert record is not None and record.status == "rolled_back"
    # the child undid its own part once; the parent undid its own, after
    undone = [n for w, n, _ in BOARD.journal if w == "undo"]
    assert undone == ["child-first", "parent-prep"]


def test_a_completed_child_is_rolled_back_as_a_unit_in_its_own_reverse_order(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "parent",
        """
        steps:
          - {id: prep, action: test.undoable, with: {name: parent-prep}}
          - id: call
            call: {runbook: restart-one, with: {host: web-1}}
          - {id: boom, action: test.flaky, with: {key: boom, failures: 5, retryable: false}}
        """,
    )
    run_id, status = start(engine, "parent")
    assert status == "rolled_back"
    undone = [n for w, n, _ in BOARD.journal if w == "undo"]
    assert undone == ["restart web-1", "drain web-1", "parent-prep"]
    _, _, state = engine.state_of(run_id)
    child = str(state.step("call").child)
    record = store.get_run(child)
    assert record is not None and record.status == "rolled_back"
    reason = of_type(store, child, "rollback.started")[0].data
    assert reason["reason"] == "parent"
    assert run_id in reason["failure"]["message"]
    entry = of_type(store, run_id, "rollback.step_succeeded", "call")
    assert entry and entry[0].data["result"]["status"] == "rolled_back"


def test_an_approval_inside_the_child_is_decided_on_the_child(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "gated",
        """
        steps:
          - id: ok
            approval: {message: "go?", approvers: [bob]}
          - {id: act, action: test.undoable, with: {name: gated}}
        """,
    )
    write(
        books,
        "parent",
        """
        steps:
          - id: call
            call: {runbook: gated}
          - {id: after, action: test.undoable, with: {name: after}}
        """,
    )
    run_id, status = start(engine, "parent", wait_for_approval=False)
    assert status == "waiting_approval"
    _, _, state = engine.state_of(run_id)
    child = str(state.step("call").child)
    record = store.get_run(child)
    assert record is not None and record.status == "waiting_approval"
    decided = engine.decide(child, user="bob", approve=True)
    engine.continue_after_decision(decided.run, by="bob")
    # the child ended here while nobody drove the parent: the parent was carried on too
    parent = store.get_run(run_id)
    assert parent is not None and parent.status == "succeeded"
    assert [n for w, n, _ in BOARD.journal if w == "do"] == ["gated", "after"]


def test_a_child_the_requester_may_not_run_fails_the_step_saying_why(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "locked-down",
        "permissions: {run: [bob]}\nsteps:\n  - {id: a, action: log, with: {message: x}}\n",
    )
    write(
        books,
        "parent",
        """
        steps:
          - id: call
            call: {runbook: locked-down}
        """,
    )
    run_id, status = start(engine, "parent")
    assert status == "failed"
    _, _, state = engine.state_of(run_id)
    message = (state.step("call").error or {})["message"]
    assert "could not start" in message and "alice" in message


def test_a_call_that_cannot_fit_is_refused_before_the_run_with_its_line(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "parent",
        """
        parameters:
          token: {type: string, secret: true}
        steps:
          - id: call
            call: {runbook: restart-one, with: {hots: web-1, host: "{{ params.token }}"}}
          - id: other
            call: {runbook: restart-two}
        """,
    )
    rescan(engine)
    with pytest.raises(RunbookInvalid) as caught:
        engine.start(engine.catalog.resolve("parent"), {"token": "s3cr3t"}, requester="alice")
    shown = {(p.line, p.path): p.message for p in caught.value.problems}
    assert (
        "runbook 'restart-one' has no parameter 'hots' (it has: host)"
        in shown[(9, "steps[0].call.with.hots")]
    )
    assert "passes the secret parameter 'token'" in shown[(9, "steps[0].call.with.host")]
    assert (
        "calls runbook 'restart-two', which the catalog does not have"
        in shown[(11, "steps[1].call.runbook")]
    )
    assert store.list_runs() == []


def test_a_value_that_renders_wrong_fails_the_step_naming_the_parameter(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "counted",
        """
        parameters:
          count: {type: integer, maximum: 3}
        steps:
          - {id: a, action: log, with: {message: "count {{ params.count }}"}}
        """,
    )
    write(
        books,
        "parent",
        """
        steps:
          - {id: prep, action: test.undoable, with: {name: prep}}
          - id: call
            call: {runbook: counted, with: {count: "{{ 2 + 5 }}"}}
        """,
    )
    run_id, status = start(engine, "parent")
    assert status == "rolled_back"
    _, _, state = engine.state_of(run_id)
    message = (state.step("call").error or {})["message"]
    assert "could not start" in message and "parameter 'count'" in message
    assert store.list_runs(runbook="counted") == []


def test_cancelling_the_parent_cancels_the_child(engine: Engine, store: Store, books: Path) -> None:
    write(
        books,
        "slow",
        """
        steps:
          - {id: first, action: test.undoable, with: {name: slow-first}}
          - {id: wait, action: sleep, with: {duration: 30}}
        """,
    )
    write(
        books,
        "parent",
        """
        steps:
          - {id: prep, action: test.undoable, with: {name: parent-prep}}
          - id: call
            call: {runbook: slow}
        """,
    )
    rescan(engine)
    loaded = engine.catalog.resolve("parent")
    result: dict[str, str] = {}

    def drive() -> None:
        out = engine.start(loaded, {}, requester="alice")
        result["status"] = out.status
        result["run"] = out.run_id

    thread = threading.Thread(target=drive)
    thread.start()
    run_id = wait_for(lambda: next(iter(store.list_runs(runbook="parent")), None), what="parent").id
    child = wait_for(
        lambda: (rows := of_type(store, run_id, "child.started")) and rows[0].data["run"],
        what="child",
    )
    wait_for(lambda: of_type(store, child, "step.started", "wait"), what="child sleeping")
    engine.cancel(run_id, by="alice")
    thread.join(30)
    assert result["status"] == "cancelled"
    record = store.get_run(child)
    assert record is not None and record.status == "cancelled"
    assert [n for w, n, _ in BOARD.journal if w == "undo"] == ["slow-first", "parent-prep"]


def test_a_call_per_item_and_the_rollback_of_a_loop_of_children(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "restart-or-fail",
        """
        parameters:
          host: {type: string}
        steps:
          - {id: drain, action: test.undoable, with: {name: "drain {{ params.host }}"}}
          - id: check
            action: assert
            with: {that: "{{ params.host != 'c' }}", message: "{{ params.host }} is unhealthy"}
        """,
    )
    write(
        books,
        "parent",
        """
        parameters:
          hosts: {type: list, default: [a, b, c, d]}
        steps:
          - {id: prep, action: test.undoable, with: {name: parent-prep}}
          - id: each
            for_each: "{{ params.hosts }}"
            as: host
            call: {runbook: restart-or-fail, with: {host: "{{ host }}"}}
            outputs: {status: "{{ result.status }}"}
        """,
    )
    run_id, status = start(engine, "parent")
    assert status == "rolled_back"
    _, _, state = engine.state_of(run_id)
    children = [state.step(f"each[{i}]").child for i in range(4)]
    assert children[3] is None  # on_item_failure: stop, one at a time: d never started
    statuses = {}
    for i, child in enumerate(children[:3]):
        record = store.get_run(str(child))
        assert record is not None
        assert engine.parent_of(record) == {"run": run_id, "step": f"each[{i}]"}
        statuses[i] = record.status
    # a and b completed and were undone with the parent; c failed and undid its own drain
    assert statuses == {0: "rolled_back", 1: "rolled_back", 2: "rolled_back"}
    undone = [n for w, n, _ in BOARD.journal if w == "undo"]
    assert undone == ["drain c", "drain b", "drain a", "parent-prep"]
    error = (state.step("each").error or {})["message"]
    assert "1 of 4 items failed" in error and "each[2]" in error and "c is unhealthy" in error


def test_an_input_inside_the_child_is_given_on_the_child_and_the_parent_goes_on(
    engine: Engine, store: Store, books: Path
) -> None:
    write(
        books,
        "asks",
        """
        steps:
          - id: which
            input:
              message: "which zone?"
              fields: {zone: {type: enum, choices: [a, b]}}
          - {id: act, action: test.undoable, with: {name: "zone {{ steps.which.outputs.zone }}"}}
        """,
    )
    write(
        books,
        "parent",
        """
        steps:
          - id: call
            call: {runbook: asks}
          - id: after
            action: test.undoable
            with: {name: "after {{ steps.call.outputs.which.zone }}"}
        """,
    )
    run_id, status = start(engine, "parent", wait_for_approval=False)
    assert status == "waiting_input"
    _, _, state = engine.state_of(run_id)
    child = str(state.step("call").child)
    given = engine.give_input(child, user="alice", values={"zone": "b"})
    engine.continue_after_input(given, by="alice")
    parent = store.get_run(run_id)
    assert parent is not None and parent.status == "succeeded"
    assert [n for w, n, _ in BOARD.journal if w == "do"] == ["zone b", "after b"]
