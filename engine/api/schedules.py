"""``/schedules``, ``/report`` and ``/me``: the compliance side, and who the caller is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from runbook_engine.api.context import context_of
from runbook_engine.api.models import Me, Report, ScheduleEntry
from runbook_engine.api.security import Caller, is_admin, may

router = APIRouter(tags=["schedules"])


@router.get("/schedules", response_model=list[ScheduleEntry], summary="Scheduled runbooks")
def list_schedules(
    request: Request, caller: Caller, count: Annotated[int, Query(ge=1, le=50)] = 3
) -> list[ScheduleEntry]:
    """Every schedule of the runbooks the caller may view, with its next ``count`` fire
    times."""
    from runbook_engine.schedule import upcoming

    ctx = context_of(request)
    now = datetime.now(UTC)
    entries: dict[tuple[str, int], ScheduleEntry] = {}
    for loaded in ctx.catalog.latest():
        rb = loaded.runbook
        if not rb.schedule or not may(request, caller, "view", rb):
            continue
        for index, when in upcoming(loaded, now, count):
            sched = rb.schedule[index]
            entry = entries.setdefault(
                (rb.name, index),
                ScheduleEntry(
                    runbook=rb.name,
                    version=rb.version,
                    schedule=index,
                    cron=sched.cron,
                    timezone=sched.timezone,
                    missed=sched.missed,
                    params=sched.params,
                    next=[],
                ),
            )
            entry.next.append(when)
    return list(entries.values())


@router.get("/report", response_model=Report, summary="Compliance report")
def report(
    request: Request,
    caller: Caller,
    since: Annotated[
        datetime | None, Query(description="start of the period (default: 7 days ago)")
    ] = None,
) -> Report:
    """Scheduled runs since ``since``: passed, failed, and which checks failed, for the
    runbooks the caller may view."""
    from runbook_engine.report import compliance_report

    ctx = context_of(request)
    start = since or datetime.now(UTC) - timedelta(days=7)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    latest = {x.runbook.name: x.runbook for x in ctx.catalog.latest()}
    scheduled = [name for name, rb in latest.items() if rb.schedule]
    reports = compliance_report(ctx.store, start, scheduled)
    admin = is_admin(request, caller)
    # a runbook no longer among the files has no permissions to ask: admins see it
    shown = [
        r.as_dict()
        for r in reports
        if (r.runbook in latest and may(request, caller, "view", latest[r.runbook])) or admin
    ]
    return Report(since=start, runbooks=shown)


@router.get("/me", response_model=Me, summary="Who the server takes the caller for")
def me(caller: Caller) -> Me:
    return Me(
        name=caller.name,
        via=caller.via,
        groups=sorted(caller.groups),
        roles=None if caller.roles is None else sorted(caller.roles),
    )
