"""``/audit``: the audit trail, for admins (it names who did what from where)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from runbook_engine.api.context import context_of
from runbook_engine.api.models import AuditEntry, Page
from runbook_engine.api.pages import MAX_LIMIT
from runbook_engine.api.security import Caller, permit

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditEntry], summary="The audit trail")
def audit_trail(
    request: Request,
    caller: Caller,
    since: Annotated[
        datetime | None, Query(description="from this time (default: 7 days ago)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 200,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> Page[AuditEntry]:
    """Mutating requests, allowed or refused, oldest first."""
    permit(request, caller, "admin")
    start = since or datetime.now(UTC) - timedelta(days=7)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    entries = context_of(request).store.audit_since(
        start, limit=limit + 1, after_id=int(cursor) if cursor else 0
    )
    page = entries[:limit]
    return Page(
        items=[
            AuditEntry(
                id=e.id,
                at=e.at,
                principal=e.principal,
                via=e.via,
                source=e.source,
                action=e.action,
                target=e.target,
                outcome=e.outcome,
                detail=e.detail,
            )
            for e in page
        ],
        next=str(page[-1].id) if len(entries) > limit else None,
    )
