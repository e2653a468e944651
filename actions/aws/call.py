"""``aws.call``: any operation of any service boto3 knows, like SSM's ``aws:executeAwsApi``.

The parameters are checked against botocore's service model when the step's parameters are
validated, which the engine does at preflight for literal values: a misspelt parameter fails the
run before its first step, not after half of it. All pages are collected when the operation
paginates, and ``query`` (JMESPath) keeps only what later steps need.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jmespath.exceptions import JMESPathError
from pydantic import Field, field_validator, model_validator

from runbook_engine.actions.aws._api import AwsApi
from runbook_engine.actions.aws._conditions import check_query, select
from runbook_engine.actions.aws._model import (
    ApiOperation,
    ApiProblem,
    can_paginate,
    check_call,
    is_read_only,
    operation,
)
from runbook_engine.actions.aws._plan import call_text, describe_plan, dry_run_result
from runbook_engine.actions.aws._session import AwsTarget
from runbook_engine.actions.aws._static import check_api, literal_operation
from runbook_engine.errors import ActionError, ActionInputError
from runbook_engine.plugin.contract import (
    Action,
    ActionContext,
    Result,
    StaticContext,
    StaticIssue,
)

__all__ = ["MAX_OUTPUT_BYTES", "ApiCallParams", "AwsCallAction", "AwsCallParams", "query_output"]

#: a step result is stored in the run log; more than this is refused (select with ``query``)
MAX_OUTPUT_BYTES = 1024 * 1024


class ApiCallParams(AwsTarget):
    """One API call: ``service`` as boto3 names it, ``operation`` as ``DescribeInstances`` or
    ``describe_instances``, and its ``params`` exactly as the API documents them."""

    service: str = Field(min_length=1)
    operation: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    #: collect every page; default: whenever the operation can paginate
    paginate: bool | None = None

    @model_validator(mode="after")
    def _known_to_botocore(self) -> ApiCallParams:
        try:
            op = check_call(self.service, self.operation, self.params, self.paginate)
        except ApiProblem as exc:
            raise exc.validation_error(type(self).__name__, self.params) from None
        # Keep the API's own spelling, so results, plans and errors all say DescribeInstances.
        self.operation = op.name
        return self

    @property
    def api(self) -> ApiOperation:
        return operation(self.service, self.operation)

    def pages_all(self) -> bool:
        return self.paginate is not False and can_paginate(self.api)

    def call_line(self) -> str:
        suffix = " (all pages)" if self.pages_all() else ""
        return call_text(self.api, self.params) + suffix


class AwsCallParams(ApiCallParams):
    """Parameters of ``aws.call``."""

    #: JMESPath applied to the (merged) response; the step's ``result.output`` is what it selects
    query: str | None = None

    _query_compiles = field_validator("query")(check_query)


def query_output(label: str, query: str | None, output: Any) -> Any:
    """``query`` applied to ``output``; a query that fails on this data is the runbook's bug."""
    try:
        return select(query, output)
    except JMESPathError as exc:
        raise ActionInputError(f"{label}: query {query!r} failed: {exc}") from exc


class AwsCallAction(Action):
    """Call one AWS API operation.

    Result: ``{"output": <the response, or what query selects>, "pages": N}``. Errors keep AWS's
    code and message (``ec2.DescribeInstances: InvalidInstanceID.NotFound: ...``); throttling and
    5xx left over after botocore's own retries are retryable, client errors are not.
    """

    name = "aws.call"
    Params = AwsCallParams
    # Any operation may be called, mutating ones included: a crashed call is not safely re-run.
    idempotent = False
    description = "Call any AWS API operation (boto3), with pagination and a JMESPath query."

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        return check_api(given)

    @classmethod
    def mutates(cls, given: Mapping[str, Any]) -> bool:
        """A literal read-only operation (Describe*, List*, Get*...) changes nothing."""
        op = literal_operation(given)
        return op is None or not is_read_only(op)

    def plan(self, params: AwsCallParams) -> list[str]:
        line = params.call_line()
        if params.query is not None:
            line += f" | {params.query}"
        return [line]

    def describe(self, params: AwsCallParams) -> str:
        return describe_plan(self.plan(params), params.target_note())

    def run(self, params: AwsCallParams, ctx: ActionContext) -> Result:
        if ctx.dry_run:
            return dry_run_result(self.plan(params))
        api = AwsApi(ctx, params)
        op = params.api
        output, pages = api.collect(op, params.params, paginate=params.paginate)
        selected = query_output(op.label, params.query, output)
        size = len(json.dumps(selected, default=str))
        if size > MAX_OUTPUT_BYTES:
            raise ActionError(
                f"{op.label}: the output is {size} bytes, more than the {MAX_OUTPUT_BYTES} a "
                f"step result keeps; select what later steps need with `query:`",
                kind="input",
                retryable=False,
            )
        return {"output": selected, "pages": pages}
