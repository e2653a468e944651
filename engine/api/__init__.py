"""The HTTP API under ``/api/v1/``: runbooks, runs, schedules, the compliance report and API
tokens, for the CLI in client mode, the web console and scripts.

Every request is authenticated (``auth.authenticate``), every action asked of the one policy
function (``auth.policy``), every mutation written to the audit trail. Errors are problem
details (RFC 9457); lists are paged with an opaque cursor. ``build_api`` makes the application;
``runbook serve`` mounts it beside Slack's endpoints (``server.http``).
"""

from runbook_engine.api.app import API_PREFIX, build_api
from runbook_engine.api.context import ApiContext

__all__ = ["API_PREFIX", "ApiContext", "build_api"]
