"""apply/decide without I/O: order, conditions, goto/branch with the loop guard, parallel
groups, outputs, and on_failure."""

from __future__ import annotations

from typing import Any

import pytest

from runbook_engine.core.decide import Invoke, Record
from runbook_engine.core.events import EventType
from runbook_engine.core.state import STEP_FAILED, STEP_PENDING, STEP_SKIPPED, STEP_SUCCEEDED
from runbook_engine.core.statuses import FAILED, ROLLED_BACK, RUNNING, SUCCEEDED
from tests.core.core_sim import Sim, error

THREE = """
steps:
  - {id: a, action: log, with: {message: a}}
  - {id: b, action: log, with: {message: b}}
  - {id: c, action: log, with: {message: c}}
"""


def test_steps_run_one_at_a_time_in_order() -> None:
    sim = Sim.of(THREE)
    assert sim.decide() == [Record(EventType.RUN_STARTED)]
    sim.record("run.started")
    assert sim.state.status == RUNNING
    for expected in ("a", "b", "c"):
        (cmd,) = sim.decide()
        assert isinstance(cmd, Invoke)
        assert (cmd.step, cmd.attempt, cmd.params) == (expected, 1, {"message": expected})
        sim.start(cmd)
        assert sim.decide() == []  # waits for what is in flight
        sim.succeed(cmd)
    assert sim.decide() == [Record(EventType.RUN_FINISHED, {"status": SUCCEEDED})]
    sim.record("run.finished", status=SUCCEEDED)
    assert sim.state.status == SUCCEEDED
    assert sim.state.cursor == 3
    assert [c.step for c in sim.state.completed] == ["a", "b", "c"]
    assert sim.decide() == []


def test_false_condition_skips_the_step() -> None:
    sim = Sim.of(
        """
        parameters: {go: {type: boolean, default: false}}
        steps:
          - {id: a, action: log, with: {message: a}, if: params.go}
          - {id: b, action: log, with: {message: b}, if: "{{ not params.go }}"}
        """,
        params={"go": False},
    )
    assert sim.drive() == []
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["b"]
    skipped = sim.of_type("step.skipped")
    assert [(e.data["step"], e.data["reason"]) for e in skipped] == [("a", "condition is false")]
    assert sim.state.step("a").status == STEP_SKIPPED
    assert sim.state.step("a").visits == 1


def test_a_condition_that_does_not_render_fails_the_step() -> None:
    sim = Sim.of(
        """
        parameters: {name: {type: string, default: x}}
        steps:
          - {id: a, action: log, with: {message: a}, if: params.name.nope.deeper}
        """
    )
    sim.drive()
    failed = sim.of_type("step.failed")
    assert failed[0].data["step"] == "a"
    assert failed[0].data["error"]["kind"] == "template"
    assert sim.state.status == FAILED


def test_goto_forward_jumps_over_steps() -> None:
    sim = Sim.of(
        """
        steps:
          - {id: a, action: log, with: {message: a}}
          - {id: jump, goto: d}
          - {id: c, action: log, with: {message: c}}
          - {id: d, action: log, with: {message: d}}
        """
    )
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["a", "d"]
    assert sim.state.step("jump").target == "d"
    assert sim.state.step("c").status == STEP_PENDING


def test_goto_end_finishes_the_run() -> None:
    sim = Sim.of(
        """
        steps:
          - {id: a, action: log, with: {message: a}}
          - {id: done, goto: end}
          - {id: c, action: log, with: {message: c}}
        """
    )
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["a"]


def counting(result_of: dict[str, int]) -> Any:
    """A behaviour whose result counts the calls of each step: {"n": 1}, {"n": 2}, ..."""

    def behaviour(cmd: Invoke) -> dict[str, Any]:
        result_of[cmd.step] = result_of.get(cmd.step, 0) + 1
        return {"n": result_of[cmd.step]}

    return behaviour


def test_goto_backward_loops_until_the_condition_is_false() -> None:
    sim = Sim.of(
        """
        steps:
          - id: poll
            action: log
            with: {message: poll}
            outputs: {n: "{{ result.n }}"}
          - {id: again, goto: poll, if: "steps.poll.outputs.n < 3"}
          - {id: after, action: log, with: {message: after}}
        """
    )
    calls: dict[str, int] = {}
    sim.drive(counting(calls))
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["poll", "poll", "poll", "after"]
    assert [e.data["target"] for e in sim.of_type("step.jumped")] == ["poll", "poll"]
    assert sim.state.step("poll").visits == 3
    assert sim.state.step("again").visits == 3
    assert sim.state.step("again").status == STEP_SKIPPED  # the third time, n == 3
    assert sim.state.step("after").status == STEP_SUCCEEDED


