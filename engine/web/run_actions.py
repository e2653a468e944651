"""The run page's buttons: ``POST /runs/{id}/approve``, ``/reject``, ``/cancel`` and
``/resume``, each a form with its CSRF token. They go through the very functions the API's
routes call (``api.runs.decide``, ``cancel``, ``resume``), so the policy, the audit trail and
the executor see a click exactly as they see an API call; each answers with a redirect back
to the run's page (303: a reload does not post again), which says what was done."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from runbook_engine.api.context import context_of
from runbook_engine.api.problems import ApiProblem
from runbook_engine.api.runs import cancel, decide, resume, visible_run
from runbook_engine.auth.principal import Principal
from runbook_engine.core.approvals import waiting_step
from runbook_engine.errors import ApprovalError
from runbook_engine.web.csrf import CheckedForm
from runbook_engine.web.session import SignedIn
from runbook_engine.web.templates import flash

router = APIRouter()

#: a reason is a sentence or two, as in the API
MAX_REASON = 2000
CHOICES = ("retry", "skip", "rollback")


def _back(request: Request, run_id: str, said: str) -> Response:
    response = RedirectResponse(f"/runs/{run_id}", status_code=303)
    flash(response, request, said)
    return response


def _reason(form: CheckedForm) -> str:
    reason = str(form.get("reason") or "").strip()
    if len(reason) > MAX_REASON:
        raise ApiProblem(422, "too-long", f"a reason has at most {MAX_REASON} characters")
    return reason


def _still_waiting_on(request: Request, user: Principal, run_id: str, step: str) -> None:
    """A button names the step its page showed: a page left open must not approve the run's
    next gate, which its user has not seen."""
    if not step:
        return
    run = visible_run(context_of(request), request, user, run_id)
    now: str | None = None
    with contextlib.suppress(ApprovalError):
        now = waiting_step(run.loaded.runbook, run.state).id
    if now != step:
        where = f"now waits on {now}" if now else f"is {run.state.status}"
        raise ApiProblem(409, "changed", f"the run {where}, not on {step}: look at it again")


def _decide(
    request: Request, user: Principal, run_id: str, form: CheckedForm, approve: bool
) -> Response:
    _still_waiting_on(request, user, run_id, str(form.get("step") or ""))
    done = decide(request, user, run_id, approve, _reason(form))
    verb = "Approved" if approve else "Rejected"
    return _back(request, done.run_id, f"{verb} step {done.step}.")


@router.post("/runs/{run_id}/approve")
def approve(request: Request, user: SignedIn, run_id: str, form: CheckedForm) -> Response:
    return _decide(request, user, run_id, form, True)


@router.post("/runs/{run_id}/reject")
def reject(request: Request, user: SignedIn, run_id: str, form: CheckedForm) -> Response:
    return _decide(request, user, run_id, form, False)


@router.post("/runs/{run_id}/cancel")
def cancel_run(request: Request, user: SignedIn, run_id: str, form: CheckedForm) -> Response:
    done = cancel(request, user, run_id, _reason(form))
    return _back(request, done.run_id, "Cancel requested: the run stops and rolls back.")


@router.post("/runs/{run_id}/resume")
def resume_run(request: Request, user: SignedIn, run_id: str, form: CheckedForm) -> Response:
    choice = str(form.get("choice") or "") or None
    if choice is not None and choice not in CHOICES:
        raise ApiProblem(422, "bad-choice", f"choose one of: {', '.join(CHOICES)}")
    done = resume(request, user, run_id, choice=choice)
    said = {
        None: "Resumed.",
        "retry": "Retrying the step.",
        "skip": "Skipping the step.",
        "rollback": "Rolling back.",
    }[choice]
    return _back(request, done.run_id, said)
