"""Fixtures for the worker tests: the machine's PostgreSQL, a fresh schema per test module.

Both the store and the queue follow the schema through the URL's search path option, exactly
as a deployment would put them in a schema of its own. PostgreSQL being unreachable fails
these tests (CI starts it); it never skips them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from tests.worker.worker_fleet import schema_url


@pytest.fixture(scope="module")
def pg_url(pg_admin: tuple[str, Engine]) -> Iterator[str]:
    """A store URL in a schema of its own for this test module; dropped afterwards."""
    base, admin = pg_admin
    schema = f"w_{uuid.uuid4().hex[:16]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema_url(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
