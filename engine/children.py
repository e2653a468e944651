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
from collections.abc import Mapping
from typing import Any, Protocol

from runbook_engine.core.events import EventType
from runbook_engine.core.statuses import NEEDS_ATTENTION, SUCCEEDED, TERMINAL
from runbook_engine.errors import ParameterError, RunbookError, StoreError
from runbook_engine.lease import is_driven
from runbook_engine.runtime.children import ChildOutcome, ChildRequest
from runbook_engine.spec.models import Runbook
from runbook_engine.store import RunRecord, Store

#: how often a parent looks at a child that another engine drives or that waits for people
POLL = 0.25


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
                    if not wait:
                        return ChildOutcome(run_id, status)
            time.sleep(POLL)
