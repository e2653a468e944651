"""http.request against a small real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from runbook_engine.actions.http import (
    MAX_BODY,
    HttpRequestAction,
    HttpRequestParams,
    HttpStatusError,
)
from runbook_engine.errors import ActionError, ActionTimeout
from runbook_engine.plugin.contract import ActionContext, Result

CancelAfter = Callable[[ActionContext, float], None]


class Handler(BaseHTTPRequestHandler):
    """Routes by path; ``server.release`` unblocks ``/slow``."""

    server: Server

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def _route(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/json":
            self._send(200, {"ok": True, "token": "s3cr3t"})
        elif path == "/echo":
            length = int(self.headers.get("Content-Length") or 0)
            self._send(
                200,
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": self.rfile.read(length).decode(),
                },
            )
        elif path == "/text":
            self._send(200, "plain text", content_type="text/plain; charset=utf-8")
        elif path == "/missing":
            self._send(404, "no such thing", content_type="text/plain")
        elif path == "/unavailable":
            self._send(503, "overloaded", content_type="text/plain", extra={"Retry-After": "7"})
        elif path == "/big":
            self._send(200, "y" * (MAX_BODY + 10), content_type="application/json")
        elif path == "/slow":
            self.server.release.wait(5)
            self._send(200, {"slow": True})
        else:
            self._send(500, "unexpected path", content_type="text/plain")

    def _send(
        self,
        status: int,
        body: object,
        *,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
    ) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        # The client may have given up already (timeout and cancel tests).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class Server(ThreadingHTTPServer):
    release: threading.Event


@pytest.fixture
def base_url() -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Handler)
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def run(ctx: ActionContext, **raw: Any) -> Result:
    return HttpRequestAction().run(HttpRequestParams.model_validate(raw), ctx)


def test_get_json(ctx: ActionContext, base_url: str, log_lines: list[str]) -> None:
    result = run(ctx, url=f"{base_url}/json")
    assert result["status"] == 200
    assert result["json"] == {"ok": True, "token": "s3cr3t"}
    assert json.loads(result["body"]) == result["json"]
    assert result["headers"]["content-type"] == "application/json"
    assert log_lines[0] == f"GET {base_url}/json"
    assert log_lines[1].startswith("-> 200 OK (")


def test_text_body_has_no_json(ctx: ActionContext, base_url: str) -> None:
    result = run(ctx, url=f"{base_url}/text")
    assert result["body"] == "plain text"
    assert result["json"] is None


def test_post_json_body_and_headers(ctx: ActionContext, base_url: str) -> None:
    result = run(
        ctx,
        method="post",
        url=f"{base_url}/echo",
        json={"replicas": 3},
        headers={"X-Request-Id": "abc"},
    )
    echoed = result["json"]
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == {"replicas": 3}
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["x-request-id"] == "abc"
    assert echoed["headers"]["user-agent"] == "runbook-engine"


def test_raw_data_body(ctx: ActionContext, base_url: str) -> None:
    result = run(ctx, method="POST", url=f"{base_url}/echo", data="drain=true")
    assert result["json"]["body"] == "drain=true"


def test_404_is_not_retryable(ctx: ActionContext, base_url: str) -> None:
    with pytest.raises(HttpStatusError, match="returned 404") as excinfo:
        run(ctx, url=f"{base_url}/missing")
    error = excinfo.value
    assert error.status == 404
    assert error.retryable is False
    assert error.kind == "http"
    assert error.host == "127.0.0.1"
    assert "no such thing" in str(error)


def test_expected_404_is_a_success(ctx: ActionContext, base_url: str) -> None:
    result = run(ctx, method="DELETE", url=f"{base_url}/missing", expect_status=[404])
    assert result["status"] == 404
    assert result["body"] == "no such thing"


def test_503_is_retryable_with_retry_after(ctx: ActionContext, base_url: str) -> None:
    with pytest.raises(HttpStatusError) as excinfo:
        run(ctx, url=f"{base_url}/unavailable")
    assert excinfo.value.status == 503
    assert excinfo.value.retryable is True
    assert excinfo.value.retry_after == 7.0


def test_connection_refused_is_retryable(ctx: ActionContext) -> None:
    # A port that was free a moment ago: nothing listens on it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ActionError, match="cannot connect") as excinfo:
        run(ctx, url=f"http://127.0.0.1:{port}/")
    assert excinfo.value.kind == "unreachable"
    assert excinfo.value.retryable is True


def test_timeout(ctx: ActionContext, base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(ActionTimeout) as excinfo:
        run(ctx, url=f"{base_url}/slow", timeout="300ms")
    assert time.monotonic() - started < 1.5
    assert excinfo.value.retryable is True


def test_cancel_returns_promptly(
    ctx: ActionContext, base_url: str, cancel_after: CancelAfter
) -> None:
    cancel_after(ctx, 0.2)
    started = time.monotonic()
    with pytest.raises(ActionError) as excinfo:
        run(ctx, url=f"{base_url}/slow")
    assert time.monotonic() - started < 1.0
    assert excinfo.value.kind == "cancelled"
    assert excinfo.value.retryable is False


def test_sensitive_values_are_never_logged(
    ctx: ActionContext, base_url: str, log_lines: list[str]
) -> None:
    port = base_url.rsplit(":", 1)[1]
    params = HttpRequestParams.model_validate(
        {
            "url": f"http://user:pw-123@127.0.0.1:{port}/echo?token=qt-456&x=1",
            "headers": {"Authorization": "Bearer hdr-789", "X-Api-Key": "key-000", "Accept": "*/*"},
        }
    )
    action = HttpRequestAction()
    echoed = action.run(params, ctx)["json"]
    # The URL's credentials were sent as Basic auth, the explicit header winning.
    assert echoed["headers"]["authorization"] == "Bearer hdr-789"
    shown = "\n".join([*log_lines, action.describe(params)])
    for secret in ("pw-123", "qt-456", "hdr-789", "key-000"):
        assert secret not in shown
    assert "Accept: */*" in action.describe(params)
    assert "x=1" in shown


def test_secrets_are_masked_in_the_result(ctx: ActionContext, base_url: str) -> None:
    ctx = replace(ctx, secrets=("s3cr3t",))
    result = run(ctx, url=f"{base_url}/json")
    assert result["json"]["token"] == "***"
    assert "s3cr3t" not in result["body"]


def test_url_credentials_become_basic_auth(ctx: ActionContext, base_url: str) -> None:
    url = base_url.replace("http://", "http://ops:p%40ss@") + "/echo"
    echoed = run(ctx, url=url)["json"]
    assert echoed["headers"]["authorization"] == "Basic b3BzOnBAc3M="  # ops:p@ss
    assert echoed["headers"]["host"].startswith("127.0.0.1:")


def test_big_body_is_truncated(ctx: ActionContext, base_url: str) -> None:
    result = run(ctx, url=f"{base_url}/big")
    assert result["body"].endswith(f"[... truncated after {MAX_BODY} bytes ...]")
    assert result["json"] is None


@pytest.mark.parametrize(
    "raw",
    [
        {"url": "ftp://example.com/"},
        {"url": "/relative"},
        {"url": "http://example.com/", "method": "GE T"},
        {"url": "http://example.com/", "json": {}, "data": "x"},
        {"url": "http://example.com/", "expect_status": [99]},
        {"url": "http://example.com/", "expect_status": []},
        {"url": "http://example.com/", "timeout": 0},
        {"url": "http://example.com/", "verify": False},
    ],
)
def test_invalid_params(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HttpRequestParams.model_validate(raw)
