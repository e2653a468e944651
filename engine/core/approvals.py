"""Who may decide an approval step. Pure: the same rules serve the CLI and Slack."""

from __future__ import annotations

from collections.abc import Iterable

from runbook_engine.core.state import STEP_WAITING, RunState
from runbook_engine.core.statuses import WAITING_APPROVAL
from runbook_engine.errors import ApprovalError
from runbook_engine.identity import Directory
from runbook_engine.spec.models import ApprovalStep, Runbook


def waiting_step(runbook: Runbook, state: RunState) -> ApprovalStep:
    if state.status != WAITING_APPROVAL:
        raise ApprovalError(f"the run is {state.status}, not waiting for approval")
    for step in runbook.steps:
        if isinstance(step, ApprovalStep) and state.step(step.id).status == STEP_WAITING:
            return step
    raise ApprovalError("the run is not waiting on any approval step")


def check_decision(
    runbook: Runbook,
    state: RunState,
    *,
    requester: str,
    user: str,
    directory: Directory,
    extra_groups: Iterable[str] = (),
    now: float | None = None,
    verb: str = "approve",
) -> ApprovalStep:
    """The approval step ``user`` may decide now, or ApprovalError saying why not.

    With ``now`` (seconds since the epoch), a decision after the step's deadline is refused: it
    would not count (the approval's ``on_timeout`` decides then). ``verb`` (``approve`` or
    ``reject``) is what the user asked to do, for the refusal's wording."""
    step = waiting_step(runbook, state)
    approval = step.approval
    deadline = state.step(step.id).deadline
    if now is not None and deadline is not None and now > deadline:
        raise ApprovalError(
            f"the approval of step {step.id!r} timed out; on_timeout: {approval.on_timeout} applies"
        )
    # one person, however their name is spelt (an IdP, Slack and the CLI may differ in case)
    if user.casefold() == requester.casefold() and not approval.allow_requester:
        instead = "; to stop it, cancel it" if verb == "reject" else ""
        raise ApprovalError(
            f"{user} started this run and cannot {verb} it "
            f"(the runbook does not set allow_requester){instead}"
        )
    approvers = approval.approvers or runbook.permissions.approve
    if not directory.allowed(user, approvers, extra_groups):
        raise ApprovalError(
            f"{user} is not an approver of step {step.id!r} (approvers: {', '.join(approvers)})"
        )
    if any(d.user.casefold() == user.casefold() for d in state.approvals.get(step.id, ())):
        raise ApprovalError(f"{user} has already decided on step {step.id!r}")
    return step
