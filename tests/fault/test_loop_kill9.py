"""SIGKILL a real ``runbook run`` inside a ``for_each`` loop, then ``runbook resume`` it to the end.

Each item is a ``shell.command`` (never idempotent) that appends its own id (``each[3]``) to a
file: after recovery the file must hold every item exactly once (a finished item is never run
again), and the items after the kill must have run. The operator answers ``needs_attention``
as in tests/fault/test_kill9.py: ``--skip`` when the interrupted item's line is there,
``--retry`` when it is not.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.store import Store
from tests.fault.test_kill9 import (
    Sandbox,
    Variant,
    at_effect,
    at_event,
    kill_when,
    operate,
)

ITEMS = 8

LOOP = """\
apiVersion: runbook/v1
name: kill9-loop
version: 1
parameters:
  out: {type: string}
steps:
  - id: each
    action: shell.command
    for_each: "{{ range(%(items)d) | list }}"
    max_concurrency: %(concurrency)d
    with: {command: "echo 'each[{{ loop.index }}]' >> {{ params.out | quote }}; sleep 0.15"}
    outputs: {n: "{{ item }}"}
    rollback:
      action: shell.command
      with: {command: "echo 'undo-each[{{ loop.index }}]' >> {{ params.out | quote }}; sleep 0.1"}
  - id: total
    action: shell.command
    with: {command: "echo 'total-{{ steps.each.outputs.n | length }}' >> {{ params.out | quote }}"}
%(tail)s"""

FAIL_TAIL = """\
  - id: boom
    action: fail
    with: {message: boom}
"""


def variant(name: str, *, concurrency: int, fails: bool = False, items: int = ITEMS) -> Variant:
    text = LOOP % {
        "items": items,
        "concurrency": concurrency,
        "tail": FAIL_TAIL if fails else "",
    }
    shell = frozenset({f"each[{i}]" for i in range(items)} | {"total"})
    return Variant(name, text, 0, shell)


@pytest.fixture
def sandbox(tmp_path: Path) -> Any:
    stores: list[Store] = []

    def make(v: Variant) -> Sandbox:
        store = Store.open(str(tmp_path / "runs.db"))
        stores.append(store)
        return Sandbox(tmp_path, v, store)

    yield make
    for store in stores:
        store.close()


def items(n: int = ITEMS) -> list[str]:
    return [f"each[{i}]" for i in range(n)]


def total(n: int = ITEMS) -> str:
    # one output per item, None for an item a human skipped
    return f"total-{n}"


def assert_once_each(lines: list[str]) -> None:
    twice = [line for line, count in Counter(lines).items() if count > 1]
    assert twice == [], f"run more than once: {twice} in {lines}"


def test_a_clean_loop_run_writes_each_item_once(sandbox: Any) -> None:
    sb: Sandbox = sandbox(variant("clean", concurrency=2))
    proc = sb.start_run()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert sorted(sb.lines()[:ITEMS]) == items()
    assert sb.lines()[ITEMS:] == [total()]


@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.parametrize("kill_at", ["each[2]", "each[5]"])
def test_killed_while_an_item_runs_resumes_without_redoing_finished_items(
    sandbox: Any, concurrency: int, kill_at: str
) -> None:
    sb: Sandbox = sandbox(variant(f"mid-{concurrency}", concurrency=concurrency))
    killed = kill_when(sb, sb.start_run(), at_effect(kill_at))
    assert killed.killed and killed.run_id is not None, killed.stderr
    before = sb.lines()
    assert kill_at in before and total() not in before
    outcome = operate(sb, killed.run_id)
    assert outcome.status == "succeeded", outcome.transcript
    lines = sb.lines()
    assert_once_each(lines)
    assert sorted(lines[:-1]) == items()
    assert lines[-1] == total()
    # every question was about an item in flight when the engine died (at most
    # max_concurrency of them), never about one that had finished
    asked = [step for step, _ in outcome.decisions]
    assert all(step.startswith("each[") for step in asked), outcome.decisions
    assert len(asked) <= concurrency


@pytest.mark.parametrize("n", [4, 9, 15, 22])
def test_killed_at_an_event_inside_the_loop_finishes_every_item_once(sandbox: Any, n: int) -> None:
    sb: Sandbox = sandbox(variant(f"event-{n}", concurrency=2))
    killed = kill_when(sb, sb.start_run(), at_event(n))
    assert killed.killed and killed.run_id is not None, killed.stderr
    outcome = operate(sb, killed.run_id)
    assert outcome.status == "succeeded", outcome.transcript
    lines = sb.lines()
    assert_once_each(lines)
    assert sorted(lines[:-1]) == items() and lines[-1] == total()


def test_killed_during_the_rollback_of_a_loop_undoes_each_item_once_in_reverse(
    sandbox: Any,
) -> None:
    sb: Sandbox = sandbox(variant("rollback", concurrency=1, fails=True, items=5))
    killed = kill_when(sb, sb.start_run(), at_effect("undo-each[2]"))
    assert killed.killed and killed.run_id is not None, killed.stderr
    outcome = operate(sb, killed.run_id)
    assert outcome.status == "rolled_back", outcome.transcript
    lines = sb.lines()
    assert_once_each(lines)
    assert lines == [
        *items(5),
        total(5),
        "undo-each[4]",
        "undo-each[3]",
        "undo-each[2]",
        "undo-each[1]",
        "undo-each[0]",
    ]


IDEMPOTENT = """\
apiVersion: runbook/v1
name: kill9-loop-idempotent
version: 1
parameters:
  out: {type: string}
steps:
  - id: each
    action: file.write
    for_each: "{{ range(12) | list }}"
    max_concurrency: 3
    with: {path: "{{ params.out }}.d/{{ item }}", content: "item {{ item }}"}
  - id: pause
    action: sleep
    with: {duration: 0.05}
"""


def test_killed_inside_a_loop_of_idempotent_items_resumes_without_asking(sandbox: Any) -> None:
    sb: Sandbox = sandbox(Variant("idempotent", IDEMPOTENT, 0, frozenset()))
    (sb.tmp / "effects.txt.d").mkdir()
    killed = kill_when(sb, sb.start_run(), at_event(12))
    assert killed.killed and killed.run_id is not None, killed.stderr
    outcome = operate(sb, killed.run_id)
    assert outcome.status == "succeeded", outcome.transcript
    assert outcome.decisions == []  # in-flight items were simply run again
    # (file.write writes through a temporary file: a kill mid-write may leave one behind)
    written = sorted(int(p.name) for p in (sb.tmp / "effects.txt.d").iterdir() if p.name.isdigit())
    assert written == list(range(12))
    events = sb.events(killed.run_id)
    succeeded = Counter(
        str(e.data["step"]) for e in events if e.type == "step.succeeded" and "[" in e.data["step"]
    )
    assert succeeded == Counter({f"each[{i}]": 1 for i in range(12)})
    assert killed.events_at_kill >= 12
