"""``for_each`` loops in the core: items as sub-steps, concurrency, failures, outputs, rollback,
cancel, recovery after a crash, checkpoints."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from runbook_engine.core.apply import replay
from runbook_engine.core.decide import Env, Invoke, InvokeRollback, Record, decide, find_step
from runbook_engine.core.events import EventType
from runbook_engine.core.items import item_id, split_item
from runbook_engine.core.state import (
    STEP_FAILED,
    STEP_INTERRUPTED,
    STEP_SKIPPED,
    STEP_SUCCEEDED,
    RunState,
)
from runbook_engine.core.statuses import (
    CANCELLED,
    FAILED,
    NEEDS_ATTENTION,
    ROLLED_BACK,
    RUNNING,
    SUCCEEDED,
)
from runbook_engine.spec.models import ActionStep as ActionStepModel
from tests.core.core_sim import Sim, error, runbook
from tests.core.test_core_checkpoints import check_every_checkpoint

HOSTS = ["web1", "web2", "web3", "web4", "web5"]

LOOP = """
parameters: {hosts: {type: list}}
steps:
  - id: restart
    action: test.restart
    for_each: "{{ params.hosts }}"
    as: host
    max_concurrency: {concurrency}
    on_item_failure: {policy}
    with: {host: "{{ host }}", n: "{{ loop.index }}"}
    outputs: {up: "{{ result.up }}", where: "{{ host }}"}
    rollback:
      action: test.undo
      with: {host: "{{ host }}", was: "{{ result.up if result else none }}"}
  - id: after
    action: log
    with: {message: "{{ steps.restart.outputs.where | join(',') }}"}
"""


def loop_sim(
    concurrency: int = 1, policy: str = "stop", hosts: list[Any] | None = None, **kw: Any
) -> Sim:
    body = LOOP.replace("{concurrency}", str(concurrency)).replace("{policy}", policy)
    return Sim.of(body, params={"hosts": HOSTS if hosts is None else hosts}, **kw)


def up(cmd: Invoke) -> dict[str, Any]:
    return {"up": f"{cmd.params.get('host')}-up"}


def failing(*hosts: str) -> Any:
    def behaviour(cmd: Invoke) -> dict[str, Any]:
        if cmd.params.get("host") in hosts:
            return error("exit", message=f"{cmd.params['host']} is down")
        return up(cmd)

    return behaviour


def most_at_once(sim: Sim, step: str) -> int:
    """The largest number of the loop's items running at the same time, from the log."""
    running: set[str] = set()
    most = 0
    for ev in sim.events:
        sid = str(ev.data.get("step", ""))
        if split_item(sid)[0] != step or split_item(sid)[1] is None:
            continue
        if ev.type == "step.started":
            running.add(sid)
            most = max(most, len(running))
        elif ev.type in ("step.succeeded", "step.failed"):
            running.discard(sid)
    return most


def test_item_ids_round_trip_and_never_collide_with_step_ids() -> None:
    assert item_id("restart", 3) == "restart[3]"
    assert split_item("restart[3]") == ("restart", 3)
    assert split_item("restart") == ("restart", None)
    for odd in ("restart[x]", "[3]", "restart[]", "restart3]"):
        assert split_item(odd) == (odd, None)
    rb = runbook(LOOP.replace("{concurrency}", "1").replace("{policy}", "stop"))
    assert find_step(rb, "restart[4]").id == "restart"


def test_a_sequential_loop_runs_each_item_in_turn_with_its_own_params() -> None:
    sim = loop_sim()
    sim.drive(up)
    assert sim.state.status == SUCCEEDED
    (started,) = sim.of_type("loop.started")
    assert started.data == {"step": "restart", "items": HOSTS}
    items = [f"restart[{i}]" for i in range(5)]
    assert sim.invoked() == [*items, "after"]
    assert most_at_once(sim, "restart") == 1  # the default: one at a time
    calls = [e.data["with"] for e in sim.of_type("step.started")][:5]
    assert calls == [{"host": h, "n": i} for i, h in enumerate(HOSTS)]
    assert sim.state.step("restart").status == STEP_SUCCEEDED
    # the step's outputs are lists, one value per item, in item order
    assert sim.state.step("restart").outputs == {
        "up": [f"{h}-up" for h in HOSTS],
        "where": HOSTS,
    }
    assert sim.of_type("step.started")[-1].data["with"] == {"message": ",".join(HOSTS)}


