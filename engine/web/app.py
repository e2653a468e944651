"""The console's application: FastAPI, mounted by ``runbook serve`` at ``/``, on the same
``ApiContext`` (engine, executor, authenticator) as the API."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runbook_engine.api.context import ApiContext
from runbook_engine.web import (
    approvals,
    errors,
    me,
    oidc_signin,
    run_actions,
    run_page,
    run_stream,
    runbooks,
    runs,
    signin,
)
from runbook_engine.web.oidc_signin import OidcSignIn
from runbook_engine.web.session import Sessions, load_key
from runbook_engine.web.templates import STATIC

#: scripts and styles from this site only, no inline script, no framing: a value that slipped
#: past autoescape still could not run, nor could the console be framed to trick a click
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)

_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every answer of the console (pure ASGI, so the
    log streams are passed through as they are written)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _HEADERS if n not in present]
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    # pages show who may do what: no shared cache may keep one
                    path = str(scope.get("path", ""))
                    if not path.startswith("/static/"):
                        headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def build_web(context: ApiContext, sessions: Sessions | None = None) -> FastAPI:
    web = FastAPI(title="Runbook Engine console", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.context = context
    web.state.sessions = sessions or Sessions(context.store, load_key(context.store))
    # the IdP's sign-in, when the API trusts an issuer: its ID tokens, its sessions
    verifier = context.authenticator.oidc
    web.state.oidc_signin = None if verifier is None else OidcSignIn.from_env(verifier)
    web.state.sessions.oidc_issuer = None if verifier is None else verifier.settings.issuer
    errors.install(web)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    # each page module's router; add a module's here (one line) when it is written
    web.include_router(signin.router)
    web.include_router(oidc_signin.router)
    web.include_router(me.router)
    web.include_router(runs.router)
    web.include_router(run_stream.router)
    web.include_router(run_actions.router)
    web.include_router(run_page.router)
    web.include_router(runbooks.router)
    web.include_router(approvals.router)
    web.add_middleware(SecurityHeaders)
    return web
