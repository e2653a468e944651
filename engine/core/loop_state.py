"""What the state keeps about each ``for_each`` step: its items and counters over them.

Items are sub-steps (``engine.core.items``) with states of their own in ``RunState.steps``;
``LoopState`` counts them by where they are, and ``RunState.with_step`` keeps the counts up to
date as each item's status changes. Deciding about a loop then reads counters and the few items
in flight, never the whole list: a loop of 10,000 items costs the same per event at its first
item and at its last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbook_engine.core.items import item_id, split_item

__all__ = [
    "LoopState",
    "describe_summary",
    "loop_outputs",
    "loop_result",
    "loop_summary",
    "tracked",
]

# item statuses (the step statuses of state.py, which imports this module)
_RUNNING = "running"
_RETRY_WAIT = "retry_wait"
_FAILED = "failed"
_DONE = frozenset({"succeeded", "skipped"})


@dataclass(frozen=True)
class LoopState:
    items: tuple[Any, ...] = ()
    #: items below this index have been started (or settled without a start)
    next: int = 0
    running: frozenset[int] = frozenset()
    #: to be invoked again: a retry, an idempotent item re-run after a crash, a human's retry
    waiting: frozenset[int] = frozenset()
    #: failed, not yet judged (retried, or given up with ``loop.item_failed``)
    unjudged: frozenset[int] = frozenset()
    failed: int = 0  # given up
    done: int = 0  # succeeded or skipped

    @property
    def in_flight(self) -> int:
        """Items holding a place of ``max_concurrency``."""
        return len(self.running) + len(self.waiting) + len(self.unjudged)

    def to_data(self) -> dict[str, Any]:
        return {
            "items": list(self.items),
            "next": self.next,
            "running": sorted(self.running),
            "waiting": sorted(self.waiting),
            "unjudged": sorted(self.unjudged),
            "failed": self.failed,
            "done": self.done,
        }

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> LoopState:
        return cls(
            items=tuple(data.get("items") or ()),
            next=int(data.get("next") or 0),
            running=frozenset(int(i) for i in data.get("running") or ()),
            waiting=frozenset(int(i) for i in data.get("waiting") or ()),
            unjudged=frozenset(int(i) for i in data.get("unjudged") or ()),
            failed=int(data.get("failed") or 0),
            done=int(data.get("done") or 0),
        )


def _bucket(status: str, given_up: bool) -> str | None:
    if status == _RUNNING:
        return "running"
    if status == _RETRY_WAIT:
        return "waiting"
    if status == _FAILED:
        return "failed" if given_up else "unjudged"
    if status in _DONE:
        return "done"
    return None  # pending, interrupted (the run's own index has those)


def _moved(loop: LoopState, index: int, before: str | None, after: str | None) -> LoopState:
    changes: dict[str, Any] = {}
    for bucket, delta in ((before, -1), (after, 1)):
        if bucket is None:
            continue
        if bucket in ("failed", "done"):
            changes[bucket] = changes.get(bucket, getattr(loop, bucket)) + delta
        else:
            members: frozenset[int] = changes.get(bucket, getattr(loop, bucket))
            changes[bucket] = members | {index} if delta > 0 else members - {index}
    if index >= loop.next:
        changes["next"] = index + 1
    new = object.__new__(LoopState)
    new.__dict__.update(loop.__dict__)
    new.__dict__.update(changes)
    return new


def tracked(
    loops: Mapping[str, LoopState],
    sid: str,
    before: tuple[str, bool],
    after: tuple[str, bool],
) -> Mapping[str, LoopState] | None:
    """The loops after item ``sid`` went from ``before`` to ``after`` (status, given up), or
    None when ``sid`` is no item of a started loop or nothing a loop counts changed."""
    step, index = split_item(sid)
    if index is None:
        return None
    loop = loops.get(step)
    if loop is None or index >= len(loop.items):
        return None
    was, now = _bucket(*before), _bucket(*after)
    if was == now and index < loop.next:
        return None
    return {**loops, step: _moved(loop, index, was, now)}


def loop_result(step: str, loop: LoopState, steps: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A loop step's result: per item, in item order, what it was and how it went."""
    out: list[dict[str, Any]] = []
    for index, value in enumerate(loop.items):
        st = steps.get(item_id(step, index))
        out.append(
            {
                "item": value,
                "index": index,
                "status": st.status if st is not None else "pending",
                "result": st.result if st is not None else None,
                "outputs": dict(st.outputs) if st is not None else {},
                "error": st.error if st is not None else None,
            }
        )
    return out


def loop_outputs(
    step: str, names: list[str], loop: LoopState, steps: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """A loop step's outputs: each one's value per item, in item order (None where an item has
    none: it failed or did not run)."""
    out: dict[str, list[Any]] = {name: [] for name in names}
    for index in range(len(loop.items)):
        st = steps.get(item_id(step, index))
        got = st.outputs if st is not None else {}
        for name in names:
            out[name].append(got.get(name))
    return out


#: how many failed items a summary of a loop names
SUMMARY_FAILED = 10


def loop_summary(
    step: str, loop: LoopState, steps: Mapping[str, Any], *, named: int = SUMMARY_FAILED
) -> dict[str, Any]:
    """What views show of a loop step instead of its items one by one: how many there are,
    how many succeeded, failed, run and wait, and the ids of the first ``named`` failed ones.
    Walks the items once (a view's cost, not a decision's)."""
    failed: list[str] = []
    skipped = 0
    for index in range(loop.next):
        sid = item_id(step, index)
        st = steps.get(sid)
        if st is None:
            continue
        if st.status == _FAILED and len(failed) < named:
            failed.append(sid)
        elif st.status == "skipped":
            skipped += 1
    total = len(loop.items)
    running = len(loop.running) + len(loop.waiting) + len(loop.unjudged)
    return {
        "items": total,
        "succeeded": loop.done - skipped,
        "skipped": skipped,
        "failed": loop.failed + len(loop.unjudged),
        "running": running,
        "not_started": total - loop.next,
        "failed_items": failed,
    }


def describe_summary(summary: Mapping[str, Any]) -> str:
    """``10 items: 7 succeeded, 2 failed (each[3], each[7]), 1 not started``."""
    parts = [f"{summary['succeeded']:,} succeeded"]
    if summary["failed"]:
        names = ", ".join(summary["failed_items"])
        more = summary["failed"] - len(summary["failed_items"])
        names += f" and {more:,} more" if more > 0 else ""
        parts.append(f"{summary['failed']:,} failed ({names})")
    for key, label in (
        ("skipped", "skipped"),
        ("running", "running"),
        ("not_started", "not started"),
    ):
        if summary[key]:
            parts.append(f"{summary[key]:,} {label}")
    return f"{summary['items']:,} items: " + ", ".join(parts)
