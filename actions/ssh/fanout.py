"""The rollout: hosts in batches, at most ``forks`` at a time, stopping at a failure threshold.

A batch starts only when the previous one has finished. Once more hosts have failed than
``max_failures`` tolerates, no further host is started — not the rest of the batch, not the
next batches — and the hosts in flight are left to finish. One bounded thread pool does the
work whatever the fleet's size: a thousand hosts never means a thousand threads here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.actions.ssh.errors import HostFailure, Stopped, classify
from runbook_engine.actions.ssh.targets import Target
from runbook_engine.plugin.contract import ActionContext

__all__ = ["HostOutcome", "Report", "Rollout", "fan_out"]


@dataclass(frozen=True)
class Rollout:
    forks: int
    batch_size: int
    tolerated: int


@dataclass
class HostOutcome:
    target: Target
    data: dict[str, Any]
    failure: HostFailure | None = None
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.stopped


@dataclass
class Report:
    outcomes: list[HostOutcome] = field(default_factory=list)
    #: hosts never started because the rollout stopped
    skipped: list[Target] = field(default_factory=list)
    stop_reason: str | None = None

    @property
    def failures(self) -> list[HostOutcome]:
        return [o for o in self.outcomes if not o.ok]


Work = Callable[[Target], dict[str, Any]]


def fan_out(
    targets: Sequence[Target],
    work: Work,
    rollout: Rollout,
    ctx: ActionContext,
    *,
    blank: dict[str, Any],
    stop_kind: Callable[[], HostFailure],
) -> Report:
    """Run ``work`` for each target as ``rollout`` says; never raises for a host's failure.

    ``blank`` holds the result fields a host that failed early lacks (``stdout: ""``...);
    ``stop_kind`` names a host stopped by a cancel or step timeout.
    """
    report = Report()
    by_index: dict[int, HostOutcome] = {}
    batches = [
        list(range(i, min(i + rollout.batch_size, len(targets))))
        for i in range(0, len(targets), rollout.batch_size)
    ]
    failed = 0

    def one(index: int) -> HostOutcome:
        return _attempt(targets[index], work, blank, stop_kind, ctx)

    workers = max(1, min(rollout.forks, len(targets)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ssh") as pool:
        for number, batch in enumerate(batches, start=1):
            if report.stop_reason is None and len(batches) > 1:
                ctx.log(f"batch {number}/{len(batches)}: {_span(targets, batch)}")
            in_flight: dict[Future[HostOutcome], int] = {}
            for index in batch:
                while len(in_flight) >= rollout.forks and not _stopping(ctx, failed, rollout):
                    failed += _collect(in_flight, by_index, ctx)
                reason = _stop_reason(ctx, failed, rollout)
                if reason is not None:
                    report.stop_reason = report.stop_reason or reason
                    report.skipped.append(targets[index])
                    continue
                in_flight[pool.submit(one, index)] = index
            while in_flight:
                failed += _collect(in_flight, by_index, ctx)
            report.stop_reason = report.stop_reason or _stop_reason(ctx, failed, rollout)
    report.outcomes = [by_index[i] for i in sorted(by_index)]
    if report.skipped:
        ctx.log(f"rollout stopped ({report.stop_reason}): {len(report.skipped)} not started")
    return report


def _stop_reason(ctx: ActionContext, failed: int, rollout: Rollout) -> str | None:
    if ctx.cancelled.is_set():
        return "the step was cancelled or timed out"
    if failed > rollout.tolerated:
        return f"{failed} failed, max_failures is {rollout.tolerated}"
    return None


def _stopping(ctx: ActionContext, failed: int, rollout: Rollout) -> bool:
    return _stop_reason(ctx, failed, rollout) is not None


def _collect(
    in_flight: dict[Future[HostOutcome], int],
    by_index: dict[int, HostOutcome],
    ctx: ActionContext,
) -> int:
    """Wait for at least one host in flight to finish; returns how many of those failed."""
    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
    failed = 0
    for future in done:
        index = in_flight.pop(future)
        outcome = future.result()
        by_index[index] = outcome
        failed += 0 if outcome.ok else 1
        _log_outcome(ctx, outcome)
    return failed


def _attempt(
    target: Target,
    work: Work,
    blank: dict[str, Any],
    stop_kind: Callable[[], HostFailure],
    ctx: ActionContext,
) -> HostOutcome:
    started = time.monotonic()
    base = {"host": target.name, "address": target.address}
    try:
        data = work(target)
    except Stopped as exc:
        failure = stop_kind()
        failure = HostFailure(
            failure.kind, f"{failure.message}; {exc.how}", retryable=failure.retryable
        )
        stopped = True
    except Exception as exc:  # a host's failure, whatever raised it, is that host's result
        failure = classify(exc)
        stopped = False
    else:
        data = {**base, "ok": True, **data, "duration": _since(started)}
        return HostOutcome(target, data)
    data = {
        **base,
        "ok": False,
        **blank,
        **failure.details,
        "duration": _since(started),
        "error": failure.message,
        "kind": failure.kind,
    }
    return HostOutcome(target, data, failure, stopped)


def _log_outcome(ctx: ActionContext, outcome: HostOutcome) -> None:
    name = outcome.target.name
    seconds = outcome.data.get("duration", 0.0)
    if outcome.ok:
        ctx.log(f"{name}: ok ({seconds:.2f}s)")
    else:
        assert outcome.failure is not None
        ctx.log(f"{name}: FAILED [{outcome.failure.kind}] {outcome.failure.message}")


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _span(targets: Sequence[Target], batch: list[int]) -> str:
    first, last = targets[batch[0]].name, targets[batch[-1]].name
    names = first if first == last else f"{first} .. {last}"
    return f"{len(batch)} host{'' if len(batch) == 1 else 's'} ({names})"
