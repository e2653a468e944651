"""Cross-site request forgery: every ``POST`` form carries a token only this site's pages know.

A signed-in session has its own token (made at sign-in, kept in the signed session cookie).
A visitor who is not signed in yet (the sign-in form) gets one in a signed cookie of its own,
so the sign-in form cannot be posted from another site either (login CSRF: signing a victim
in as the attacker). ``SameSite=Lax`` cookies already keep most cross-site posts out; the
token also covers older browsers and same-site pages on other subdomains.

Forms are read here too: ``application/x-www-form-urlencoded`` only (the console's forms
upload no files), and at most ``MAX_FORM`` bytes.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from itsdangerous import BadSignature
from markupsafe import Markup, escape
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from runbook_engine.web.session import current_session, is_https, sessions_of

CSRF_FIELD = "csrf_token"
#: the signed-out visitor's token, for the sign-in form
PRESESSION_COOKIE = "runbook_csrf"
MAX_FORM = 64 * 1024
MAX_FIELDS = 1000


class CsrfRefused(Exception):
    """A POST without the right token: answered 403 by the app."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FormRefused(Exception):
    """A POST body that is not a small urlencoded form: answered by the app with ``status``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _presession_token(request: Request) -> str | None:
    cookie = request.cookies.get(PRESESSION_COOKIE)
    if not cookie:
        return None
    try:
        value = sessions_of(request).signer.loads(cookie)
    except BadSignature:
        return None
    return value if isinstance(value, str) and value else None


def csrf_token(request: Request) -> str:
    """The token this request's forms must carry: the session's, or the signed-out
    visitor's (a new one is made when there is none; ``remember_presession`` sets its
    cookie on the response)."""
    session = current_session(request)
    if session is not None:
        return session.csrf
    found = getattr(request.state, "web_presession", None)
    if isinstance(found, str):
        return found
    token = _presession_token(request)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.web_presession_new = True
    request.state.web_presession = token
    return token


def csrf_field(request: Request) -> Markup:
    """The hidden input a form carries its token in."""
    value = escape(csrf_token(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{value}">')


def remember_presession(request: Request, response: Response) -> None:
    """Set the signed-out visitor's token cookie if this request made a new one."""
    if not getattr(request.state, "web_presession_new", False):
        return
    token = request.state.web_presession
    response.set_cookie(
        PRESESSION_COOKIE,
        sessions_of(request).signer.dumps(token),
        max_age=3600 * 12,
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


async def read_form(request: Request) -> FormData:
    """The request's urlencoded body, or ``FormRefused``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused(415, "expected a form (application/x-www-form-urlencoded)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM:
        raise FormRefused(413, f"the form is over {MAX_FORM} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormRefused(413, f"the form is over {MAX_FORM} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormRefused(400, "the form is not UTF-8") from None
    try:
        fields = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise FormRefused(413, f"the form has over {MAX_FIELDS} fields") from None
    return FormData(list[tuple[str, str | UploadFile]](fields))


def check(request: Request, form: FormData) -> None:
    """``CsrfRefused`` unless the form's token is this session's (or visitor's)."""
    session = current_session(request)
    expected = session.csrf if session is not None else _presession_token(request)
    given = form.get(CSRF_FIELD)
    if not expected:
        raise CsrfRefused("the page's session has ended: reload it and try again")
    if not isinstance(given, str) or not given:
        raise CsrfRefused("the form carried no CSRF token")
    # constant time: how much of a guessed token matched must not show in the answer's timing
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused("the form's CSRF token is not this session's: reload the page")


async def checked_form(request: Request) -> FormData:
    """The dependency of every POST route: the form, once its CSRF token is checked."""
    form = await read_form(request)
    check(request, form)
    return form


#: the POSTed form of a route, its CSRF token checked
CheckedForm = Annotated[FormData, Depends(checked_form)]
