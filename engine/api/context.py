"""What the API's routes work with: the server's engine, its executor and its authenticator,
and the audit trail every mutation is written to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Request

from runbook_engine.auth.audit import AuditTrail
from runbook_engine.auth.authenticate import Authenticator
from runbook_engine.catalog import Catalog
from runbook_engine.permissions import Who
from runbook_engine.service import Engine, LoadedRun
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import Runbook
from runbook_engine.store import Store


class Secrets(Protocol):
    def keep(self, run_id: str, runbook: Runbook, params: Mapping[str, Any]) -> None: ...


class Driver(Protocol):
    """What drives runs in the background: the server's ``RunExecutor``."""

    @property
    def vault(self) -> Secrets: ...

    def start(
        self,
        loaded: LoadedRunbook,
        given: Mapping[str, Any],
        *,
        requester: Who,
        run_id: str,
        extra_groups: Iterable[str] = (),
        from_text: bool = True,
    ) -> str: ...

    def resume(
        self,
        run_id: str,
        *,
        by: str = "",
        run: LoadedRun | None = None,
        choice: str | None = None,
    ) -> bool: ...

    def driving(self) -> set[str]: ...

    def rerun(
        self,
        original: str,
        *,
        by: Who,
        run_id: str,
        from_step: str | None = None,
        failed_hosts: bool = False,
        given: Mapping[str, Any] | None = None,
        from_text: bool = False,
        extra_groups: Iterable[str] = (),
    ) -> str: ...


@dataclass
class ApiContext:
    engine: Engine
    executor: Driver
    authenticator: Authenticator
    #: seconds an SSE stream waits between looks at a run that has no news (the store's change
    #: feed wakes it sooner)
    poll_interval: float = 0.5
    trail: AuditTrail = field(init=False)

    def __post_init__(self) -> None:
        self.trail = AuditTrail(self.engine.store, source="api")

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def catalog(self) -> Catalog:
        """The server's runbook files, read once when it started (as Slack sees them)."""
        return self.engine.catalog


def context_of(request: Request) -> ApiContext:
    ctx = request.app.state.context
    assert isinstance(ctx, ApiContext)
    return ctx
