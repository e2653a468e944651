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

import botocore.loaders
import botocore.session
from botocore import xform_name
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.validate import ParamValidator
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "ApiOperation",
    "ApiProblem",
    "ApiWaiter",
    "botocore_session",
    "can_paginate",
    "check_call",
    "check_params",
    "check_read_only",
    "check_service",
    "is_read_only",
    "operation",
    "unknown_params",
    "waiter",
]

Where = tuple[str | int, ...]


class ApiProblem(ValueError):
    """Parameters botocore would reject, each with the field it is about (``("params", "X")``).

    A ``ValueError``, and convertible to a pydantic ``ValidationError`` whose locations name the
    field, so the engine's messages say ``params.DesiredCapacty: ...`` rather than pointing at
    the whole step."""

    def __init__(self, problems: list[tuple[Where, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _where, message in problems))

    @classmethod
    def at(cls, where: Where, message: str) -> ApiProblem:
        return cls([(where, message)])

    def validation_error(self, title: str, value: Any) -> ValidationError:
        return ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(
                    type=PydanticCustomError("aws_api", "{message}", {"message": message}),
                    loc=where,
                    input=value,
                )
                for where, message in self.problems
            ],
        )


# botocore sessions are not thread-safe while they load data; parallel steps validate at once.
_LOCK = threading.Lock()


@functools.cache
def _loader() -> Any:
    return botocore.loaders.create_loader()


def botocore_session() -> Any:
    """A new botocore session sharing one data loader with every other in the process.

    Parsing a service model (EC2's is megabytes of JSON) takes most of a second; with a shared
    loader each model is parsed once per process, not once per run, and validating a step's
    parameters warms the cache its calls use."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader())
    return session


@functools.cache
def _session() -> Any:
    # Only reads the bundled models: credentials and config files play no part in validation.
    return botocore_session()


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
    raise ApiProblem.at(("service",), f"unknown AWS service {service!r}{hint}") from None


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
        return str(xform_name(self.name))

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


def check_service(service: str) -> None:
    """Raise ``ApiProblem`` at ``service`` unless botocore knows the service."""
    _service_model(service)


def operation(service: str, name: str) -> ApiOperation:
    """The operation called ``name`` (``DescribeInstances`` or ``describe_instances``).

    Raises ``ApiProblem`` for an unknown service or operation, suggesting the closest name.
    """
    names = _operation_names(service)
    found = names.get(name)
    if found is None:
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f"; did you mean {names[close[0]]!r}?" if close else ""
        raise ApiProblem.at(("operation",), f"{service} has no operation {name!r}{hint}")
    return ApiOperation(service, found)


def unknown_params(op: ApiOperation, names: list[str]) -> list[tuple[Where, str]]:
    """A problem at ``("params", name)`` for each name ``op`` has no parameter called, with the
    closest spelling (the names are enough: values may still be templates)."""
    shape = op.model.input_shape
    members = list(shape.members) if shape is not None else []
    problems: list[tuple[Where, str]] = []
    for key in names:
        if key in members:
            continue
        close = difflib.get_close_matches(key, members, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append((("params", key), f"{op.label} has no parameter {key!r}{hint}"))
    return problems


def check_params(op: ApiOperation, params: dict[str, Any]) -> None:
    """Raise ``ApiProblem`` naming each parameter of ``params`` that ``op`` would reject."""
    shape = op.model.input_shape
    if shape is None:
        if params:
            raise ApiProblem.at(
                ("params",), f"{op.label} takes no parameters, got {', '.join(sorted(params))}"
            )
        return
    # Top-level names are checked here first to suggest the intended spelling; botocore's own
    # report lists every valid name, which for EC2 is too long to spot the typo in.
    problems = unknown_params(op, list(params))
    if problems:
        raise ApiProblem(problems)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ApiProblem(
            [(("params",), f"{op.label}: {line}") for line in report.generate_report().splitlines()]
        )


@dataclass(frozen=True)
class ApiWaiter:
    """A named boto3 waiter: its PascalCase ``name``, botocore's config (delay, max attempts,
    acceptors) and the operation it polls."""

    name: str
    config: Any
    operation: ApiOperation


def waiter(service: str, name: str) -> ApiWaiter:
    """The waiter called ``name`` (``InstanceRunning`` or ``instance_running``).

    Raises ``ApiProblem`` when the service has no such waiter."""
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
        raise ApiProblem.at(("waiter",), f"{service} has no waiter {name!r}{hint}")
    config = model.get_waiter(found)
    return ApiWaiter(found, config, ApiOperation(service, config.operation))


@functools.cache
def _paginator_model(service: str) -> Any:
    with _LOCK:
        try:
            return _session().get_paginator_model(service)
        except DataNotFoundError:
            return None


def can_paginate(op: ApiOperation) -> bool:
    """Whether botocore has a paginator for ``op`` (what ``client.can_paginate`` answers)."""
    model = _paginator_model(op.service)
    if model is None:
        return False
    try:
        model.get_paginator(op.name)
    except ValueError:
        return False
    return True


def check_call(
    service: str, name: str, params: dict[str, Any], paginate: bool | None = None
) -> ApiOperation:
    """The operation, after checking that it exists, takes ``params`` and, when ``paginate`` is
    true, can paginate. ``ApiProblem`` naming the problem otherwise."""
    op = operation(service, name)
    check_params(op, params)
    if paginate and not can_paginate(op):
        raise ApiProblem.at(("paginate",), f"{op.label} cannot paginate; drop `paginate: true`")
    return op


_READ_ONLY_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Search", "Lookup", "Query", "Scan")


def is_read_only(op: ApiOperation) -> bool:
    """Whether ``op`` only reads, going by AWS's naming (Describe*, List*, Get*...)."""
    return op.name.startswith(_READ_ONLY_PREFIXES)


def check_read_only(op: ApiOperation, why: str) -> None:
    """``ApiProblem`` unless ``op`` only reads, going by AWS's naming (Describe*, List*, Get*...).

    ``why`` ends the message: what needs a read-only call (an action that is re-run freely)."""
    if not is_read_only(op):
        raise ApiProblem.at(
            ("operation",),
            f"{op.label} is not a read-only operation ({why}); use aws.call to change things",
        )
