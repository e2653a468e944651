"""Call benchmark: what a ``call:`` step's child run costs, and whether it stays the same as a
run goes on.

A parent with one looped call step (``for_each`` over ``--items`` items, 300, one at a time)
starts one child run per item; the child has one ``log`` step. Against it, the peer a team
would otherwise write: the same child runbook started ``--items`` times in a row, each its own
run (``Engine.start``, as ``runbook run`` does). Both run in this process on a fresh SQLite
store with the built-in actions. Printed: the time per child over the first and the last
``--window`` children (40), as a median of the gaps between two children's ends, their ratio
(1.0: flat), the whole run's time and the ratio of the call's per-run time to the direct one's.
Then the parent once more with a failure after the loop, and the same figures for its
rollback, which reopens every child and undoes its step (the first undone is the last child).
A table on stderr and one JSON document on stdout. Not run in CI.

    .venv/bin/python bench/calls/run.py
    .venv/bin/python bench/calls/run.py --items 100 --window 20   # quick
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from runbook_engine.catalog import Catalog
from runbook_engine.core.events import EventType
from runbook_engine.core.items import split_item
from runbook_engine.core.state import RunState
from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.service import Engine
from runbook_engine.store import Store

CHILD = """\
apiVersion: runbook/v1
name: bench-child
version: 1
parameters:
  n: {type: integer}
steps:
  - id: work
    action: log
    with: {message: "child {{ params.n }}"}
    outputs: {n: "{{ params.n }}"}
    rollback: {action: log, with: {message: "undo {{ params.n }}"}}
"""

PARENT = """\
apiVersion: runbook/v1
name: bench-parent
version: 1
parameters:
  n: {type: integer}
  fail: {type: boolean, default: false}
steps:
  - id: each
    for_each: "{{ range(params.n) | list }}"
    call: {runbook: bench-child, with: {n: "{{ item }}"}}
    outputs: {n: "{{ result.outputs.work.n }}"}
  - id: boom
    action: fail
    if: "{{ params.fail }}"
    with: {message: "roll the children back"}
"""


class Ends:
    """When each child ended, as its parent recorded it (or, for the direct runs, as each run
    recorded its end)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.at: dict[int, float] = {}

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        if self.kind == "direct":
            if event.type == EventType.RUN_FINISHED and run.runbook == "bench-child":
                self.at[len(self.at)] = event.ts
            return
        wanted = (
            EventType.ROLLBACK_STEP_SUCCEEDED
            if self.kind == "rollback"
            else EventType.STEP_SUCCEEDED
        )
        if event.type == wanted and run.runbook == "bench-parent":
            _, index = split_item(str(event.data.get("step", "")))
            if index is not None:
                self.at[index] = event.ts


def median_gap(at: dict[int, float], first: int, last: int) -> float:
    lo, hi = sorted((first, last))
    gaps = sorted(abs(at[i + 1] - at[i]) for i in range(lo, hi))
    return gaps[len(gaps) // 2]


def engine_for(folder: Path, ends: Ends) -> tuple[Engine, Store]:
    store = Store.open("sqlite:///" + str(folder / "r.db"))
    registry = Registry()
    for action in builtin_actions():
        registry.register(action)
    books = folder / "runbooks"
    books.mkdir()
    (books / "child.yaml").write_text(CHILD)
    (books / "parent.yaml").write_text(PARENT)
    return Engine(
        store=store, registry=registry, catalog=Catalog([books]), subscribers=[ends]
    ), store


def case(kind: str, items: int, window: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ends = Ends(kind)
        engine, store = engine_for(Path(tmp), ends)
        t0 = time.perf_counter()
        if kind == "direct":
            child = engine.catalog.resolve("bench-child")
            for n in range(items):
                assert engine.start(child, {"n": n}, requester="bench").status == "succeeded"
        else:
            parent = engine.catalog.resolve("bench-parent")
            out = engine.start(parent, {"n": items, "fail": kind == "rollback"}, requester="bench")
            expected = "rolled_back" if kind == "rollback" else "succeeded"
            assert out.status == expected, out.state.failure
        wall = time.perf_counter() - t0
        runs = len(store.list_runs(limit=items + 10))
        store.close()
    assert len(ends.at) == items, (kind, len(ends.at))
    first = median_gap(ends.at, 0, window)
    last = median_gap(ends.at, items - 1 - window, items - 1)
    if kind == "rollback":  # undone from the last child to the first
        first, last = last, first
    return {
        "case": kind,
        "items": items,
        "runs": runs,
        "wall_s": round(wall, 2),
        "ms_per_child": round(wall / items * 1000, 2),
        "median_ms_first": round(first * 1000, 2),
        "median_ms_last": round(last * 1000, 2),
        "median_ratio_last_first": round(last / first, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--window", type=int, default=40)
    args = parser.parse_args()
    results = [case(kind, args.items, args.window) for kind in ("direct", "call", "rollback")]
    direct, call = results[0], results[1]
    summary = {
        "cases": results,
        "call_over_direct": round(call["ms_per_child"] / direct["ms_per_child"], 2),
    }
    print(
        f"{'case':<9} {'children':>8} {'runs':>5} {'wall s':>7} {'ms/child':>9} "
        f"{'med first':>10} {'med last':>9} {'last/first':>10}",
        file=sys.stderr,
    )
    for r in results:
        print(
            f"{r['case']:<9} {r['items']:>8} {r['runs']:>5} {r['wall_s']:>7} "
            f"{r['ms_per_child']:>9} {r['median_ms_first']:>10} {r['median_ms_last']:>9} "
            f"{r['median_ratio_last_first']:>10}",
            file=sys.stderr,
        )
    print(
        f"a child run of a call costs {summary['call_over_direct']}x a direct run", file=sys.stderr
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
