"""``/runs/{id}``: one run's page. Its live part (``/runs/{id}/live``: the status, the
buttons the signed-in user may use, the timeline of steps) is a fragment the page fetches
again whenever the run's event stream (``run_stream``) reports news, so a decision made by
someone else shows without a reload; the logs below it grow line by line from the same
stream. With JavaScript off the page is complete as served."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from runbook_engine.api.context import context_of
from runbook_engine.api.runs import visible_run
from runbook_engine.auth.principal import Principal
from runbook_engine.core.events import EventType
from runbook_engine.core.statuses import NEEDS_ATTENTION, TERMINAL, WAITING
from runbook_engine.lease import is_driven
from runbook_engine.service import LoadedRun
from runbook_engine.web.errors import error_page
from runbook_engine.web.logs import read_logs
from runbook_engine.web.session import SignedIn
from runbook_engine.web.templates import render
from runbook_engine.web.timeline import Timeline, timeline_of

router = APIRouter()

#: events that change the live part of the page (the rest: output lines, Slack bookkeeping)
REFRESH_ON = " ".join(
    t.value
    for t in EventType
    if t not in (EventType.STEP_OUTPUT, EventType.RUN_CREATED) and not t.startswith("slack.")
)


def _resumable(request: Request, run: LoadedRun) -> bool:
    """A run that is active, not stopped for a person and driven by no engine: its engine
    stopped (a crash, a restart), and a resume picks it up where it was."""
    record = run.record
    if record.status in TERMINAL or record.status in (*WAITING, NEEDS_ATTENTION):
        return False
    return record.id not in context_of(request).executor.driving() and not is_driven(record)


def live_context(request: Request, user: Principal, run_id: str) -> dict[str, Any]:
    """What the live fragment shows, read once: the run, its timeline, its buttons."""
    run = visible_run(context_of(request), request, user, run_id)
    timeline: Timeline = timeline_of(run)
    hosts = sorted({h.host for step in timeline.steps for h in step.hosts})
    return {
        "run": run.record,
        "runbook": run.loaded.runbook,
        "state": run.state,
        "timeline": timeline,
        "resumable": _resumable(request, run),
        "hosts": hosts,
        # a child run of a call step: the run and step that started it
        "parent": context_of(request).engine.parent_of(run.record),
        # a re-run: the run it re-runs; and the runs that re-ran this one
        "rerun_of": context_of(request).engine.rerun_of(run.record),
        "reruns": context_of(request).engine.reruns_of(run.record),
        # the input the run waits for (its form), given with `runbook input` or the API
        "waiting_input": context_of(request).engine.input_request(run),
    }


Filter = Annotated[str, Query(max_length=200)]


@router.get("/runs/{run_id}")
def run_page(
    request: Request, user: SignedIn, run_id: str, step: Filter = "", host: Filter = ""
) -> Response:
    context = live_context(request, user, run_id)
    logs = read_logs(
        context_of(request).store, context["run"].id, step=step or None, host=host or None
    )
    return render(
        request,
        "run.html",
        **context,
        logs=logs,
        log_step=step,
        log_host=host,
        refresh_on=REFRESH_ON,
    )


@router.get("/runs/{run_id}/live")
def run_live(request: Request, user: SignedIn, run_id: str) -> Response:
    """The live fragment alone: the page swaps it in when the run's stream has news."""
    return render(request, "_run_live.html", **live_context(request, user, run_id))


#: hosts per page of a step's hosts page
HOSTS_PAGE = 250


@router.get("/runs/{run_id}/steps/{step_id}/hosts")
def step_hosts(
    request: Request,
    user: SignedIn,
    run_id: str,
    step_id: str,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Every host of one fan-out step, failed first, a page at a time: the timeline lists
    only the first few (``timeline.HOSTS_PREVIEW``)."""
    run = visible_run(context_of(request), request, user, run_id)
    step = next((s for s in timeline_of(run).steps if s.id == step_id), None)
    if step is None:
        return error_page(request, 404, f"Run {run.record.id} has no step {step_id!r}.")
    ordered = step.hosts_by_outcome
    pages = max(1, -(-len(ordered) // HOSTS_PAGE))
    page = min(page, pages)
    first = (page - 1) * HOSTS_PAGE
    return render(
        request,
        "run_hosts.html",
        run=run.record,
        step=step,
        shown=ordered[first : first + HOSTS_PAGE],
        first=first,
        page=page,
        pages=pages,
    )
