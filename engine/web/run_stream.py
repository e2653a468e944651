"""``/runs/{id}/logs``: the run's events as server-sent events for its page, with the
signed-in session instead of a bearer token; the messages are the API's stream's
(``api.streams.run_events_stream``): the page appends output lines and refreshes its live
part on every other event. The stream ends (``end``) when the run finishes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from runbook_engine.api.context import context_of
from runbook_engine.api.runs import visible_record
from runbook_engine.api.security import source_of
from runbook_engine.api.streams import run_events_stream
from runbook_engine.store import RunRecord
from runbook_engine.web.session import SignedIn, current_session, sessions_of

router = APIRouter()

#: seconds between looks at whether the stream's session still stands (its token revoked?)
RECHECK_EVERY = 30.0


async def _visible(request: Request, user: SignedIn, run_id: str) -> RunRecord:
    """Checked before the stream answers, so a refusal is a 404 and not a broken stream."""
    record, _ = await run_in_threadpool(visible_record, context_of(request), request, user, run_id)
    return record


@router.get("/runs/{run_id}/logs", response_class=EventSourceResponse)
async def run_events(
    request: Request,
    record: Annotated[RunRecord, Depends(_visible)],
    after: Annotated[int, Query(ge=0)] = 0,
    step: Annotated[str | None, Query(max_length=200)] = None,
    host: Annotated[str | None, Query(max_length=200)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    session = current_session(request)
    sessions = sessions_of(request)
    checked = time.monotonic()
    async for message in run_events_stream(
        context_of(request),
        record,
        follow=True,
        after=after,
        step=step or None,
        host=host or None,
        last_event_id=last_event_id,
    ):
        if session is not None and time.monotonic() - checked > RECHECK_EVERY:
            # a stream may stay open for hours on a run waiting for approval: a revoked
            # token's session must not keep watching it
            checked = time.monotonic()
            still = await run_in_threadpool(sessions.principal, session, source_of(request))
            if still is None:
                return
        yield message
