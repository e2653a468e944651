"""Fixtures running each store test on both backends: SQLite in tmp_path and the
machine's PostgreSQL, each PostgreSQL test in a fresh schema dropped afterwards.

PostgreSQL being unreachable fails the PostgreSQL tests (CI starts it); it never
skips them, so a green run always means both backends were tested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from store_helpers import Target, drop_schema, new_schema_name

from engine.store import Store

PG_ENV = "RUNBOOK_TEST_PG"
"""Overrides the PostgreSQL server URL the tests use (a database they may create schemas in)."""

PG_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[tuple[str, Engine]]:
    """A working PostgreSQL URL and an engine on it for creating/dropping schemas."""
    candidates = [os.environ[PG_ENV]] if os.environ.get(PG_ENV) else list(PG_CANDIDATES)
    problems: list[str] = []
    for url in candidates:
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            engine.dispose()
            problems.append(f"  {url}: {exc.orig}")
            continue
        yield url, engine
        engine.dispose()
        return
    pytest.fail(
        "PostgreSQL is unreachable, so the PostgreSQL store tests cannot run "
        f"(CI starts it; locally start it, or set {PG_ENV}):\n" + "\n".join(problems),
        pytrace=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """An empty store location on each backend."""
    if request.param == "sqlite":
        yield Target(str(tmp_path / "runs.db"))
        return
    url, admin = request.getfixturevalue("pg_admin")
    schema = new_schema_name()
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Target(url, schema)
    finally:
        drop_schema(admin, schema)


@pytest.fixture
def store(target: Target) -> Iterator[Store]:
    """An open, migrated store on each backend."""
    opened = target.open()
    try:
        yield opened
    finally:
        opened.close()
