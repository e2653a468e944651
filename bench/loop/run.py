"""Loop benchmark: does an item of a ``for_each`` loop cost the same at its start and at its end?

A runbook of one step, ``log`` over ``--items`` items (10,000), runs in this process through
the Engine on a fresh SQLite store with the built-in actions, once sequentially
(``max_concurrency: 1``) and once ``--concurrency`` at a time (8). A subscriber stamps each
item's end; the time per item over the first and the last ``--window`` items (500) is printed,
as a mean and as the median gap between two items' ends, with the medians' ratio (1.0: flat; a
cost growing with the items done would show as a ratio of several), the whole run's time, the
events written and the store's size. Then the loop once more with a failure after it, and the
same figures for its rollback, which undoes every item (the first undone is the last item).
Also the core alone: ``decide`` + ``apply`` for one item at the start and at the end, with no
store at all; and the peer in the same run, Ansible's ``loop:`` over a ``debug`` task with the
same items (ansible-core of the dev extra, local connection), per item against ours. Prints a
table on stderr and one JSON document on stdout. Not run in CI.

    .venv/bin/python bench/loop/run.py
    .venv/bin/python bench/loop/run.py --items 2000 --window 200   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from runbook_engine.core.apply import Layout, apply
from runbook_engine.core.decide import Env, Invoke, decide
from runbook_engine.core.events import EventType
from runbook_engine.core.items import split_item
from runbook_engine.core.state import RunState
from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.service import Engine
from runbook_engine.spec import load_text
from runbook_engine.store import Store

RUNBOOK = """\
apiVersion: runbook/v1
name: bench-loop
version: 1
parameters:
  n: {type: integer}
  fail: {type: boolean, default: false}
steps:
  - id: each
    action: log
    for_each: "{{ range(params.n) | list }}"
    max_concurrency: %d
    with: {message: "item {{ item }}"}
    outputs: {n: "{{ item }}"}
    rollback: {action: log, with: {message: "undo {{ item }}"}}
  - id: boom
    action: fail
    if: "{{ params.fail }}"
    with: {message: "roll the loop back"}
"""


class Stamps:
    """Each item's end, as the engine recorded it (published later, in batches)."""

    def __init__(self, rollback: bool = False) -> None:
        self.ends: dict[int, float] = {}
        self.type = EventType.ROLLBACK_STEP_SUCCEEDED if rollback else EventType.STEP_SUCCEEDED

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        if event.type == self.type:
            _, index = split_item(str(event.data.get("step", "")))
            if index is not None:
                self.ends[index] = event.ts  # when the engine recorded it


