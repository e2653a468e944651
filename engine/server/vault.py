"""Secret parameters of the runs this process started, kept in memory only.

Secrets are never stored, yet a run started from Slack stops at every approval and is resumed
later by this process, which must hand them back to the engine. They live here until the run
ends; after a restart they are gone, and such a run needs ``runbook resume RUN -p name=...``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from runbook_engine.spec.models import Runbook
from runbook_engine.spec.params import secret_values


class SecretVault:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._given: dict[str, dict[str, Any]] = {}
        self._texts: dict[str, tuple[str, ...]] = {}

    def keep(self, run_id: str, runbook: Runbook, params: Mapping[str, Any]) -> None:
        """Remember the secret ones among a run's typed parameters (defaults included)."""
        secret = {
            k: v
            for k, v in params.items()
            if k in runbook.parameters and runbook.parameters[k].secret and v is not None
        }
        if not secret:
            return
        texts = secret_values(runbook, secret)
        with self._lock:
            self._given[run_id] = secret
            self._texts[run_id] = texts

    def given(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._given.get(run_id, {}))

    def texts(self, run_id: str) -> tuple[str, ...]:
        """Secret values as text, to mask anything about to leave for Slack."""
        with self._lock:
            return self._texts.get(run_id, ())

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._given.pop(run_id, None)
            self._texts.pop(run_id, None)
