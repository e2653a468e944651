"""``/me``: who the console takes you for, as the policy sees you: your name, how you proved
it (``token:<id>`` or ``oidc:<sub>``), your groups and role ceiling, and when the session ends."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from runbook_engine.web.session import SignedIn, current_session
from runbook_engine.web.templates import render

router = APIRouter()


@router.get("/me")
def me_page(request: Request, user: SignedIn) -> Response:
    session = current_session(request)
    ends = None if session is None else datetime.fromtimestamp(session.expires, UTC)
    return render(
        request,
        "me.html",
        groups=sorted(user.groups),
        roles=None if user.roles is None else sorted(user.roles),
        ends=ends,
    )
