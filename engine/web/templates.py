"""Rendering pages: one Jinja2 environment (autoescape on), and ``render``, which gives every
template the signed-in user, the CSRF token and the policy's ``may``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import Response

from runbook_engine.api.context import context_of
from runbook_engine.auth.policy import Action, allowed
from runbook_engine.core.state import RunState
from runbook_engine.spec.models import Runbook
from runbook_engine.web import formatting
from runbook_engine.web.csrf import csrf_field, csrf_token, remember_presession
from runbook_engine.web.session import current_user, is_https, sessions_of

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
FLASH_COOKIE = "runbook_flash"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    # a misspelt name fails the page (and its test) instead of rendering as nothing
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(formatting.FILTERS)


@cache
def _fingerprint(name: str) -> str:
    """A short digest of a static file: its URL changes when it does, so browsers may cache
    it for long without ever running a stale script after an upgrade."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    return f"/static/{name}?v={_fingerprint(name)}"


environment.globals["static_url"] = static_url


def _policy(request: Request) -> Callable[..., bool]:
    def may(
        action: Action,
        runbook: Runbook,
        state: RunState | None = None,
        requester: str | None = None,
    ) -> bool:
        """The policy's answer for the signed-in user; ``False`` for a visitor."""
        user = current_user(request)
        if user is None:
            return False
        if action in ("approve", "reject") and (state is None or requester is None):
            return False
        decision = allowed(
            user,
            action,
            runbook,
            directory=context_of(request).engine.directory,
            state=state,
            requester=requester,
        )
        return decision.allowed

    return may


def flash(response: Response, request: Request, text: str) -> None:
    """Show ``text`` once, on the next page this browser is shown (after a redirect)."""
    response.set_cookie(
        FLASH_COOKIE,
        sessions_of(request).signer.dumps(text[:500]),
        max_age=60,
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


def _flashed(request: Request) -> str | None:
    cookie = request.cookies.get(FLASH_COOKIE)
    if not cookie:
        return None
    try:
        text = sessions_of(request).signer.loads(cookie, max_age=60)
    except BadSignature:
        return None
    return text if isinstance(text, str) else None


def render_text(request: Request, name: str, /, **context: Any) -> str:
    """The template rendered, with the context every template gets."""
    base: dict[str, Any] = {
        "request": request,
        "user": current_user(request),
        "csrf_token": csrf_token(request),
        "csrf_field": lambda: csrf_field(request),
        "may": _policy(request),
        "error": None,
        "notice": None,
        "path": request.url.path,
    }
    base.update(context)
    return environment.get_template(name).render(base)


def render(
    request: Request,
    name: str,
    /,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Answer ``name`` rendered: every template sees ``user``, ``csrf_token``,
    ``csrf_field()`` and ``may(action, runbook, state=None, requester=None)``, and ``notice``
    (a message flashed by the previous request) unless the context gives its own."""
    flashed = _flashed(request)
    if flashed is not None and context.get("notice") is None:
        context["notice"] = flashed
    html = render_text(request, name, **context)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    if flashed is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    remember_presession(request, response)
    return response


__all__ = ["Markup", "environment", "flash", "render", "render_text", "static_url"]
