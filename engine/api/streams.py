"""``/runs/{id}/logs``: a run's events as server-sent events, live.

Each event is one SSE message: ``id`` is its seq (a client that reconnects sends it back as
``Last-Event-ID`` and continues after it, missing nothing), ``event`` its type, ``data`` the
event as ``/runs/{id}/events`` gives it. With ``follow``, the stream stays open until the run
finishes (``until=finished``) or, with ``until=settled``, until it also stops for a person (it
waits for an approval, needs attention, or is blocked for want of a secret) and no engine is
driving it; its last message is ``end``, with the run's status and the CLI's exit code for it.
FastAPI sends a keep-alive comment when nothing has happened for a while, so proxies keep the
connection open through a long approval wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from runbook_engine.api.context import ApiContext, context_of
from runbook_engine.api.runs import event_view, visible_record
from runbook_engine.api.security import Caller
from runbook_engine.core.events import EventType
from runbook_engine.core.items import split_item
from runbook_engine.core.statuses import (
    EXIT_CODES,
    NEEDS_ATTENTION,
    TERMINAL,
    WAITING,
)
from runbook_engine.lease import is_driven
from runbook_engine.store import EventRecord, RunRecord

router = APIRouter(prefix="/runs", tags=["runs"])

#: events read from the store per look: a long log streams in bounded pieces
BATCH = 500


def of_host(line: str, host: str) -> bool:
    """SSH steps log each line as ``HOST: text`` (``HOST: stderr: text``)."""
    return line.startswith(f"{host}: ")


def shown_data(event: EventRecord, step: str | None, host: str | None) -> dict[str, Any] | None:
    """The event's data as this stream shows it, or ``None`` when it is filtered out."""
    # a loop step's items too: step=restart shows restart[0], restart[1]...
    if step is not None and event.step_id != step and split_item(event.step_id or "")[0] != step:
        return None
    data = event.data or {}
    if host is not None:
        if event.type != EventType.STEP_OUTPUT:
            return None
        lines = [ln for ln in data.get("lines", []) if of_host(str(ln), host)]
        if not lines:
            return None
        data = {**data, "lines": lines}
    return data


def _settled(ctx: ApiContext, record: RunRecord) -> bool:
    """Stopped for a person, with nobody driving it (this server's executor would have it
    among its drives from the moment a decision asked for one)."""
    blocked = isinstance((record.state or {}).get("blocked"), dict)
    if record.status not in (*WAITING, NEEDS_ATTENTION) and not blocked:
        return False
    return record.id not in ctx.executor.driving() and not is_driven(record)


async def _visible(request: Request, caller: Caller, run_id: str) -> RunRecord:
    """The run, checked before the stream answers: inside the generator, a refusal would come
    after the 200 and its headers had been sent (a 404 must be a 404, not a broken stream)."""
    record, _ = await run_in_threadpool(
        visible_record, context_of(request), request, caller, run_id
    )
    return record


@router.get(
    "/{run_id}/logs",
    response_class=EventSourceResponse,
    summary="Stream a run's events (server-sent events)",
)
async def stream_logs(
    request: Request,
    record: Annotated[RunRecord, Depends(_visible)],
    follow: bool = False,
    after: Annotated[int, Query(ge=0, description="only events after this seq")] = 0,
    step: str | None = None,
    host: Annotated[str | None, Query(description="only this host's output lines")] = None,
    until: Literal["finished", "settled"] = "finished",
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    async for message in run_events_stream(
        context_of(request),
        record,
        follow=follow,
        after=after,
        step=step,
        host=host,
        until=until,
        last_event_id=last_event_id,
    ):
        yield message


async def run_events_stream(
    ctx: ApiContext,
    record: RunRecord,
    *,
    follow: bool = False,
    after: int = 0,
    step: str | None = None,
    host: str | None = None,
    until: Literal["finished", "settled"] = "finished",
    last_event_id: str | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """A run's events as SSE messages, ``end`` last (see the module's docstring); ``record``
    is the run its caller was allowed to see. The API's stream and the console's share it."""
    seq = after
    if last_event_id and last_event_id.isdigit():
        seq = max(seq, int(last_event_id))
    while True:
        events = await run_in_threadpool(ctx.store.events, record.id, seq, BATCH)
        for event in events:
            seq = event.seq
            data = shown_data(event, step, host)
            if data is None:
                continue
            view = event_view(event).model_copy(update={"data": data})
            yield ServerSentEvent(
                id=str(event.seq), event=event.type, raw_data=view.model_dump_json()
            )
        if len(events) == BATCH:
            continue  # more already written: no need to wait for news
        fresh = await run_in_threadpool(ctx.store.get_run, record.id)
        if (
            fresh is None
            or not follow
            or fresh.status in TERMINAL
            or (until == "settled" and _settled(ctx, fresh))
        ):
            status = fresh.status if fresh is not None else record.status
            if fresh is not None and fresh.last_seq > seq:
                continue  # the run ended after the read above: send its last events first
            yield ServerSentEvent(
                event="end",
                data={"run_id": record.id, "status": status, "exit_code": EXIT_CODES.get(status)},
            )
            return
        await asyncio.sleep(ctx.poll_interval)
