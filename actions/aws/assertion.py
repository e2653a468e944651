"""``aws.assert``: fail the step unless an AWS resource has the property wanted, like SSM's
``aws:assertAwsResourceProperty``. Compliance checks (no SSH open to the world) are one step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import model_validator

from runbook_engine.actions.aws._api import AwsApi
from runbook_engine.actions.aws._conditions import Condition, show
from runbook_engine.actions.aws._model import ApiProblem, check_read_only
from runbook_engine.actions.aws._plan import describe_plan, dry_run_result
from runbook_engine.actions.aws._static import check_api
from runbook_engine.actions.aws.call import ApiCallParams, query_output
from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import (
    Action,
    ActionContext,
    Result,
    StaticContext,
    StaticIssue,
)

__all__ = ["AwsAssertAction", "AwsAssertParams"]


class AwsAssertParams(ApiCallParams):
    """Parameters of ``aws.assert``: the call, and what its output must satisfy."""

    that: Condition
    #: shown when the assertion fails, followed by the actual value
    message: str | None = None

    @model_validator(mode="after")
    def _reads_only(self) -> AwsAssertParams:
        try:
            check_read_only(self.api, "aws.assert checks, it does not change")
        except ApiProblem as exc:
            raise exc.validation_error(type(self).__name__, self.operation) from None
        return self


class AwsAssertAction(Action):
    """Call a describe operation and check a condition on its output.

    Result: ``{"actual": <the selected value>, "passed": true}``. When the condition does not
    hold the step fails with ``kind="assert"``, not retryable, the actual value in the message.
    """

    name = "aws.assert"
    Params = AwsAssertParams
    idempotent = True  # only read-only operations are accepted: asserting twice reads twice
    description = "Fail unless a JMESPath condition holds on an AWS API response."

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        return check_api(given)

    def plan(self, params: AwsAssertParams) -> list[str]:
        return [f"{params.call_line()}; expect {params.that.text()}"]

    def describe(self, params: AwsAssertParams) -> str:
        return describe_plan(self.plan(params), params.target_note())

    def run(self, params: AwsAssertParams, ctx: ActionContext) -> Result:
        if ctx.dry_run:
            return dry_run_result(self.plan(params))
        api = AwsApi(ctx, params)
        op = params.api
        output, _pages = api.collect(op, params.params, paginate=params.paginate)
        actual = query_output(op.label, params.that.query, output)
        if not params.that.holds(actual):
            lead = params.message or f"{op.label}: expected {params.that.text()}"
            # Not retryable: asking again a moment later gives the same answer.
            raise ActionError(f"{lead} (actual: {show(actual)})", kind="assert", retryable=False)
        ctx.log(f"ok: {params.that.text()} (actual: {show(actual)})")
        return {"actual": actual, "passed": True}
