"""``/runs``: start runs, list and show them, page through their events, and approve, reject,
cancel or resume them.

A mutation goes through the engine with the caller's ``Principal``: the engine asks the one
policy function (the token's role ceiling and the IdP's groups included) and writes the audit
entry with how the caller authenticated. The run is then driven by this server's executor, in
the background: a request never waits for a run's steps.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from runbook_engine.api.context import ApiContext, context_of
from runbook_engine.api.models import (
    Cancelled,
    CancelRequest,
    ChildLink,
    Decision,
    DecisionRequest,
    Event,
    InputGiven,
    InputRequest,
    Page,
    RerunRequest,
    Resumed,
    ResumeRequest,
    Run,
    RunCreate,
    RunDetail,
)
from runbook_engine.api.pages import MAX_LIMIT, read_run_cursor, run_cursor
from runbook_engine.api.problems import ApiProblem
from runbook_engine.api.runbooks import resolve
from runbook_engine.api.security import Caller, may
from runbook_engine.auth.principal import Principal
from runbook_engine.children import child_steps
from runbook_engine.core.approvals import waiting_step
from runbook_engine.core.loop_state import loop_summary
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import EXIT_CODES, NEEDS_ATTENTION, TERMINAL
from runbook_engine.errors import ApprovalError, RunNotFound
from runbook_engine.service import LoadedRun, new_run_id, rerun_run_id
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import iter_steps
from runbook_engine.store import EventRecord, RunRecord

router = APIRouter(prefix="/runs", tags=["runs"])


def run_view(
    record: RunRecord,
    trigger: dict[str, Any] | None = None,
    rerun_of: dict[str, Any] | None = None,
) -> Run:
    blocked = (record.state or {}).get("blocked")
    return Run(
        id=record.id,
        runbook=record.runbook,
        version=record.version,
        digest=record.digest,
        status=record.status,
        requester=record.requester,
        params=record.params,
        owner=record.owner,
        created_at=record.created_at,
        updated_at=record.updated_at,
        exit_code=EXIT_CODES.get(record.status),
        blocked=blocked if isinstance(blocked, dict) and record.status not in TERMINAL else None,
        trigger=trigger,
        rerun_of=rerun_of,
    )


def event_view(event: EventRecord) -> Event:
    return Event(seq=event.seq, ts=event.ts, type=event.type, step=event.step_id, data=event.data)


def visible_record(
    ctx: ApiContext, request: Request, caller: Principal, run_id: str
) -> tuple[RunRecord, LoadedRunbook]:
    """The run's row and runbook version, if the caller may view that runbook; 404 otherwise
    (a run of a runbook one may not see is not shown to exist). Reads no events: what a
    stream or a page costs does not grow with the run's log."""
    record = ctx.store.get_run(run_id)
    if record is None:
        raise RunNotFound(run_id)
    loaded = ctx.engine.loaded_for(record)  # parsed once per version per process
    if not may(request, caller, "view", loaded.runbook):
        raise RunNotFound(run_id)
    return record, loaded


def visible_run(ctx: ApiContext, request: Request, caller: Principal, run_id: str) -> LoadedRun:
    """The run, loaded (its state folded), if the caller may view it."""
    record, _ = visible_record(ctx, request, caller, run_id)
    return ctx.engine.load_run(record)


def idempotent_run_id(caller: Principal, key: str | None) -> str:
    """A run id; with an ``Idempotency-Key``, the same one for the same caller and key, so a
    retried request finds the run its first try created instead of starting another."""
    if not key:
        return new_run_id()
    return hashlib.sha256(f"api:{caller.key}:{key}".encode()).hexdigest()[:12]


