"""The audit trail: every mutating request (start, rerun, decide, cancel, resume, token changes),
allowed or refused, with who asked, how they proved it and from where.

``Engine`` tells its ``audit`` hook of each attempt (an ``Attempt``: what the engine knows,
a user name); the door that built the engine knows how that user authenticated, and its
``AuditTrail`` adds that (``via``) and the address (``source``) before storing the entry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runbook_engine.auth.principal import LOCAL, Principal
from runbook_engine.errors import StoreError
from runbook_engine.store import AuditRecord, Store

log = logging.getLogger("runbook.audit")

OK = "ok"
REFUSED = "refused"


@dataclass(frozen=True)
class Attempt:
    """What an engine was asked to do: ``action`` (start, rerun, approve, reject, cancel, resume)
    on ``target`` (a run id, or a runbook when the start was refused) by ``user``;
    ``principal`` when the door authenticated one (its proof and address are recorded)."""

    action: str
    target: str
    user: str
    outcome: str = OK
    detail: Mapping[str, Any] = field(default_factory=dict)
    principal: Principal | None = None


#: the hook an engine calls with every attempt
AuditHook = Callable[[Attempt], None]

_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def slack_via(user: str) -> str:
    """How the users of the Slack server's engine authenticated: a Slack user id came from a
    request Slack signed; any other name is the server's own (schedules)."""
    return f"slack:{user}" if _SLACK_ID.fullmatch(user) else "server"


class AuditTrail:
    def __init__(
        self, store: Store, *, via: str | Callable[[str], str] = LOCAL, source: str = ""
    ) -> None:
        self.store = store
        self.via = via
        self.source = source

    def __call__(self, attempt: Attempt) -> None:
        self._keep([self._entry(attempt)])

    def many(self, attempts: Sequence[Attempt]) -> None:
        """Several attempts in one write (the runs a notification of many alerts starts)."""
        self._keep([self._entry(a) for a in attempts])

    def _entry(self, attempt: Attempt) -> AuditRecord:
        if attempt.principal is not None and attempt.principal.via != LOCAL:
            who = attempt.principal
            return self._made(who.name, who.via, who.source or self.source, attempt)
        via = self.via(attempt.user) if callable(self.via) else self.via
        return self._made(attempt.user, via, self.source, attempt)

    def record(self, principal: Principal, attempt: Attempt) -> None:
        """An attempt by an authenticated principal (the API door), with its own proof."""
        self._store(principal.name, principal.via, principal.source, attempt)

    def _store(self, who: str, via: str, source: str, attempt: Attempt) -> None:
        self._keep([self._made(who, via, source, attempt)])

    @staticmethod
    def _made(who: str, via: str, source: str, attempt: Attempt) -> AuditRecord:
        return AuditRecord(
            at=datetime.now(UTC),
            principal=who,
            via=via,
            source=source,
            action=attempt.action,
            target=attempt.target,
            outcome=attempt.outcome,
            detail=dict(attempt.detail),
        )

    def _keep(self, entries: list[AuditRecord]) -> None:
        try:
            if len(entries) == 1:
                self.store.record_audit(entries[0])
            else:
                self.store.record_audits(entries)
        except StoreError as exc:
            # what was asked has happened (or been refused) already: failing it now would
            # only hide that; the log keeps the entries instead
            for entry in entries:
                log.error("cannot record %s in the audit trail: %s", entry, exc)
