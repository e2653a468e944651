"""What the hooks drive runs through: the server's ``RunExecutor`` (a protocol, so that the
hooks sit below the server that mounts them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from runbook_engine.service import Checked, Engine


class Driver(Protocol):
    @property
    def engine(self) -> Engine: ...

    def record_many(self, starts: Sequence[tuple[Checked, str]]) -> set[str]:
        """Record the runs, held by this process until driven; the ids recorded."""
        ...

    def drive(self, run_id: str, params: dict[str, Any]) -> bool: ...

    def resume(self, run_id: str, *, by: str = "") -> bool: ...
