"""What every SSH action does around its per-host work: resolve the hosts, warn about
unchecked host keys, fan out, and turn the outcomes into the step's result or error."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runbook_engine.actions._common import stop_error
from runbook_engine.actions.ssh.connect import Credentials
from runbook_engine.actions.ssh.errors import HostFailure, HostsFailed
from runbook_engine.actions.ssh.fanout import Report, Rollout, Work, fan_out
from runbook_engine.actions.ssh.limits import ENV
from runbook_engine.actions.ssh.params import FanoutParams, parse_amount
from runbook_engine.actions.ssh.pool import ConnectionPool, pool_for
from runbook_engine.actions.ssh.targets import Overrides, Target, inventory_for, resolve_targets
from runbook_engine.actions.ssh.wakeup import CancelWakeup
from runbook_engine.errors import ActionInputError
from runbook_engine.plugin.contract import ActionContext, Result

__all__ = ["STDERR_TAIL_LINES", "Fleet", "finish", "hosts", "listing", "open_fleet", "run_fleet"]

#: lines of a failed host's stderr carried in the step's error
STDERR_TAIL_LINES = 20
#: failures named one by one in the step's error message
_NAMED_FAILURES = 5


@dataclass(frozen=True)
class Fleet:
    """The resolved hosts of one step and what connecting to them needs."""

    targets: list[Target]
    pool: ConnectionPool
    credentials: Credentials
    params: FanoutParams
    ctx: ActionContext
    started: float
    #: readable when the step is cancelled: host threads wait on it instead of polling
    wakeup: CancelWakeup

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wakeup.close()

    def rollout(self) -> Rollout:
        total = len(self.targets)
        batch = self.params.batch
        size = total if batch is None else parse_amount(batch, total, round_up=True)
        return Rollout(
            forks=self.params.forks,
            batch_size=max(1, min(size, total)),
            tolerated=parse_amount(self.params.max_failures, total, round_up=False),
        )

    def stop_failure(self) -> HostFailure:
        """How a host stopped by the step's timeout or a cancel is named."""
        error = stop_error(self.ctx, self.started, "the step")
        return HostFailure(error.kind, str(error), retryable=error.retryable)


def open_fleet(params: FanoutParams, ctx: ActionContext) -> Fleet:
    """Resolve ``params.hosts``; raises ``ActionInputError`` for a bad pattern. Use it as a
    context manager: leaving it releases the step's cancel watcher."""
    started = time.monotonic()
    overrides = Overrides(
        user=params.user,
        key_file=params.key_file,
        known_hosts=params.known_hosts,
        host_key_checking=params.host_key_checking,
        jump=params.jump,
    )
    targets = resolve_targets(
        params.hosts,
        overrides,
        inventory_for(ctx),
        ec2_region=params.ec2_region,
        ec2_address=params.ec2_address,
        run_id=ctx.run_id,
    )
    if params.limit is not None:
        targets = _limited(targets, params.limit)
    pool = pool_for(ctx)
    _check_keys(pool, params)
    if len(targets) > pool.max_open:
        ctx.log(
            f"note: {hosts(len(targets))}, but the run keeps at most {pool.max_open} SSH "
            f"connections open ({ENV} and the open-file limit): later steps reconnect to the "
            f"hosts whose connections were closed"
        )
    unchecked = [t.name for t in targets if not _all_checked(t)]
    if unchecked:
        ctx.log(
            f"warning: host key checking is off for {len(unchecked)} host(s) "
            f"({listing(unchecked)}): "
            f"a man-in-the-middle would not be detected"
        )
    return Fleet(
        targets=targets,
        pool=pool,
        credentials=Credentials(params.key, params.key_passphrase),
        params=params,
        ctx=ctx,
        started=started,
        wakeup=CancelWakeup(ctx.cancelled),
    )


def _limited(targets: list[Target], limit: list[str]) -> list[Target]:
    """The targets ``limit`` names, in the pattern's order; a name the pattern does not select
    is the step's mistake (a re-run's host that left the inventory, a typo)."""
    names = {t.name for t in targets}
    unknown = [name for name in limit if name not in names]
    if unknown:
        raise ActionInputError(
            f"limit names {listing(unknown)}, which hosts does not select "
            f"({hosts(len(targets))} selected)"
        )
    wanted = set(limit)
    return [t for t in targets if t.name in wanted]