def test_max_concurrency_bounds_the_items_running_at_once() -> None:
    sim = loop_sim(concurrency=2)
    sim.drive(up)
    assert sim.state.status == SUCCEEDED
    assert most_at_once(sim, "restart") == 2
    sim = loop_sim(concurrency=10)
    sim.drive(up)
    assert most_at_once(sim, "restart") == 5


def test_the_result_is_the_list_of_item_results_in_item_order() -> None:
    sim = Sim.of(
        """
        parameters: {hosts: {type: list}}
        steps:
          - id: probe
            action: test.probe
            for_each: "{{ params.hosts }}"
            max_concurrency: 3
            on_item_failure: continue
            on_failure: continue
            with: {host: "{{ item }}"}
          - id: report
            action: log
            with:
              message: "{{ steps.probe.result | map(attribute='status') | join(' ') }}"
              first: "{{ steps.probe.result[0] }}"
        """,
        params={"hosts": ["a", "b", "c"]},
    )
    sim.drive(lambda cmd: error() if cmd.params.get("host") == "b" else {"ok": cmd.params})
    report = sim.of_type("step.started")[-1].data["with"]
    assert report["message"] == "succeeded failed succeeded"
    assert report["first"] == {
        "item": "a",
        "index": 0,
        "status": "succeeded",
        "result": {"ok": {"host": "a"}},
        "outputs": {},
        "error": None,
    }


def test_an_empty_list_succeeds_at_once_with_empty_outputs() -> None:
    sim = loop_sim(hosts=[])
    sim.drive(up)
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["after"]
    assert sim.state.step("restart").outputs == {"up": [], "where": []}
    assert sim.of_type("step.started")[-1].data["with"] == {"message": ""}


@pytest.mark.parametrize(
    ("for_each", "found"),
    [("{{ params.n }}", "int 3"), ("{{ params.hosts | join(',') }}", "str 'a,b'")],
)
def test_a_for_each_that_is_not_a_list_fails_the_step_saying_what_it_got(
    for_each: str, found: str
) -> None:
    sim = Sim.of(
        f"""
        parameters: {{n: {{type: integer}}, hosts: {{type: list}}}}
        steps:
          - {{id: loop, action: log, for_each: "{for_each}", with: {{message: "{{{{ item }}}}"}}}}
        """,
        params={"n": 3, "hosts": ["a", "b"]},
    )
    sim.drive()
    assert sim.state.status == FAILED
    failed = sim.state.step("loop").error or {}
    assert failed["message"] == f"loop.for_each: expected a list, got {found}"
    assert sim.of_type("loop.started") == []


def test_a_for_each_template_error_fails_the_step_naming_it() -> None:
    sim = Sim.of(
        """
        parameters: {hosts: {type: list}}
        steps:
          - {id: loop, action: log, for_each: "{{ params.hosts.nope }}", with: {message: x}}
        """,
        params={"hosts": ["a"]},
    )
    sim.drive()
    assert sim.state.status == FAILED
    assert (sim.state.step("loop").error or {})["message"].startswith("loop.for_each: ")


def test_each_item_has_its_own_attempts() -> None:
    sim = Sim.of(
        """
        parameters: {hosts: {type: list}}
        steps:
          - id: restart
            action: test.restart
            for_each: "{{ params.hosts }}"
            retry: {attempts: 3, delay: 2s}
            with: {host: "{{ item }}"}
        """,
        params={"hosts": ["a", "b"]},
    )
    tries: dict[str, int] = {}

    def flaky(cmd: Invoke) -> dict[str, Any]:
        tries[cmd.step] = tries.get(cmd.step, 0) + 1
        if tries[cmd.step] < 3:  # each item fails twice, then works
            return error("timeout", retryable=True)
        return {}

    sim.drive(flaky)
    assert sim.state.status == SUCCEEDED
    assert tries == {"restart[0]": 3, "restart[1]": 3}
    retries = [(e.data["step"], e.data["attempt"]) for e in sim.of_type("step.retry")]
    assert retries == [("restart[0]", 2), ("restart[0]", 3), ("restart[1]", 2), ("restart[1]", 3)]
    assert sim.state.step("restart[1]").attempt == 3