def test_loop_guard_fails_a_goto_loop_that_does_not_end() -> None:
    sim = Sim.of(
        """
        max_step_visits: 3
        steps:
          - {id: a, action: log, with: {message: a}}
          - {id: back, goto: a}
        """
    )
    sim.drive()
    assert sim.invoked() == ["a", "a", "a"]
    (failed,) = sim.of_type("step.failed")
    assert failed.data["step"] == "a"
    assert failed.data["error"]["kind"] == "loop_guard"
    assert "max_step_visits (3)" in failed.data["error"]["message"]
    # log has no undo: nothing was rolled back, so the run failed (not rolled_back)
    assert sim.state.status == FAILED
    assert sim.state.failure is not None
    assert sim.state.failure["kind"] == "loop_guard"


BRANCH = """
parameters: {level: {type: integer}}
steps:
  - id: route
    branch:
      - {if: "params.level > 5", goto: page}
      - {if: "params.level > 2", goto: ticket}
      - {goto: ignore}
  - {id: ignore, action: log, with: {message: ignore}}
  - {id: stop1, goto: end}
  - {id: ticket, action: log, with: {message: ticket}}
  - {id: stop2, goto: end}
  - {id: page, action: log, with: {message: page}}
"""


@pytest.mark.parametrize(
    ("level", "target"),
    [(9, "page"), (3, "ticket"), (1, "ignore")],
    ids=["first", "second", "default"],
)
def test_branch_takes_the_first_matching_case(level: int, target: str) -> None:
    sim = Sim.of(BRANCH, params={"level": level})
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.state.step("route").target == target
    assert sim.invoked() == [target]


def test_branch_without_a_match_is_skipped() -> None:
    sim = Sim.of(
        """
        parameters: {level: {type: integer}}
        steps:
          - id: route
            branch:
              - {if: "params.level > 5", goto: page}
          - {id: next, action: log, with: {message: next}}
          - {id: page, action: log, with: {message: page}}
        """,
        params={"level": 1},
    )
    sim.drive()
    (skipped,) = sim.of_type("step.skipped")
    assert skipped.data == {"step": "route", "reason": "no branch case matched"}
    assert sim.invoked() == ["next", "page"]


def test_branch_backward_is_guarded_too() -> None:
    sim = Sim.of(
        """
        max_step_visits: 2
        steps:
          - {id: a, action: log, with: {message: a}}
          - id: route
            branch:
              - {goto: a}
        """
    )
    sim.drive()
    assert sim.invoked() == ["a", "a"]
    assert sim.of_type("step.failed")[0].data["error"]["kind"] == "loop_guard"


PARALLEL = """
steps:
  - id: group
    max_concurrency: 2
    parallel:
      - {id: p1, action: log, with: {message: "1"}}
      - {id: p2, action: log, with: {message: "2"}}
      - {id: p3, action: log, with: {message: "3"}}
      - {id: p4, action: log, with: {message: "4"}}
  - {id: after, action: log, with: {message: after}}
"""


def invokes(commands: list[Any]) -> list[Invoke]:
    out = [c for c in commands if isinstance(c, Invoke)]
    assert len(out) == len(commands)
    return out


def test_parallel_never_decides_more_invokes_than_max_concurrency() -> None:
    sim = Sim.of(PARALLEL)
    first = invokes(sim.advance())
    assert [c.step for c in first] == ["p1", "p2"]
    assert sim.state.step("group").status == "running"
    for cmd in first:
        sim.start(cmd)
    assert sim.advance() == []  # two running: nothing more
    sim.succeed(first[1])
    (third,) = invokes(sim.advance())
    assert third.step == "p3"
    sim.start(third)
    assert sim.advance() == []
    sim.succeed(first[0])
    sim.succeed(third)
    (fourth,) = invokes(sim.advance())
    assert fourth.step == "p4"
    sim.start(fourth)
    sim.succeed(fourth)
    (after,) = invokes(sim.advance())
    assert after.step == "after"
    assert sim.state.step("group").status == STEP_SUCCEEDED
    # rollback order is completion order, not document order
    assert [c.step for c in sim.state.completed] == ["p2", "p1", "p3", "p4"]


def test_parallel_running_count_never_exceeds_the_limit_whatever_the_finish_order() -> None:
    sim = Sim.of(PARALLEL)
    running: list[Invoke] = []
    peak = 0
    while sim.state.status == RUNNING or not sim.events:
        for cmd in sim.advance():
            assert isinstance(cmd, Invoke)
            sim.start(cmd)
            running.append(cmd)
        peak = max(peak, len(running))
        assert len(running) <= 2
        if not running:
            break
        sim.succeed(running.pop())  # last started finishes first
    assert peak == 2
    assert sim.state.status == SUCCEEDED


