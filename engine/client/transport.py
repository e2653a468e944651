"""HTTP to the server: the bearer token, timeouts, and problem details turned back into the
engine's errors, so ``user_errors`` gives a remote refusal the exit code a local one gets.

Errors never print the token, and a server that cannot be reached is named, with why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, SSEError, connect_sse

from runbook_engine.auth.local import SERVER_VAR
from runbook_engine.errors import (
    ApprovalError,
    CatalogError,
    InputRefused,
    ParameterError,
    RunbookError,
    StoreError,
    StoreWriteError,
    TemplateError,
)

TOKEN_VAR = "RUNBOOK_TOKEN"
API_PATH = "/api/v1"

#: seconds to connect and to wait for an answer; a stream waits longer (the server sends a
#: keep-alive comment every 15 s, so a silence of a minute means the connection is gone)
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0


class RemoteInputError(InputRefused):
    """The server refused what was asked (4xx): the caller's mistake or lack of rights."""


class RemoteRefused(ApprovalError):
    """Not authenticated (401) or not allowed (403)."""


class RemoteParameterError(ParameterError):
    def __init__(self, name: str, detail: str) -> None:
        RunbookError.__init__(self, detail)  # the server's message names the parameter
        self.name = name


class RemoteNotFound(CatalogError):
    """A run or runbook the server does not know (or does not show the caller)."""


class RemoteConflict(StoreError):
    """The run is not in a state for this (409): driven elsewhere, finished, ..."""


class RemoteStoreWriteError(StoreWriteError):
    """The server's store refused a write (503 store-unavailable)."""


class ServerUnreachable(RunbookError):
    pass


def _error(status: int, problem: Mapping[str, Any]) -> RunbookError:
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    kind = str(problem.get("type", "")).rsplit("/", 1)[-1]
    if status in (401, 403):
        prefix = "the server refused your token: " if status == 401 else ""
        return RemoteRefused(prefix + detail)
    if status == 404:
        return RemoteNotFound(detail)
    if kind == "not-waiting":
        return RemoteInputError(detail)  # as locally: the run waits for no input (exit 2)
    if status == 409:
        return RemoteConflict(detail)
    if kind == "invalid-parameter":
        return RemoteParameterError(str(problem.get("parameter", "")), detail)
    if kind == "invalid-template":
        return TemplateError(detail)
    if kind == "store-unavailable":
        return RemoteStoreWriteError(detail)
    if kind == "input-refused":
        return RemoteInputError(detail)  # as the local command exits: 2
    if kind == "refused":
        # the engine refused for a reason of its own (no more precise class): exit 1, as on a
        # local store
        return RunbookError(detail)
    if 400 <= status < 500:
        errors = problem.get("errors")
        if isinstance(errors, list) and errors and kind == "invalid-runbook":
            lines = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
            detail = detail + "\n" + "\n".join(lines)
        return RemoteInputError(detail)
    return RunbookError(f"the server failed ({status}): {detail}")


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    headers: httpx.Headers


class ApiClient:
    """One server, one token; a connection pool for the life of a command."""

    def __init__(self, server: str, token: str, *, transport: httpx.BaseTransport | None = None):
        self.server = server.rstrip("/")
        base = self.server if self.server.endswith(API_PATH) else self.server + API_PATH
        self._http = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "runbook-cli"},
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            transport=transport,
        )

    @classmethod
    def from_env(cls) -> ApiClient:
        server = os.environ.get(SERVER_VAR, "").strip()
        if not server:
            raise RunbookError(f"{SERVER_VAR} is not set")
        if not server.startswith(("http://", "https://")):
            raise RunbookError(f"{SERVER_VAR}={server!r}: expected http(s)://HOST[:PORT]")
        token = os.environ.get(TOKEN_VAR, "").strip()
        if not token:
            raise RemoteRefused(
                f"{SERVER_VAR} is set: the server needs {TOKEN_VAR} (an API token from "
                "`runbook token create`, or your IdP's access token)"
            )
        return cls(server, token)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        try:
            response = self._http.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                json=json,
                headers=headers,
            )
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach {self.server}: {exc or type(exc).__name__}"
            ) from None
        return Answer(response.status_code, self._read(response), response.headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).data

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=json if json is not None else {}, **kw).data

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path).data

    def pages(self, path: str, **params: Any) -> Iterator[Any]:
        """Every item of a paged list, page after page."""
        cursor: str | None = None
        while True:
            page = self.get(path, **params, cursor=cursor)
            yield from page["items"]
            cursor = page.get("next")
            if not cursor:
                return

    @contextmanager
    def stream(self, path: str, **params: Any) -> Iterator[Iterator[ServerSentEvent]]:
        """The server-sent events of ``path``, as they come."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            with connect_sse(self._http, "GET", path, params=query) as source:
                response = source.response
                if response.status_code >= 400:
                    response.read()
                    self._read(response)
                try:
                    yield source.iter_sse()
                except SSEError as exc:
                    raise RunbookError(f"{self.server} did not stream events: {exc}") from None
        except httpx.TransportError as exc:
            why = str(exc) or type(exc).__name__
            # never connected is not the same news as a stream cut off while it went
            how = "cannot reach" if isinstance(exc, httpx.ConnectError) else "lost"
            raise ServerUnreachable(f"{how} {self.server}: {why}") from None

    @staticmethod
    def _read(response: httpx.Response) -> Any:
        data: Any = None
        if response.content:
            try:
                data = response.json()
            except ValueError:
                data = {"detail": response.text[:500]}
        if response.status_code >= 400:
            raise _error(response.status_code, data if isinstance(data, dict) else {})
        return data
