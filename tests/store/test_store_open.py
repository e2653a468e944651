"""Opening a store: URL resolution, migrations, SQLite pragmas and transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text

from runbook_engine.errors import StoreError
from runbook_engine.store import Store, default_data_dir, resolve_url
from runbook_engine.store._engine import SCHEMA_REVISION, alembic_config
from tests.store.store_helpers import (
    Target,
    drop_schema,
    make_run,
    new_schema_name,
    open_store,
    run_in_processes,
)

OPENERS = 3
TABLES = {"alembic_version", "events", "locks", "runbook_versions", "runs"}


def _revision(store: Store) -> str:
    with store._engine.connect() as conn:
        [revision] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return str(revision)


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# -- URL resolution -------------------------------------------------------------------


def test_default_url_is_runbook_db_in_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    url = resolve_url()
    assert url.database == str(tmp_path / "xdg" / "runbook-engine" / "runbook.db")
    # The folder is created on demand.
    assert (tmp_path / "xdg" / "runbook-engine").is_dir()


def test_default_data_dir_falls_back_to_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_data_dir() == tmp_path / ".local" / "share" / "runbook-engine"
    # A relative XDG_DATA_HOME is invalid per the spec and ignored.
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    assert default_data_dir() == tmp_path / ".local" / "share" / "runbook-engine"


def test_runbook_db_env_may_be_a_path_or_a_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_DB", str(tmp_path / "sub" / "a.db"))
    assert resolve_url().database == str(tmp_path / "sub" / "a.db")
    monkeypatch.setenv("RUNBOOK_DB", "postgresql://u@db.example:5432/runs")
    assert resolve_url().drivername == "postgresql+psycopg"
    # An explicit argument wins over the environment.
    assert resolve_url(str(tmp_path / "b.db")).database == str(tmp_path / "b.db")


def test_relative_path_is_resolved_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_url("rel/x.db").database == str(tmp_path / "rel" / "x.db")


def test_unsupported_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unsupported store URL") as caught:
        resolve_url("mysql://u:secret@h/db")
    assert "secret" not in str(caught.value)
    with pytest.raises(StoreError, match="psycopg"):
        resolve_url("postgresql+psycopg2://u@h/db")
    assert resolve_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_open_without_url_uses_runbook_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_DB", str(tmp_path / "env.db"))
    with Store.open() as store:
        assert store.dialect == "sqlite"
        assert store.url == f"sqlite:///{tmp_path / 'env.db'}"
    assert (tmp_path / "env.db").exists()


def test_open_error_names_the_store_but_not_the_password() -> None:
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/none"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "hunter2" not in str(caught.value)
    assert "cannot open the run store at postgresql+psycopg://postgres:***@" in str(caught.value)


def test_schema_is_postgresql_only(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="PostgreSQL"):
        Store.open(str(tmp_path / "x.db"), schema="s")


# -- migrations -------------------------------------------------------------------------


def test_open_migrates_to_head_and_reopening_is_a_no_op(target: Target) -> None:
    with target.open() as store:
        assert _revision(store) == _head()
        assert set(inspect(store._engine).get_table_names()) >= TABLES
        make_run(store, "run-1")
    with target.open() as store:
        assert _revision(store) == _head()
        assert store.get_run("run-1") is not None
        assert store.dialect == target.dialect


def test_schema_revision_constant_is_the_newest_migration() -> None:
    # The fast path on open compares against this constant instead of loading Alembic.
    assert _head() == SCHEMA_REVISION


def test_store_from_a_newer_engine_is_refused_clearly(target: Target) -> None:
    with target.open() as store, store._engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer runbook-engine"):
        target.open()


def test_migrations_downgrade_and_upgrade_cleanly(store: Store) -> None:
    with store._engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(store._engine).get_table_names()) <= {"alembic_version"}
    with store._engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert set(inspect(store._engine).get_table_names()) >= TABLES


def test_concurrent_first_open_migrates_once(
    target: Target, request: pytest.FixtureRequest
) -> None:
    if target.schema is not None:
        # A schema that does not exist yet: opening creates it under the advisory lock.
        _, admin = request.getfixturevalue("pg_admin")
        target = Target(target.url, new_schema_name())
        request.addfinalizer(lambda: drop_schema(admin, target.schema or ""))
    outcomes = run_in_processes(open_store, [(target,)] * OPENERS)
    assert [kind for kind, _ in outcomes] == ["ok"] * OPENERS, outcomes
    with target.open() as store:
        assert _revision(store) == _head()


# -- SQLite specifics -------------------------------------------------------------------


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "p.db")) as store, store._engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


def test_sqlite_writes_begin_immediate_and_reads_deferred(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "b.db")) as store:
        make_run(store, "run-1")
        statements: list[str] = []

        @event.listens_for(store._engine, "before_cursor_execute")
        def record(conn: object, cursor: object, statement: str, *args: object) -> None:
            statements.append(statement)

        store.append_event("run-1", "tick")
        assert statements[0] == "BEGIN IMMEDIATE"
        statements.clear()
        store.events("run-1")
        assert statements[0] == "BEGIN"


def test_in_memory_sqlite_works() -> None:
    with Store.open("sqlite://") as store:
        make_run(store, "mem-1")
        assert [e.seq for e in store.events("mem-1")] == [1]
