"""Errors as pages: the API's mapping of the engine's errors to statuses (``classify``),
answered in HTML; a visitor who must sign in is redirected; an htmx request (a fragment
being refreshed) is told to load the sign-in page instead of swapping it into the page."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from runbook_engine.api.problems import ApiProblem, classify, title_of
from runbook_engine.errors import RunbookError
from runbook_engine.terminal import printable
from runbook_engine.web.csrf import CsrfRefused, FormRefused
from runbook_engine.web.session import SignInRequired, sessions_of
from runbook_engine.web.templates import render

log = logging.getLogger("runbook.web")


def error_page(request: Request, status: int, detail: str) -> Response:
    title = title_of(status)
    return render(
        request,
        "error.html",
        status_code=status,
        status=status,
        title=title,
        detail=printable(detail, newlines=True),
    )


def install(app: FastAPI) -> None:
    async def on_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        response: Response
        if request.headers.get("hx-request") == "true":
            # htmx follows HX-Redirect with a full page load: the sign-in page must not be
            # swapped into a fragment of the page that asked, and the page (not the
            # fragment) is where to come back to
            shown = urlsplit(request.headers.get("hx-current-url", ""))
            back = shown.path + (f"?{shown.query}" if shown.query else "")
            location = SignInRequired(back).location
            response = Response(status_code=401, headers={"HX-Redirect": location})
        else:
            response = RedirectResponse(exc.location, status_code=303)
        if exc.clear:
            sessions_of(request).clear_cookie(response, request)
        return response

    async def on_csrf(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CsrfRefused)
        log.warning("refused %s %s: %s", request.method, request.url.path, exc.reason)
        return error_page(request, 403, exc.reason)

    async def on_form(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRefused)
        return error_page(request, exc.status, exc.reason)

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        return error_page(request, exc.status, exc.detail)

    async def on_engine_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RunbookError)
        status, _, _ = classify(exc)
        return error_page(request, status, str(exc))

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return error_page(request, 422, detail or "invalid input")

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = "there is no such page" if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, detail)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_page(request, 500, "the server failed on this request; its log says why")

    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(CsrfRefused, on_csrf)
    app.add_exception_handler(FormRefused, on_form)
    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RunbookError, on_engine_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
