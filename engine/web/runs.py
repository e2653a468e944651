"""``/``: the runs list, newest first, with filters (runbook, status, requester, since) and
cursor pages as the API's ``GET /runs`` has them (the same function reads both). The table
refreshes itself every few seconds (htmx polling ``/runs``, a fragment); with JavaScript off
the page is complete as served, and its Refresh link reloads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from runbook_engine.api.runs import runs_page
from runbook_engine.core.statuses import (
    CANCELLED,
    FAILED,
    NEEDS_ATTENTION,
    PENDING,
    REJECTED,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    ROLLING_BACK,
    RUNNING,
    SUCCEEDED,
    WAITING_APPROVAL,
    WAITING_INPUT,
)
from runbook_engine.durations import parse_duration
from runbook_engine.store import RunRecord
from runbook_engine.web.session import SignedIn
from runbook_engine.web.templates import render

router = APIRouter()

PAGE_SIZE = 50
#: seconds between the table's refreshes
POLL_SECONDS = 3
#: the status filter's choices, in the order a run meets them
STATUSES: tuple[str, ...] = (
    PENDING,
    RUNNING,
    WAITING_APPROVAL,
    WAITING_INPUT,
    NEEDS_ATTENTION,
    ROLLING_BACK,
    SUCCEEDED,
    FAILED,
    ROLLED_BACK,
    ROLLBACK_FAILED,
    CANCELLED,
    REJECTED,
)


@dataclass(frozen=True)
class Filters:
    runbook: str = ""
    status: str = ""
    requester: str = ""
    since: str = ""

    def query(self, cursor: str | None = None) -> str:
        """The filters (and a page's cursor) as a query string, empty fields left out."""
        fields = {
            "runbook": self.runbook,
            "status": self.status,
            "requester": self.requester,
            "since": self.since,
        }
        if cursor:
            fields["cursor"] = cursor
        return urlencode({k: v for k, v in fields.items() if v})


def read_since(text: str, now: datetime | None = None) -> datetime:
    """``2h`` (that long ago), ``2026-12-01`` or ``2026-12-01T08:00`` (UTC unless it says
    otherwise); ``ValueError`` saying what is accepted."""
    now = now or datetime.now(UTC)
    text = text.strip()
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"since: {text!r} is neither a duration (2h, 30m, 1d) nor a date and time "
            "(2026-12-01 or 2026-12-01T08:00, UTC)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _page(
    request: Request, user: SignedIn, filters: Filters, cursor: str | None
) -> tuple[list[RunRecord], str | None, str | None]:
    """The runs shown, the next page's cursor and an error about the filters (if any)."""
    since: datetime | None = None
    if filters.since:
        try:
            since = read_since(filters.since)
        except ValueError as exc:
            return [], None, str(exc)
    records, more = runs_page(
        request,
        user,
        status=[filters.status] if filters.status else None,
        runbook=filters.runbook or None,
        requester=filters.requester or None,
        since=since,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return records, more, None


Text = Annotated[str, Query(max_length=200)]


@router.get("/")
def runs_list(
    request: Request,
    user: SignedIn,
    runbook: Text = "",
    status: Text = "",
    requester: Text = "",
    since: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = Filters(runbook.strip(), status.strip(), requester.strip(), since.strip())
    records, more, error = _page(request, user, filters, cursor)
    return render(
        request,
        "runs.html",
        runs=records,
        filters=filters,
        statuses=STATUSES,
        next_cursor=more,
        cursor=cursor,
        poll_seconds=POLL_SECONDS,
        error=error,
        status_code=400 if error else 200,
    )


@router.get("/runs")
def runs_fragment(
    request: Request,
    user: SignedIn,
    runbook: Text = "",
    status: Text = "",
    requester: Text = "",
    since: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The table alone, for the list's refreshes; a browser that asks for it is sent to the
    page it belongs to."""
    filters = Filters(runbook.strip(), status.strip(), requester.strip(), since.strip())
    if request.headers.get("hx-request") != "true":
        query = filters.query(cursor)
        return RedirectResponse("/" + (f"?{query}" if query else ""), status_code=303)
    records, more, _ = _page(request, user, filters, cursor)
    return render(
        request,
        "_runs_table.html",
        runs=records,
        filters=filters,
        next_cursor=more,
        cursor=cursor,
        poll_seconds=POLL_SECONDS,
    )
