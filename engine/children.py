"""Child runs of call steps: started, driven, waited for and rolled back through the engine.

A child is a run like any other: its own id (derived from the parent's, so a resumed parent
finds it), its own log, its permission check, parameters, lock and approvals, reachable from
every door by its id. What this module adds is the parent's side: start the child once,
drive it here when no other engine does, wait for it when one does (or when people must act
on it), and reopen a child that completed when its parent rolls back.

The engine (``runbook_engine.service.Engine``) provides the primitives (``ChildEngine``); the
runner calls ``ChildRuns`` from a thread of its pool, as it calls an action.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from runbook_engine.core.events import EventType
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import NEEDS_ATTENTION, SUCCEEDED, TERMINAL, WAITING
from runbook_engine.errors import ParameterError, RunbookError, StoreError
from runbook_engine.lease import is_driven
from runbook_engine.runtime.children import ChildOutcome, ChildRequest
from runbook_engine.spec.models import Runbook
from runbook_engine.store import RunRecord, Store

#: how often a parent looks at a child that another engine drives or that waits for people
POLL = 0.25
#: how deep calls may nest: a run of depth 10 is a cycle that validate could not see
MAX_DEPTH = 10


def child_steps(state: RunState) -> list[tuple[str, str]]:
    """The call steps of a run that started a child, with the child's id, in step order."""
    return [(sid, st.child) for sid, st in state.steps.items() if st.child]


@dataclass(frozen=True)
class RunNode:
    """A run and the child runs its call steps started, as ``runbook show`` draws them."""

    run: str
    runbook: str
    version: int
    status: str
    step: str | None = None  # the parent's call step that started it
    children: tuple[RunNode, ...] = ()

    def lines(self, prefix: str = "") -> list[str]:
        """The tree as text: this run, then each child under it."""
        head = f"{self.step}: " if self.step else ""
        out = [f"{head}{self.run}  {self.runbook}@{self.version}  {self.status}"]
        for i, child in enumerate(self.children):
            last = i == len(self.children) - 1
            branch, rest = ("└─ ", "   ") if last else ("├─ ", "│  ")
            sub = child.lines()
            out.append(prefix + branch + sub[0])
            out.extend(prefix + rest + line for line in sub[1:])
        return out


def run_tree(
    record: RunRecord,
    state_of: Callable[[RunRecord], RunState],
    get_run: Callable[[str], RunRecord | None],
    *,
    step: str | None = None,
    depth: int = 0,
) -> RunNode:
    """``record`` and its child runs, their children, ... (``MAX_DEPTH`` levels at most)."""
    children: list[RunNode] = []
    if depth < MAX_DEPTH:
        for sid, child_id in child_steps(state_of(record)):
            child = get_run(child_id)
            if child is None:
                children.append(RunNode(child_id, "?", 0, "not created yet", sid))
                continue
            children.append(run_tree(child, state_of, get_run, step=sid, depth=depth + 1))
    return RunNode(record.id, record.runbook, record.version, record.status, step, tuple(children))


class ChildEngine(Protocol):
    """What ``ChildRuns`` needs of the engine."""

    @property
    def store(self) -> Store: ...

    def pin_calls(self, runbook: Runbook) -> dict[str, int]: ...

    def start_child(self, request: ChildRequest) -> dict[str, Any]:
        """Check and record the child run (as any start is checked); its typed parameters."""
        ...

    def drive_child(self, run_id: str, params: Mapping[str, Any] | None, *, wait: bool) -> str:
        """Drive the child here; its status when the drive ends. ``StoreError`` when another
        engine drives it, ``ParameterError`` when it needs secrets this process lacks."""
        ...

    def child_outcome(self, record: RunRecord) -> ChildOutcome: ...

    def reopen_for_rollback(self, record: RunRecord, *, parent: str) -> None: ...


class ChildRuns:
    """The runtime's ``Children``, on an engine."""

    def __init__(self, engine: ChildEngine) -> None:
        self.engine = engine

    @property
    def store(self) -> Store:
        return self.engine.store

    def pins(self, runbook: Runbook) -> dict[str, int]:
        return self.engine.pin_calls(runbook)

    def run(self, request: ChildRequest, *, wait: bool) -> ChildOutcome:
        params: Mapping[str, Any] | None = None
        if self.store.get_run(request.run_id) is None:
            try:
                params = self.engine.start_child(request)
            except RunbookError as exc:
                # refused (permission, parameters, version), unless another engine created
                # it meanwhile: then there is a child to follow
                if self.store.get_run(request.run_id) is None:
                    return ChildOutcome(
                        request.run_id,
                        "",
                        message=str(exc),
                        runbook=request.runbook,
                        version=request.version,
                    )
        return self._follow(request.run_id, params, wait=wait)

    def roll_back(self, run_id: str, *, parent: str, wait: bool) -> ChildOutcome:
        record = self.store.get_run(run_id)
        if record is None:
            return ChildOutcome(run_id, "", message="the child run does not exist")
        if record.status == SUCCEEDED:
            self.engine.reopen_for_rollback(record, parent=parent)
        # a child that ended otherwise was rolled back already (a parent resumed mid-rollback
        # finds it rolled back), or did nothing to undo
        return self._follow(run_id, None, wait=wait)

    def cancel(self, run_id: str, *, parent: str, reason: str) -> None:
        record = self.store.get_run(run_id)
        if record is None or record.status in TERMINAL:
            return
        self.store.append_event(
            run_id, EventType.RUN_CANCEL_REQUESTED, {"by": f"run {parent}", "reason": reason}
        )

    def _follow(self, run_id: str, params: Mapping[str, Any] | None, *, wait: bool) -> ChildOutcome:
        """Until the child ends: drive it whenever nobody does, else watch it. Returns early
        when the child needs a human's choice or secrets, and, with ``wait=False``, when it
        waits for an approval (its door continues it, and then its parent)."""
        while True:
            record = self.store.get_run(run_id)
            if record is None:
                return ChildOutcome(run_id, "", message="the child run disappeared")
            if record.status in TERMINAL:
                return self.engine.child_outcome(record)
            blocked = isinstance((record.state or {}).get("blocked"), dict)
            if (record.status == NEEDS_ATTENTION or blocked) and not is_driven(record):
                # a human acts on the child itself (runbook resume CHILD): that continues it,
                # and then the parent
                return ChildOutcome(run_id, record.status)
            if record.status in WAITING and not wait:
                return ChildOutcome(run_id, record.status)  # its door continues it
            if not is_driven(record):
                try:
                    status = self.engine.drive_child(run_id, params, wait=wait)
                except StoreError:
                    pass  # another engine claimed it first: watch it
                except ParameterError:
                    pass  # blocked on secrets: said in its log, seen on the next look
                else:
                    if status in TERMINAL:
                        continue
                    # its drive stopped for people (an approval when not waiting, an input
                    # only the giver can carry on, a human's choice): they continue it
                    return ChildOutcome(run_id, status)
            time.sleep(POLL)
