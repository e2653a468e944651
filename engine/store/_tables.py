"""Table definitions (SQLAlchemy Core) for the run store.

These describe the schema the code queries; the schema itself is created and
changed only by the Alembic migrations in ``migrations/versions``, which spell
their tables out literally so that old migrations never change meaning when
this file does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

from runbook_engine.store._records import as_utc

__all__ = [
    "UTCDateTime",
    "api_tokens",
    "audit",
    "checkpoints",
    "events",
    "locks",
    "metadata",
    "runbook_versions",
    "runs",
    "schedule_ticks",
]


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always binds UTC and always returns aware UTC.

    SQLite stores the text of the datetime without its offset, so a non-UTC value
    would be stored wrongly and compared wrongly; converting on the way in keeps
    both backends' stored values and comparisons identical.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


# A naming convention gives constraints stable names on every backend, which
# later migrations need in order to alter or drop them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runbook_versions = Table(
    "runbook_versions",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(128), nullable=False),
    Column("source", Text, nullable=False),
    Column("document", JSON, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("runbook", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("params", JSON, nullable=False),
    Column("requester", String(200), nullable=False),
    Column("state", JSON, nullable=False),
    Column("owner", String(200), nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The seq of the run's newest event. Appending bumps it with an UPDATE, which
    # row-locks the run on PostgreSQL, so concurrent appenders queue up and each
    # gets the next number; MAX(seq)+1 would hand two of them the same one.
    Column("last_seq", Integer, nullable=False),
    # The newest event written by the engine driving the run (see RunRecord.published_seq).
    Column("published_seq", Integer, nullable=False, server_default="0"),
    # The runs list, newest first, alone or filtered (migration 0005 says why composite):
    # each page is read in index order, (created_at, id) breaking ties as the cursor does.
    Index("ix_runs_created_at_id", "created_at", "id"),
    Index("ix_runs_runbook_created_at", "runbook", "created_at", "id"),
    Index("ix_runs_status_created_at", "status", "created_at", "id"),
    Index("ix_runs_requester_created_at", "requester", "created_at", "id"),
)

events = Table(
    "events",
    metadata,
    Column(
        "run_id",
        String(64),
        ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("type", String(100), nullable=False),
    Column("step_id", String(200), nullable=True),
    Column("data", JSON, nullable=False),
)

# The newest checkpoint of each run's state (engine/core/state.py RunState.to_checkpoint), in
# a table of its own: the run row is updated by every append, and a big state in it would be
# rewritten each time.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column(
        "run_id",
        String(64),
        ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, nullable=False),
    Column("state", JSON, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("key", String(300), primary_key=True),
    # No foreign key: a lock whose run row was deleted must stay readable so that
    # the next run can see it is orphaned and take it over.
    Column("run_id", String(64), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Index("ix_locks_run_id", "run_id"),
)

schedule_ticks = Table(
    "schedule_ticks",
    metadata,
    Column("runbook", String(200), primary_key=True),
    Column("schedule_index", Integer, primary_key=True, autoincrement=False),
    Column("fire_at", UTCDateTime, primary_key=True),
    # the run this tick started; NULL when the tick was skipped (missed while down)
    Column("run_id", String(64), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# API tokens: only a hash of each token's secret is kept (engine/auth/tokens.py says why a
# plain SHA-256 is the right hash for these), so a copy of the store lets nobody in.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_name", String(200), nullable=False),
    # the roles the token is limited to; NULL: whatever its user may do
    Column("roles", JSON, nullable=True),
    Column("hash", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Index("ix_api_tokens_hash", "hash", unique=True),
)

# Every mutating request, allowed or refused: who, how they proved it, from where, what.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("principal", String(200), nullable=False),
    Column("via", String(300), nullable=False),
    Column("source", String(300), nullable=False),
    Column("action", String(50), nullable=False),
    Column("target", String(300), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_at", "at"),
)
