"""Socket Mode requests get what HTTP requests get before bolt sees them.

Over HTTP (``server.http``) a signed request whose content is malformed is refused with its
reason logged, and a delivery already handled is acknowledged without acting again. Envelopes
arriving over Socket Mode went straight to bolt; here they pass the same checks
(``slack.payloads``) and the same memory of identities (``server.deliveries``) first. A
malformed envelope is logged in one line and acknowledged: left unacknowledged, Slack would
only deliver the same unusable envelope again.
"""

from __future__ import annotations

import logging
import time

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from runbook_engine.server.deliveries import Deliveries
from runbook_engine.slack.payloads import Malformed, read_envelope

__all__ = ["GuardedSocketModeHandler"]

log = logging.getLogger("runbook.server.socket_mode")


class GuardedSocketModeHandler(SocketModeHandler):
    """bolt's Socket Mode adapter with the payload check and de-duplication of HTTP."""

    def __init__(self, app: App, app_token: str, deliveries: Deliveries | None = None) -> None:
        # The parent registers ``self.handle`` as the client's request listener: this class's.
        super().__init__(app, app_token)
        self.deliveries = deliveries or Deliveries()

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        try:
            delivery = read_envelope(req.type, req.envelope_id, req.payload)
        except Malformed as exc:
            log.warning(
                "dropped a malformed Slack Socket Mode envelope %s: %s",
                req.envelope_id,
                str(exc).replace("\n", " ")[:300],
            )
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        if not self.deliveries.first(delivery.identity):
            log.info(
                "Slack %s %s delivered again over Socket Mode (retry %s, %s): acknowledged "
                "without acting again",
                delivery.kind,
                delivery.identity,
                req.retry_attempt if req.retry_attempt is not None else "-",
                req.retry_reason or "-",
            )
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        response = run_bolt_app(self.app, req)
        if response.status >= 500:
            self.deliveries.forget(delivery.identity)  # not handled: a redelivery may be
        send_response(client, req, response, started)
