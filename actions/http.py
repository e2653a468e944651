"""``http.request``: call an HTTP API (health checks, feature flags, load balancer admin).

Standard library only (``urllib.request``). The request runs in a helper thread while the
calling thread watches ``ctx.cancelled``, so a cancel or a step timeout returns at once even
when the server is hanging; urllib cannot be interrupted mid-read, so the helper finishes on
its own within the socket timeout and its result is discarded.

The class is not marked ``idempotent``: a GET usually is, but a POST usually is not, and
idempotency is declared per action, not per call. Runbooks that repeat GETs lose nothing.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from runbook_engine.actions._common import (
    REDACTED,
    PositiveSeconds,
    redact,
    redact_value,
    stop_error,
)
from runbook_engine.errors import ActionError, ActionTimeout
from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result

__all__ = ["MAX_BODY", "HttpRequestAction", "HttpRequestParams", "HttpStatusError"]

#: at most this many bytes of a response body are read; the rest is cut off (and noted)
MAX_BODY = 1024 * 1024
_POLL = 0.05
_USER_AGENT = "runbook-engine"
#: header and query parameter names whose values are never shown in logs or plans
_SENSITIVE_NAME = re.compile(
    r"auth|token|secret|password|passwd|api[-_]?key|cookie|session|credential|signature",
    re.IGNORECASE,
)
#: statuses that mean "try again later" rather than "this request is wrong"
_RETRYABLE_4XX = frozenset({408, 425, 429})
#: how much of an unexpected response's body goes into the error message
_ERROR_BODY_CHARS = 300


class HttpStatusError(ActionError):
    """The server answered with a status outside ``expect_status``."""

    kind = "http"

    def __init__(self, message: str, *, status: int, body: str, **kw: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(message, **kw)


#: methods that only read (RFC 9110 safe methods)
_READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class HttpRequestParams(ActionParams):
    """Parameters of ``http.request``. ``json`` and ``data`` are mutually exclusive."""

    # ``json`` would shadow a BaseModel method, so the field has another Python name.
    model_config = ConfigDict(populate_by_name=True)

    method: str = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    #: a JSON-serialisable body, sent with ``Content-Type: application/json``
    json_body: Any = Field(default=None, alias="json")
    #: a raw text body, sent as UTF-8
    data: str | None = None
    #: statuses that count as success; default any 2xx
    expect_status: list[int] = Field(default_factory=lambda: list(range(200, 300)), min_length=1)
    #: seconds (or a duration string) for the whole request; the step's deadline applies too
    timeout: PositiveSeconds = 30.0

    @field_validator("method")
    @classmethod
    def _method_token(cls, value: str) -> str:
        method = value.strip().upper()
        if not re.fullmatch(r"[A-Z]+", method):
            raise ValueError(f"invalid HTTP method {value!r}")
        return method

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be an absolute http:// or https:// URL, got {value!r}")
        return value

    @field_validator("expect_status")
    @classmethod
    def _status_range(cls, value: list[int]) -> list[int]:
        bad = [status for status in value if not 100 <= status <= 599]
        if bad:
            raise ValueError(f"not HTTP statuses: {bad}")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestParams:
        if "json_body" in self.model_fields_set and self.data is not None:
            raise ValueError("give either json or data, not both")
        return self


@dataclass
class _Response:
    status: int
    reason: str
    headers: Message
    body: bytes
    truncated: bool


class HttpRequestAction(Action):
    """Send one HTTP request and return ``{"status", "headers", "body", "json"}``.

    ``headers`` has lower-case names; ``body`` is text (at most ``MAX_BODY`` bytes, with a note
    when cut); ``json`` is the parsed body when the response is JSON, else None. A status
    outside ``expect_status`` raises ``HttpStatusError``: retryable for 5xx, 408, 425 and 429,
    not for other statuses. Connection errors are retryable (``kind="unreachable"``).
    """

    name = "http.request"
    Params = HttpRequestParams
    idempotent = False
    description = "Send an HTTP request and check its status."

    @classmethod
    def mutates(cls, given: Mapping[str, Any]) -> bool:
        """A literal GET, HEAD or OPTIONS only reads."""
        method = given.get("method", "GET")
        return not (isinstance(method, str) and method.strip().upper() in _READING_METHODS)

    def describe(self, params: HttpRequestParams) -> str:
        """Method and URL, plus headers with sensitive values masked."""
        shown = f"{self.name} {params.method} {_safe_url(params.url)}"
        if params.headers:
            shown += " " + ", ".join(f"{k}: {v}" for k, v in _safe_headers(params.headers).items())
        return shown

    def run(self, params: HttpRequestParams, ctx: ActionContext) -> Result:
        """Send the request; see the class docstring for the result and errors."""
        started = time.monotonic()
        limit = params.timeout if ctx.deadline is None else min(params.timeout, ctx.deadline)
        host = urllib.parse.urlsplit(params.url).hostname
        request = _build_request(params)
        shown_url = redact(_safe_url(params.url), ctx.secrets)
        ctx.log(f"{params.method} {shown_url}")

        outcome: dict[str, Any] = {}
        done = threading.Event()

        def fetch() -> None:
            try:
                outcome["response"] = _fetch(request, max(limit, 0.001))
            except Exception as exc:  # handed to the calling thread, which classifies it
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=fetch, name=f"http.request {ctx.step_id}", daemon=True).start()
        while not done.wait(_POLL):
            if ctx.cancelled.is_set():
                raise stop_error(ctx, started, f"{params.method} {shown_url}")
            # urllib's timeout is per socket operation; this bounds the request as a whole.
            if time.monotonic() - started > limit:
                raise ActionTimeout(
                    f"{params.method} {shown_url} timed out after {limit:g}s", host=host
                )

        if "error" in outcome:
            raise _classify(outcome["error"], params, shown_url, host)
        response: _Response = outcome["response"]
        elapsed_ms = (time.monotonic() - started) * 1000
        ctx.log(
            f"-> {response.status} {response.reason} ({elapsed_ms:.0f} ms, "
            f"{len(response.body)} bytes{', truncated' if response.truncated else ''})"
        )
        return _result(response, params, ctx, shown_url, host)


def _build_request(params: HttpRequestParams) -> urllib.request.Request:
    headers = dict(params.headers)
    present = {name.lower() for name in headers}
    url = params.url
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None:
        # urllib does not understand credentials in the URL (it would try to resolve
        # "user:pass@host"); send them as Basic auth, as curl and browsers do.
        if "authorization" not in present:
            userinfo = urllib.parse.unquote(parts.username)
            userinfo += ":" + urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(userinfo.encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        netloc = parts.netloc.rpartition("@")[2]
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    body: bytes | None = None
    if "json_body" in params.model_fields_set:
        body = json.dumps(params.json_body).encode()
        if "content-type" not in present:
            headers["Content-Type"] = "application/json"
    elif params.data is not None:
        body = params.data.encode()
    if "user-agent" not in present:
        headers["User-Agent"] = _USER_AGENT
    return urllib.request.Request(url, data=body, headers=headers, method=params.method)


def _fetch(request: urllib.request.Request, timeout: float) -> _Response:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BODY + 1)
            return _Response(
                response.status,
                response.reason,
                response.headers,
                body[:MAX_BODY],
                len(body) > MAX_BODY,
            )
    except urllib.error.HTTPError as error:
        # urllib raises for every non-2xx status, but the runbook may expect one (a 404 after
        # a delete); the error carries the full response, so it is turned back into one.
        with error:
            body = error.read(MAX_BODY + 1) if error.fp is not None else b""
        return _Response(
            error.code, str(error.reason), error.headers, body[:MAX_BODY], len(body) > MAX_BODY
        )


def _classify(
    error: Exception, params: HttpRequestParams, shown_url: str, host: str | None
) -> ActionError:
    what = f"{params.method} {shown_url}"
    reason: object = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return ActionTimeout(f"{what} timed out", host=host)
    if isinstance(reason, ssl.SSLCertVerificationError):
        # A certificate problem does not fix itself between retries.
        return ActionError(
            f"{what}: TLS verification failed: {reason}", kind="tls", retryable=False, host=host
        )
    if isinstance(reason, http.client.HTTPException):
        return ActionError(f"{what}: bad response: {reason!r}", kind="protocol", host=host)
    if isinstance(reason, OSError | urllib.error.URLError):
        detail = getattr(reason, "strerror", None) or str(reason)
        return ActionError(f"{what}: cannot connect: {detail}", kind="unreachable", host=host)
    return ActionError(f"{what}: {type(error).__name__}: {error}", host=host)


def _result(
    response: _Response,
    params: HttpRequestParams,
    ctx: ActionContext,
    shown_url: str,
    host: str | None,
) -> Result:
    charset = response.headers.get_content_charset() or "utf-8"
    try:
        text = response.body.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name from the server
        text = response.body.decode("utf-8", errors="replace")
    content_type = response.headers.get_content_type()
    parsed: Any = None
    if not response.truncated and (
        content_type == "application/json" or content_type.endswith("+json")
    ):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None  # the server said JSON but sent something else; body shows what

    if response.status not in params.expect_status:
        status = response.status
        retryable = status >= 500 or status in _RETRYABLE_4XX
        snippet = redact(text[:_ERROR_BODY_CHARS], ctx.secrets).strip()
        raise HttpStatusError(
            f"{params.method} {shown_url} returned {status} {response.reason}"
            f" (expected {_expected(params.expect_status)})" + (f": {snippet}" if snippet else ""),
            status=status,
            body=snippet,
            retryable=retryable,
            host=host,
            retry_after=_retry_after(response.headers) if retryable else None,
        )

    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        # Repeated headers (Set-Cookie, Via) are joined as HTTP allows.
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if response.truncated:
        text += f"\n[... truncated after {MAX_BODY} bytes ...]"
    return {
        "status": response.status,
        "headers": redact_value(headers, ctx.secrets),
        "body": redact(text, ctx.secrets),
        "json": redact_value(parsed, ctx.secrets),
    }


def _expected(statuses: list[int]) -> str:
    if statuses == list(range(200, 300)):
        return "2xx"
    return ", ".join(map(str, statuses))


def _retry_after(headers: Message) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # the HTTP-date form; the runtime's own backoff is good enough then


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with the values of credential-like names masked."""
    return {k: REDACTED if _SENSITIVE_NAME.search(k) else v for k, v in headers.items()}


def _safe_url(url: str) -> str:
    """The URL without a password and with credential-like query parameters masked."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:{REDACTED}@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = urllib.parse.urlencode(
            [(k, REDACTED if _SENSITIVE_NAME.search(k) else v) for k, v in pairs], safe="*"
        )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
