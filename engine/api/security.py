"""Who is asking, and may they: the dependencies every route takes.

``Caller`` authenticates the request (``Authorization: Bearer``: an API token or an OIDC JWT)
into a ``Principal`` whose ``source`` is the client's address. ``permit`` asks the one policy
function and answers 403 with its reason; refusals of mutations are audited by the engine
(which asks the same function), refusals of reads are logged.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from runbook_engine.api.context import context_of
from runbook_engine.api.problems import ApiProblem
from runbook_engine.auth.audit import REFUSED, Attempt
from runbook_engine.auth.authenticate import AuthError
from runbook_engine.auth.policy import Action, allowed
from runbook_engine.auth.principal import Principal
from runbook_engine.spec.models import Runbook

log = logging.getLogger("runbook.api")

# documents the scheme in the OpenAPI document; the header itself is read by the
# authenticator, which gives the reason for a refusal (HTTPBearer's own would not)
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`runbook token create`) or an OIDC JWT from the company IdP.",
)


_READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the principal named in the audit trail for a request that proved no identity
UNAUTHENTICATED = "(unauthenticated)"


def source_of(request: Request) -> str:
    client = request.client
    return client.host if client is not None else ""


async def authenticated(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    ctx = context_of(request)
    source = source_of(request)
    try:
        # a token lookup reads the store, and an OIDC key fetch may go to the network: off
        # the loop
        return await run_in_threadpool(
            ctx.authenticator.authenticate, request.headers.get("authorization"), source
        )
    except AuthError as exc:
        if request.method not in _READS:
            # a mutation refused for want of identity is audited too (the authenticator has
            # logged it and counted it against the address)
            nobody = Principal(UNAUTHENTICATED, via="none", source=source)
            attempt = Attempt(
                f"{request.method} {request.url.path}",
                request.url.path,
                UNAUTHENTICATED,
                REFUSED,
                {"reason": exc.reason, "status": exc.status},
            )
            await run_in_threadpool(ctx.trail.record, nobody, attempt)
        raise


#: the authenticated principal of a request
Caller = Annotated[Principal, Depends(authenticated)]


def permit(
    request: Request, principal: Principal, action: Action, runbook: Runbook | None = None
) -> None:
    """403 unless the policy lets ``principal`` do ``action`` (``view``, ``admin``)."""
    ctx = context_of(request)
    decision = allowed(principal, action, runbook, directory=ctx.engine.directory)
    if not decision.allowed:
        log.info(
            "refused %s %s to %s: %s",
            request.method,
            request.url.path,
            principal.name,
            decision.reason,
        )
        raise ApiProblem(403, "forbidden", decision.reason)


def may(request: Request, principal: Principal, action: Action, runbook: Runbook) -> bool:
    ctx = context_of(request)
    return allowed(principal, action, runbook, directory=ctx.engine.directory).allowed


def is_admin(request: Request, principal: Principal) -> bool:
    ctx = context_of(request)
    return allowed(principal, "admin", directory=ctx.engine.directory).allowed
