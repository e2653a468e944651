"""``/approvals``: the inbox, runs waiting for a decision the signed-in user may make.

A run is listed when it waits on an approval step and the policy lets the user approve it now
(``allowed(..., "approve", state=..., requester=...)``): an approver of the step, not its
requester (unless the step allows it), who has not decided already, before the deadline. So a
run one started oneself, or has approved already, is not waiting for one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runbook_engine.api.context import ApiContext, context_of
from runbook_engine.auth.policy import allowed
from runbook_engine.auth.principal import Principal
from runbook_engine.core.statuses import WAITING_APPROVAL
from runbook_engine.errors import RunbookError
from runbook_engine.identity import Directory
from runbook_engine.store import RunRecord
from runbook_engine.web.session import SignedIn
from runbook_engine.web.templates import render

router = APIRouter()

#: waiting runs looked at, at most, newest first: an inbox is for what is waiting now, and a
#: store with thousands of forgotten waiting runs must not make every page slow
MAX_SCANNED = 500
_BATCH = 100


@dataclass(frozen=True)
class Waiting:
    """One run waiting for the user."""

    run_id: str
    runbook: str
    version: int
    requester: str
    step: str
    #: seconds since the epoch: when the step began to wait
    since: float | None
    deadline: float | None
    approvals: int
    required: int
    created_at: datetime


def waiting_for(ctx: ApiContext, user: Principal, now: float | None = None) -> list[Waiting]:
    """The runs waiting for ``user``'s decision, newest first."""
    now = time.time() if now is None else now
    directory = ctx.engine.directory
    out: list[Waiting] = []
    scanned = 0
    before: tuple[datetime, str] | None = None
    while scanned < MAX_SCANNED:
        batch = ctx.store.list_runs(status=WAITING_APPROVAL, limit=_BATCH, before=before)
        for record in batch:
            scanned += 1
            item = _waiting(ctx, user, record, now, directory)
            if item is not None:
                out.append(item)
        if len(batch) < _BATCH:
            break
        before = (batch[-1].created_at, batch[-1].id)
    return out


def _waiting(
    ctx: ApiContext, user: Principal, record: RunRecord, now: float, directory: Directory
) -> Waiting | None:
    try:
        run = ctx.engine.load_run(record)
    except RunbookError:  # a run whose version the store lacks: nothing to decide here
        return None
    state = run.state
    decision = allowed(
        user,
        "approve",
        run.loaded.runbook,
        directory=directory,
        state=state,
        requester=record.requester,
        now=now,
    )
    if not decision.allowed or decision.step is None:
        return None
    step = decision.step
    step_state = state.step(step.id)
    return Waiting(
        run_id=record.id,
        runbook=record.runbook,
        version=record.version,
        requester=record.requester,
        step=step.id,
        since=step_state.started_at,
        deadline=step_state.deadline,
        approvals=sum(1 for d in state.approvals.get(step.id, ()) if d.decision == "approve"),
        required=step.approval.required,
        created_at=record.created_at,
    )


@router.get("/approvals", response_class=HTMLResponse)
def inbox_page(request: Request, user: SignedIn) -> HTMLResponse:
    items = waiting_for(context_of(request), user)
    return render(request, "approvals.html", waiting=items)