def test_parallel_without_a_limit_starts_every_child() -> None:
    sim = Sim.of(PARALLEL.replace("max_concurrency: 2", "max_concurrency: null"))
    assert [c.step for c in invokes(sim.advance())] == ["p1", "p2", "p3", "p4"]


def test_a_failing_child_fails_the_group_after_the_running_ones_finish() -> None:
    sim = Sim.of(PARALLEL.replace("max_concurrency: 2", "max_concurrency: 3"))
    p1, p2, p3 = invokes(sim.advance())
    for cmd in (p1, p2, p3):
        sim.start(cmd)
    sim.fail(p2, error("exit", message="disk full"))
    assert sim.advance() == []  # p1 and p3 still run; p4 is not started
    sim.succeed(p1)
    assert sim.advance() == []
    sim.succeed(p3)
    commands = sim.advance()
    assert commands == []  # the run ended
    (group_failed,) = [e for e in sim.of_type("step.failed") if e.data["step"] == "group"]
    assert group_failed.data["error"]["kind"] == "parallel"
    assert group_failed.data["error"]["message"] == "1 of 4 parallel steps failed: p2: disk full"
    assert "p4" not in sim.invoked()
    assert sim.state.step("p4").status == STEP_PENDING
    assert sim.of_type("rollback.started")[0].data["queue"] == [1, 0]
    assert sim.state.status == FAILED  # log has no undo: both entries skipped


def test_a_child_with_on_failure_continue_does_not_fail_the_group() -> None:
    sim = Sim.of(
        """
        steps:
          - id: group
            parallel:
              - {id: ok, action: log, with: {message: ok}}
              - {id: flaky, action: fail, with: {}, on_failure: continue}
              - {id: skipped, action: log, with: {message: x}, if: "false"}
          - {id: after, action: log, with: {message: after}}
        """
    )
    sim.drive(lambda cmd: error("fail") if cmd.action == "fail" else {})
    assert sim.state.status == SUCCEEDED
    assert sim.statuses(["ok", "flaky", "skipped", "group", "after"]) == {
        "ok": STEP_SUCCEEDED,
        "flaky": STEP_FAILED,
        "skipped": STEP_SKIPPED,
        "group": STEP_SUCCEEDED,
        "after": STEP_SUCCEEDED,
    }
    assert sim.state.step("flaky").continued


def test_outputs_flow_into_later_steps() -> None:
    sim = Sim.of(
        """
        steps:
          - id: find
            action: log
            with: {message: find}
            outputs: {host: "{{ result.hosts[0] }}", count: "{{ result.hosts | length }}"}
          - id: use
            action: log
            with:
              message: "restart {{ steps.find.outputs.host }} of {{ steps.find.outputs.count }}"
        """
    )
    sim.drive(lambda cmd: {"hosts": ["web-1", "web-2"]} if cmd.step == "find" else {})
    assert sim.state.step("find").outputs == {"host": "web-1", "count": 2}
    started = sim.of_type("step.started")
    assert started[1].data["with"] == {"message": "restart web-1 of 2"}


def test_on_failure_continue_goes_on_and_the_run_succeeds() -> None:
    sim = Sim.of(
        """
        steps:
          - {id: a, action: fail, with: {}, on_failure: continue}
          - {id: b, action: log, with: {message: b}}
        """
    )
    sim.drive(lambda cmd: error("fail") if cmd.step == "a" else {})
    assert sim.types().count("step.continued") == 1
    assert sim.invoked() == ["a", "b"]
    assert sim.state.status == SUCCEEDED
    assert sim.state.step("a").status == STEP_FAILED
    assert sim.state.step("a").continued


def test_on_failure_abort_stops_without_rolling_back() -> None:
    sim = Sim.of(
        """
        steps:
          - {id: a, action: file.write, with: {path: /x, content: y}}
          - {id: b, action: fail, with: {}, on_failure: abort}
          - {id: c, action: log, with: {message: c}}
        """,
        undo=frozenset({"file.write"}),
    )
    sim.drive(lambda cmd: error("fail", message="nope") if cmd.step == "b" else {})
    assert sim.state.status == FAILED
    assert "rollback.started" not in sim.types()
    assert sim.invoked() == ["a", "b"]
    finished = sim.of_type("run.finished")[0]
    assert finished.data["failure"]["step"] == "b"
    assert sim.state.failure == {"step": "b", "message": "nope", "kind": "fail", "retryable": False}


def test_on_failure_rollback_is_the_default() -> None:
    sim = Sim.of(
        """
        steps:
          - {id: a, action: file.write, with: {path: /x, content: y}}
          - {id: b, action: fail, with: {}}
        """,
        undo=frozenset({"file.write"}),
    )
    sim.drive(lambda cmd: error("fail") if cmd.step == "b" else {})
    assert sim.rolled_back() == [("a", True)]
    assert sim.state.status == ROLLED_BACK
