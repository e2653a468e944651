"""Fixtures running each store test on both backends: SQLite in tmp_path and the
machine's PostgreSQL, each PostgreSQL test in a fresh schema dropped afterwards.

PostgreSQL being unreachable fails the PostgreSQL tests (CI starts it); it never
skips them, so a green run always means both backends were tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from runbook_engine.store import Store
from tests.store.store_helpers import Target, drop_schema, new_schema_name


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
