"""Fixtures for the worker tests: the machine's PostgreSQL, a fresh schema per test module.

Both the store and the queue follow the schema through the URL's search path option, exactly
as a deployment would put them in a schema of its own. PostgreSQL being unreachable fails
these tests (CI starts it); it never skips them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from worker_fleet import schema_url

PG_ENV = "RUNBOOK_TEST_PG"
PG_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[tuple[str, Engine]]:
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
        "PostgreSQL is unreachable, so the worker tests cannot run "
        f"(CI starts it; locally start it, or set {PG_ENV}):\n" + "\n".join(problems),
        pytrace=False,
    )


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