def test_stop_starts_no_item_after_a_failure_and_lets_the_running_ones_finish() -> None:
    sim = loop_sim(concurrency=2, undo=frozenset())
    sim.drive(failing("web2"))
    # web1 and web2 ran together; web2 failed while web3 had started beside web1's end
    statuses = sim.statuses(f"restart[{i}]" for i in range(5))
    assert statuses["restart[1]"] == STEP_FAILED
    assert "restart[4]" not in sim.invoked()
    failed = sim.state.step("restart").error or {}
    assert failed["kind"] == "loop"
    assert "restart[1]: web2 is down" in failed["message"]
    assert "not started: on_item_failure is stop" in failed["message"]
    assert [e.data["step"] for e in sim.of_type("loop.item_failed")] == ["restart[1]"]
    # the step's on_failure (rollback) applies: the items that completed are undone
    assert sim.state.status == ROLLED_BACK


def test_continue_runs_every_item_then_fails_the_step_naming_the_failed_ones() -> None:
    sim = loop_sim(policy="continue")
    sim.drive(failing("web2", "web4"))
    assert sim.invoked() == [f"restart[{i}]" for i in range(5)]  # `after` never runs
    failed = sim.state.step("restart").error or {}
    assert failed["message"].startswith("2 of 5 items failed: ")
    assert "restart[1]: web2 is down; restart[3]: web4 is down" in failed["message"]
    # outputs are kept as lists, None for the failed items, though the step failed
    assert sim.state.step("restart").outputs["where"] == ["web1", None, "web3", None, "web5"]
    assert sim.state.status == ROLLED_BACK


def test_a_failed_loop_step_with_on_failure_continue_lets_later_steps_read_its_outputs() -> None:
    body = LOOP.replace("{concurrency}", "1").replace("{policy}", "continue")
    body = body.replace("    rollback:", "    on_failure: continue\n    rollback:")
    sim = Sim.of(body, params={"hosts": HOSTS})
    sim.drive(failing("web3"))
    assert sim.state.status == SUCCEEDED
    message = sim.of_type("step.started")[-1].data["with"]["message"]
    assert message == "web1,web2,None,web4,web5"  # the failed item has no output


def test_many_failures_are_counted_not_all_named() -> None:
    hosts = [f"h{i}" for i in range(25)]
    sim = loop_sim(policy="continue", hosts=hosts)
    sim.drive(failing(*hosts), limit=500)
    message = (sim.state.step("restart").error or {})["message"]
    assert message.startswith("25 of 25 items failed: restart[0]: h0 is down")
    assert message.endswith("; and 15 more")


def test_rollback_undoes_completed_items_in_reverse_with_each_items_own_values() -> None:
    sim = loop_sim(concurrency=2)
    # web5 fails: web1..web4 completed, in the order they ended (finishing first started first)
    sim.drive(failing("web5"), lambda cmd: {})
    undone = [(e.data["step"], e.data["with"]) for e in sim.of_type("rollback.step_started")]
    completed = [c.step for c in sim.state.completed]
    assert [step for step, _ in undone] == list(reversed(completed))
    assert sorted(completed) == [f"restart[{i}]" for i in range(4)]
    for step, params in undone:
        host = HOSTS[split_item(step)[1] or 0]
        assert params == {"host": host, "was": f"{host}-up"}
    assert "restart[4]" not in [step for step, _ in undone]  # the failed item is not undone
    assert sim.state.status == ROLLED_BACK


def test_cancel_mid_loop_stops_starting_items_and_rolls_back_the_completed_ones() -> None:
    sim = loop_sim(concurrency=2)
    first = sim.advance()
    assert [c.step for c in first if isinstance(c, Invoke)] == ["restart[0]", "restart[1]"]
    for cmd in first:
        assert isinstance(cmd, Invoke)
        sim.start(cmd)
    assert isinstance(first[0], Invoke) and isinstance(first[1], Invoke)
    sim.succeed(first[0], up(first[0]))
    sim.record("run.cancel_requested", by="bob")
    assert sim.advance() == []  # restart[1] is still running: the runtime stops it
    sim.fail(first[1], error("cancelled", message="cancelled"))
    sim.drive(up, lambda cmd: {})
    assert sim.state.status == CANCELLED
    assert sim.rolled_back() == [("restart[0]", False)]
    assert sim.invoked() == ["restart[0]", "restart[1]"]


