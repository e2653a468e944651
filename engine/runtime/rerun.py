"""What a re-run (``runbook rerun RUN``) takes over from its original run, decided once, before
anything is recorded: where it starts, the steps before that start carried over as the
original recorded them, and, with ``failed_hosts``, the fan-out step limited to the hosts that
failed or never ran there.

Pure: given the original's runbook version and folded state, it returns a ``RerunPlan`` or
raises ``RerunRefused`` (a user error naming the step and what to do instead).

What is never carried: an approval the original passed (a decision was given for that run,
not for another one), and outputs the log never held in the clear (``secret_outputs``, or
values masked as ``***``). Carried steps are not completed steps of the re-run: a rollback of
the re-run never undoes what its original did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.core.events import StepCarried, StepError
from runbook_engine.core.state import (
    STEP_FAILED,
    STEP_PENDING,
    STEP_SKIPPED,
    STEP_SUCCEEDED,
    RunState,
    StepState,
)
from runbook_engine.errors import InputRefused
from runbook_engine.spec.models import (
    ActionStep,
    AnyStep,
    ApprovalStep,
    ParallelStep,
    Runbook,
    iter_steps,
)
from runbook_engine.spec.params import REDACTED
from runbook_engine.templating import strings_in

__all__ = ["RerunPlan", "RerunRefused", "limits_of", "link_text", "plan_rerun"]

#: what a carried step's status may be: as the original had it (a step it never reached or
#: jumped over stays pending; a failure there is carried as a failure already dealt with)
_CARRIED = frozenset({STEP_SUCCEEDED, STEP_SKIPPED, STEP_FAILED, STEP_PENDING})


class RerunRefused(InputRefused):
    """A re-run cannot be made as asked; nothing was recorded."""


@dataclass(frozen=True)
class RerunPlan:
    #: the top-level step the re-run starts at; None: its first step
    start: str | None
    #: the steps before ``start``, in document order (a group, then its children)
    carried: tuple[StepCarried, ...]
    #: recorded in the re-run's ``run.created`` as ``rerun_of``
    link: dict[str, Any]
    #: the fan-out step limited to the failed hosts, and those hosts
    limits: dict[str, list[str]] = field(default_factory=dict)


def limits_of(link: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The limit a recorded ``rerun_of`` puts on its fan-out step (empty: none), so that every
    drive of the re-run, after a crash too, limits the same step to the same hosts."""
    if not link or not link.get("failed_hosts"):
        return {}
    step, hosts = link.get("step"), link.get("hosts")
    if not isinstance(step, str) or not isinstance(hosts, list) or not hosts:
        return {}
    return {step: [str(h) for h in hosts]}


def plan_rerun(
    run_id: str,
    runbook: Runbook,
    state: RunState,
    *,
    from_step: str | None = None,
    failed_hosts: bool = False,
    fans_out: Callable[[str], bool],
) -> RerunPlan:
    """The plan of a re-run of run ``run_id`` (of ``runbook``, its state ``state``).

    ``fans_out(action)``: the action runs on hosts and honours a ``limit`` of them (the
    ``ssh.*`` actions). ``failed_hosts`` without ``from_step`` starts at the step the
    original failed at."""
    top = [step.id for step in runbook.steps]
    groups = {
        child.id: step.id
        for step in runbook.steps
        if isinstance(step, ParallelStep)
        for child in step.parallel
    }
    if from_step is None and failed_hosts:
        failed_at = str((state.failure or {}).get("step") or "")
        if not failed_at:
            raise RerunRefused(
                f"run {run_id} did not fail at a step: give the step to re-run the failed "
                "hosts of with --from STEP"
            )
        from_step = groups.get(failed_at, failed_at)
    if from_step is not None and from_step not in top:
        if from_step in groups:
            raise RerunRefused(
                f"step {from_step!r} runs inside parallel group {groups[from_step]!r}: a "
                f"re-run starts at a top-level step (--from {groups[from_step]})"
            )
        raise RerunRefused(
            f"--from {from_step!r}: {runbook.name}@{runbook.version} has no such top-level "
            f"step; its steps: {', '.join(top)}"
        )
    start = top.index(from_step) if from_step is not None else 0
    carried = tuple(
        _carry(run_id, one, state.step(one.id), state)
        for step in runbook.steps[:start]
        for one in (step, *(step.parallel if isinstance(step, ParallelStep) else ()))
    )
    link: dict[str, Any] = {"run": run_id, "from": from_step, "failed_hosts": failed_hosts}
    limits: dict[str, list[str]] = {}
    if failed_hosts:
        target = _fan_out_step(runbook, start, groups, top, fans_out)
        if target is None:
            raise RerunRefused(
                f"--failed-hosts: no step runs on hosts (ssh.*) from {top[start]!r} on in "
                f"{runbook.name}@{runbook.version}; choose the step with --from STEP"
            )
        hosts = _hosts_to_redo(run_id, target.id, state.step(target.id))
        link |= {"step": target.id, "hosts": hosts}
        limits = {target.id: hosts}
    return RerunPlan(from_step, carried, link, limits)


