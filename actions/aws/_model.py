"""What botocore knows about AWS APIs, read from its bundled service models (no network).

Parameters are checked here against the operation's input shape with botocore's own
``ParamValidator``, the same check boto3 makes just before sending a request. Doing it while the
step's parameters are validated means a misspelt parameter stops the run at preflight, before any
earlier step has changed anything, instead of failing halfway through an incident.
"""

from __future__ import annotations

import difflib
import functools
import threading
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.validate import ParamValidator

__all__ = [
    "ApiOperation",
    "check_params",
    "operation",
    "waiter",
]

# botocore sessions are not thread-safe while they load data; parallel steps validate at once.
_LOCK = threading.Lock()


@functools.cache
def _session() -> Any:
    # A bare botocore session only reads the bundled JSON models here; credentials and config
    # files are never consulted for validation.
    return botocore.session.get_session()


@functools.cache
def _service_model(service: str) -> Any:
    with _LOCK:
        session = _session()
        try:
            return session.get_service_model(service)
        except (UnknownServiceError, DataNotFoundError):
            known = session.get_available_services()
    close = difflib.get_close_matches(service, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown AWS service {service!r}{hint}") from None


@functools.cache
def _waiter_model(service: str) -> Any:
    with _LOCK:
        try:
            return _session().get_waiter_model(service)
        except DataNotFoundError:
            return None


@dataclass(frozen=True)
class ApiOperation:
    """One operation of one service: ``service`` as boto3 spells it, ``name`` in PascalCase."""

    service: str
    name: str

    @property
    def method(self) -> str:
        """The boto3 client method (``describe_instances``)."""
        return xform_name(self.name)

    @property
    def label(self) -> str:
        """``ec2.DescribeInstances``: how errors and plans name the call."""
        return f"{self.service}.{self.name}"

    @property
    def model(self) -> Any:
        return _service_model(self.service).operation_model(self.name)


@functools.cache
def _operation_names(service: str) -> dict[str, str]:
    """Every accepted spelling (PascalCase and snake_case) to the API name."""
    names: dict[str, str] = {}
    for name in _service_model(service).operation_names:
        names[name] = name
        names[xform_name(name)] = name
    return names


def operation(service: str, name: str) -> ApiOperation:
    """The operation called ``name`` (``DescribeInstances`` or ``describe_instances``).

    Raises ``ValueError`` for an unknown service or operation, suggesting the closest name.
    """
    names = _operation_names(service)
    found = names.get(name)
    if found is None:
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f"; did you mean {names[close[0]]!r}?" if close else ""
        raise ValueError(f"{service} has no operation {name!r}{hint}")
    return ApiOperation(service, found)


def check_params(op: ApiOperation, params: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming each parameter of ``params`` that ``op`` would reject."""
    shape = op.model.input_shape
    if shape is None:
        if params:
            raise ValueError(f"{op.label} takes no parameters, got {', '.join(sorted(params))}")
        return
    members = list(shape.members)
    # Top-level names are checked here first to suggest the intended spelling; botocore's own
    # report lists every valid name, which for EC2 is too long to spot the typo in.
    unknown = [key for key in params if key not in shape.members]
    if unknown:
        problems = []
        for key in unknown:
            close = difflib.get_close_matches(key, members, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown parameter {key!r}{hint}")
        raise ValueError(f"{op.label}: {'; '.join(problems)}")
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        lines = report.generate_report().splitlines()
        raise ValueError(f"{op.label}: {'; '.join(lines)}")


def waiter(service: str, name: str) -> tuple[Any, ApiOperation]:
    """The waiter config called ``name`` (``InstanceRunning`` or ``instance_running``) and the
    operation it polls. Raises ``ValueError`` when the service has no such waiter."""
    _service_model(service)  # unknown service: the clearer error first
    model = _waiter_model(service)
    names: dict[str, str] = {}
    for known in model.waiter_names if model is not None else []:
        names[known] = known
        names[xform_name(known)] = known
    found = names.get(name)
    if found is None or model is None:
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f"; did you mean {names[close[0]]!r}?" if close else ""
        raise ValueError(f"{service} has no waiter {name!r}{hint}")
    config = model.get_waiter(found)
    return config, ApiOperation(service, config.operation)
