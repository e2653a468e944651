"""``aws.wait``: poll until an AWS resource is in the state wanted, like SSM's
``aws:waitForAwsResourceProperty``.

Either a describe call and a condition on its output (``until:``), or one of boto3's named
waiters (``waiter: instance_running``). Both poll here rather than in botocore's ``Waiter.wait``,
which sleeps without looking at ``ctx.cancelled``: a cancelled run must not sit in a 15-second
sleep per try for the waiter's 40 tries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field, model_validator

from runbook_engine.actions._common import PositiveSeconds
from runbook_engine.actions.aws._api import AwsApi, raw_call
from runbook_engine.actions.aws._conditions import Condition, show
from runbook_engine.actions.aws._errors import aws_error
from runbook_engine.actions.aws._model import (
    ApiOperation,
    ApiProblem,
    check_call,
    check_params,
    check_read_only,
    operation,
    waiter,
)
from runbook_engine.actions.aws._plan import call_text, describe_plan, dry_run_result
from runbook_engine.actions.aws._poll import Progress, poll
from runbook_engine.actions.aws._session import AwsTarget
from runbook_engine.actions.aws._static import check_api
from runbook_engine.actions.aws.call import query_output
from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import (
    Action,
    ActionContext,
    Result,
    StaticContext,
    StaticIssue,
)

__all__ = ["AwsWaitAction", "AwsWaitParams"]

_DEFAULT_TIMEOUT = 300.0
_DEFAULT_INTERVAL = 5.0


class AwsWaitParams(AwsTarget):
    """Parameters of ``aws.wait``: ``operation`` with ``until``, or ``waiter``."""

    service: str = Field(min_length=1)
    operation: str | None = None
    waiter: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    paginate: bool | None = None
    until: Condition | None = None
    #: give up after this long (default: 300s, or what the named waiter would wait)
    timeout: PositiveSeconds | None = None
    #: between checks (default: 5s, or the named waiter's delay)
    interval: PositiveSeconds | None = None

    @model_validator(mode="after")
    def _one_way_to_wait(self) -> AwsWaitParams:
        if (self.operation is None) == (self.waiter is None):
            raise ValueError("give either `operation` with `until`, or `waiter`")
        if self.operation is not None and self.until is None:
            raise ValueError("`operation` needs `until: {query: ..., equals: ...}`")
        if self.waiter is not None and (self.until is not None or self.paginate is not None):
            raise ValueError("a named waiter has its own condition: drop `until`/`paginate`")
        try:
            if self.operation is not None:
                op = check_call(self.service, self.operation, self.params, self.paginate)
                check_read_only(op, "aws.wait polls it again and again")
                self.operation = op.name
            elif self.waiter is not None:
                found = waiter(self.service, self.waiter)
                check_params(found.operation, self.params)
                self.waiter = found.name
        except ApiProblem as exc:
            raise exc.validation_error(type(self).__name__, self.params) from None
        return self

    def polled(self) -> ApiOperation:
        """The operation each check calls."""
        if self.operation is not None:
            return operation(self.service, self.operation)
        assert self.waiter is not None
        return waiter(self.service, self.waiter).operation

    def timing(self) -> tuple[float, float]:
        """(timeout, interval), the named waiter's own when not given."""
        if self.waiter is not None:
            config = waiter(self.service, self.waiter).config
            delay = float(config.delay)
            return (
                self.timeout or delay * config.max_attempts,
                self.interval or delay,
            )
        return self.timeout or _DEFAULT_TIMEOUT, self.interval or _DEFAULT_INTERVAL


class AwsWaitAction(Action):
    """Wait for an AWS resource.

    Result: ``{"value": <what until's query selected last>, "checks": N, "waited": seconds}``
    (``value`` is the matched acceptor's explanation for a named waiter). Timing out is an
    ``ActionTimeout`` (retryable); a waiter's failure state is a non-retryable ``aws`` error.
    """

    name = "aws.wait"
    Params = AwsWaitParams
    idempotent = True  # it only reads
    description = "Poll an AWS describe call until a JMESPath condition holds, or a boto3 waiter."

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        return check_api(given, waiters=True)

    def plan(self, params: AwsWaitParams) -> list[str]:
        timeout, interval = params.timing()
        call = call_text(params.polled(), params.params)
        if params.waiter is not None:
            goal = f"the {params.service} waiter {params.waiter} succeeds"
        else:
            assert params.until is not None
            goal = params.until.text()
        return [f"every {interval:g}s: {call} until {goal} (timeout {timeout:g}s)"]

    def describe(self, params: AwsWaitParams) -> str:
        return describe_plan(self.plan(params), params.target_note())

    def run(self, params: AwsWaitParams, ctx: ActionContext) -> Result:
        if ctx.dry_run:
            return dry_run_result(self.plan(params))
        api = AwsApi(ctx, params)
        op = params.polled()
        timeout, interval = params.timing()
        if params.waiter is not None:
            check = _waiter_check(api, op, params)
        else:
            check = _until_check(api, op, params)
        ctx.log(self.plan(params)[0])
        progress, checks = poll(
            ctx,
            check,
            what=f"waiting on {op.label}",
            timeout=timeout,
            interval=interval,
            started=api.started,
        )
        return {
            "value": progress.value,
            "checks": checks,
            "waited": round(time.monotonic() - api.started, 3),
        }


def _until_check(api: AwsApi, op: ApiOperation, params: AwsWaitParams) -> Callable[[], Progress]:
    until = params.until
    assert until is not None

    def check() -> Progress:
        output, _pages = api.collect(op, params.params, paginate=params.paginate, log=False)
        value = query_output(op.label, until.query, output)
        return Progress(until.holds(value), value, f"{until.query or 'response'} = {show(value)}")

    return check


def _waiter_check(api: AwsApi, op: ApiOperation, params: AwsWaitParams) -> Callable[[], Progress]:
    assert params.waiter is not None
    config = waiter(params.service, params.waiter).config

    def check() -> Progress:
        response, error = raw_call(api, op, params.params)
        for acceptor in config.acceptors:
            if not acceptor.matcher_func(response):
                continue
            if acceptor.state == "failure":
                raise ActionError(
                    f"{params.service} waiter {params.waiter}: reached a failure state: "
                    f"{acceptor.explanation}",
                    kind="aws",
                    retryable=False,
                )
            done = acceptor.state == "success"
            return Progress(done, acceptor.explanation, f"{params.waiter}: {acceptor.explanation}")
        if isinstance(error, ClientError):
            # An error no acceptor expects ends the wait, as it does in botocore's Waiter.
            raise aws_error(error, op.label)
        return Progress(False, None, f"{params.waiter}: not yet")

    return check
