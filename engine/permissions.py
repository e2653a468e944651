"""Who may do what to a run, for the doors that know a user by name: the CLI, Slack, and the
servers and workers that act on what those doors recorded. Each function asks the one policy
function (``runbook_engine.auth.policy``), so a refusal is the same wherever it was asked, and
reads the same.

* start a run of a runbook: a user named in its ``permissions.run`` (empty: the policy file's
  default, else everyone), or a policy admin;
* cancel a run, or resume it (after a crash, or with --retry/--skip/--rollback): the same
  list. Whoever may start a runbook may stop or continue its runs; nobody else;
* approve or reject the approval step a run waits on: its approvers (else
  ``permissions.approve``), never the requester unless the step sets ``allow_requester``.
* give the values an input step waits for: the step's ``from``, else the run list.

Each function returns quietly or raises ``ApprovalError`` saying who was refused what and by
which rule. ``user`` is a name (a door that knows no more: the CLI on a local store) or the
``Principal`` a door authenticated (the API: its groups and its token's role ceiling count).
``extra_groups`` are groups known outside the groups file (Slack user groups).
"""

from __future__ import annotations

from collections.abc import Iterable

from runbook_engine.auth.policy import Action, require
from runbook_engine.auth.principal import Principal
from runbook_engine.core.state import RunState
from runbook_engine.identity import Directory
from runbook_engine.spec.models import ApprovalStep, Runbook

#: who acts: a name, or an authenticated principal
Who = str | Principal


def principal_of(user: Who, extra_groups: Iterable[str] = ()) -> Principal:
    """The principal acting; groups known outside the groups file are added to its own."""
    if isinstance(user, Principal):
        extra = frozenset(extra_groups)
        if not extra:
            return user
        return Principal(user.name, user.groups | extra, user.roles, user.via, user.source)
    return Principal.local(user, extra_groups)


def name_of(user: Who) -> str:
    """The name recorded for who acts (a run's requester, a decision's user)."""
    return user.name if isinstance(user, Principal) else user


def _require(
    action: Action,
    runbook: Runbook,
    user: Who,
    directory: Directory,
    extra_groups: Iterable[str],
) -> None:
    require(principal_of(user, extra_groups), action, runbook, directory=directory)


def may_run(
    runbook: Runbook, user: Who, directory: Directory, extra_groups: Iterable[str] = ()
) -> None:
    _require("run", runbook, user, directory, extra_groups)


def may_cancel(
    runbook: Runbook, user: Who, directory: Directory, extra_groups: Iterable[str] = ()
) -> None:
    _require("cancel", runbook, user, directory, extra_groups)


def may_trigger(
    runbook: Runbook, user: Who, directory: Directory, extra_groups: Iterable[str] = ()
) -> None:
    """Start (or, on resolve, cancel) a run because an alert matched one of its triggers."""
    _require("trigger", runbook, user, directory, extra_groups)


def may_resume(
    runbook: Runbook, user: Who, directory: Directory, extra_groups: Iterable[str] = ()
) -> None:
    _require("resume", runbook, user, directory, extra_groups)


def may_decide(
    runbook: Runbook,
    state: RunState,
    *,
    requester: str,
    user: Who,
    directory: Directory,
    approve: bool,
    extra_groups: Iterable[str] = (),
    now: float | None = None,
) -> ApprovalStep:
    """The approval step ``user`` may approve (or, ``approve=False``, reject) now."""
    decision = require(
        principal_of(user, extra_groups),
        "approve" if approve else "reject",
        runbook,
        directory=directory,
        state=state,
        requester=requester,
        now=now,
    )
    assert decision.step is not None  # an allowed decision names its step
    return decision.step


def may_give_input(
    runbook: Runbook,
    state: RunState,
    user: Who,
    directory: Directory,
    extra_groups: Iterable[str] = (),
) -> None:
    """Give the values of the input step the run waits on: its ``from``, else the run list."""
    require(principal_of(user, extra_groups), "input", runbook, directory=directory, state=state)
