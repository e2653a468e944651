"""The run store: an append-only event log per run plus a run row with a checkpoint of its state.

SQLite in WAL mode is the embedded default; PostgreSQL is used by URL
(``postgresql+psycopg://...``). The schema is migrated when a store is opened::

    from runbook_engine.store import Store

    store = Store.open()  # $RUNBOOK_DB, else runbook.db in the user's data dir
    store.create_run("01J...", runbook="restart-api", version=3, digest="...",
                     params={"host": "api-1"}, requester="alice")
    store.append_event("01J...", "step.started", {"attempt": 1}, step_id="drain")
"""

from runbook_engine.store._engine import ENV_VAR, default_data_dir, resolve_url
from runbook_engine.store._identity import AuditRecord, TokenRecord
from runbook_engine.store._records import (
    TERMINAL_STATUSES,
    EventRecord,
    NewEvent,
    NewRun,
    RunRecord,
    StoredVersion,
    TickRecord,
)
from runbook_engine.store._store import Store

__all__ = [
    "ENV_VAR",
    "TERMINAL_STATUSES",
    "AuditRecord",
    "EventRecord",
    "NewEvent",
    "NewRun",
    "RunRecord",
    "Store",
    "StoredVersion",
    "TickRecord",
    "TokenRecord",
    "default_data_dir",
    "resolve_url",
]