def per_item(ends: dict[int, float], first: int, last: int) -> tuple[float, float]:
    """Seconds per item between the ends of items ``first`` and ``last``: the mean (which
    includes a checkpoint that falls in the window) and the median gap (which does not)."""
    lo, hi = sorted((first, last))
    gaps = sorted(abs(ends[i + 1] - ends[i]) for i in range(lo, hi))
    return abs(ends[last] - ends[first]) / (hi - lo), gaps[len(gaps) // 2]


def engine_case(
    items: int, concurrency: int, window: int, *, rollback: bool = False
) -> dict[str, Any]:
    """The loop run by the Engine; with ``rollback``, a failure after it undoes every item
    (in reverse: the first undone is the last item) and the undo is what is timed."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open("sqlite:///" + str(Path(tmp) / "r.db"))
        registry = Registry()
        for action in builtin_actions():
            registry.register(action)
        stamps = Stamps(rollback)
        engine = Engine(store=store, registry=registry, subscribers=[stamps])
        loaded = load_text(RUNBOOK % concurrency)
        t0 = time.perf_counter()
        out = engine.start(loaded, {"n": items, "fail": rollback}, requester="bench")
        wall = time.perf_counter() - t0
        assert out.status == ("rolled_back" if rollback else "succeeded"), out.state.failure
        assert len(stamps.ends) == items
        events = len(store.events(out.run_id))
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
        store.close()
    start = per_item(stamps.ends, 0, window)
    end = per_item(stamps.ends, items - 1 - window, items - 1)
    if rollback:  # undone from the last item to the first
        start, end = end, start
    return {
        "case": "rollback" if rollback else "loop",
        "items": items,
        "max_concurrency": concurrency,
        "wall_s": round(wall, 2),
        "ms_per_item_first": round(start[0] * 1000, 3),
        "ms_per_item_last": round(end[0] * 1000, 3),
        "median_ms_first": round(start[1] * 1000, 3),
        "median_ms_last": round(end[1] * 1000, 3),
        "median_ratio_last_first": round(end[1] / start[1], 2),
        "events": events,
        "store_mb": round(size / 1e6, 1),
    }


def core_case(items: int, window: int) -> dict[str, Any]:
    """decide + apply per item, no store: the pure core's cost at the start and the end."""
    loaded = load_text(RUNBOOK % 1)
    rb = loaded.runbook
    layout = Layout.of(rb)
    env = Env(
        now=0.0,
        params={"n": items},
        run={"id": "b", "requester": "b", "runbook": rb.name, "version": 1},
        idempotent=lambda _: True,
        has_undo=lambda _: False,
    )
    state = RunState()
    seq = 0

    def fold(type_: str, data: dict[str, Any]) -> None:
        nonlocal state, seq
        seq += 1
        state = apply(layout, state, type_, data, 0.0, seq)

    fold(EventType.RUN_STARTED, {})
    fold(EventType.LOOP_STARTED, {"step": "each", "items": list(range(items))})
    times: list[float] = []
    for _ in range(items):
        t0 = time.perf_counter()
        (cmd,) = decide(rb, layout, state, env)
        assert isinstance(cmd, Invoke)
        started = {"step": cmd.step, "attempt": 1, "action": "log", "with": cmd.params}
        fold(EventType.STEP_STARTED, started)
        done = {**started, "result": {}, "outputs": {"n": 0}}
        fold(EventType.STEP_SUCCEEDED, done)
        times.append(time.perf_counter() - t0)
    first = sum(times[:window]) / window
    last = sum(times[-window:]) / window
    return {
        "items": items,
        "us_per_item_first": round(first * 1e6, 1),
        "us_per_item_last": round(last * 1e6, 1),
        "ratio_last_first": round(last / first, 2),
    }


PLAYBOOK = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: each
      ansible.builtin.debug:
        msg: "item {{ item }}"
      loop: "{{ range(%d) | list }}"
"""


def ansible_case(items: int) -> dict[str, Any] | None:
    """The peer: Ansible's own loop (``loop:`` over a ``debug`` task, local connection), the
    same items. Per item: the playbook's time less the same playbook over no item (start-up
    and the play), over the items. None when ansible-playbook is not installed."""
    playbook_bin = Path(sys.executable).parent / "ansible-playbook"
    if not playbook_bin.exists():
        return None

    def timed(n: int) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            book = Path(tmp) / "loop.yml"
            book.write_text(PLAYBOOK % n)
            env = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_NOCOLOR": "1"}
            t0 = time.perf_counter()
            subprocess.run(
                [str(playbook_bin), "-i", "localhost,", str(book)],
                check=True,
                stdout=subprocess.DEVNULL,
                env=env,
            )
            return time.perf_counter() - t0

    empty, full = timed(0), timed(items)
    return {
        "case": "ansible loop",
        "items": items,
        "wall_s": round(full, 2),
        "ms_per_item": round((full - empty) / items * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    report: dict[str, Any] = {"core": core_case(args.items, args.window), "engine": []}
    print(f"core: {report['core']}", file=sys.stderr)
    for concurrency in (1, args.concurrency):
        case = engine_case(args.items, concurrency, args.window)
        report["engine"].append(case)
        print(f"engine: {case}", file=sys.stderr)
    case = engine_case(args.items, 1, args.window, rollback=True)
    report["engine"].append(case)
    print(f"engine: {case}", file=sys.stderr)
    peer = ansible_case(args.items)
    report["ansible"] = peer
    if peer is not None:
        ours = report["engine"][0]
        ms_ours = ours["wall_s"] / ours["items"] * 1000
        report["ansible_over_engine"] = round(peer["ms_per_item"] / ms_ours, 2)
        print(f"ansible: {peer}; per item {report['ansible_over_engine']}x ours", file=sys.stderr)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
