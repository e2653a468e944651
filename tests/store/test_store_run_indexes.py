"""Migration 0005: the runs list's composite indexes, applied to a store at 0004 on both
backends, and the list's queries (every filter, later pages) planned on them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text

from runbook_engine.store import Store
from runbook_engine.store._engine import SCHEMA_REVISION, alembic_config, open_engine, resolve_url
from runbook_engine.store._store import _Explain
from tests.store.store_helpers import Target, make_run

NEW = {
    "ix_runs_created_at_id": ["created_at", "id"],
    "ix_runs_runbook_created_at": ["runbook", "created_at", "id"],
    "ix_runs_status_created_at": ["status", "created_at", "id"],
    "ix_runs_requester_created_at": ["requester", "created_at", "id"],
}
OLD = {"ix_runs_status", "ix_runs_runbook", "ix_runs_created_at"}


def _indexes(store: Store) -> dict[str, list[str]]:
    with store._engine.connect() as conn:
        return {
            str(i["name"]): [str(c) for c in i["column_names"]]
            for i in inspect(conn).get_indexes("runs")
        }


def _revision(store: Store) -> str:
    with store._engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _migrate_to(target: Target, revision: str) -> None:
    """The store at ``revision`` (not the newest), as an older release left it."""
    engine = open_engine(resolve_url(target.url, create=True), schema=target.schema)
    try:
        with engine.begin() as conn:
            if target.schema is not None:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{target.schema}"')
            command.upgrade(alembic_config(conn), revision)
    finally:
        engine.dispose()


def test_a_0004_store_gets_the_indexes_and_keeps_its_runs(target: Target) -> None:
    _migrate_to(target, "0004")
    with target.open() as store:  # opening migrates to the newest revision
        assert _revision(store) == SCHEMA_REVISION == "0005"
        found = _indexes(store)
        assert {name: found.get(name) for name in NEW} == NEW
        assert not OLD & set(found)
        make_run(store, "r1", runbook="a", requester="bob")
        make_run(store, "r2", runbook="b", requester="carol")
        assert [r.id for r in store.list_runs(runbook="a")] == ["r1"]
        assert [r.id for r in store.list_runs(requester="carol")] == ["r2"]


def test_the_migration_downgrades_to_the_old_indexes(target: Target) -> None:
    with target.open() as store:
        make_run(store, "r1")
        with store._writer.begin() as conn:
            command.downgrade(alembic_config(conn), "0004")
        found = _indexes(store)
        assert set(found) >= OLD
        assert not set(NEW) & set(found)
        assert [r.id for r in store.list_runs()] == ["r1"]


FILTERS: dict[str, tuple[dict[str, Any], str]] = {
    "none": ({}, "ix_runs_created_at_id"),
    "runbook": ({"runbook": "restart-api"}, "ix_runs_runbook_created_at"),
    "status": ({"status": "failed"}, "ix_runs_status_created_at"),
    "requester": ({"requester": "alice"}, "ix_runs_requester_created_at"),
}


@pytest.mark.parametrize("later_page", [False, True], ids=["first", "later"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_the_list_reads_each_filter_through_its_index(
    store: Store, name: str, later_page: bool
) -> None:
    given, index = FILTERS[name]
    if later_page:
        given = {**given, "before": (datetime(2026, 12, 1, tzinfo=UTC), "run-x")}
    stmt = store.list_runs_query(limit=51, **given)
    with store._engine.connect() as conn:
        if store.dialect == "postgresql":
            # an empty table is cheapest to scan whole: the planner is told not to, to show
            # that it can read the page from the index
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(str(row[-1]) for row in conn.execute(_Explain(stmt)))
    assert index in plan, plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
