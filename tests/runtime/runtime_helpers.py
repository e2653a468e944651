"""Helpers shared by the runtime tests: runbooks from YAML, reading a run's log, waiting."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runbook_engine.spec import LoadedRunbook, load_text
from runbook_engine.store import EventRecord, Store


def runbook(body: str, name: str = "rt") -> LoadedRunbook:
    return load_text(f"apiVersion: runbook/v1\nname: {name}\nversion: 1\n" + textwrap.dedent(body))


def events(store: Store, run_id: str) -> list[EventRecord]:
    return store.events(run_id)


def types(store: Store, run_id: str) -> list[str]:
    return [e.type for e in store.events(run_id)]


def of_type(store: Store, run_id: str, type_: str, step: str | None = None) -> list[EventRecord]:
    return [
        e
        for e in store.events(run_id)
        if e.type == type_ and (step is None or e.data.get("step") == step)
    ]


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def started(store: Store, run_id: str, step: str) -> Callable[[], bool]:
    return lambda: bool(of_type(store, run_id, "step.started", step))


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
