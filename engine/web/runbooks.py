"""The runbooks pages: the list, one runbook's source and versions, diffs between versions,
and the run form, its plan and the start.

Starting a run takes three steps, each a page: the form (``GET /runbooks/NAME/run``), the plan
for what was entered (``POST`` of the form: the steps with their parameters rendered, secrets
masked, nothing called) and the start (``POST /runbooks/NAME/start`` from the plan's button),
which starts the run as the API's ``POST /runs`` does and lands on ``/runs/ID``.

Secrets travel in the form's ``POST`` body and nowhere else: the plan page does not carry them
(no hidden field, no URL). What the form gave is kept in this process for a few minutes under
a random plan id that only its user's start can use, and dropped when the run starts (the
executor keeps a run's secrets from then on, as for any start). The plan id is also the
start's idempotency key: a second click on Start lands on the run the first one started.
"""

from __future__ import annotations

import difflib
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from runbook_engine.api.context import ApiContext, context_of
from runbook_engine.api.models import RunCreate
from runbook_engine.api.problems import ApiProblem
from runbook_engine.api.runbooks import resolve
from runbook_engine.api.runs import idempotent_run_id, start_run
from runbook_engine.auth.policy import Action, allowed
from runbook_engine.auth.principal import Principal
from runbook_engine.errors import RunbookError, RunbookInvalid
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.params import redact_params
from runbook_engine.web.csrf import CheckedForm
from runbook_engine.web.forms import build_fields, parse_form
from runbook_engine.web.session import SignedIn
from runbook_engine.web.templates import render

router = APIRouter()

#: how long a plan can be started from: long enough to read it, short enough that secrets
#: a form gave do not linger in memory
PLAN_LIFETIME = 15 * 60.0
#: plans kept at most (the oldest go first): a busy console cannot grow this without bound
MAX_PLANS = 1000
PLAN_FIELD = "plan"


# --------------------------------------------------------------------------- finding runbooks


def _decision(request: Request, user: Principal, action: Action, loaded: LoadedRunbook) -> str:
    """Empty when the policy allows ``action``, else its reason."""
    directory = context_of(request).engine.directory
    decision = allowed(user, action, loaded.runbook, directory=directory)
    return "" if decision.allowed else decision.reason


def _find(
    request: Request, user: Principal, name: str, version: int | None = None
) -> LoadedRunbook:
    """The runbook ``name`` (at ``version``, else its newest), if the user may view it."""
    ctx = context_of(request)
    ref = name if version is None else f"{name}@{version}"
    try:
        loaded = resolve(ctx, ref)
    except ApiProblem as exc:  # not a NAME: no such runbook, as far as a page is concerned
        raise ApiProblem(404, "runbook-not-found", exc.detail) from None
    reason = _decision(request, user, "view", loaded)
    if reason:
        raise ApiProblem(403, "forbidden", reason)
    return loaded


# --------------------------------------------------------------------------- list and source


@dataclass(frozen=True)
class Listed:
    name: str
    version: int
    description: str
    scheduled: bool
    may_run: bool


@router.get("/runbooks", response_class=HTMLResponse)
def list_page(request: Request, user: SignedIn) -> HTMLResponse:
    ctx = context_of(request)
    directory = ctx.engine.directory
    shown = [
        Listed(
            rb.name,
            rb.version,
            rb.description,
            bool(rb.schedule),
            allowed(user, "run", rb, directory=directory).allowed,
        )
        for rb in (x.runbook for x in ctx.catalog.latest())
        if allowed(user, "view", rb, directory=directory).allowed
    ]
    return render(request, "runbooks_list.html", runbooks=shown)


@dataclass(frozen=True)
class VersionRow:
    """One version of a runbook: in the server's files, in the store (a run used it), or
    both."""

    version: int
    digest: str
    file: str | None
    recorded_at: datetime | None
    #: the version before this one, for "changes from the previous version"
    previous: int | None


def versions_of(ctx: ApiContext, name: str) -> list[VersionRow]:
    """Every version the server knows of ``name``, newest first."""
    digests: dict[int, str] = {}
    files: dict[int, str] = {}
    recorded: dict[int, datetime] = {}
    # the catalog has no public listing of one name's file versions; its scan is read here
    ctx.catalog.scan()
    for number, loaded in ctx.catalog.versions(name).items():
        digests[number] = loaded.digest
        files[number] = loaded.file
    for stored in ctx.store.list_versions(name):
        digests.setdefault(stored.version, stored.digest)
        recorded[stored.version] = stored.recorded_at
    numbers = sorted(digests)
    rows = [
        VersionRow(
            n,
            digests[n],
            files.get(n),
            recorded.get(n),
            numbers[i - 1] if i > 0 else None,
        )
        for i, n in enumerate(numbers)
    ]
    return rows[::-1]