def test_an_interrupted_idempotent_item_is_run_again_and_finished_items_are_not() -> None:
    sim = loop_sim(concurrency=2, idempotent=frozenset({"log", "test.restart"}))
    first = sim.advance()
    for cmd in first:
        assert isinstance(cmd, Invoke)
        sim.start(cmd)
    assert isinstance(first[0], Invoke)
    sim.succeed(first[0], up(first[0]))
    # the engine dies with restart[1] and restart[2] running
    (third,) = sim.advance()
    assert isinstance(third, Invoke) and third.step == "restart[2]"
    sim.start(third)
    for rec in sim.recover():
        sim.record(rec.type, **rec.data)
    interrupted = [e.data for e in sim.of_type("step.interrupted")]
    assert interrupted == [
        {"step": "restart[1]", "rerun": True},
        {"step": "restart[2]", "rerun": True},
    ]
    sim.drive(up)
    assert sim.state.status == SUCCEEDED
    counts = {sid: sim.invoked().count(sid) for sid in set(sim.invoked())}
    assert counts == {
        "restart[0]": 1,
        "restart[1]": 2,
        "restart[2]": 2,
        "restart[3]": 1,
        "restart[4]": 1,
        "after": 1,
    }


def crashed_mid_loop() -> Sim:
    """restart[0] done, restart[1] (not idempotent) in flight when the engine died."""
    sim = loop_sim()
    (one,) = sim.advance()
    assert isinstance(one, Invoke)
    sim.start(one)
    sim.succeed(one, up(one))
    (two,) = sim.advance()
    assert isinstance(two, Invoke) and two.step == "restart[1]"
    sim.start(two)
    for rec in sim.recover():
        sim.record(rec.type, **rec.data)
    return sim


def test_an_interrupted_item_that_is_not_idempotent_is_put_to_a_human() -> None:
    sim = crashed_mid_loop()
    assert sim.state.status == NEEDS_ATTENTION
    assert sim.state.step("restart[1]").status == STEP_INTERRUPTED
    (asked,) = sim.of_type("run.needs_attention")
    assert asked.data["step"] == "restart[1]"
    assert "'restart[1]' (test.restart)" in asked.data["reason"]
    assert sim.advance() == []


@pytest.mark.parametrize(
    ("choice", "runs_of_item_1", "status"),
    [("retry", 2, SUCCEEDED), ("skip", 1, SUCCEEDED), ("rollback", 1, ROLLED_BACK)],
)
def test_a_human_choice_about_an_interrupted_item(
    choice: str, runs_of_item_1: int, status: str
) -> None:
    sim = crashed_mid_loop()
    sim.record("run.resolved", choice=choice, by="alice", step="restart[1]")
    assert sim.state.status == RUNNING
    sim.drive(up, lambda cmd: {})
    assert sim.state.status == status
    assert sim.invoked().count("restart[0]") == 1
    assert sim.invoked().count("restart[1]") == runs_of_item_1
    if choice == "skip":
        assert sim.state.step("restart[1]").status == STEP_SKIPPED
        assert sim.state.step("restart").outputs["where"][1] is None
    if choice == "rollback":
        # the interrupted item's rollback block runs too; nothing after it started
        assert sim.rolled_back() == [("restart[1]", False), ("restart[0]", False)]
        assert "restart[2]" not in sim.invoked()


def test_a_loop_entered_again_by_a_goto_starts_its_items_afresh() -> None:
    sim = Sim.of(
        """
        parameters: {hosts: {type: list}}
        max_step_visits: 2
        steps:
          - id: each
            action: log
            for_each: "{{ params.hosts }}"
            with: {message: "{{ item }}"}
          - {id: again, goto: each}
        """,
        params={"hosts": ["a", "b"]},
    )
    sim.drive()
    assert sim.invoked() == ["each[0]", "each[1]", "each[0]", "each[1]"]
    assert len(sim.of_type("loop.started")) == 2
    assert sim.state.loops["each"].done == 2  # counted afresh on the second visit
    assert (sim.state.step("each").error or {})["kind"] == "loop_guard"  # the third visit


def test_checkpoints_round_trip_loop_state_at_every_event() -> None:
    sim = loop_sim(concurrency=2, policy="continue")
    sim.drive(failing("web3"), lambda cmd: {})
    check_every_checkpoint(sim.layout, sim.events)
    mid = replay(sim.layout, sim.events[:8])
    assert mid.loops["restart"].next > 0
    stored = json.loads(json.dumps(mid.to_checkpoint()))
    assert RunState.from_checkpoint(stored).loops == mid.loops
    assert RunState.from_dict(json.loads(json.dumps(mid.to_dict()))) == mid


