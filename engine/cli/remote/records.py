"""The API's JSON as the engine's own records, so that a remote run is printed by the very
code that prints a local one (the runs table, ``show``'s timeline, the progress lines)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from runbook_engine.cli.remote.catalog import runbook_ref
from runbook_engine.client.transport import ApiClient
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.store import EventRecord, RunRecord


def parse_time(text: str) -> datetime:
    """An API time (``...Z``) as an aware datetime, which prints as the local commands do."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def run_path(run_id: str, *more: str) -> str:
    return "/".join(("/runs", quote(run_id, safe=""), *more))


def run_record(data: Mapping[str, Any]) -> RunRecord:
    """A run of the API as a store row. The API does not give the heartbeat: a run with an
    owner counts as driven, which is what the server says by naming one."""
    blocked = data.get("blocked")
    return RunRecord(
        id=data["id"],
        runbook=data["runbook"],
        version=data["version"],
        digest=data["digest"],
        status=data["status"],
        params=dict(data.get("params") or {}),
        requester=data["requester"],
        state={"blocked": blocked} if isinstance(blocked, dict) else {},
        owner=data.get("owner"),
        heartbeat_at=None,
        created_at=parse_time(data["created_at"]),
        updated_at=parse_time(data["updated_at"]),
    )


def run_info(data: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        id=data["id"],
        runbook=data["runbook"],
        version=data["version"],
        digest=data["digest"],
        requester=data["requester"],
    )


def event_record(run_id: str, data: Mapping[str, Any]) -> EventRecord:
    return EventRecord(
        run_id=run_id,
        seq=int(data["seq"]),
        ts=parse_time(data["ts"]),
        type=str(data["type"]),
        step_id=data.get("step"),
        data=dict(data.get("data") or {}),
    )


def bus_event(run_id: str, data: Mapping[str, Any]) -> Event:
    """An event of the API as the bus hands it to subscribers (the progress printer)."""
    e = event_record(run_id, data)
    return Event(e.run_id, e.seq, e.ts.timestamp(), e.type, e.step_id, e.data)


def fetch_runbook(api: ApiClient, ref: str) -> LoadedRunbook:
    """The version ``ref`` names, parsed from the source the server runs: what this side needs
    of it (which parameters are secret, the step order) without a runbook file here."""
    from runbook_engine.spec.loader import load_text

    answer = api.get(f"/runbooks/{runbook_ref(ref)}")
    return load_text(answer["source"], f"<server {answer['name']}@{answer['version']}>")
