"""SFTP helpers shared by ``ssh.script``, ``ssh.upload`` and ``ssh.download``: opening a
session on a pooled connection, naming remote errors, and transfers that honour a timeout."""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import paramiko

from runbook_engine.actions.ssh.errors import HostFailure, Stopped, classify
from runbook_engine.errors import ActionInputError
from runbook_engine.plugin.contract import ActionContext

__all__ = ["Progress", "get", "local_bytes", "open_sftp", "put", "remote_errors"]


def local_bytes(text: str | None, path: str | None, *, what: str) -> bytes:
    """What to send: the inline ``text`` if given, else the bytes of the local file ``path``."""
    if text is not None:
        return text.encode()
    assert path is not None  # the parameter models require one of the two
    local = Path(path).expanduser()
    try:
        return local.read_bytes()
    except OSError as exc:
        raise ActionInputError(f"cannot read {what}{local}: {exc.strerror}") from None


def open_sftp(timeout: float) -> Callable[[paramiko.Transport], paramiko.SFTPClient]:
    def opener(transport: paramiko.Transport) -> paramiko.SFTPClient:
        # open_session under SFTPClient uses the transport's channel_timeout
        transport.channel_timeout = timeout
        client = paramiko.SFTPClient.from_transport(transport)
        if client is None:  # paramiko returns None when the channel cannot be opened
            raise paramiko.SSHException("cannot open an SFTP session")
        return client

    return opener


@contextlib.contextmanager
def remote_errors(what: str) -> Iterator[None]:
    """SFTP status errors (no such file, permission denied, failure) as ``HostFailure``
    kind ``remote``: the host answered, and asking again will get the same answer."""
    try:
        yield
    except (HostFailure, Stopped):
        raise
    except OSError as exc:
        if exc.errno in (None, errno.ENOENT, errno.EACCES, errno.EPERM):
            reason = exc.strerror or (str(exc.args[0]) if exc.args else str(exc))
            raise HostFailure("remote", f"cannot {what}: {reason}", retryable=False) from None
        raise classify(exc) from exc


class Progress:
    """paramiko's transfer callback, used to stop a transfer on cancel or timeout."""

    def __init__(self, ctx: ActionContext, timeout: float | None) -> None:
        self._ctx = ctx
        self._timeout = timeout
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        del done, total
        if self._ctx.cancelled.is_set():
            raise Stopped("the transfer was interrupted")
        if self._timeout is not None and time.monotonic() - self._started > self._timeout:
            raise HostFailure(
                "timeout", f"the transfer timed out after {self._timeout:g}s", retryable=True
            )


def put(
    sftp: paramiko.SFTPClient, source: IO[bytes], path: str, size: int, progress: Progress
) -> None:
    with remote_errors(f"write {path}"):
        sftp.putfo(source, path, file_size=size, callback=progress, confirm=True)


def get(sftp: paramiko.SFTPClient, path: str, sink: IO[bytes], progress: Progress) -> int:
    with remote_errors(f"read {path}"):
        return int(sftp.getfo(path, sink, callback=progress))
