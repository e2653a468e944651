"""PostgreSQL plumbing for workers: the queue's connection string, derived from the store's
URL, and the Procrastinate schema, applied once however many workers start at the same time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from runbook_engine.errors import StoreError
from runbook_engine.store import resolve_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("runbook.worker")

# Key for pg_advisory_xact_lock around applying the queue schema; distinct from the store's
# migration key so a worker applying the queue schema never waits on a store migration.
_SCHEMA_LOCK_KEY = 0x52_42_4B_51_55_45_55_45

_SCHEMA_PRESENT = "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"


def conninfo_from_url(url: str | None = None) -> str:
    """The libpq connection string of the store at ``url`` (default ``$RUNBOOK_DB``).

    The queue lives in the same database as the store, and in the same schema: query options
    such as ``?options=-csearch_path%3Dteam_a`` are kept, so both follow the same search path."""
    parsed = resolve_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            "workers and the run queue need a PostgreSQL store: set "
            "RUNBOOK_DB=postgresql+psycopg://USER@HOST/DB (the SQLite store is for one process)"
        )
    # libpq reads the same URL without SQLAlchemy's "+psycopg" driver suffix
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(conninfo: str) -> bool:
    """Apply Procrastinate's schema if it is missing; True when this call applied it.

    Two workers starting at once both see the schema missing; the advisory lock makes the
    second wait for the first to finish, then it finds the tables and does nothing. The DDL is
    one transaction, so a worker killed half-way leaves no half-applied schema (and its lock
    goes with its session)."""
    import psycopg
    from procrastinate.schema import SchemaManager

    try:
        with psycopg.connect(conninfo, connect_timeout=10, autocommit=True) as conn:
            if _present(conn):
                return False
            conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_KEY,))
            try:
                # A transaction begun after the wait: a backend reads the catalog changes
                # other sessions committed only when a transaction starts, so a check inside
                # the one that waited could still miss the tables the other worker created.
                with conn.transaction():
                    if _present(conn):
                        return False
                    # Without parameters psycopg sends the text as is: several statements,
                    # and "%" inside the SQL functions needs no escaping.
                    conn.execute(SchemaManager.get_schema())
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK_KEY,))
    except psycopg.Error as exc:
        raise StoreError(f"cannot prepare the run queue: {exc}") from exc
    log.info("applied the Procrastinate queue schema")
    return True


def _present(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(_SCHEMA_PRESENT).fetchone()
    return bool(row and row[0])
