"""``/signin`` and ``/signout``: an API token pasted into a form starts a session (or, when an
IdP is configured, its button starts ``web.oidc_signin``); signing out ends it (the token
itself stays valid: revoke it with ``runbook token revoke``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from runbook_engine.auth.authenticate import AuthError
from runbook_engine.web.csrf import PRESESSION_COOKIE, CheckedForm
from runbook_engine.web.oidc_signin import signin_context
from runbook_engine.web.session import SIGNIN_PATH, current_user, safe_next, sessions_of
from runbook_engine.web.templates import flash, render

router = APIRouter()


@router.get(SIGNIN_PATH)
def signin_page(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return render(request, "signin.html", **signin_context(request, next_path))


@router.post(SIGNIN_PATH)
async def signin(request: Request, form: CheckedForm) -> Response:
    token = str(form.get("token") or "")
    next_path = safe_next(str(form.get("next") or "/"))
    sessions = sessions_of(request)
    try:
        # the token's row is read and written (last use): off the event loop
        principal, session = await run_in_threadpool(sessions.begin, request, token)
    except AuthError as exc:
        refused = exc
    else:
        response = RedirectResponse(next_path, status_code=303)
        sessions.set_cookie(response, request, session)
        response.delete_cookie(PRESESSION_COOKIE, path="/")
        flash(response, request, f"Signed in as {principal.name}.")
        return response
    retry = refused.retry_after
    return await run_in_threadpool(
        render,
        request,
        "signin.html",
        status_code=refused.status,
        headers={"Retry-After": str(retry)} if retry is not None else {},
        **signin_context(request, next_path),
        error=f"Not signed in: {refused.reason}.",
    )


@router.post("/signout")
def signout(request: Request, form: CheckedForm) -> Response:
    response = RedirectResponse(SIGNIN_PATH, status_code=303)
    sessions_of(request).clear_cookie(response, request)
    flash(response, request, "Signed out.")
    return response


__all__ = ["router", "safe_next"]
