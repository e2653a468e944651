"""The API application: FastAPI, mounted by ``runbook serve`` at ``/api/v1``."""

from __future__ import annotations

from fastapi import FastAPI

from runbook_engine.api import audit, runbooks, runs, schedules, streams, tokens
from runbook_engine.api.context import ApiContext
from runbook_engine.api.problems import install

API_PREFIX = "/api/v1"

#: bytes a request body may have: runbook parameters and reasons are small
MAX_BODY = 1 << 20

_DESCRIPTION = """\
Runbook Engine's API: start runbooks, follow runs live, approve, reject, cancel and resume
them, read schedules and the compliance report, manage API tokens.

Every request needs `Authorization: Bearer <token>`: an API token (`runbook token create`) or
an OIDC JWT from the configured identity provider. Errors are problem details (RFC 9457,
`application/problem+json`). Lists are paged: pass a page's `next` back as `cursor`.
"""


def build_api(context: ApiContext) -> FastAPI:
    api = FastAPI(
        title="Runbook Engine API",
        version="1",
        description=_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        max_body_size=MAX_BODY,
    )
    api.state.context = context
    install(api)
    api.include_router(runbooks.router)
    # the stream's route comes before the runs' own: /runs/{id}/logs is not a run id
    api.include_router(streams.router)
    api.include_router(runs.router)
    api.include_router(schedules.router)
    api.include_router(tokens.router)
    api.include_router(audit.router)
    return api
