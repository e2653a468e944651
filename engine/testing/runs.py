"""Run a runbook end to end in a test: a fresh SQLite store, the installed actions, no prompts."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook_engine.identity import Directory
from runbook_engine.plugin import Registry, default_registry
from runbook_engine.service import Engine, RunOutcome
from runbook_engine.spec.loader import LoadedRunbook, load_file, load_text
from runbook_engine.store import Store

__all__ = ["run_runbook"]


def run_runbook(
    runbook: str | Path | LoadedRunbook,
    params: Mapping[str, Any] | None = None,
    *,
    requester: str = "tester",
    store_url: str | None = None,
    registry: Registry | None = None,
    directory: Directory | None = None,
) -> RunOutcome:
    """Run ``runbook`` (a path, YAML text, or a loaded runbook) with typed ``params``, as
    ``requester``, to its end or its first approval; returns the outcome with the final state.

    Without ``store_url`` the run is recorded in a temporary SQLite file that is removed
    afterwards; pass one to keep the events and inspect them. Parameters are taken as typed
    values (``{"threshold": 90}``), not as the CLI's ``key=value`` text."""
    loaded = _load(runbook)
    with tempfile.TemporaryDirectory(prefix="runbook-test-") as scratch:
        url = store_url or f"sqlite:///{Path(scratch) / 'runs.db'}"
        with Store.open(url) as store:
            engine = Engine(
                store=store,
                registry=registry or default_registry(),
                directory=directory or Directory(),
            )
            return engine.start(loaded, dict(params or {}), requester=requester, from_text=False)


def _load(runbook: str | Path | LoadedRunbook) -> LoadedRunbook:
    if isinstance(runbook, LoadedRunbook):
        return runbook
    if isinstance(runbook, Path) or "\n" not in runbook:
        return load_file(runbook)
    return load_text(runbook)
