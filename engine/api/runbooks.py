"""``/runbooks``: the runbooks this server runs, each version's source, diffs and plans.

A runbook is named, never located: the CLI's ``run ./file.yaml`` has no meaning here (a path
would read files of the server's choosing), so a ref is ``NAME`` or ``NAME@VERSION`` only.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from runbook_engine.api.context import ApiContext, context_of
from runbook_engine.api.models import (
    Page,
    ParameterInfo,
    Plan,
    PlanRequest,
    RunbookDiff,
    RunbookSummary,
    RunbookVersion,
)
from runbook_engine.api.pages import MAX_LIMIT, encode, read_name_cursor
from runbook_engine.api.problems import ApiProblem
from runbook_engine.api.security import Caller, may, permit
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import NAME, Parameter

router = APIRouter(prefix="/runbooks", tags=["runbooks"])

_REF = re.compile(rf"({NAME.strip('^$')})(?:@([1-9][0-9]{{0,8}}))?")


def resolve(ctx: ApiContext, ref: str) -> LoadedRunbook:
    """The runbook a ``NAME`` or ``NAME@VERSION`` names: the server's files, else the copy the
    store keeps of a version a run used."""
    if not _REF.fullmatch(ref):
        raise ApiProblem(
            422, "invalid-ref", f"runbook {ref!r}: expected NAME or NAME@VERSION (not a path)"
        )
    return ctx.catalog.resolve(ref, ctx.store)


def _required(param: Parameter) -> bool:
    if param.required is not None:
        return param.required
    return "default" not in param.model_fields_set


def summary(loaded: LoadedRunbook) -> RunbookSummary:
    rb = loaded.runbook
    return RunbookSummary(
        name=rb.name,
        version=rb.version,
        description=rb.description,
        digest=loaded.digest,
        scheduled=bool(rb.schedule),
        parameters=[
            ParameterInfo(
                name=name,
                type=p.type,
                description=p.description,
                required=_required(p),
                default=None if p.secret else p.default,
                secret=p.secret,
                choices=p.choices,
            )
            for name, p in rb.parameters.items()
        ],
    )


@router.get("", response_model=Page[RunbookSummary], summary="List runbooks")
def list_runbooks(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: str | None = None,
) -> Page[RunbookSummary]:
    """The newest version of every runbook the caller may view, by name."""
    ctx = context_of(request)
    after = read_name_cursor(cursor) if cursor else ""
    shown = [
        x
        for x in ctx.catalog.latest()
        if x.runbook.name > after and may(request, caller, "view", x.runbook)
    ]
    page = shown[:limit]
    more = len(shown) > limit
    return Page(
        items=[summary(x) for x in page], next=encode(page[-1].runbook.name) if more else None
    )


@router.get("/{ref}", response_model=RunbookVersion, summary="Show a runbook version")
def show_runbook(request: Request, caller: Caller, ref: str) -> RunbookVersion:
    """``NAME`` (the newest version) or ``NAME@VERSION``: its source, byte for byte."""
    ctx = context_of(request)
    loaded = resolve(ctx, ref)
    permit(request, caller, "view", loaded.runbook)
    stored = ctx.store.get_version(loaded.runbook.name, loaded.runbook.version)
    return RunbookVersion(
        name=loaded.runbook.name,
        version=loaded.runbook.version,
        digest=loaded.digest,
        source=loaded.source,
        file=None if loaded.file.startswith("<store") else loaded.file,
        recorded_at=stored.recorded_at if stored else None,
    )


@router.get("/{ref}/diff/{other}", response_model=RunbookDiff, summary="Diff two versions")
def diff_runbooks(request: Request, caller: Caller, ref: str, other: str) -> RunbookDiff:
    """A unified diff from ``ref`` to ``other`` (each NAME or NAME@VERSION)."""
    ctx = context_of(request)
    left, right = resolve(ctx, ref), resolve(ctx, other)
    permit(request, caller, "view", left.runbook)
    permit(request, caller, "view", right.runbook)
    text = "".join(
        difflib.unified_diff(
            left.source.splitlines(keepends=True),
            right.source.splitlines(keepends=True),
            fromfile=f"{left.ref} ({left.digest[:19]})",
            tofile=f"{right.ref} ({right.digest[:19]})",
        )
    )
    return RunbookDiff(left=left.ref, right=right.ref, identical=not text, diff=text)


@router.post("/{ref}/plan", response_model=Plan, summary="Plan a run (call nothing)")
async def plan_runbook(request: Request, caller: Caller, ref: str, body: PlanRequest) -> Plan:
    """Each step with its parameters rendered for these inputs; secrets are masked."""
    from runbook_engine.plan import build_plan

    ctx = context_of(request)
    loaded = await run_in_threadpool(resolve, ctx, ref)
    permit(request, caller, "view", loaded.runbook)
    steps = await run_in_threadpool(
        functools.partial(
            build_plan,
            loaded,
            body.params,
            ctx.engine.registry,
            from_text=body.params_from_text,
        )
    )
    return Plan(
        runbook=loaded.runbook.name,
        version=loaded.runbook.version,
        digest=loaded.digest,
        steps=steps,
    )
