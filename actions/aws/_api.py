"""Make AWS calls for one step: errors translated, pages collected, results made JSON-safe."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.response import StreamingBody
from botocore.utils import merge_dicts, set_value_from_jmespath

from runbook_engine.actions._common import stop_error
from runbook_engine.actions.aws._errors import aws_error
from runbook_engine.actions.aws._model import ApiOperation, can_paginate
from runbook_engine.actions.aws._plan import call_text
from runbook_engine.actions.aws._session import AwsTarget, clients_for
from runbook_engine.plugin.contract import ActionContext

__all__ = ["AwsApi", "jsonable", "raw_call"]

#: a streaming body (S3 GetObject) is read up to this many bytes into the result
_MAX_BODY = 1024 * 1024


class AwsApi:
    """The calls of one step, as ``target`` says, stopping between pages on cancel."""

    def __init__(self, ctx: ActionContext, target: AwsTarget) -> None:
        self.ctx = ctx
        self.target = target
        self.started = time.monotonic()
        self._clients = clients_for(ctx)

    def client(self, service: str) -> Any:
        return self._clients.client(service, self.target)

    def call(
        self,
        op: ApiOperation,
        params: Mapping[str, Any],
        *,
        log: bool = True,
        even_if_stopped: bool = False,
    ) -> Any:
        """Call ``op`` once; the response without ``ResponseMetadata``, JSON-safe.

        ``even_if_stopped`` is for putting things back after a cancel or timeout: that one call
        must still go out, although the step has been told to stop."""
        if not even_if_stopped:
            self.check_cancelled(op.label)
        if log:
            self.ctx.log(call_text(op, params))
        try:
            response = getattr(self.client(op.service), op.method)(**params)
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(exc, op.label) from exc
        response.pop("ResponseMetadata", None)
        return jsonable(response)

    def collect(
        self,
        op: ApiOperation,
        params: Mapping[str, Any],
        *,
        paginate: bool | None = None,
        log: bool = True,
    ) -> tuple[Any, int]:
        """Call ``op``, following every page when it paginates; the merged output and the
        number of pages. ``paginate=None`` pages whenever botocore has a paginator."""
        if paginate is False or not can_paginate(op):
            return self.call(op, params, log=log), 1
        if log:
            self.ctx.log(call_text(op, params) + " (all pages)")
        try:
            pages = self.client(op.service).get_paginator(op.method).paginate(**params)
            return self._merge(op, pages)
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(exc, op.label) from exc

    def _merge(self, op: ApiOperation, pages: Any) -> tuple[Any, int]:
        # botocore's PageIterator.build_full_result, with a cancel check between pages: a
        # DescribeInstances over a large account can take many requests.
        merged: dict[str, Any] = {}
        count = 0
        for page in pages:
            count += 1
            self.check_cancelled(op.label)
            for expression in pages.result_keys:
                value = expression.search(page)
                if value is None:
                    continue
                existing = expression.search(merged)
                if existing is None:
                    set_value_from_jmespath(merged, expression.expression, value)
                elif isinstance(value, list):
                    existing.extend(value)
                elif isinstance(value, int | float | str):
                    set_value_from_jmespath(merged, expression.expression, existing + value)
        merge_dicts(merged, pages.non_aggregate_part)
        merged.pop("ResponseMetadata", None)
        return jsonable(merged), count

    def check_cancelled(self, what: str) -> None:
        if self.ctx.cancelled.is_set():
            raise stop_error(self.ctx, self.started, what)


def jsonable(value: Any) -> Any:
    """``value`` with what JSON cannot hold turned into what it can: timestamps into ISO 8601
    text (which also sorts and compares correctly in JMESPath), bytes into text or base64."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, StreamingBody):
        return jsonable(value.read(_MAX_BODY))
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    return value


def raw_call(api: AwsApi, op: ApiOperation, params: Mapping[str, Any]) -> tuple[Any, Any]:
    """Call ``op`` for a waiter: the parsed response, or AWS's error response, plus the
    ClientError when there was one (a waiter may expect an error, e.g. ``NotFound``)."""
    api.check_cancelled(op.label)
    try:
        client = api.client(op.service)  # may assume a role: its errors are no waiter's business
    except (BotoCoreError, ClientError) as exc:
        raise aws_error(exc, op.label) from exc
    try:
        return getattr(client, op.method)(**params), None
    except ClientError as exc:
        return exc.response, exc
    except BotoCoreError as exc:
        raise aws_error(exc, op.label) from exc
