"""The one function every door asks: may this principal do this to this runbook (or run)?

Roles: ``view``, ``run``, ``approve``, ``cancel``, ``admin``. Who holds them:

* ``run`` (and so ``resume`` and ``cancel``: whoever may start a runbook may continue or stop
  its runs): the runbook's ``permissions.run``, else the policy file's ``defaults.run``; an
  empty list means everyone;
* ``approve`` (and ``reject``): the approvers of the step the run waits on, else the
  runbook's ``permissions.approve``, with the four-eyes rules of
  ``core.approvals.check_decision`` (the requester may not decide unless the step allows it,
  nobody decides twice, no decision after the deadline);
* ``view``: the policy file's ``defaults.view`` (empty: anyone authenticated), and anyone named
  in the runbook's own lists;
* ``trigger``: starting a run because an alert matched one of the runbook's ``triggers``
  (and cancelling it when the alert resolves, ``on_resolved: cancel``). A token created with
  ``--role trigger`` holds it on every runbook that declares a trigger, and nothing else: the
  runbook's trigger is its consent to be started by its alerts, so the token's user need not
  be in its run list. A principal without a role ceiling needs the ``run`` rules;
* ``input`` (give the values an input step waits for): the step's ``from``, else the
  ``run`` rules (the runbook's run list, the policy default, admins). Roles ``run`` and
  ``approve`` both hold it: a human answering the run's question;
* ``admin``: the policy file's ``admins``, who also hold ``view``, ``run``, ``resume`` and
  ``cancel`` on every runbook. Not ``approve``: a second pair of eyes is a person the runbook
  names, and an admin is not one by being an admin.

A principal's ``roles`` (a token's ``--role``) narrow this: they are a ceiling, so a token
created with ``--role view`` cannot start a run even when its user could.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from runbook_engine.auth.policy_file import Policy, current_policy
from runbook_engine.auth.principal import Principal
from runbook_engine.core.approvals import check_decision
from runbook_engine.core.inputs import waiting_input_step
from runbook_engine.core.state import RunState
from runbook_engine.errors import ApprovalError, NotWaitingForInput
from runbook_engine.identity import Directory
from runbook_engine.spec.models import ApprovalStep, Runbook

Action = Literal[
    "view", "run", "approve", "reject", "cancel", "resume", "trigger", "admin", "input"
]
ACTIONS: tuple[Action, ...] = get_args(Action)

Role = Literal["view", "run", "approve", "cancel", "trigger", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

#: the actions each role allows at most, when a principal's roles are limited
ROLE_ACTIONS: Mapping[str, frozenset[Action]] = {
    "view": frozenset({"view"}),
    "run": frozenset({"view", "run", "resume", "cancel", "input"}),
    "approve": frozenset({"view", "approve", "reject", "input"}),
    "cancel": frozenset({"view", "cancel"}),
    # not even view: an alert sender's token must be worth nothing beyond its hooks
    "trigger": frozenset({"trigger"}),
    "admin": frozenset(ACTIONS),
}


@dataclass(frozen=True)
class Decision:
    """The answer: ``reason`` says why not (to the principal, so it names the rule, never a
    secret); for ``approve`` and ``reject``, ``step`` is the step that may be decided."""

    allowed: bool
    reason: str = ""
    step: ApprovalStep | None = None


def _what(action: Action, runbook: Runbook | None) -> str:
    name = runbook.name if runbook is not None else "the engine"
    return {
        "view": f"view {name}",
        "run": f"run {name}",
        "resume": f"resume runs of {name}",
        "cancel": f"cancel runs of {name}",
        "approve": f"approve runs of {name}",
        "reject": f"reject runs of {name}",
        "trigger": f"start or cancel runs of {name} on alerts",
        "admin": "administer the engine",
        "input": f"give input to runs of {name}",
    }[action]


def _named(principal: Principal, entries: Iterable[str], directory: Directory) -> bool:
    """Named in a non-empty list (directly or through a group); an empty list names nobody."""
    entries = list(entries)
    return bool(entries) and directory.allowed(principal.name, entries, principal.groups)


def _refused(principal: Principal, what: str, rule: str) -> Decision:
    return Decision(False, f"{principal.name} may not {what} ({rule})")


def allowed(
    principal: Principal,
    action: Action,
    runbook: Runbook | None = None,
    *,
    directory: Directory,
    policy: Policy | None = None,
    state: RunState | None = None,
    requester: str | None = None,
    now: float | None = None,
) -> Decision:
    """May ``principal`` do ``action``? ``runbook`` is needed for every action but ``admin``;
    ``approve`` and ``reject`` also need the run's ``state`` and ``requester``. ``policy``
    defaults to the file of ``RUNBOOK_POLICY``. Never raises for a refusal (see ``require``).
    """
    policy = current_policy() if policy is None else policy
    what = _what(action, runbook)
    if principal.roles is not None and not any(
        action in ROLE_ACTIONS.get(role, frozenset()) for role in principal.roles
    ):
        held = ", ".join(sorted(principal.roles)) or "none"
        return _refused(principal, what, f"{principal.via} allows only: {held}")
    admin = _named(principal, policy.admins, directory)
    if action == "admin":
        if admin:
            return Decision(True)
        rule = f"policy admins: {', '.join(policy.admins)}" if policy.admins else "no admins"
        return _refused(principal, what, rule)
    if runbook is None:
        raise ValueError(f"the {action} action needs a runbook")
    if action in {"approve", "reject"}:
        if state is None or requester is None:
            raise ValueError(f"the {action} action needs the run's state and requester")
        try:
            step = check_decision(
                runbook,
                state,
                requester=requester,
                user=principal.name,
                directory=directory,
                extra_groups=principal.groups,
                now=now,
                verb=action,
            )
        except ApprovalError as exc:
            return Decision(False, str(exc))
        return Decision(True, step=step)
    if action == "input":
        if state is None:
            raise ValueError("the input action needs the run's state")
        try:
            asked = waiting_input_step(runbook, state)
        except NotWaitingForInput as exc:
            return Decision(False, str(exc))
        if asked.input.from_:
            if _named(principal, asked.input.from_, directory):
                return Decision(True)
            givers = ", ".join(asked.input.from_)
            return _refused(principal, what, f"step {asked.id} input from: {givers}")
    if action == "trigger" and not runbook.triggers:
        return _refused(principal, what, "the runbook has no triggers")
    if admin:
        return Decision(True)
    if action == "trigger" and principal.roles is not None:
        return Decision(True)  # the ceiling above let it through: the trigger role
    if action == "view":
        named = list(runbook.permissions.run) + list(runbook.permissions.approve)
        if not policy.view or _named(principal, [*policy.view, *named], directory):
            return Decision(True)
        return _refused(principal, what, f"policy default view: {', '.join(policy.view)}")
    # run, resume, cancel, input without `from`, and trigger without a role ceiling: the run
    # list
    if runbook.permissions.run:
        entries, rule = list(runbook.permissions.run), "permissions.run"
    else:
        entries, rule = list(policy.run), "policy default run"
    if directory.allowed(principal.name, entries, principal.groups):
        return Decision(True)
    return _refused(principal, what, f"{rule}: {', '.join(entries)}")


def require(
    principal: Principal,
    action: Action,
    runbook: Runbook | None = None,
    *,
    directory: Directory,
    policy: Policy | None = None,
    state: RunState | None = None,
    requester: str | None = None,
    now: float | None = None,
) -> Decision:
    """``allowed``, raising ``ApprovalError`` with its reason when the answer is no."""
    decision = allowed(
        principal,
        action,
        runbook,
        directory=directory,
        policy=policy,
        state=state,
        requester=requester,
        now=now,
    )
    if not decision.allowed:
        raise ApprovalError(decision.reason)
    return decision
