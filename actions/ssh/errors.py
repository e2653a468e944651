"""How an SSH failure is named: per host (``HostFailure``) and for the step (``HostsFailed``).

Every failure has a ``kind`` the runtime records and a ``retryable`` flag its retry policy uses:

    unreachable  no TCP connection, no SSH banner, or the connection dropped   retryable
    auth         the server refused every key                                  not retryable
    hostkey      the host key is unknown or does not match known_hosts         not retryable
    timeout      the remote command ran past its timeout (and was killed)      retryable
    exit         the command exited with a code not accepted                   retryable
    cancelled    the run was cancelled                                         not retryable
    remote       an SFTP operation was refused (no such file, permission)      not retryable
    ssh          any other SSH protocol error                                  retryable
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import paramiko

from runbook_engine.errors import ActionError

__all__ = ["HostFailure", "HostsFailed", "Stopped", "classify"]


class HostFailure(Exception):
    """One host failed. Raised inside the per-host work; the fan-out records it and goes on."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retryable: bool,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.message = message
        self.retryable = retryable
        #: what the host's result shows besides the error (exit code, output so far)
        self.details = dict(details or {})
        super().__init__(message)


class Stopped(Exception):
    """The step was cancelled or ran out of time while this host was being worked on; what
    it had started on the host was stopped (``how`` says how)."""

    def __init__(self, how: str) -> None:
        self.how = how
        super().__init__(how)


class HostsFailed(ActionError):
    """The step failed because hosts did. ``host`` names the first failure; ``hosts`` carries
    every host's result (the runtime records it), so nobody has to dig through the log."""

    hosts: list[dict[str, Any]]

    def __init__(
        self,
        message: str,
        *,
        hosts: Sequence[Mapping[str, Any]],
        host: str,
        kind: str,
        retryable: bool,
        exit_code: int | None = None,
        stderr: str | None = None,
    ) -> None:
        self.hosts = [dict(h) for h in hosts]
        self.exit_code = exit_code
        self.stderr = stderr
        super().__init__(message, retryable=retryable, kind=kind)
        # The message already names the hosts; ActionError would prefix it with one of them.
        self.host = host


def classify(exc: BaseException) -> HostFailure:
    """The ``HostFailure`` an exception raised while connecting or talking to a host means."""
    if isinstance(exc, HostFailure):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostFailure("hostkey", f"host key mismatch: {exc}", retryable=False)
    if isinstance(exc, paramiko.AuthenticationException):
        return HostFailure("auth", f"authentication refused: {exc}", retryable=False)
    if isinstance(exc, paramiko.ChannelException):
        # Opening a forwarding channel through a jump host failed: the target is unreachable
        # from there (refused, or forbidden by the jump host's PermitOpen).
        return HostFailure(
            "unreachable", f"cannot reach via the jump host: {exc.text}", retryable=True
        )
    if isinstance(exc, socket.gaierror):
        return HostFailure(
            "unreachable", f"cannot resolve the address: {exc.strerror}", retryable=True
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return HostFailure("unreachable", "connection timed out", retryable=True)
    if isinstance(exc, ConnectionRefusedError):
        return HostFailure("unreachable", "connection refused", retryable=True)
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return HostFailure("unreachable", str(exc), retryable=True)
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return HostFailure("unreachable", exc.strerror or str(exc), retryable=True)
    if isinstance(exc, EOFError | ConnectionResetError | BrokenPipeError):
        return HostFailure("unreachable", "the connection was closed by the server", retryable=True)
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        if "banner" in text.lower() or "not active" in text.lower():
            return HostFailure("unreachable", text, retryable=True)
        return HostFailure("ssh", text, retryable=True)
    if isinstance(exc, OSError):
        return HostFailure("unreachable", str(exc), retryable=True)
    return HostFailure("error", f"{type(exc).__name__}: {exc}", retryable=False)


_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)
