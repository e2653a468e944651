"""What the AWS actions can check before a run when some of their parameters are templates:
the service, the operation (or waiter) and the names of the API parameters, from botocore's
bundled models. With every value literal the parameter models check all of this and more; this
covers the common case of literal names around templated values (``InstanceIds: "{{ ... }}"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runbook_engine.actions.aws._model import (
    ApiOperation,
    ApiProblem,
    check_service,
    operation,
    unknown_params,
    waiter,
)
from runbook_engine.plugin.contract import StaticIssue
from runbook_engine.templating import is_template

__all__ = ["check_api", "literal_operation"]


def _literal(value: Any) -> str | None:
    return value if isinstance(value, str) and value and not is_template(value) else None


def literal_operation(given: Mapping[str, Any]) -> ApiOperation | None:
    """The operation ``given`` names with literal text, or None (templated, unknown, absent)."""
    service, name = _literal(given.get("service")), _literal(given.get("operation"))
    if service is None or name is None:
        return None
    try:
        return operation(service, name)
    except ApiProblem:
        return None


def check_api(given: Mapping[str, Any], *, waiters: bool = False) -> Sequence[StaticIssue]:
    """Issues for a literal service, operation or waiter botocore does not know, and for
    parameter names the operation does not take. ``waiters``: the action accepts ``waiter``."""
    service = _literal(given.get("service"))
    if service is None:
        return ()
    try:
        op: ApiOperation | None = None
        name = _literal(given.get("operation"))
        if name is not None:
            op = operation(service, name)
        waiter_name = _literal(given.get("waiter")) if waiters else None
        if waiter_name is not None:
            op = waiter(service, waiter_name).operation
        if op is None:
            check_service(service)
            return ()
    except ApiProblem as exc:
        return tuple(StaticIssue(where, message) for where, message in exc.problems)
    params = given.get("params")
    if not isinstance(params, dict):
        return ()
    names = [key for key in params if isinstance(key, str)]
    return tuple(StaticIssue(where, message) for where, message in unknown_params(op, names))
