"""SIGKILL a real ``runbook run`` process while a call step's child run is in flight, then
resume the parent: the same child is driven on (no second child), finished steps of either run
never run again, and the side-effect file ends exactly as a clean run leaves it.

The side effects are lines appended by ``shell.command`` steps (never idempotent); the child's
``sleep`` step is idempotent, so a kill there needs nobody, while a kill inside a shell step
asks a human, on the child, which is where ``runbook resume CHILD --skip`` answers it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runbook_engine.store import Store

RUNBOOK_BIN = Path(sys.executable).parent / "runbook"

PARENT = """\
apiVersion: runbook/v1
name: k9-parent
version: 1
parameters:
  out: {type: string}
steps:
  - id: p1
    action: shell.command
    with: {command: "echo p1 >> {{ params.out | quote }}"}
  - id: child
    call: {runbook: k9-child, with: {out: "{{ params.out }}"}}
  - id: p2
    action: shell.command
    with: {command: "echo p2 >> {{ params.out | quote }}"}
"""

CHILD = """\
apiVersion: runbook/v1
name: k9-child
version: 1
parameters:
  out: {type: string}
steps:
  - id: c1
    action: shell.command
    with: {command: "echo c1 >> {{ params.out | quote }}; sleep 0.5"}
  - id: rest
    action: sleep
    with: {duration: 1}
  - id: c2
    action: shell.command
    with: {command: "echo c2 >> {{ params.out | quote }}"}
"""

CLEAN = ["p1", "c1", "c2", "p2"]
TIMEOUT = 60.0


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "runbooks").mkdir()
        (tmp / "runbooks" / "parent.yaml").write_text(PARENT)
        (tmp / "runbooks" / "child.yaml").write_text(CHILD)
        self.db = tmp / "runs.db"
        self.out = tmp / "effects.txt"
        self.store = Store.open(str(self.db))  # created and migrated before the engine starts

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
        env.update(RUNBOOK_DB=str(self.db), RUNBOOK_USER="oncall", NO_COLOR="1")
        return env

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(RUNBOOK_BIN), *args],
            cwd=self.tmp,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> dict[str, object]:
        proc = self.spawn(*args, "-o", "json")
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
        assert stdout.strip(), stderr
        answer: dict[str, object] = json.loads(stdout)
        return answer

    def lines(self) -> list[str]:
        return self.out.read_text().split() if self.out.exists() else []

    def runs(self, runbook: str) -> list[str]:
        return [r.id for r in self.store.list_runs(runbook=runbook)]

    def kill_when(self, proc: subprocess.Popen[str], hit: Callable[[], bool]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not hit():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the kill point was never reached"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)  # reaped: a dead owner must look dead
        assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


def test_killed_in_the_childs_idempotent_step_resumes_with_nobody(world: World) -> None:
    proc = world.spawn("run", "k9-parent", "--yes", "-o", "json", "-p", f"out={world.out}")

    def resting() -> bool:
        children = world.runs("k9-child")
        return bool(children) and any(
            e.type == "step.started" and e.data.get("step") == "rest"
            for e in world.store.events(children[0])
        )

    world.kill_when(proc, resting)
    [parent] = world.runs("k9-parent")
    [child] = world.runs("k9-child")
    done = world.run("resume", parent)
    assert done["status"] == "succeeded", done
    assert world.lines() == CLEAN
    assert world.runs("k9-child") == [child]  # the same child, driven on
    record = world.store.get_run(child)
    assert record is not None and record.status == "succeeded"


def test_killed_inside_a_childs_shell_step_asks_on_the_child_then_carries_the_parent_on(
    world: World,
) -> None:
    proc = world.spawn("run", "k9-parent", "--yes", "-o", "json", "-p", f"out={world.out}")
    world.kill_when(proc, lambda: "c1" in world.lines())
    [parent] = world.runs("k9-parent")
    [child] = world.runs("k9-child")

    waiting = world.run("resume", parent)
    assert waiting["status"] == "needs_attention", waiting
    assert waiting["waiting_on"] == child
    assert waiting["exit_code"] == 3
    assert world.lines() == ["p1", "c1"]  # nothing ran again while a human is asked

    # c1's line is there: it took effect. Skipping it finishes the child, then the parent.
    skipped = world.run("resume", child, "--skip")
    assert skipped["status"] == "succeeded", skipped
    assert world.lines() == CLEAN
    record = world.store.get_run(parent)
    assert record is not None and record.status == "succeeded"


LOOPED = """\
apiVersion: runbook/v1
name: k9-looped
version: 1
parameters:
  out: {type: string}
steps:
  - id: each
    for_each: "{{ ['x', 'y', 'z'] }}"
    as: tag
    call: {runbook: k9-item, with: {out: "{{ params.out }}", tag: "{{ tag }}"}}
  - id: done
    action: shell.command
    with: {command: "echo done >> {{ params.out | quote }}"}
"""

ITEM = """\
apiVersion: runbook/v1
name: k9-item
version: 1
parameters:
  out: {type: string}
  tag: {type: string}
steps:
  - id: mark
    action: shell.command
    with: {command: "echo {{ params.tag }} >> {{ params.out | quote }}"}
  - id: rest
    action: sleep
    with: {duration: 1}
"""


def test_killed_inside_the_second_child_of_a_loop_resumes_it_and_redoes_nothing(
    world: World,
) -> None:
    (world.tmp / "runbooks" / "looped.yaml").write_text(LOOPED)
    (world.tmp / "runbooks" / "item.yaml").write_text(ITEM)
    proc = world.spawn("run", "k9-looped", "--yes", "-o", "json", "-p", f"out={world.out}")

    def second_resting() -> bool:
        second = [r for r in world.store.list_runs(runbook="k9-item") if r.params.get("tag") == "y"]
        return bool(second) and any(
            e.type == "step.started" and e.data.get("step") == "rest"
            for e in world.store.events(second[0].id)
        )

    world.kill_when(proc, second_resting)
    [parent] = world.runs("k9-looped")
    assert len(world.runs("k9-item")) == 2
    done = world.run("resume", parent)
    assert done["status"] == "succeeded", done
    assert world.lines() == ["x", "y", "z", "done"]  # each child's mark once
    assert len(world.runs("k9-item")) == 3  # the second child driven on, not started again
