"""The HTTP side of ``runbook serve``: one ASGI application under uvicorn.

* ``/api/v1/``: the API (``runbook_engine.api``), with its OpenAPI document;
* ``/slack/events``: Slack's requests, through slack-bolt's Starlette adapter;
* ``/hooks/``: alert senders' notifications (``runbook_engine.hooks``);
* ``/healthz`` and ``/metrics``;
* every other path: the web console (``runbook_engine.web``), at ``/``.

Every request to ``/slack/events`` has its signature checked here, before bolt sees it, so a
refusal is logged with its reason (bolt checks again; that is cheap). A signed request whose
content is malformed is refused with 400 and its reason logged (``slack.payloads``), before a
listener could fail on it. A request already handled (Slack's retry of a delivery that did
arrive) is acknowledged without acting again; a retry of one that never arrived does the work
(``deliveries``). Bolt's listeners are synchronous, so dispatch runs on the thread pool, never
on the event loop. TLS belongs to the reverse proxy in front (see docs/api.md).

Limits: request bodies (``MAX_BODY``), the time until a response starts (``Deadline``), open
connections (uvicorn's ``limit_concurrency``) and idle keep-alive connections.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import make_asgi_app
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runbook_engine.api.app import API_PREFIX
from runbook_engine.api.problems import problem_response
from runbook_engine.hooks import HOOKS_PATH
from runbook_engine.metrics import Metrics
from runbook_engine.server.deliveries import Deliveries
from runbook_engine.slack.payloads import Malformed, read_request
from runbook_engine.slack.verify import refusal

log = logging.getLogger("runbook.server.http")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_BODY = 1 << 20  # Slack payloads are a few KiB, API requests too; anything bigger is not
#: seconds a request may take until its response starts (a stream then goes on as it likes)
REQUEST_TIMEOUT = 30.0
#: connections served at once; more are answered 503 at once instead of queueing unbounded
MAX_CONNECTIONS = 1000

Health = Callable[[], tuple[bool, dict[str, Any]]]


class Deadline:
    """ASGI middleware: a request whose response has not started after ``seconds`` is answered
    504. A slow client (a body sent a byte a minute) cannot hold a worker forever, nor can a
    request stuck behind a store that stopped answering. What a synchronous route was doing
    on its thread may still finish: the answer says so."""

    def __init__(self, app: ASGIApp, seconds: float = REQUEST_TIMEOUT) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, sending))
        try:
            await asyncio.wait_for(asyncio.shield(task), self.seconds)
            return
        except TimeoutError:
            if started.is_set():
                await task  # a stream, or a response being sent: not ours to cut
                return
        task.cancel()
        log.warning(
            "%s %s took longer than %gs; answered 504",
            scope.get("method"),
            scope.get("path"),
            self.seconds,
        )
        response = problem_response(
            504,
            "timeout",
            f"no answer within {self.seconds:g}s; what was asked may still be done: "
            "look before asking again",
        )
        await response(scope, receive, send)


class ApiBodyLimit:
    """ASGI middleware: an API request whose ``Content-Length`` is over ``MAX_BODY`` is answered
    413 as a problem. Starlette's own limit answers such a request in plain text, replacing
    whatever the API would have said; a body without a declared length that grows too large
    reaches the API's handlers, which answer it as a problem themselves."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            declared = dict(scope.get("headers") or []).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_body:
                response = problem_response(
                    413,
                    "too-large",
                    f"the request body is over {self.max_body} bytes",
                    instance=path,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SlackEndpoint:
    """``POST /slack/events``: checks, de-duplication, then bolt."""

    def __init__(self, app: App | None, signing_secret: str) -> None:
        self.app = app
        self.signing_secret = signing_secret
        self.deliveries = Deliveries()

    async def handle(self, request: Request) -> Response:
        if self.app is None:
            return JSONResponse({"error": "Slack is not configured on this server"}, 404)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        source = request.client.host if request.client else "?"
        why = refusal(self.signing_secret, headers, body)
        if why is not None:
            log.warning("refused a request to %s from %s: %s", EVENTS_PATH, source, why)
            return JSONResponse({"error": "invalid request"}, 401)
        try:
            delivery = read_request(body, headers.get("content-type", ""))
        except Malformed as exc:
            log.warning(
                "refused a malformed Slack request from %s: %s",
                source,
                str(exc).replace("\n", " ")[:300],
            )
            return JSONResponse({"error": "malformed request"}, 400)
        if not self.deliveries.first(delivery.identity):
            log.info(
                "Slack %s %s delivered again (retry %s, %s): acknowledged without acting again",
                delivery.kind,
                delivery.identity,
                headers.get("x-slack-retry-num", "-"),
                headers.get("x-slack-retry-reason", "-"),
            )
            return Response(status_code=200)
        bolt_request = to_bolt_request(request, body)
        response = await run_in_threadpool(self.app.dispatch, bolt_request)
        if response.status >= 500:
            self.deliveries.forget(delivery.identity)  # not handled: Slack's retry may be
        return to_starlette_response(response)


def build_asgi(
    api: FastAPI,
    slack: SlackEndpoint,
    health: Health,
    metrics: Metrics,
    *,
    request_timeout: float = REQUEST_TIMEOUT,
    hooks: ASGIApp | None = None,
    web: ASGIApp | None = None,
) -> Starlette:
    async def healthz(request: Request) -> Response:
        ok, details = health()
        return JSONResponse(details, 200 if ok else 503)

    app = Starlette(
        routes=[
            Route(HEALTH_PATH, healthz, methods=["GET", "HEAD"]),
            Mount(METRICS_PATH, app=make_asgi_app(metrics.registry)),
            Route(EVENTS_PATH, slack.handle, methods=["POST"], max_body_size=MAX_BODY),
            # the API limits its bodies itself (``api.app.MAX_BODY``); an app-wide limit here
            # would answer the API's 413s in plain text, not as problems
            Mount(API_PREFIX, app=api),
            # the hooks limit their bodies themselves, answering 413 as a problem
            *([Mount(HOOKS_PATH, app=hooks)] if hooks is not None else []),
        ],
        middleware=[
            Middleware(ApiBodyLimit, max_body=MAX_BODY),
            Middleware(Deadline, seconds=request_timeout),
        ],
    )
    if web is not None:
        # the console answers every path the routes above do not: the router's default, so
        # it shadows none of them, not even their redirects (/metrics to /metrics/)
        app.router.default = web
    return app


class HttpServer:
    """uvicorn on a thread, on a socket bound at construction (so a port in use fails the
    start, and ``port=0`` picks a free one)."""

    def __init__(self, host: str, port: int, application: ASGIApp) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections of a socket that
        # says it is TCP; without it each answer's body waits for the client's delayed ACK
        # (about 40 ms on Linux) behind its headers
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self._socket.listen(2048)
        config = uvicorn.Config(
            application,
            log_config=None,  # the process's logging, as configured by the CLI
            access_log=False,
            lifespan="off",
            timeout_keep_alive=15,
            limit_concurrency=MAX_CONNECTIONS,
            timeout_graceful_shutdown=10,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        # answer once uvicorn has started, so a client told the address can connect at once
        for _ in range(500):
            if self._server.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.01)

    def stop(self) -> None:
        """Stop accepting; requests being answered finish first (up to 10 s)."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        self._socket.close()
