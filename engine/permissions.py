"""Who may do what to a run: one set of rules for every door (the CLI, Slack, and the servers
and workers that act on what those doors recorded), so a refusal is the same wherever it was
asked, and reads the same.

* start a run of a runbook: a user named in its ``permissions.run`` (empty: everyone);
* cancel a run, or resume it (after a crash, or with --retry/--skip/--rollback): the same
  list. Whoever may start a runbook may stop or continue its runs; nobody else;
* approve or reject the approval step a run waits on: its approvers (else
  ``permissions.approve``), never the requester unless the step sets ``allow_requester``.

Each function returns quietly or raises ``ApprovalError`` saying who was refused what and by
which rule. ``extra_groups`` are groups known outside the groups file (Slack user groups).
"""

from __future__ import annotations

from collections.abc import Iterable

from runbook_engine.core.approvals import check_decision
from runbook_engine.core.state import RunState
from runbook_engine.errors import ApprovalError
from runbook_engine.identity import Directory
from runbook_engine.spec.models import ApprovalStep, Runbook


def _require_run_list(
    runbook: Runbook, user: str, directory: Directory, extra_groups: Iterable[str], what: str
) -> None:
    allowed = runbook.permissions.run
    if not directory.allowed(user, allowed, extra_groups):
        raise ApprovalError(f"{user} may not {what} (permissions.run: {', '.join(allowed)})")


def may_run(
    runbook: Runbook, user: str, directory: Directory, extra_groups: Iterable[str] = ()
) -> None:
    _require_run_list(runbook, user, directory, extra_groups, f"run {runbook.name}")


def may_cancel(
    runbook: Runbook, user: str, directory: Directory, extra_groups: Iterable[str] = ()
) -> None:
    _require_run_list(runbook, user, directory, extra_groups, f"cancel runs of {runbook.name}")


def may_resume(
    runbook: Runbook, user: str, directory: Directory, extra_groups: Iterable[str] = ()
) -> None:
    _require_run_list(runbook, user, directory, extra_groups, f"resume runs of {runbook.name}")


def may_decide(
    runbook: Runbook,
    state: RunState,
    *,
    requester: str,
    user: str,
    directory: Directory,
    approve: bool,
    extra_groups: Iterable[str] = (),
    now: float | None = None,
) -> ApprovalStep:
    """The approval step ``user`` may approve (or, ``approve=False``, reject) now."""
    return check_decision(
        runbook,
        state,
        requester=requester,
        user=user,
        directory=directory,
        extra_groups=extra_groups,
        now=now,
        verb="approve" if approve else "reject",
    )
