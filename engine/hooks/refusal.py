"""A hook request refused before anything was started: who sent it could not be proved.

Every refusal is a 401 problem whose detail is the same few words for every reason (a sender
that guesses learns nothing); the reason itself is logged and counted against the sending
address by the API's failed-authentication limiter, so guessing a secret is as slow as
guessing a token."""

from __future__ import annotations

import logging

from starlette.responses import Response

from runbook_engine.api.problems import problem_response
from runbook_engine.auth.ratelimit import FailureLimiter
from runbook_engine.errors import RunbookError

log = logging.getLogger("runbook.hooks")


class Refused(RunbookError):
    """The request's credentials are missing or wrong; ``reason`` never quotes them."""

    def __init__(
        self,
        reason: str,
        status: int = 401,
        retry_after: int | None = None,
        *,
        counted: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        #: logged and counted already (by the authenticator)
        self.counted = counted


def count(limiter: FailureLimiter, source: str, path: str, refused: Refused) -> None:
    """A 401 is a failed authentication of ``source`` (logged by the limiter); the others
    (429, 403) are logged here."""
    if refused.counted or refused.status in (429, 503):
        return
    if refused.status == 401:
        limiter.failed(source, f"{path}: {refused.reason}")
    else:
        log.warning("refused a request to %s from %s: %s", path, source, refused.reason)


def refusal_response(refused: Refused, path: str) -> Response:
    if refused.status == 429:
        response = problem_response(
            429, "too-many-failures", "too many failed authentications", instance=path
        )
        if refused.retry_after is not None:
            response.headers["Retry-After"] = str(refused.retry_after)
        return response
    if refused.status == 403:
        return problem_response(403, "forbidden", refused.reason, instance=path)
    if refused.status == 503:
        return problem_response(503, "unavailable", refused.reason, instance=path)
    response = problem_response(401, "unauthenticated", "not authenticated", instance=path)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response