@router.post("", status_code=201, response_model=Run, summary="Start a run")
def start_run(
    request: Request,
    response: Response,
    caller: Caller,
    body: RunCreate,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Run:
    """Check everything a start checks (permission, parameters, the runbook's actions), record
    the run and drive it in the background. With ``Idempotency-Key``, a repeated request
    returns the run the first one created (200)."""
    ctx = context_of(request)
    loaded = resolve(ctx, body.runbook)
    run_id = idempotent_run_id(caller, idempotency_key)
    if idempotency_key:
        earlier = ctx.store.get_run(run_id)
        if earlier is not None:
            response.status_code = 200
            return run_view(earlier)
    ctx.executor.start(
        loaded,
        body.params,
        requester=caller,
        run_id=run_id,
        from_text=body.params_from_text,
    )
    record = ctx.store.get_run(run_id)
    if record is None:  # recorded a moment ago: only a store that lost it gets here
        raise RunNotFound(run_id)
    response.headers["Location"] = f"{request.url.path}/{run_id}"
    return run_view(record)


@router.get("", response_model=Page[Run], summary="List runs")
def list_runs(
    request: Request,
    caller: Caller,
    status: Annotated[list[str] | None, Query()] = None,
    runbook: str | None = None,
    requester: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[Run]:
    """Runs newest first, of the runbooks the caller may view; filters combine."""
    records, more = runs_page(
        request,
        caller,
        status=status,
        runbook=runbook,
        requester=requester,
        since=since,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[run_view(r) for r in records], next=more)


def runs_page(
    request: Request,
    caller: Principal,
    *,
    status: list[str] | None = None,
    runbook: str | None = None,
    requester: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[RunRecord], str | None]:
    """One page of runs newest first, of the runbooks the caller may view, and the cursor of
    the next page (``None``: this is the last). The API's list and the console's share it."""
    ctx = context_of(request)
    before = read_run_cursor(cursor) if cursor else None
    shown: list[RunRecord] = []
    verdicts: dict[tuple[str, int], bool] = {}
    # runs of runbooks the caller may not view are skipped, so a page is read in batches
    # until it is full or the store has no more
    while len(shown) <= limit:
        batch = ctx.store.list_runs(
            status=status or None,
            runbook=runbook,
            requester=requester,
            since=since,
            limit=limit + 1,
            before=before,
        )
        for record in batch:
            key = (record.runbook, record.version)
            if key not in verdicts:
                loaded = ctx.engine.loaded_for(record)
                verdicts[key] = may(request, caller, "view", loaded.runbook)
            if verdicts[key]:
                shown.append(record)
        if len(batch) <= limit:
            break
        before = (batch[-1].created_at, batch[-1].id)
    page = shown[:limit]
    more = len(shown) > limit
    last = page[-1] if page else None
    return page, run_cursor(last.created_at, last.id) if more and last else None


@router.get("/{run_id}", response_model=RunDetail, summary="Show a run")
def show_run(request: Request, caller: Caller, run_id: str) -> RunDetail:
    """The run's row and its state as the engine sees it (every step, results included)."""
    ctx = context_of(request)
    run = visible_run(ctx, request, caller, run_id)
    state = run.state
    waiting: str | None = None
    with contextlib.suppress(ApprovalError):  # not waiting: no step to name
        waiting = waiting_step(run.loaded.runbook, state).id
    view = run_view(run.record, ctx.engine.trigger_of(run.record), ctx.engine.rerun_of(run.record))
    return RunDetail(
        **view.model_dump(),
        state=state.to_dict(),
        order=[s.id for s, _ in iter_steps(run.loaded.runbook)],
        waiting_on=waiting,
        parent=ctx.engine.parent_of(run.record),
        children=_children(ctx, state),
        reruns=ctx.engine.reruns_of(run.record),
        loops={sid: loop_summary(sid, loop, state.steps) for sid, loop in state.loops.items()},
        input=ctx.engine.input_request(run),
    )


def _children(ctx: ApiContext, state: RunState) -> list[ChildLink]:
    out: list[ChildLink] = []
    for step, child_id in child_steps(state):
        child = ctx.store.get_run(child_id)
        if child is not None:
            out.append(
                ChildLink(
                    step=step,
                    run=child.id,
                    runbook=child.runbook,
                    version=child.version,
                    status=child.status,
                )
            )
    return out


@router.get("/{run_id}/events", response_model=Page[Event], summary="Page through a run's events")
def run_events(
    request: Request,
    caller: Caller,
    run_id: str,
    after: Annotated[int, Query(ge=0, description="only events after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 200,
) -> Page[Event]:
    ctx = context_of(request)
    record, _ = visible_record(ctx, request, caller, run_id)
    events = ctx.store.events(record.id, after_seq=after, limit=limit + 1)
    page = events[:limit]
    more = len(events) > limit
    return Page(items=[event_view(e) for e in page], next=str(page[-1].seq) if more else None)


def decide(
    request: Request, caller: Principal, run_id: str, approve: bool, reason: str
) -> Decision:
    """Record ``caller``'s decision on the step the run waits on and continue the run here
    (the API's approve and reject, and the console's buttons)."""
    ctx = context_of(request)
    run = visible_run(ctx, request, caller, run_id)
    if not approve and not reason.strip():
        raise ApiProblem(422, "reason-required", "a rejection needs a reason", field="reason")
    decided = ctx.engine.decide(run, user=caller, approve=approve, reason=reason)
    ctx.executor.resume(run.record.id, by=caller.name, run=decided.run)
    return Decision(
        run_id=run.record.id,
        step=decided.step,
        decision="approved" if approve else "rejected",
        user=caller.name,
        continued_by="here",
    )


@router.post("/{run_id}/approve", response_model=Decision, summary="Approve a run's step")
def approve_run(
    request: Request, caller: Caller, run_id: str, body: DecisionRequest | None = None
) -> Decision:
    """Approve the step the run waits on: the caller must be one of its approvers, not its
    requester (unless the step allows it), and not have decided it already."""
    return decide(request, caller, run_id, True, body.reason if body else "")


@router.post("/{run_id}/reject", response_model=Decision, summary="Reject a run's step")
def reject_run(request: Request, caller: Caller, run_id: str, body: DecisionRequest) -> Decision:
    """Reject the step the run waits on (a reason is required); the run rolls back."""
    return decide(request, caller, run_id, False, body.reason)


@router.post("/{run_id}/input", response_model=InputGiven, summary="Give a run's input")
def give_input(request: Request, caller: Caller, run_id: str, body: InputRequest) -> InputGiven:
    """Give the values the input step of the run waits for: checked like parameters (a
    value that does not fit is a 400 naming the field, and the step keeps waiting); the
    caller must be in the step's `from` (else the runbook's run list). A secret value is
    never stored: this server keeps it in memory and drives the run on."""
    return input_given(request, caller, run_id, body.values, from_text=body.values_from_text)


def input_given(
    request: Request,
    caller: Principal,
    run_id: str,
    values: Mapping[str, Any],
    *,
    from_text: bool = False,
) -> InputGiven:
    """Record ``caller``'s input and continue the run here (the API's, the console's)."""
    ctx = context_of(request)
    run = visible_run(ctx, request, caller, run_id)
    given = ctx.engine.give_input(run, user=caller, values=values, from_text=from_text)
    ctx.executor.resume(run.record.id, by=caller.name, run=given.run)
    return InputGiven(
        run_id=run.record.id,
        step=given.step,
        values=given.values,
        user=caller.name,
        continued_by="here",
    )


@router.post("/{run_id}/cancel", response_model=Cancelled, summary="Cancel a run")
def cancel_run(
    request: Request, caller: Caller, run_id: str, body: CancelRequest | None = None
) -> Cancelled:
    """Stop what is running and roll back completed steps."""
    return cancel(request, caller, run_id, body.reason if body else "")


def cancel(request: Request, caller: Principal, run_id: str, reason: str = "") -> Cancelled:
    """Ask the run to stop (and roll back), then let this server's executor act on it."""
    ctx = context_of(request)
    record, _ = visible_record(ctx, request, caller, run_id)
    if record.status in TERMINAL:
        # asked of a run that is over: not the caller's input at fault, the run's state
        raise ApiProblem(409, "finished", f"run {record.id} has already finished ({record.status})")
    record = ctx.engine.cancel(record.id, by=caller, reason=reason)
    ctx.executor.resume(record.id, by=caller.name)
    return Cancelled(run_id=record.id)


@router.post("/{run_id}/resume", status_code=202, response_model=Resumed, summary="Resume a run")
def resume_run(request: Request, caller: Caller, run_id: str, body: ResumeRequest) -> Resumed:
    """Continue a run whose engine stopped, or decide about a step that needs attention
    (``choice``: retry, skip or rollback). Secret parameters are given again in ``params``."""
    return resume(
        request,
        caller,
        run_id,
        choice=body.choice,
        params=body.params,
        params_from_text=body.params_from_text,
    )


def resume(
    request: Request,
    caller: Principal,
    run_id: str,
    *,
    choice: str | None = None,
    params: Mapping[str, Any] | None = None,
    params_from_text: bool = False,
) -> Resumed:
    """Check and hand a run to this server's executor to continue (``choice`` for a run that
    needs attention); the API's resume and the console's buttons."""
    from runbook_engine.spec.params import resolve_params

    ctx = context_of(request)
    run = visible_run(ctx, request, caller, run_id)
    record, state = run.record, run.state
    ctx.engine.check_resume(run, by=caller, choice=choice)
    if record.status in TERMINAL:
        raise ApiProblem(409, "finished", f"run {record.id} has already finished ({record.status})")
    if ctx.engine.is_driven(record):
        raise ApiProblem(409, "driven", f"run {record.id} is being driven by {record.owner}")
    if choice is not None:
        if state.status != NEEDS_ATTENTION:
            raise ApiProblem(
                409,
                "not-needing-attention",
                f"run {record.id} is {state.status}; {choice} applies only to a run "
                "that needs attention",
            )
        choices = (state.attention or {}).get("choices", [])
        if choice not in choices:
            raise ApiProblem(409, "bad-choice", f"choose one of: {', '.join(choices)}")
    if params:
        given = resolve_params(run.loaded.runbook, params, from_text=params_from_text, partial=True)
        ctx.executor.vault.keep(record.id, run.loaded.runbook, given)
    if not ctx.executor.resume(record.id, by=caller.name, choice=choice):
        raise ApiProblem(503, "stopping", "the server is stopping; the run resumes when it is back")
    return Resumed(run_id=record.id, status=record.status)


@router.post("/{run_id}/rerun", status_code=201, response_model=Run, summary="Re-run a run")
def rerun_run(
    request: Request,
    response: Response,
    caller: Caller,
    run_id: str,
    body: RerunRequest,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Run:
    """A new run of exactly the version the run ran, with its parameters (``params`` change
    some, and give the secret ones again: they were never stored), linked to it (``rerun_of``).
    ``from``: the steps before it are carried over with the outputs the run recorded;
    ``failed_hosts``: the first SSH step from the start on runs on the hosts that failed or
    never ran. Checked like a start (permission ``run``); a re-run that cannot be made as asked
    is a problem (400), with nothing recorded. With ``Idempotency-Key``, a repeated request
    returns the re-run the first one created (200)."""
    ctx = context_of(request)
    record, _ = visible_record(ctx, request, caller, run_id)
    new_id = rerun_run_id(f"api:{caller.key}:{idempotency_key}" if idempotency_key else None)
    if idempotency_key:
        earlier = ctx.store.get_run(new_id)
        if earlier is not None:
            response.status_code = 200
            return run_view(earlier, rerun_of=ctx.engine.rerun_of(earlier))
    ctx.executor.rerun(
        record.id,
        by=caller,
        run_id=new_id,
        from_step=body.from_,
        failed_hosts=body.failed_hosts,
        given=body.params,
        from_text=body.params_from_text,
    )
    created = ctx.store.get_run(new_id)
    if created is None:  # recorded a moment ago: only a store that lost it gets here
        raise RunNotFound(new_id)
    response.headers["Location"] = f"{request.url.path.rsplit('/', 2)[0]}/{new_id}"
    return run_view(created, rerun_of=ctx.engine.rerun_of(created))
