"""What a call step's end says in the parent's log: built from where its child run ended."""

from __future__ import annotations

from typing import Any

from runbook_engine.core.decide import RollbackChild, StartChild
from runbook_engine.core.events import (
    RollbackStepFailed,
    RollbackStepSucceeded,
    StepError,
    StepFailed,
)
from runbook_engine.core.statuses import FAILED, ROLLED_BACK, SUCCEEDED
from runbook_engine.runtime.children import ChildOutcome, ChildRequest


def request(
    cmd: StartChild, *, parent: str, requester: str, secrets: tuple[str, ...]
) -> ChildRequest:
    return ChildRequest(
        parent=parent,
        step=cmd.step,
        run_id=cmd.run_id,
        runbook=cmd.runbook,
        version=cmd.version,
        params=cmd.params,
        requester=requester,
        secrets=secrets,
    )


def call_params(cmd: StartChild) -> dict[str, Any]:
    """What the log keeps as the call a completed call step made (a rollback reads ``run``)."""
    return {"runbook": cmd.runbook, "version": cmd.version, "run": cmd.run_id, "with": cmd.params}


def result(outcome: ChildOutcome) -> dict[str, Any]:
    """A call step's ``result``: the child run, where it ended, and its steps' outputs."""
    return {
        "run": outcome.run_id,
        "runbook": outcome.runbook,
        "version": outcome.version,
        "status": outcome.status,
        "outputs": outcome.outputs,
    }


def failure(
    cmd: StartChild,
    outcome: ChildOutcome,
    *,
    attempt: int,
    duration: float,
    timed_out: float | None,
) -> StepFailed:
    """The step's failure: the child did not succeed (or never started), in its own words."""
    where = f"child run {outcome.run_id} ({cmd.runbook}@{cmd.version})"
    if timed_out is not None:
        message, kind = f"the call timed out after {timed_out:g}s; {where} was cancelled", "timeout"
    elif not outcome.status:  # refused before it existed: its parameters, permission, version
        message, kind = f"{where} could not start: {outcome.message}", "call"
    else:
        why = f": {outcome.message}" if outcome.message else ""
        message, kind = f"{where} ended {outcome.status}{why}", "child"
    return StepFailed(
        step=cmd.step, attempt=attempt, duration=duration, error=StepError(message, kind=kind)
    )


def succeeded(outcome: ChildOutcome) -> bool:
    return outcome.status == SUCCEEDED


def rollback_done(
    cmd: RollbackChild, outcome: ChildOutcome, *, duration: float
) -> RollbackStepSucceeded | RollbackStepFailed:
    """The parent's rollback entry for the child: undone when the child's own rollback ended
    (rolled back, or failed with nothing to undo); failed when the child's rollback failed."""
    if outcome.status in (ROLLED_BACK, FAILED):
        return RollbackStepSucceeded(
            index=cmd.index, step=cmd.step, duration=duration, result=result(outcome)
        )
    why = f": {outcome.message}" if outcome.message else ""
    error = StepError(
        f"child run {cmd.run_id} could not be rolled back: it ended {outcome.status}{why}",
        kind="child",
    )
    return RollbackStepFailed(index=cmd.index, step=cmd.step, duration=duration, error=error)
