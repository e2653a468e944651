"""Open one authenticated SSH connection: TCP (or a channel through a jump host), key
exchange, host key check, public key authentication.

Every wait here watches the step's cancel event, so a cancel or step timeout does not hang for
the connect timeout on a host that black-holes packets.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass

import paramiko

from runbook_engine.actions.ssh.errors import HostFailure, Stopped, classify
from runbook_engine.actions.ssh.hostkeys import KnownHosts, preferred_key_types
from runbook_engine.actions.ssh.keys import KeyRing, agent_keys
from runbook_engine.actions.ssh.targets import Target
from runbook_engine.actions.ssh.wakeup import wait_selector

__all__ = ["KEEPALIVE", "Credentials", "handshake", "tcp_connect"]

#: seconds between keepalive packets: idle pooled connections survive NAT and firewall timeouts
KEEPALIVE = 30
#: how often an idle connection's reader thread wakes (see ``handshake``)
_IDLE_POLL = 1.0
#: offered first when the server has them: with AES-GCM paramiko checks a packet's integrity
#: inside the cipher (C code) instead of with an HMAC and a byte-by-byte comparison in Python,
#: which took a third of the client's CPU per command on a big fleet. Servers without them
#: (OpenSSH before 6.2) get paramiko's own order.
_AEAD_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
#: how often blocking waits look at the cancel event (connecting is short; a cancel waits
#: at most this long, and a hundred slow handshakes do not wake a hundred threads too often)
_TICK = 0.2


@dataclass(frozen=True)
class Credentials:
    """What a step authenticates with, besides the target's own ``key_file``."""

    key_text: str | None = None
    passphrase: str | None = None


def tcp_connect(
    address: str, port: int, timeout: float, cancelled: threading.Event
) -> socket.socket:
    """A connected TCP socket, trying each address the name resolves to, as ssh does."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    for family, kind, proto, _name, sockaddr in socket.getaddrinfo(
        address, port, type=socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            _connect_one(sock, sockaddr, deadline, cancelled)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:  # Stopped, or anything unforeseen: never leak the socket
            sock.close()
            raise
        # Small packets both ways (requests, acknowledgements): Nagle would only add latency.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last if last is not None else OSError(f"{address} resolves to no address")


def _connect_one(
    sock: socket.socket, sockaddr: object, deadline: float, cancelled: threading.Event
) -> None:
    sock.setblocking(False)
    code = sock.connect_ex(sockaddr)  # type: ignore[arg-type]  # getaddrinfo's address tuple
    # A poll selector, not select(): the socket's number is past 1024 when a big pool is open.
    with wait_selector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while code not in (0, errno.EISCONN):
            if code not in (errno.EINPROGRESS, errno.EALREADY, errno.EAGAIN):
                raise OSError(code, os.strerror(code))
            if cancelled.is_set():
                raise Stopped("stopped while connecting")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("connection timed out")
            # Writable once the connect finished, refused connections included (POLLERR).
            if selector.select(min(_TICK, left)):
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code == 0:
                    break
    sock.setblocking(True)


def handshake(
    target: Target,
    sock: socket.socket | paramiko.Channel,
    *,
    known_hosts: KnownHosts,
    keys: KeyRing,
    credentials: Credentials,
    timeout: float,
    cancelled: threading.Event,
) -> paramiko.Transport:
    """Negotiate, check the host key, authenticate. Raises ``HostFailure`` or ``Stopped``;
    the socket is closed on failure."""
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        known = {}
        if target.host_key_checking:
            known = known_hosts.lookup(target.known_hosts, target.address, target.port)
        options = transport.get_security_options()
        options.key_types = preferred_key_types(known, list(options.key_types))
        options.ciphers = _aead_first(list(options.ciphers))
        _negotiate(transport, timeout, cancelled)
        if target.host_key_checking:
            known_hosts.check(
                target.known_hosts, target.address, target.port, transport.get_remote_server_key()
            )
        _authenticate(transport, target, keys, credentials)
        transport.set_keepalive(KEEPALIVE)
        # paramiko's reader thread wakes on every socket timeout (0.1 s by default) to look
        # for a close; pooled connections mostly idle, and a thousand of them waking ten
        # times a second cost half a core. Data still wakes it at once.
        transport.sock.settimeout(_IDLE_POLL)
    except (Stopped, HostFailure):
        transport.close()
        raise
    except Exception as exc:
        transport.close()
        raise classify(exc) from exc
    except BaseException:
        transport.close()
        raise
    return transport


def _aead_first(supported: list[str]) -> list[str]:
    first = [c for c in _AEAD_CIPHERS if c in supported]
    return first + [c for c in supported if c not in first]


def _negotiate(transport: paramiko.Transport, timeout: float, cancelled: threading.Event) -> None:
    done = threading.Event()
    transport.start_client(event=done)
    deadline = time.monotonic() + timeout
    while not done.wait(_TICK):
        if cancelled.is_set():
            raise Stopped("stopped while connecting")
        if time.monotonic() > deadline:
            raise TimeoutError("SSH negotiation timed out")
    if not transport.is_active():
        failure = transport.get_exception()
        raise failure if failure is not None else paramiko.SSHException("negotiation failed")


def _authenticate(
    transport: paramiko.Transport, target: Target, keys: KeyRing, credentials: Credentials
) -> None:
    explicit: list[tuple[str, paramiko.PKey]] = []
    if credentials.key_text:
        explicit.append(
            ("the key parameter", keys.from_text(credentials.key_text, credentials.passphrase))
        )
    if target.key_file:
        explicit.append((target.key_file, keys.from_file(target.key_file, credentials.passphrase)))
    tried: list[str] = []
    last: paramiko.AuthenticationException | None = None
    for label, key in explicit:
        tried.append(label)
        try:
            transport.auth_publickey(target.user, key)
            return
        except paramiko.AuthenticationException as exc:
            last = exc
    agent, agent_list = agent_keys()
    try:
        for key in agent_list:
            tried.append(f"agent key {key.get_name()}")
            try:
                transport.auth_publickey(target.user, key)
                return
            except paramiko.AuthenticationException as exc:
                last = exc
    finally:
        if agent is not None:
            agent.close()
    if not explicit:
        for key in keys.defaults():
            tried.append(f"~/.ssh key {key.get_name()}")
            try:
                transport.auth_publickey(target.user, key)
                return
            except paramiko.AuthenticationException as exc:
                last = exc
    detail = f" ({last})" if last is not None and str(last) else ""
    what = "tried " + ", ".join(tried) if tried else "no key to try: give key, key_file or an agent"
    raise HostFailure(
        "auth", f"authentication refused for {target.user}; {what}{detail}", retryable=False
    )


def close_quietly(thing: object) -> None:
    if isinstance(thing, paramiko.Transport):
        # shutdown() wakes the transport's reader thread out of its blocking read at once;
        # close() alone leaves it alive until its idle poll times out, so an evicting pool
        # would pile up dying threads on a big fleet
        sock = getattr(thing, "sock", None)
        shutdown = getattr(sock, "shutdown", None)
        if callable(shutdown):
            with contextlib.suppress(Exception):
                shutdown(socket.SHUT_RDWR)
    close = getattr(thing, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()