def test_a_template_error_in_one_item_fails_that_item() -> None:
    sim = Sim.of(
        """
        parameters: {hosts: {type: list}}
        steps:
          - id: each
            action: log
            for_each: "{{ params.hosts }}"
            on_item_failure: continue
            with: {message: "{{ item.name }}"}
        """,
        params={"hosts": [{"name": "a"}, "no-name", {"name": "c"}]},
    )
    sim.drive()
    assert sim.invoked() == ["each[0]", "each[2]"]
    assert (sim.state.step("each[1]").error or {})["kind"] == "template"
    assert sim.state.status == FAILED  # nothing to undo


def test_decide_reads_counters_not_the_whole_list() -> None:
    """Deciding about a loop of 20,000 items costs the same at its start and near its end."""
    hosts = [f"h{i}" for i in range(20_000)]
    rb = runbook(
        """
        parameters: {hosts: {type: list}}
        steps:
          - {id: each, action: log, for_each: "{{ params.hosts }}", with: {message: "{{ item }}"}}
        """
    )
    sim = Sim(rb, params={"hosts": hosts})
    layout = sim.layout
    env: Env = sim.env()
    state = RunState()
    from runbook_engine.core.apply import apply

    seq = 0

    def fold(type_: str, **data: Any) -> None:
        nonlocal state, seq
        seq += 1
        state = apply(layout, state, type_, data, 1000.0, seq)

    fold(EventType.RUN_STARTED)
    fold(EventType.LOOP_STARTED, step="each", items=hosts)

    def one_item() -> float:
        t0 = time.perf_counter()
        (cmd,) = decide(rb, layout, state, env)
        assert isinstance(cmd, Invoke)
        fold(EventType.STEP_STARTED, step=cmd.step, attempt=1, action="log", **{"with": {}})
        fold(EventType.STEP_SUCCEEDED, step=cmd.step, attempt=1, action="log", result={})
        return time.perf_counter() - t0

    early = sorted(one_item() for _ in range(200))[100]
    for _ in range(19_000):
        one_item()
    late = sorted(one_item() for _ in range(200))[100]
    assert state.loops["each"].done == 19_400
    assert late < early * 5 + 0.0005, (early, late)


def test_records_never_mix_with_invokes() -> None:
    """A decision is either events to record or things to run (the runner relies on it)."""
    sim = loop_sim(concurrency=3, policy="continue")
    for _ in range(40):
        commands = sim.decide()
        if not commands:
            break
        kinds = {type(c) for c in commands}
        assert kinds <= {Record} or Record not in kinds
        for cmd in commands:
            if isinstance(cmd, Record):
                sim.record(cmd.type, **cmd.data)
            elif isinstance(cmd, Invoke):
                sim.start(cmd)
                sim.finish(cmd, failing("web2")(cmd))
            elif isinstance(cmd, InvokeRollback):
                sim.start_rollback(cmd)
                sim.finish_rollback(cmd, {})
    assert sim.state.status == ROLLED_BACK


def test_the_loop_runs_items_with_whatever_command_a_kind_of_step_gives() -> None:
    """``decide_items`` is the loop for any step that inherits ``Looped``: here each item is
    run by a command of the test's own (as a ``call:`` step's child run would be)."""
    from runbook_engine.core.events import LoopItemFailed
    from runbook_engine.core.loops import decide_items

    sim = loop_sim(concurrency=2, policy="continue", hosts=["a", "b", "c"])
    # the loop began (the action step's own items are decided, not started: ours run instead)
    assert [c.step for c in sim.advance() if isinstance(c, Invoke)] == ["restart[0]", "restart[1]"]
    step = find_step(sim.rb, "restart")
    assert isinstance(step, ActionStepModel)

    def run_child(index: int, attempt: int, not_before: float | None) -> Invoke:
        return Invoke(item_id("restart", index), "child.run", {"n": index}, attempt, None)

    def judge(sid: str, _st: Any) -> Record:
        return Record.of(LoopItemFailed(step=sid))

    ran: list[str] = []
    for _ in range(20):
        commands = decide_items(step, sim.state, run_child, judge)
        if not commands:
            break
        for cmd in commands:
            if isinstance(cmd, Record):
                sim.record(cmd.type, **cmd.data)
                continue
            assert isinstance(cmd, Invoke) and cmd.action == "child.run"
            ran.append(cmd.step)
            sim.start(cmd)
            sim.finish(cmd, error() if cmd.params["n"] == 1 else {"up": "x"})
        if sim.state.step("restart").status != "running":
            break
    assert ran == ["restart[0]", "restart[1]", "restart[2]"]
    assert sim.state.step("restart").status == STEP_FAILED
    assert sim.state.loops["restart"].failed == 1
