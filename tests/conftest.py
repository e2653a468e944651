"""Shared fixtures: an isolated store and working directory for every test that runs the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUNBOOKS = REPO / "runbooks"


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
