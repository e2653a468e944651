"""The ``/hooks`` application (Starlette), mounted by the server's ASGI app.

    POST /hooks/alertmanager     Alertmanager's webhook (v4); a ``trigger`` bearer token
    POST /hooks/webhook/NAME     the generic webhook; a token and X-Runbook-Signature
    POST /hooks/pagerduty        PagerDuty v3 webhooks; X-PagerDuty-Signature
    POST /hooks/sns              Amazon SNS; the message's own signature

Every request is authenticated before its body is parsed; then its alerts are dispatched on
the thread pool (the store is synchronous) and the answer lists what each one did. The
answer comes as soon as the runs are recorded: runs are driven in the background, and those
over a runbook's ``max_concurrent`` wait in ``queue``."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runbook_engine.api.problems import problem_response
from runbook_engine.auth.authenticate import Authenticator
from runbook_engine.auth.principal import Principal
from runbook_engine.errors import RunbookError
from runbook_engine.hooks import pagerduty_signature, webhook_signature
from runbook_engine.hooks.dispatch import Dispatcher, Outcome
from runbook_engine.hooks.driver import Driver
from runbook_engine.hooks.gate import Gate, hook_principal
from runbook_engine.hooks.queue import TriggerQueue
from runbook_engine.hooks.refusal import Refused, refusal_response
from runbook_engine.hooks.sns_confirm import SnsEndpoint
from runbook_engine.triggers.alert import Alert, PayloadError
from runbook_engine.triggers.parse import MAX_BODY, decode, parse_payload

log = logging.getLogger("runbook.hooks")

HOOKS_PATH = "/hooks"
#: a generic webhook's NAME, as a trigger's ``webhook.name`` may be
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

Handler = Callable[[Request], Awaitable[Response]]


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused past ``limit`` bytes without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def address_of(request: Request) -> str:
    return request.client.host if request.client else "?"


def answer(alerts: list[Alert], outcomes: list[Outcome]) -> JSONResponse:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    return JSONResponse(
        {
            "alerts": len(alerts),
            "firing": sum(a.status == "firing" for a in alerts),
            "counts": counts,
            "results": [o.as_dict() for o in outcomes],
        }
    )


class Hooks:
    """The endpoints, their queue of triggered runs, and what they share."""

    def __init__(self, executor: Driver, authenticator: Authenticator) -> None:
        self.engine = executor.engine
        self.queue = TriggerQueue(executor)
        self.dispatcher = Dispatcher(self.engine, executor, self.queue)
        self.gate = Gate(authenticator)
        self.sns = SnsEndpoint()
        self.app = Starlette(
            routes=[
                Route("/alertmanager", self._guarded(self._alertmanager), methods=["POST"]),
                Route("/webhook/{name}", self._guarded(self._webhook), methods=["POST"]),
                Route("/pagerduty", self._guarded(self._pagerduty), methods=["POST"]),
                Route("/sns", self._guarded(self._sns), methods=["POST"]),
            ]
        )

    def start(self) -> None:
        self.queue.start()

    def stop(self) -> None:
        self.queue.stop()

    # ------------------------------------------------------------------ every request

    def _guarded(self, handle: Handler) -> Handler:
        """Refusals and bad bodies as problems; a refusal is counted and logged."""

        async def guarded(request: Request) -> Response:
            path = request.url.path
            address = address_of(request)
            try:
                self.gate.admit(address)
                return await handle(request)
            except Refused as exc:
                self.gate.failed(address, path, exc)
                return refusal_response(exc, path)
            except TooLarge:
                detail = f"the request body is over {MAX_BODY} bytes"
                return problem_response(413, "too-large", detail, instance=path)
            except PayloadError as exc:
                log.warning("refused a notification to %s from %s: %s", path, address, exc)
                return problem_response(400, "bad-payload", str(exc)[:1000], instance=path)
            except RunbookError as exc:
                # nothing, or only some runs, recorded: the sender's retry (Alertmanager and
                # PagerDuty retry a 5xx) records the rest, and the recorded ones start nothing
                log.error("cannot act on a notification to %s from %s: %s", path, address, exc)
                detail = "the run store cannot be used now; send the notification again"
                return problem_response(503, "unavailable", detail, instance=path)

        return guarded

    async def _bearer(self, request: Request) -> Principal:
        auth = request.headers.get("authorization")
        return await run_in_threadpool(self.gate.bearer, auth, address_of(request))

    async def _dispatch(
        self, source: str, body: bytes | Any, principal: Principal, hook: str = ""
    ) -> Response:
        alerts = parse_payload(source, body, hook=hook)
        outcomes = await run_in_threadpool(self.dispatcher.dispatch, alerts, principal)
        return answer(alerts, outcomes)

    # ------------------------------------------------------------------ the sources

    async def _alertmanager(self, request: Request) -> Response:
        principal = await self._bearer(request)
        body = await read_body(request)
        return await self._dispatch("alertmanager", body, principal)

    async def _webhook(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if not _NAME.fullmatch(name):
            return problem_response(404, "not-found", "no such webhook", instance=request.url.path)
        principal = await self._bearer(request)
        body = await read_body(request)
        secret = webhook_signature.webhook_secret(name)
        if secret is None:
            raise Refused(f"{webhook_signature.secret_env(name)} is not set")
        header = request.headers.get(webhook_signature.HEADER)
        webhook_signature.verify(secret, header, body, time.time())
        return await self._dispatch("webhook", body, principal, hook=name)

    async def _pagerduty(self, request: Request) -> Response:
        body = await read_body(request)
        secret = pagerduty_signature.pagerduty_secret()
        if secret is None:
            raise Refused(f"{pagerduty_signature.SECRET_ENV} is not set")
        pagerduty_signature.verify(secret, request.headers.get(pagerduty_signature.HEADER), body)
        return await self._dispatch(
            "pagerduty", body, hook_principal("pagerduty", address_of(request))
        )

    async def _sns(self, request: Request) -> Response:
        body = await read_body(request)
        try:
            message = decode("sns", body)
        except PayloadError:
            raise Refused("not an SNS message (not JSON)") from None  # so: not signed
        await run_in_threadpool(self.sns.verify, message)
        confirmed = await run_in_threadpool(self.sns.confirmation, message)
        if confirmed is not None:
            return JSONResponse(confirmed)
        return await self._dispatch("sns", message, hook_principal("sns", address_of(request)))
