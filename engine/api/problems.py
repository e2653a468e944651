"""Errors as problem details (RFC 9457): ``application/problem+json`` with ``type``,
``title``, ``status`` and ``detail``, plus ``errors`` for input that failed validation.

The engine's own errors map to statuses here, once, for every route: a user's mistake is a 4xx
whose ``detail`` says what was wrong, the way the CLI would say it; anything else is a 500 whose
detail says nothing about the inside (it is logged instead)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from runbook_engine.auth.authenticate import AuthError
from runbook_engine.errors import (
    ApprovalError,
    CatalogError,
    FieldError,
    InputRefused,
    LockHeld,
    NotWaitingForInput,
    ParameterError,
    RunbookError,
    RunbookInvalid,
    RunNotFound,
    StoreError,
    StoreWriteError,
    TemplateError,
)
from runbook_engine.terminal import printable

log = logging.getLogger("runbook.api")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://runbook-engine.dev/problems/"


class ApiProblem(Exception):
    """Raised by a route to answer with a problem; ``kind`` names its ``type``."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers
        self.extra = extra


_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many failed authentications",
    500: "Internal error",
    503: "Unavailable",
    504: "Timed out",
}


def title_of(status: int) -> str:
    """The title a problem of ``status`` has (the console's error pages use them too)."""
    return _TITLES.get(status, "Error")


def problem_response(
    status: int,
    kind: str,
    detail: str,
    *,
    instance: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind,
        "title": title_of(status),
        "status": status,
        "detail": printable(detail, newlines=True),
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def classify(exc: RunbookError) -> tuple[int, str, dict[str, Any]]:
    """The status, problem type and extension members for one of the engine's errors."""
    if isinstance(exc, AuthError):
        kinds = {401: "unauthenticated", 429: "rate-limited"}
        return exc.status, kinds.get(exc.status, "auth-unavailable"), {}
    if isinstance(exc, FieldError):
        return 400, "invalid-input", {"field": exc.name}
    if isinstance(exc, NotWaitingForInput):
        return 409, "not-waiting", {}
    if isinstance(exc, RunbookInvalid):
        return 422, "invalid-runbook", {"errors": [p.as_dict() for p in exc.problems]}
    if isinstance(exc, ParameterError):
        return 422, "invalid-parameter", {"parameter": exc.name}
    if isinstance(exc, TemplateError):
        return 422, "invalid-template", {}
    if isinstance(exc, ApprovalError):
        return 403, "forbidden", {}
    if isinstance(exc, RunNotFound):
        return 404, "run-not-found", {}
    if isinstance(exc, CatalogError):
        return 404, "runbook-not-found", {}
    if isinstance(exc, LockHeld):
        return 409, "lock-held", {}
    if isinstance(exc, StoreWriteError):
        return 503, "store-unavailable", {}
    if isinstance(exc, StoreError):
        return 409, "conflict", {}
    if isinstance(exc, InputRefused):  # asked as it cannot be done (a re-run): exit 2
        return 400, "input-refused", {}
    return 400, "refused", {}


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(
            exc.status,
            exc.kind,
            exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    async def on_engine_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RunbookError)
        status, kind, extra = classify(exc)
        headers = None
        if isinstance(exc, AuthError):
            headers = {"WWW-Authenticate": 'Bearer realm="runbook"'}
            if exc.retry_after is not None:
                headers["Retry-After"] = str(exc.retry_after)
        return problem_response(
            status, kind, str(exc), instance=request.url.path, headers=headers, **extra
        )

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(part) for part in error.get("loc", ()) if part != "body"),
                "message": str(error.get("msg", "")),
            }
            for error in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid input"
        return problem_response(
            422, "invalid-input", detail, instance=request.url.path, errors=errors
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        kind = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            exc.status_code, "http-error"
        )
        return problem_response(
            exc.status_code,
            kind,
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem_response(
            500, "internal", "the server failed on this request; its log says why"
        )

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RunbookError, on_engine_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
