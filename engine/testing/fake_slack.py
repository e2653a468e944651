"""A stand-in for the Slack Web API, over real HTTP on 127.0.0.1, for tests and benchmarks.

Point a real ``slack_sdk.WebClient`` at it with ``base_url=fake.api_url``. It answers the
methods the engine uses the way Slack does (``ok``, ``ts``, ``channel``, ``message``), records
every call, keeps the messages it was sent (so a test can read what a channel shows now), can
be told to answer ``429`` with ``Retry-After`` for the next N calls, and accepts posts to any
other path as ``response_url`` webhooks::

    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.api_url)
        client.chat_postMessage(channel="#ops", text="hi")
        assert fake.calls("chat.postMessage")[0].params["text"] == "hi"
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

JSON = dict[str, Any]

DEFAULT_TOKEN = "xoxb-fake-token"
DEFAULT_APP_TOKEN = "xapp-fake-token"  # a fake server's fixed credential, not a secret


@dataclass(frozen=True)
class Call:
    """One request the fake received: a Web API method, or ``response_url`` for a webhook."""

    method: str
    params: JSON
    status: int
    at: float
    path: str = ""


@dataclass
class _Failure:
    remaining: int
    status: int
    retry_after: int
    method: str | None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    thread_ts: str | None = None
    updates: int = 0


class FakeSlack:
    """The fake Slack Web API. Thread-safe; start with ``with`` or :meth:`start`."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        team_id: str = "T000FAKE",
        bot_user_id: str = "U000BOT",
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self._lock = threading.Condition()
        self._calls: list[Call] = []
        self._failures: list[_Failure] = []
        self._messages: dict[tuple[str, str], Message] = {}
        self._channels: dict[str, str] = {}  # name -> id
        self._usergroups: dict[str, tuple[str, list[str]]] = {}  # id -> (handle, users)
        self._users: dict[str, JSON] = {}
        self._clock = itertools.count(1)
        self._views = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: _SocketModeHub | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the calls are recorded; stderr noise helps nobody

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-slack", daemon=True
        )
        self._thread.start()
        self._sockets = _SocketModeHub(self)
        return self

    def stop(self) -> None:
        if self._sockets is not None:
            self._sockets.stop()
            self._sockets = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``WebClient`` (Slack's is ``https://slack.com/api/``)."""
        return self.url + "api/"

    # ------------------------------------------------------------------ set-up

    def add_usergroup(self, group_id: str, handle: str, users: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = (handle, list(users))

    def add_user(self, user_id: str, name: str, **profile: Any) -> None:
        with self._lock:
            self._users[user_id] = {"id": user_id, "name": name, "profile": dict(profile)}

    def fail_next(
        self, count: int, *, status: int = 429, retry_after: int = 1, method: str | None = None
    ) -> None:
        """Answer the next ``count`` calls (of ``method``, if given) with ``status``; 429s carry
        ``Retry-After: retry_after`` like Slack's rate limiter."""
        with self._lock:
            self._failures.append(_Failure(count, status, retry_after, method))

    def channel_id(self, name_or_id: str) -> str:
        """The id a channel name maps to (ids map to themselves), as Slack resolves them."""
        with self._lock:
            return self._channel(name_or_id)

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[Message]:
        """Messages as a channel shows them now (updates applied), oldest first."""
        with self._lock:
            cid = self._channel(channel) if channel else None
            found = [m for m in self._messages.values() if cid is None or m.channel == cid]
            return sorted(found, key=lambda m: float(m.ts))

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return self._messages.get((self._channel(channel), ts))

    def wait_for(self, predicate: Callable[[FakeSlack], Any], timeout: float = 30.0) -> Any:
        """Wait until ``predicate(self)`` is truthy (re-checked after every call); return it."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the fake Slack did not see it within {timeout:g}s")
                self._lock.wait(min(left, 0.1))

    # ------------------------------------------------------------------ Socket Mode

    def socket_clients(self) -> int:
        """How many Socket Mode connections are open."""
        assert self._sockets is not None, "start() the fake first"
        return self._sockets.clients()

    def send_envelope(self, type_: str, payload: JSON) -> str:
        """Deliver a request over Socket Mode, as Slack does; returns its envelope id."""
        assert self._sockets is not None, "start() the fake first"
        return self._sockets.send(type_, payload)

    def socket_acks(self) -> list[JSON]:
        """What the app answered over Socket Mode (``{"envelope_id": ..., "payload": ...}``)."""
        with self._lock:
            return [dict(c.params) for c in self._calls if c.method == "socket_mode.ack"]

    # ------------------------------------------------------------------ HTTP

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        split = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        params: JSON = dict(parse_qsl(split.query))
        ctype = req.headers.get("Content-Type", "")
        if raw and "json" in ctype:
            body = json.loads(raw)
            if isinstance(body, dict):
                params.update(body)
        elif raw:
            params.update(parse_qsl(raw.decode()))
        if split.path.startswith("/api/"):
            method = split.path[len("/api/") :]
            auth = req.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() or str(params.pop("token", ""))
            status, headers, answer = self._api(method, token, params)
        else:
            method = "response_url"
            status, headers, answer = (
                self._record(method, params, 200, split.path),
                {},
                {"ok": True},
            )
        data = json.dumps(answer).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(data)

    def _record(self, method: str, params: JSON, status: int, path: str = "") -> int:
        with self._lock:
            self._calls.append(Call(method, params, status, time.time(), path))
            self._lock.notify_all()
        return status

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.remaining > 0 and failure.method in (None, method):
                    failure.remaining -= 1
                    return failure
            return None

    def _api(self, method: str, token: str, params: JSON) -> tuple[int, dict[str, str], JSON]:
        failure = self._take_failure(method)
        if failure is not None:
            self._record(method, params, failure.status)
            headers = (
                {"Retry-After": str(failure.retry_after)}
                if failure.status == HTTPStatus.TOO_MANY_REQUESTS
                else {}
            )
            error = "ratelimited" if failure.status == HTTPStatus.TOO_MANY_REQUESTS else "fatal"
            return failure.status, headers, {"ok": False, "error": error}
        expected = self.app_token if method == "apps.connections.open" else self.token
        if token != expected:
            self._record(method, params, 200)
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        handler = _METHODS.get(method)
        with self._lock:
            answer = (
                handler(self, params)
                if handler is not None
                else {"ok": False, "error": "unknown_method"}
            )
            self._calls.append(Call(method, params, 200, time.time()))
            self._lock.notify_all()
        return 200, {}, answer

    # ------------------------------------------------------------------ methods (lock held)

    def _channel(self, name_or_id: str) -> str:
        name = name_or_id.lstrip("#")
        if name_or_id.startswith("#") or not name[:1].isupper():
            return self._channels.setdefault(name, f"C{len(self._channels) + 1:08d}")
        return name

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._clock):06d}"

    def _auth_test(self, params: JSON) -> JSON:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "runbook",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B000BOT",
        }

    def _post_message(self, params: JSON) -> JSON:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        cid = self._channel(str(channel))
        msg = Message(
            cid,
            self._ts(),
            str(params.get("text") or ""),
            _blocks(params.get("blocks")),
            params.get("thread_ts"),
        )
        self._messages[(cid, msg.ts)] = msg
        return {"ok": True, "channel": cid, "ts": msg.ts, "message": _as_json(msg, self)}

    def _update(self, params: JSON) -> JSON:
        cid = str(params.get("channel", ""))
        msg = self._messages.get((cid, str(params.get("ts", ""))))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if "text" in params:
            msg.text = str(params["text"])
        if "blocks" in params:
            msg.blocks = _blocks(params["blocks"])
        msg.updates += 1
        return {
            "ok": True,
            "channel": cid,
            "ts": msg.ts,
            "text": msg.text,
            "message": _as_json(msg, self),
        }

    def _post_ephemeral(self, params: JSON) -> JSON:
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._ts()}

    def _views_open(self, params: JSON) -> JSON:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else dict(view or {})
        return {"ok": True, "view": {**view, "id": f"V{next(self._views):08d}"}}

    def _usergroups_list(self, params: JSON) -> JSON:
        groups = [
            {"id": gid, "handle": handle, "name": handle}
            for gid, (handle, _) in sorted(self._usergroups.items())
        ]
        return {"ok": True, "usergroups": groups}

    def _usergroups_users_list(self, params: JSON) -> JSON:
        found = self._usergroups.get(str(params.get("usergroup", "")))
        if found is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(found[1])}

    def _connections_open(self, params: JSON) -> JSON:
        assert self._sockets is not None
        return {"ok": True, "url": self._sockets.url}

    def _users_info(self, params: JSON) -> JSON:
        user = self._users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": dict(user)}


def _blocks(value: Any) -> list[JSON]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or [])


def _as_json(msg: Message, fake: FakeSlack) -> JSON:
    out: JSON = {"type": "message", "user": fake.bot_user_id, "text": msg.text, "ts": msg.ts}
    if msg.blocks:
        out["blocks"] = msg.blocks
    if msg.thread_ts:
        out["thread_ts"] = msg.thread_ts
    return out


_METHODS: dict[str, Callable[[FakeSlack, JSON], JSON]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.update": FakeSlack._update,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "views.open": FakeSlack._views_open,
    "usergroups.list": FakeSlack._usergroups_list,
    "usergroups.users.list": FakeSlack._usergroups_users_list,
    "users.info": FakeSlack._users_info,
    "apps.connections.open": FakeSlack._connections_open,
}


def iter_texts(blocks: list[JSON]) -> Iterator[str]:
    """Every text string in Block Kit blocks, for assertions about what a message says."""
    stack: list[Any] = list(blocks)
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "text" and isinstance(value, str):
                    yield value
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


class _SocketModeHub:
    """Socket Mode's WebSocket end: enough of RFC 6455 for slack_sdk's built-in client
    (handshake, text frames, ping/pong, close), plain ``ws://`` on 127.0.0.1."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._ids = itertools.count(1)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopped = False
        threading.Thread(target=self._accept, name="fake-slack-ws", daemon=True).start()

    @property
    def url(self) -> str:
        port = self._listener.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=fake"

    def clients(self) -> int:
        with self._lock:
            return len(self._conns)

    def send(self, type_: str, payload: JSON) -> str:
        envelope_id = f"env-{next(self._ids)}"
        message = {
            "envelope_id": envelope_id,
            "type": type_,
            "payload": payload,
            "accepts_response_payload": type_ != "events_api",
        }
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            self._frame(conn, 0x1, json.dumps(message).encode())
        return envelope_id

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            key = ""
            for line in request.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            with self._lock:
                self._conns.append(conn)
            hello = {"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}}
            self._frame(conn, 0x1, json.dumps(hello).encode())
            while True:
                opcode, data = self._read(conn)
                if opcode == 0x8:  # close
                    return
                if opcode == 0x9:  # ping
                    self._frame(conn, 0xA, data)
                elif opcode == 0x1:
                    self.fake._record("socket_mode.ack", json.loads(data), 200)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close()

    @staticmethod
    def _exact(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _read(self, conn: socket.socket) -> tuple[int, bytes]:
        b1, b2 = self._exact(conn, 2)
        length = b2 & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._exact(conn, 2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._exact(conn, 8))[0]
        mask = self._exact(conn, 4) if b2 & 0x80 else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._exact(conn, length)))
        return b1 & 0x0F, data

    def _frame(self, conn: socket.socket, opcode: int, data: bytes) -> None:
        header = bytes([0x80 | opcode])
        if len(data) < 126:
            header += bytes([len(data)])
        elif len(data) < 1 << 16:
            header += bytes([126]) + struct.pack(">H", len(data))
        else:
            header += bytes([127]) + struct.pack(">Q", len(data))
        with self._lock:
            conn.sendall(header + data)
