"""The HTTP side of ``runbook serve``: Slack's requests at ``/slack/events``, and ``/healthz``.

Every request to ``/slack/events`` has its signature checked here, before bolt sees it, so a
refusal is logged with its reason (bolt checks again; that is cheap). A signed request whose
content is malformed is refused with 400 and its reason logged (``slack.payloads``), before a
listener could fail on it. A request already handled (Slack's retry of a delivery that did
arrive) is acknowledged without acting again; a retry of one that never arrived does the work
(``deliveries``). Served by the standard library's WSGI server, one thread per request: Slack sends
few, small requests, and TLS belongs to the reverse proxy in front (see docs/slack.md).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.request import BoltRequest

from runbook_engine.server.deliveries import Deliveries
from runbook_engine.slack.payloads import Malformed, read_request
from runbook_engine.slack.verify import refusal

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger("runbook.server.http")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_BODY = 1 << 20  # Slack payloads are a few KiB; anything this big is not Slack

Health = Callable[[], tuple[bool, dict[str, Any]]]


class SlackHttpApp:
    """A WSGI application: routes, signature checks and retry handling around bolt."""

    def __init__(
        self,
        app: App | None,
        signing_secret: str,
        health: Health,
        metrics: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]] | None = None,
    ) -> None:
        self.app = app
        self.signing_secret = signing_secret
        self.health = health
        self.metrics = metrics
        self.deliveries = Deliveries()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            ok, details = self.health()
            return _reply(start_response, 200 if ok else 503, details)
        if path == METRICS_PATH and method == "GET" and self.metrics is not None:
            return self.metrics(environ, start_response)
        if path != EVENTS_PATH:
            return _reply(start_response, 404, {"error": "not found"})
        if self.app is None:
            return _reply(start_response, 404, {"error": "Slack is not configured on this server"})
        if method != "POST":
            return _reply(start_response, 405, {"error": "POST only"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _reply(start_response, 413, {"error": "body too large"})
        body = environ["wsgi.input"].read(length) if length else b""
        headers = _headers(environ)
        why = refusal(self.signing_secret, headers, body)
        if why is not None:
            log.warning(
                "refused a request to %s from %s: %s",
                path,
                environ.get("REMOTE_ADDR", "?"),
                why,
            )
            return _reply(start_response, 401, {"error": "invalid request"})
        try:
            delivery = read_request(body, headers.get("content-type", ""))
        except Malformed as exc:
            log.warning(
                "refused a malformed Slack request from %s: %s",
                environ.get("REMOTE_ADDR", "?"),
                str(exc).replace("\n", " ")[:300],
            )
            return _reply(start_response, 400, {"error": "malformed request"})
        if not self.deliveries.first(delivery.identity):
            log.info(
                "Slack %s %s delivered again (retry %s, %s): acknowledged without acting again",
                delivery.kind,
                delivery.identity,
                headers.get("x-slack-retry-num", "-"),
                headers.get("x-slack-retry-reason", "-"),
            )
            return _reply(start_response, 200, None)
        response = self.app.dispatch(
            BoltRequest(
                body=body.decode("utf-8"),
                query=environ.get("QUERY_STRING", ""),
                headers={k: [v] for k, v in headers.items()},
            )
        )
        if response.status >= 500:
            self.deliveries.forget(delivery.identity)  # not handled: Slack's retry may be
        out = response.body.encode("utf-8") if response.body else b""
        wsgi_headers = [(k, v) for k, values in response.headers.items() for v in values]
        start_response(_status(response.status), wsgi_headers)
        return [out]


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out[key[5:].replace("_", "-").lower()] = str(value)
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = str(environ["CONTENT_TYPE"])
    return out


def _status(code: int) -> str:
    from http import HTTPStatus

    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _reply(start_response: StartResponse, code: int, data: Any) -> list[bytes]:
    if data is None:
        start_response(_status(code), [("Content-Length", "0")])
        return [b""]
    body = json.dumps(data).encode()
    start_response(
        _status(code),
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class _Server(ThreadingMixIn, WSGIServer):
    # wait for requests being answered when closing, so a shutdown never cuts off an ack
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    timeout = 10  # seconds a client may take to send its request: no thread held forever

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class HttpServer:
    """Serve a WSGI application on a thread; ``port=0`` picks a free port."""

    def __init__(self, host: str, port: int, application: SlackHttpApp) -> None:
        self._server = make_server(
            host, port, application, server_class=_Server, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="http"
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; requests being answered finish first."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
