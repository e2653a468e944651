"""Warnings about steps a rollback would leave in place, and approvals nobody can give.

A runbook whose steps roll back promises that a failed run leaves things as they were; a
changing step with neither a ``rollback:`` block nor an automatic undo breaks that promise
silently. An approval that needs more distinct approvers than can exist waits until it times
out, in the middle of an incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbook_engine.errors import RunbookError
from runbook_engine.identity import Directory
from runbook_engine.plugin import Action
from runbook_engine.preflight.findings import Finding
from runbook_engine.spec.yamlmarks import Path


@dataclass(frozen=True)
class Call:
    """An action step as written, with the action it names."""

    path: Path
    step_id: str
    action: type[Action]
    given: Mapping[str, Any]
    has_rollback_block: bool

    @property
    def rolls_back(self) -> bool:
        return self.has_rollback_block or self.action.has_undo()


def _mutates(call: Call) -> bool:
    try:
        return call.action.mutates(call.given)
    except Exception:  # a plugin's bug: assume the worst, as the default does
        return not call.action.idempotent


def rollback_warnings(calls: list[Call]) -> list[Finding]:
    """A warning for each changing step that nothing undoes, when other steps roll back."""
    if not any(call.rolls_back for call in calls):
        return []  # a runbook without rollbacks promises none
    return [
        Finding(
            (*call.path, "action"),
            f"step {call.step_id!r} ({call.action.name}) can change things and nothing undoes "
            "it when the run rolls back, while other steps of this runbook roll back; add a "
            "`rollback:` block (a `log` call saying why when there is nothing to undo)",
            warning=True,
        )
        for call in calls
        if not call.rolls_back and _mutates(call)
    ]


def _directory() -> Directory:
    try:
        return Directory.load()
    except RunbookError:
        return Directory()  # a broken groups file is reported when a decision needs it


def approval_warnings(data: Mapping[str, Any]) -> list[Finding]:
    """A warning for each approval step that needs more approvers than can exist.

    Only certain cases: listed users, plus the members of groups the groups file knows. A group
    it does not know may be a Slack user group, resolved when someone decides."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    permissions = data.get("permissions")
    fallback = permissions.get("approve") if isinstance(permissions, Mapping) else None
    directory: Directory | None = None
    out: list[Finding] = []
    for i, step in enumerate(steps):
        approval = step.get("approval") if isinstance(step, Mapping) else None
        if not isinstance(approval, Mapping):
            continue
        required = approval.get("required", 1)
        approvers = approval.get("approvers") or fallback
        if not isinstance(required, int) or not isinstance(approvers, list) or not approvers:
            continue  # anyone may approve, or the format checks report the types
        if not all(isinstance(entry, str) for entry in approvers):
            continue
        directory = directory or _directory()
        people = {entry for entry in approvers if not entry.startswith("@")}
        groups = [entry[1:] for entry in approvers if entry.startswith("@")]
        if any(group not in directory.groups for group in groups):
            continue
        for group in groups:
            people |= directory.groups[group]
        if required > len(people):
            who = ", ".join(sorted(people)) or "nobody"
            out.append(
                Finding(
                    ("steps", i, "approval", *(("required",) if "required" in approval else ())),
                    f"needs {required} distinct approvals but only {len(people)} people can "
                    f"approve ({who}): the step can never be approved",
                    warning=True,
                )
            )
    return out
