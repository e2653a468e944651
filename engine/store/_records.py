"""Immutable records the store hands out.

Every datetime on a record is timezone-aware UTC. SQLite has no timezone-aware
timestamp type, so values read back from it are naive; the records normalise in
``__post_init__`` so callers never have to know which backend produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "TERMINAL_STATUSES",
    "EventRecord",
    "JSONDict",
    "NewEvent",
    "RunRecord",
    "StoredVersion",
    "TickRecord",
    "as_utc",
]

JSONDict = dict[str, Any]
"""A JSON object as Python sees it: what the JSON columns store and return."""

TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"succeeded", "failed", "rolled_back", "rollback_failed", "cancelled", "rejected"}
)
"""Run statuses after which nothing more happens to a run; its locks may be taken over."""


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _set_utc(record: object, *names: str) -> None:
    # Frozen dataclasses forbid assignment, so normalisation goes through object.__setattr__.
    for name in names:
        value = getattr(record, name)
        if value is not None:
            object.__setattr__(record, name, as_utc(value))


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """An immutable copy of one runbook version as it was when a run used it."""

    name: str
    version: int
    digest: str
    source: str
    """The original YAML text, byte-for-byte what the author wrote."""
    document: JSONDict
    """The parsed document."""
    recorded_at: datetime

    def __post_init__(self) -> None:
        _set_utc(self, "recorded_at")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The current-state row of one run."""

    id: str
    runbook: str
    version: int
    digest: str
    status: str
    params: JSONDict
    requester: str
    state: JSONDict
    """The newest checkpoint of the run's state (compact: no results, no output); the events
    after its ``last_seq`` complete it. Empty until the first checkpoint."""
    owner: str | None
    """``host:pid`` of the engine process driving the run, if any."""
    heartbeat_at: datetime | None
    created_at: datetime
    updated_at: datetime
    published_seq: int = 0
    """The newest event an engine driving the run has written (and so published to its
    subscribers); events after it were written by others (a decision, a cancel)."""
    last_seq: int = 0
    """The newest event in the run's log when the row was read."""

    def __post_init__(self) -> None:
        _set_utc(self, "heartbeat_at", "created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of a run's append-only event log; ``seq`` runs 1, 2, 3... without gaps."""

    run_id: str
    seq: int
    ts: datetime
    type: str
    step_id: str | None
    data: JSONDict

    def __post_init__(self) -> None:
        _set_utc(self, "ts")


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create with others at once (``Store.create_runs``); as ``create_run``'s
    arguments."""

    run_id: str
    runbook: str
    version: int
    digest: str
    params: JSONDict
    requester: str
    status: str = "pending"
    trigger: JSONDict | None = None
    owner: str | None = None
    #: the run this one re-runs (``runbook rerun``), recorded in its ``run.created``
    rerun_of: JSONDict | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: its seq is given by the store, and its time too unless the writer
    gives it (``ts``: when the writer recorded it, so that it can fold the event as stored)."""

    type: str
    data: JSONDict
    step_id: str | None = None
    ts: datetime | None = None


@dataclass(frozen=True)
class TickRecord:
    """One fire time of a runbook's schedule, and what happened to it."""

    runbook: str
    schedule_index: int
    fire_at: datetime
    run_id: str | None
    outcome: str  # started | skipped
