"""What a notification does: each firing alert that matches a runbook's trigger starts one
run, each resolved one whose trigger says ``on_resolved: cancel`` cancels its firing's run.

Exactly once: a run's id is its firing's (``triggers.dedupe``), and the store refuses a second
run with an id it has, whichever process asks, so a repeated notification, a retry, or the
same notification at two servers starts nothing more. Everything that is not started is
answered with why (``Outcome``), so a sender's log says what became of each alert.

The run's requester is the hook's principal; the permission asked is ``trigger`` (the
policy's ``trigger`` role, and the runbook declaring the trigger that matched)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from runbook_engine.auth.principal import Principal
from runbook_engine.core.statuses import PENDING, WAITING_APPROVAL, WAITING_INPUT
from runbook_engine.errors import ApprovalError, RunbookError
from runbook_engine.hooks.cooldown import Cooldowns
from runbook_engine.hooks.driver import Driver
from runbook_engine.hooks.queue import TriggerQueue
from runbook_engine.service import Checked, Engine
from runbook_engine.terminal import printable
from runbook_engine.triggers.alert import Alert
from runbook_engine.triggers.match import Match, match_alerts

log = logging.getLogger("runbook.hooks")

Result = Literal[
    "started",  # a run was recorded and is being driven
    "queued",  # recorded, pending: max_concurrent runs of the runbook are running
    "duplicate",  # this firing's run exists already (a repeat, a retry, another server)
    "cooldown",  # the runbook ran for this alert less than its cooldown ago
    "cancelled",  # resolved: its firing's run was asked to stop
    "not-cancelled",  # resolved: its firing's run is not waiting (or there is none)
    "refused",  # the hook's principal may not start (or cancel) runs of the runbook
    "error",  # the trigger's parameters cannot be had from this alert
]

#: statuses in which a resolved alert's run is cancelled: not started yet, or waiting for
#: an approval or an input (a run already acting is left to finish, or to be cancelled by a
#: person)
CANCELLABLE = frozenset({PENDING, WAITING_APPROVAL, WAITING_INPUT})


@dataclass(frozen=True)
class Outcome:
    match: Match
    result: Result
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        m = self.match
        return {
            "runbook": m.loaded.runbook.name,
            "trigger": m.index,
            "fingerprint": m.alert.fingerprint,
            "status": m.alert.status,
            "run_id": m.run_id,
            "result": self.result,
            "reason": self.reason,
        }


def trigger_record(match: Match) -> dict[str, Any]:
    """What the run records of the alert that started it (``run.created``'s ``trigger``)."""
    return {"index": match.index, "alert": match.alert.as_dict()}


class Dispatcher:
    def __init__(self, engine: Engine, executor: Driver, queue: TriggerQueue) -> None:
        self.engine = engine
        self.executor = executor
        self.queue = queue

    def dispatch(self, alerts: list[Alert], principal: Principal) -> list[Outcome]:
        """Every match's outcome, in the order of the alerts. The starts are checked one by
        one, then recorded together in one transaction, then driven (or queued)."""
        matches = match_alerts(self.engine.catalog.latest(), alerts)
        cooldowns = Cooldowns(self.engine)
        now = datetime.now(UTC)
        outcomes: dict[int, Outcome] = {}
        starts: list[tuple[int, Match, Checked]] = []
        seen: set[str] = set()
        for i, match in enumerate(matches):
            try:
                if match.action == "cancel":
                    outcomes[i] = self._cancel(match, principal)
                    continue
                checked = self._check(match, principal, cooldowns, now, seen)
            except ApprovalError as exc:
                outcomes[i] = Outcome(match, "refused", str(exc))
                continue
            except RunbookError as exc:
                outcomes[i] = Outcome(match, "error", printable(str(exc))[:500])
                continue
            if isinstance(checked, Outcome):
                outcomes[i] = checked
            else:
                starts.append((i, match, checked))
                seen.add(match.run_id)
        created = self.executor.record_many([(c, m.run_id) for _, m, c in starts])
        for i, match, checked in starts:
            outcomes[i] = self._drive(match, checked, match.run_id in created)
        ordered = [outcomes[i] for i in range(len(matches))]
        started = sum(o.result in ("started", "queued") for o in ordered)
        if ordered:
            log.info(
                "%d alert(s) from %s: %d run(s) started, %d other outcome(s)",
                len(alerts),
                principal.name,
                started,
                len(ordered) - started,
            )
        return ordered

    def _check(
        self,
        match: Match,
        principal: Principal,
        cooldowns: Cooldowns,
        now: datetime,
        seen: set[str],
    ) -> Checked | Outcome:
        """The start's checks (permission, parameters), or why it starts nothing."""
        if match.error is not None or match.params is None:
            return Outcome(match, "error", match.error or "no parameters")
        # with a cooldown, a repeat must say duplicate, not cooldown (its own run is the
        # last); without one, the store's refusal at the record says it, a read cheaper
        cooled = match.trigger.spec.cooldown is not None
        if match.run_id in seen or (cooled and self.engine.store.get_run(match.run_id) is not None):
            return Outcome(match, "duplicate", f"run {match.run_id} was started by this firing")
        last = cooldowns.cooling(match, now)
        if last is not None:
            if self.engine.store.get_run(match.run_id) is not None:
                # the run that cools it is this firing's own, recorded by another server
                # since the look above: a duplicate
                return Outcome(match, "duplicate", f"run {match.run_id} was started by this firing")
            return Outcome(match, "cooldown", f"a run started at {last.isoformat()}")
        checked = self.engine.check(
            match.loaded,
            match.params,
            requester=principal,
            from_text=False,
            trigger=trigger_record(match),
        )
        cooldowns.started(match, now)
        return checked

    def _drive(self, match: Match, checked: Checked, created: bool) -> Outcome:
        if not created:
            # the same firing at another server (or an earlier request): its run is the one
            return Outcome(match, "duplicate", f"run {match.run_id} was started by this firing")
        limit = match.trigger.spec.max_concurrent
        if limit is not None:
            self.queue.add(match.loaded.runbook.name, limit, match.run_id)
            return Outcome(match, "queued")
        if not self.executor.drive(match.run_id, checked.params):
            return Outcome(match, "queued", "recorded; the server is stopping, it runs later")
        return Outcome(match, "started")

    def _cancel(self, match: Match, principal: Principal) -> Outcome:
        record = self.engine.store.get_run(match.run_id)
        if record is None:
            return Outcome(match, "not-cancelled", "its firing started no run")
        if record.status not in CANCELLABLE:
            return Outcome(match, "not-cancelled", f"run {record.id} is {record.status}")
        self.engine.cancel(
            record.id,
            by=principal,
            reason=f"the alert resolved ({match.alert.source} {match.alert.fingerprint})",
            by_trigger=True,
        )
        if not self.queue.expedite(record.id):
            self.executor.resume(record.id, by=principal.name)
        return Outcome(match, "cancelled")