def _check_keys(pool: ConnectionPool, params: FanoutParams) -> None:
    """A key given to the step that cannot be loaded is the step's mistake: say so once,
    before connecting anywhere, rather than once per host."""
    try:
        if params.key:
            pool.keys.from_text(params.key, params.key_passphrase)
        if params.key_file:
            pool.keys.from_file(params.key_file, params.key_passphrase)
    except HostFailure as exc:
        raise ActionInputError(exc.message) from None


def _all_checked(target: Target) -> bool:
    hop: Target | None = target
    while hop is not None:
        if not hop.host_key_checking:
            return False
        hop = hop.jump
    return True


def run_fleet(
    fleet: Fleet, work: Work, *, blank: dict[str, Any], rollout: Rollout | None = None
) -> Report:
    """Fan ``work`` out over the fleet's hosts, as the step's rollout options say (or as
    ``rollout`` says: an undo tries every host it has to restore)."""
    return fan_out(
        fleet.targets,
        work,
        rollout or fleet.rollout(),
        fleet.ctx,
        blank=blank,
        stop_kind=fleet.stop_failure,
    )


def finish(
    fleet: Fleet,
    report: Report,
    *,
    what: str,
    before_failing: Callable[[Report], str] | None = None,
    tolerated: int | None = None,
) -> Result:
    """The step's result, or the error that fails it.

    ``before_failing`` runs when the step is about to fail (``ssh.upload`` restores the hosts
    it changed) and returns a sentence for the error message.
    """
    hosts = [o.data for o in report.outcomes]
    ok = [o.target.name for o in report.outcomes if o.ok]
    failed = [o.target.name for o in report.outcomes if not o.ok]
    skipped = [t.name for t in report.skipped]
    summary = _summary(len(fleet.targets), ok, failed, skipped, report.stop_reason)
    result: Result = {
        "hosts": hosts,
        "ok": ok,
        "failed": failed,
        "skipped": skipped,
        "summary": summary,
    }
    if tolerated is None:
        tolerated = fleet.rollout().tolerated
    # A cancel that came after every host had finished changed nothing: report what happened.
    stopped = fleet.ctx.cancelled.is_set() and (
        bool(report.skipped) or any(o.stopped for o in report.outcomes)
    )
    if not stopped and len(failed) <= tolerated:
        return result
    extra = before_failing(report) if before_failing is not None else ""
    if stopped:
        error = stop_error(fleet.ctx, fleet.started, what)
        error.hosts = hosts  # recorded by the runtime with the error
        error.not_started = skipped or None
        raise error
    failure = _hosts_failed(report, summary, tolerated, extra)
    failure.not_started = skipped or None  # what a re-run of the failed hosts also runs on
    raise failure


def _hosts_failed(report: Report, summary: str, tolerated: int, extra: str) -> HostsFailed:
    failures = report.failures
    first = failures[0]
    assert first.failure is not None
    kinds = {o.failure.kind for o in failures if o.failure is not None}
    named = listing(
        [f"{o.target.name}: {o.failure.message}" for o in failures if o.failure is not None],
        limit=_NAMED_FAILURES,
        separator="; ",
    )
    message = f"{summary}; max_failures is {tolerated}: {named}"
    if extra:
        message += f". {extra}"
    exit_code = first.data.get("exit_code") if first.failure.kind == "exit" else None
    stderr = None
    if exit_code is not None:
        stderr = "\n".join(str(first.data.get("stderr", "")).splitlines()[-STDERR_TAIL_LINES:])
    return HostsFailed(
        message,
        hosts=[o.data for o in report.outcomes],
        host=first.target.name,
        kind=kinds.pop() if len(kinds) == 1 else "hosts",
        retryable=all(o.failure.retryable for o in failures if o.failure is not None),
        exit_code=exit_code,
        stderr=stderr,
    )


def _summary(
    total: int, ok: list[str], failed: list[str], skipped: list[str], reason: str | None
) -> str:
    parts = [f"{len(ok)} ok"]
    if failed:
        parts.append(f"{len(failed)} failed ({listing(failed)})")
    if skipped:
        parts.append(f"{len(skipped)} not started ({reason})")
    return f"{hosts(total)}: " + ", ".join(parts)


def hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"


def listing(items: list[str], *, limit: int = 10, separator: str = ", ") -> str:
    """``a, b, c and 7 more``: enough to act on, short enough for a log line."""
    shown = separator.join(items[:limit])
    return f"{shown}{separator}and {len(items) - limit} more" if len(items) > limit else shown
