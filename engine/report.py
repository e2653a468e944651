"""Compliance report: per scheduled runbook, how many runs passed and failed, and what failed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runbook_engine.core.statuses import ACTIVE, SUCCEEDED
from runbook_engine.schedule import SCHEDULE_REQUESTER
from runbook_engine.store import Store


@dataclass
class RunbookReport:
    runbook: str
    passed: int = 0
    failed: int = 0
    running: int = 0
    skipped_ticks: int = 0
    failed_checks: Counter[str] = field(default_factory=Counter)
    last_failure: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "runbook": self.runbook,
            "passed": self.passed,
            "failed": self.failed,
            "running": self.running,
            "skipped_ticks": self.skipped_ticks,
            "failed_checks": dict(self.failed_checks.most_common()),
            "last_failure": self.last_failure,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunbookReport:
        """The inverse of ``as_dict``, for a report a server sent: ``failed_checks`` is in
        ``most_common`` order there, and a ``Counter`` built in that order keeps it for ties."""
        return cls(
            runbook=str(data["runbook"]),
            passed=int(data.get("passed", 0)),
            failed=int(data.get("failed", 0)),
            running=int(data.get("running", 0)),
            skipped_ticks=int(data.get("skipped_ticks", 0)),
            failed_checks=Counter(
                {str(k): int(v) for k, v in data.get("failed_checks", {}).items()}
            ),
            last_failure=data.get("last_failure"),
        )


def compliance_report(
    store: Store, since: datetime, scheduled: list[str], *, limit: int = 100_000
) -> list[RunbookReport]:
    """Runs started by schedules since ``since``, grouped by runbook.

    ``scheduled`` names the runbooks that have schedules now, so one whose runs all went
    missing still shows up (with zero runs), which is itself a finding."""
    reports = {name: RunbookReport(name) for name in scheduled}
    for record in store.list_runs(since=since, limit=limit):
        if record.requester != SCHEDULE_REQUESTER:
            continue
        rep = reports.setdefault(record.runbook, RunbookReport(record.runbook))
        if record.status == SUCCEEDED:
            rep.passed += 1
        elif record.status in ACTIVE:
            rep.running += 1
        else:
            rep.failed += 1
            failure = (record.state or {}).get("failure") or {}
            check = str(failure.get("step") or record.status)
            rep.failed_checks[check] += 1
            if rep.last_failure is None:  # list_runs is newest first
                rep.last_failure = {
                    "run_id": record.id,
                    "at": record.created_at.isoformat(),
                    "step": failure.get("step"),
                    "message": failure.get("message") or record.status,
                }
    for tick in store.ticks(since=since):
        if tick.outcome == "skipped":
            reports.setdefault(tick.runbook, RunbookReport(tick.runbook)).skipped_ticks += 1
    return sorted(reports.values(), key=lambda r: (-r.failed, r.runbook))


def summary_text(reports: list[RunbookReport], since: datetime) -> str:
    """A few lines for humans (terminal or Slack)."""
    lines = [f"Compliance since {since:%Y-%m-%d %H:%M} UTC"]
    for r in reports:
        mark = "FAIL" if r.failed else ("none" if not (r.passed or r.running) else "ok")
        checks = ", ".join(f"{k} x{v}" for k, v in r.failed_checks.most_common())
        lines.append(
            f"[{mark}] {r.runbook}: {r.passed} passed, {r.failed} failed"
            + (f", {r.running} running" if r.running else "")
            + (f", {r.skipped_ticks} ticks skipped" if r.skipped_ticks else "")
            + (f" — failed checks: {checks}" if checks else "")
        )
    return "\n".join(lines)