def _carry(run_id: str, step: AnyStep, st: StepState, state: RunState) -> StepCarried:
    if isinstance(step, ApprovalStep) and st.status == STEP_SUCCEEDED:
        raise RerunRefused(
            f"step {step.id!r} is an approval the original run passed; a decision is not "
            f"carried over to another run: re-run from {step.id!r} or an earlier step"
        )
    if isinstance(step, ActionStep) and step.secret_outputs and st.status == STEP_SUCCEEDED:
        raise RerunRefused(
            f"step {step.id!r} has secret outputs ({', '.join(sorted(step.secret_outputs))}), "
            f"which run {run_id} never stored: re-run from {step.id!r} or an earlier step"
        )
    if any(REDACTED in text for text in strings_in([st.outputs, st.result])):
        raise RerunRefused(
            f"step {step.id!r}'s recorded outputs hold a masked secret ({REDACTED}), so they "
            f"cannot be carried over: re-run from {step.id!r} or an earlier step"
        )
    status = st.status if st.status in _CARRIED else STEP_FAILED
    undone = any(c.step == step.id and c.rollback == "succeeded" for c in state.completed)
    return StepCarried(
        step=step.id,
        status=status,
        from_run=run_id,
        outputs=dict(st.outputs) if st.outputs else None,
        result=st.result,
        rolled_back=True if undone else None,
    )


def _fan_out_step(
    runbook: Runbook,
    start: int,
    groups: Mapping[str, str],
    top: Sequence[str],
    fans_out: Callable[[str], bool],
) -> ActionStep | None:
    """The first step at or after the start, in document order, that runs on hosts."""
    for step, _ in iter_steps(runbook):
        at = top.index(groups.get(step.id, step.id))
        if at >= start and isinstance(step, ActionStep) and fans_out(step.action):
            return step
    return None


def _hosts_to_redo(run_id: str, step_id: str, st: StepState) -> list[str]:
    """The hosts of the original's ``step_id`` that failed or never ran there, in the order
    the step reported them."""
    if st.status == STEP_PENDING:
        raise RerunRefused(
            f"--failed-hosts: step {step_id!r} never ran in run {run_id}, so no host of it "
            "failed; re-run without --failed-hosts"
        )
    hosts: list[str] = []
    result, error = st.result, StepError.of(st.error)
    if isinstance(result, Mapping) and isinstance(result.get("hosts"), list):
        # it succeeded with failures tolerated (max_failures), or a rollout stop tolerated
        hosts = [str(h) for h in result.get("failed") or []]
        hosts += [str(h) for h in result.get("skipped") or []]
    elif error is not None and isinstance(error.hosts, list):
        hosts = [
            str(h["host"])
            for h in error.hosts
            if isinstance(h, Mapping) and h.get("host") and not h.get("ok")
        ]
        hosts += error.not_started or []
    else:
        raise RerunRefused(
            f"--failed-hosts: step {step_id!r} of run {run_id} has no per-host results "
            f"(it {st.status} before reaching any host); re-run without --failed-hosts"
        )
    if not hosts:
        raise RerunRefused(
            f"--failed-hosts: no host failed or was left out in step {step_id!r} of run "
            f"{run_id}; nothing to re-run on"
        )
    return list(dict.fromkeys(hosts))


def link_text(link: Mapping[str, Any]) -> str:
    """``re-run of RUN (from STEP, failed hosts only: a, b)``: how a re-run names its
    original in ``runbook show`` and the run's messages."""
    how: list[str] = []
    if link.get("from"):
        how.append(f"from {link['from']}")
    if link.get("failed_hosts"):
        hosts = [str(h) for h in link.get("hosts") or []]
        shown = ", ".join(hosts[:10]) + (f" and {len(hosts) - 10} more" if len(hosts) > 10 else "")
        how.append(f"failed hosts only: {shown}" if hosts else "failed hosts only")
    return f"re-run of {link.get('run')}" + (f" ({', '.join(how)})" if how else "")