@router.get("/runbooks/{name}", response_class=HTMLResponse)
def show_page(
    request: Request, user: SignedIn, name: str, version: int | None = Query(None, ge=1)
) -> HTMLResponse:
    newest = _find(request, user, name)
    loaded = newest if version is None else _find(request, user, name, version)
    versions = versions_of(context_of(request), name)
    return render(
        request,
        "runbooks_show.html",
        loaded=loaded,
        runbook=loaded.runbook,
        newest=newest.runbook.version,
        versions=versions,
        may_run=not _decision(request, user, "run", newest),
        pick_from=versions[1].version if len(versions) > 1 else newest.runbook.version,
        pick_to=newest.runbook.version,
    )


@dataclass(frozen=True)
class DiffLine:
    kind: Literal["file", "hunk", "add", "del", "same"]
    text: str


def diff_lines(left: LoadedRunbook, right: LoadedRunbook) -> list[DiffLine]:
    """A unified diff from ``left`` to ``right``, each line with what it is (for colour)."""
    out: list[DiffLine] = []
    for index, line in enumerate(
        difflib.unified_diff(
            left.source.splitlines(),
            right.source.splitlines(),
            fromfile=f"{left.ref} ({left.digest[:19]})",
            tofile=f"{right.ref} ({right.digest[:19]})",
            lineterm="",
        )
    ):
        kind: Literal["file", "hunk", "add", "del", "same"]
        if index < 2:  # the --- and +++ lines name the two versions
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        out.append(DiffLine(kind, line))
    return out


@router.get("/runbooks/{name}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request,
    user: SignedIn,
    name: str,
    from_: int = Query(..., alias="from", ge=1),
    to: int = Query(..., ge=1),
) -> HTMLResponse:
    left = _find(request, user, name, from_)
    right = _find(request, user, name, to)
    return render(
        request,
        "runbooks_diff.html",
        name=name,
        left=left,
        right=right,
        runbook=right.runbook,
        lines=diff_lines(left, right),
        versions=versions_of(context_of(request), name),
        pick_from=left.runbook.version,
        pick_to=right.runbook.version,
    )


# --------------------------------------------------------------------------- run form and plan


@dataclass
class Plan:
    """What a filled-in form gave, kept until its start (or its lifetime) for its user."""

    #: the principal's key (``Principal.key``): only they may start it
    user: str
    name: str
    version: int
    digest: str
    given: dict[str, Any]
    #: every parameter's value as the plan shows it: defaults filled in, secrets masked
    shown: dict[str, Any]
    #: what the form showed (no secrets), to fill it in again when the user changes a value
    entered: dict[str, str]
    steps: list[dict[str, Any]]
    made: float


class Plans:
    """The plans awaiting a start, by id: in memory, each for a few minutes, at most a
    thousand (secrets among their values are never written anywhere)."""

    def __init__(self, lifetime: float = PLAN_LIFETIME, limit: int = MAX_PLANS) -> None:
        self.lifetime = lifetime
        self.limit = limit
        self._plans: OrderedDict[str, Plan] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._plans:
            oldest = next(iter(self._plans.values()))
            if now - oldest.made <= self.lifetime and len(self._plans) <= self.limit:
                break
            self._plans.popitem(last=False)

    def keep(self, plan: Plan) -> str:
        plan_id = secrets.token_urlsafe(18)
        with self._lock:
            self._plans[plan_id] = plan
            self._expire(plan.made)
        return plan_id

    def get(self, plan_id: str, user: Principal) -> Plan | None:
        """The plan, if it is this user's and has not expired."""
        with self._lock:
            self._expire(time.time())
            plan = self._plans.get(plan_id)
        if plan is None or plan.user != user.key:
            return None
        return plan

    def drop(self, plan_id: str) -> None:
        with self._lock:
            self._plans.pop(plan_id, None)


def plans_of(request: Request) -> Plans:
    """The app's plans, made on first use (so that the app need not know of them)."""
    state = request.app.state
    with _PLANS_LOCK:
        found = getattr(state, "web_plans", None)
        if not isinstance(found, Plans):
            found = Plans()
            state.web_plans = found
    return found


_PLANS_LOCK = threading.Lock()


def _runnable(request: Request, user: Principal, name: str) -> LoadedRunbook:
    loaded = _find(request, user, name)
    reason = _decision(request, user, "run", loaded)
    if reason:
        raise ApiProblem(403, "forbidden", reason)
    return loaded


def _form_page(
    request: Request,
    loaded: LoadedRunbook,
    *,
    entered: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
    more: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "run_form.html",
        status_code=status_code,
        loaded=loaded,
        runbook=loaded.runbook,
        fields=build_fields(loaded.runbook, entered, errors, more),
        error=error,
    )


