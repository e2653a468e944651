"""Shared fixtures: an isolated store and working directory for every test that runs the CLI."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

REPO = Path(__file__).resolve().parent.parent
RUNBOOKS = REPO / "runbooks"


class _InstalledNamesOnly(importlib.abc.MetaPathFinder):
    """The repository root is on ``sys.path`` for the helpers under ``tests/``, which would also
    make the source folders importable under their folder names. Refuse those, so the tests
    see exactly what a user installs: ``runbook_engine``."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in {"engine", "actions"}:
            raise ImportError(f"import runbook_engine, not the source folder {fullname!r}")
        return None


sys.meta_path.insert(0, _InstalledNamesOnly())


def pytest_sessionstart(session: pytest.Session) -> None:
    """A strict editable install links each module it knew of when it was made: a module
    added since is missing from the installed package until the install is redone."""
    import runbook_engine

    installed = Path(runbook_engine.__file__).resolve().parent
    if installed != REPO / "engine":
        return  # not an editable install of this checkout (a wheel, say): nothing to compare
    tree = Path(runbook_engine.__file__).parent
    for folder, below in ((REPO / "engine", tree), (REPO / "actions", tree / "actions")):
        for source in folder.rglob("*.py"):
            if (
                "__pycache__" not in source.parts
                and not (below / source.relative_to(folder)).exists()
            ):
                pytest.exit(
                    f"{source.relative_to(REPO)} is not in the installed package yet: run "
                    "./scripts/bootstrap (./scripts/test does it by itself)",
                    returncode=4,
                )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cwd with its own SQLite store; the shipped runbooks on RUNBOOK_PATH."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNBOOK_DB", str(tmp_path / "runbook.db"))
    monkeypatch.setenv("RUNBOOK_PATH", str(RUNBOOKS))
    monkeypatch.setenv("RUNBOOK_USER", "alice")
    monkeypatch.delenv("RUNBOOK_GROUPS", raising=False)
    monkeypatch.delenv("RUNBOOK_LOG_FORMAT", raising=False)
    return tmp_path


PG_ENV = "RUNBOOK_TEST_PG"
"""Overrides the PostgreSQL server URL the tests use (a database they may create schemas in)."""

PG_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[tuple[str, Engine]]:
    """A working PostgreSQL URL and an engine on it for creating/dropping schemas.

    PostgreSQL being unreachable fails the tests that need it (CI starts it); never skips."""
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
        "PostgreSQL is unreachable, so the PostgreSQL tests cannot run "
        f"(CI starts it; locally start it, or set {PG_ENV}):\n" + "\n".join(problems),
        pytrace=False,
    )