@router.get("/runbooks/{name}/run", response_class=HTMLResponse)
def form_page(request: Request, user: SignedIn, name: str) -> HTMLResponse:
    loaded = _runnable(request, user, name)
    return _form_page(request, loaded)


@router.post("/runbooks/{name}/run", response_class=HTMLResponse)
def plan_page(request: Request, user: SignedIn, form: CheckedForm, name: str) -> HTMLResponse:
    """The plan for what the form gave, or the form again with the CLI's messages."""
    from runbook_engine.plan import build_plan

    loaded = _runnable(request, user, name)
    submitted = parse_form(loaded.runbook, form)
    more = form.get("more")
    if isinstance(more, str) and more in loaded.runbook.parameters:
        # "Add another item" of a list: the form again, as entered, with one more field
        return _form_page(request, loaded, entered=submitted.entered, more=more)
    if not submitted.ok:
        return _form_page(
            request,
            loaded,
            entered=submitted.entered,
            errors=submitted.errors,
            error="Some parameters need a change: see the messages below.",
            status_code=422,
        )
    ctx = context_of(request)
    try:
        steps = build_plan(loaded, submitted.given, ctx.engine.registry, from_text=True)
    except RunbookInvalid as exc:
        problems = "; ".join(str(p) for p in exc.problems) or str(exc)
        return _form_page(
            request,
            loaded,
            entered=submitted.entered,
            error=f"The runbook cannot run: {problems}",
            status_code=422,
        )
    except RunbookError as exc:
        return _form_page(
            request, loaded, entered=submitted.entered, error=str(exc), status_code=422
        )
    rb = loaded.runbook
    plan = Plan(
        user.key,
        rb.name,
        rb.version,
        loaded.digest,
        submitted.given,
        redact_params(rb, submitted.values),
        submitted.entered,
        steps,
        time.time(),
    )
    plan_id = plans_of(request).keep(plan)
    return _plan_page(request, loaded, plan, plan_id)


def _plan_page(
    request: Request,
    loaded: LoadedRunbook,
    plan: Plan,
    plan_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rb = loaded.runbook
    return render(
        request,
        "run_form_plan.html",
        status_code=status_code,
        loaded=loaded,
        runbook=rb,
        steps=plan.steps,
        given=plan.shown,
        plan_id=plan_id,
        error=error,
        pretty=pretty,
    )


def pretty(value: Any) -> str:
    """A step's rendered parameters, indented, as the plan shows them."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@router.post("/runbooks/{name}/edit", response_class=HTMLResponse)
def edit_page(request: Request, user: SignedIn, form: CheckedForm, name: str) -> HTMLResponse:
    """The form again, filled in with what the plan was made from (secrets typed again)."""
    loaded = _runnable(request, user, name)
    plan_id = form.get(PLAN_FIELD)
    plan = plans_of(request).get(plan_id, user) if isinstance(plan_id, str) else None
    if plan is None or plan.name != loaded.runbook.name:
        return _form_page(request, loaded)
    return _form_page(request, loaded, entered=plan.entered)


@router.post("/runbooks/{name}/start", response_model=None)
def start_page(
    request: Request, user: SignedIn, form: CheckedForm, name: str
) -> HTMLResponse | RedirectResponse:
    """Start the planned run as ``POST /api/v1/runs`` does, and go to its page."""
    loaded = _runnable(request, user, name)
    ctx = context_of(request)
    plan_id = form.get(PLAN_FIELD)
    if not isinstance(plan_id, str) or not plan_id:
        return _form_page(request, loaded, error="Fill in the form first.", status_code=400)
    plans = plans_of(request)
    plan = plans.get(plan_id, user)
    if plan is None or plan.name != loaded.runbook.name:
        # a second click on Start after the first started the run: that run, not an error
        earlier = ctx.store.get_run(idempotent_run_id(user, plan_id))
        if earlier is not None and earlier.requester.casefold() == user.key:
            return RedirectResponse(f"/runs/{earlier.id}", status_code=303)
        return _form_page(
            request,
            loaded,
            error="That plan has expired or was not made here: fill in the form again.",
            status_code=409,
        )
    body = RunCreate(
        runbook=f"{plan.name}@{plan.version}", params=plan.given, params_from_text=True
    )
    try:
        run = start_run(request, Response(), user, body, idempotency_key=plan_id)
    except ApiProblem as exc:
        return _plan_page(request, loaded, plan, plan_id, error=exc.detail, status_code=exc.status)
    except RunbookError as exc:
        from runbook_engine.api.problems import classify

        status, _, _ = classify(exc)
        return _plan_page(
            request, loaded, plan, plan_id, error=f"Not started: {exc}", status_code=status
        )
    plans.drop(plan_id)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)
