"""Connections shared by the steps of one run: one handshake per host per run.

The pool lives in ``ctx.resources`` (the runtime closes it when the run ends). A connection is
keyed by user, address, port and route; concurrent requests for the same key wait for one
handshake instead of racing to make several. A pooled connection that died in between (the
host rebooted, the server restarted) is replaced once, transparently, before anything ran on it.

paramiko runs one reader thread per connection, so a pool holds at most ``max_open``
connections (``limits``: 2,048 where the open-file limit allows, ``RUNBOOK_SSH_MAX_CONNECTIONS``
to change it); beyond that the least recently used idle one is closed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import paramiko

from runbook_engine.actions.ssh.connect import Credentials, close_quietly, handshake, tcp_connect
from runbook_engine.actions.ssh.errors import classify
from runbook_engine.actions.ssh.hostkeys import KnownHosts
from runbook_engine.actions.ssh.keys import KeyRing
from runbook_engine.actions.ssh.limits import ENV, connection_budget
from runbook_engine.actions.ssh.targets import Target
from runbook_engine.plugin.contract import ActionContext

__all__ = ["POOL_RESOURCE", "ConnectionPool", "pool_for"]

POOL_RESOURCE = "ssh.pool"

T = TypeVar("T")


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    transport: paramiko.Transport | None = None
    users: int = 0


class ConnectionPool:
    """Authenticated transports by ``Target.connection_key``. Thread-safe."""

    def __init__(self, *, max_open: int | None = None) -> None:
        #: open connections kept. paramiko runs one reader thread per connection, so this
        #: bounds the pool's threads; fleets larger than this reconnect to the least recently
        #: used hosts in later steps. Default: ``limits.connection_budget``.
        self.max_open = connection_budget().cap if max_open is None else max_open
        self.known_hosts = KnownHosts()
        self.keys = KeyRing()
        #: handshakes made (one per host per run, plus replacements of dead connections)
        self.handshakes = 0
        self._lock = threading.Lock()
        self._slots: OrderedDict[tuple[object, ...], _Slot] = OrderedDict()
        self._closed = False
        self._jumps: set[tuple[object, ...]] = set()

    @contextlib.contextmanager
    def connection(
        self,
        target: Target,
        first: Callable[[paramiko.Transport], T],
        *,
        credentials: Credentials,
        timeout: float,
        cancelled: threading.Event,
    ) -> Iterator[tuple[paramiko.Transport, T]]:
        """The target's connection and the result of ``first`` (which opens the first channel
        or SFTP session on it), held for the ``with`` block.

        If a *reused* connection turns out dead when ``first`` runs, it is replaced and
        ``first`` runs again: only opening a channel is retried, never work done on one.
        """
        slot = self._slot(target)
        with self._lock:
            slot.users += 1
        try:
            transport, fresh = self._transport(slot, target, credentials, timeout, cancelled)
            try:
                opened = first(transport)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if fresh or (transport.is_active() and not _dead_channel(exc)):
                    raise
                self._drop(slot, transport)
                transport, _ = self._transport(slot, target, credentials, timeout, cancelled)
                opened = first(transport)
            yield transport, opened
        finally:
            with self._lock:
                slot.users -= 1

    def _slot(self, target: Target) -> _Slot:
        key = target.connection_key
        with self._lock:
            if self._closed:
                raise RuntimeError("the connection pool is closed")
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
            self._slots.move_to_end(key)
            return slot

    def _transport(
        self,
        slot: _Slot,
        target: Target,
        credentials: Credentials,
        timeout: float,
        cancelled: threading.Event,
    ) -> tuple[paramiko.Transport, bool]:
        with slot.lock:
            current = slot.transport
            if current is not None and current.is_active() and current.is_authenticated():
                if target.host_key_checking:
                    # The connection may have been opened by a step that did not check.
                    self.known_hosts.check(
                        target.known_hosts,
                        target.address,
                        target.port,
                        current.get_remote_server_key(),
                    )
                return current, False
            if current is not None:
                close_quietly(current)
                slot.transport = None
            transport = self._open(target, credentials, timeout, cancelled)
            slot.transport = transport
        with self._lock:
            self.handshakes += 1
        self._evict()
        return transport, True

    def _open(
        self,
        target: Target,
        credentials: Credentials,
        timeout: float,
        cancelled: threading.Event,
    ) -> paramiko.Transport:
        started = time.monotonic()
        if target.jump is None:
            try:
                sock: Any = tcp_connect(target.address, target.port, timeout, cancelled)
            except OSError as exc:
                raise classify(exc) from exc
        else:
            with self._lock:
                self._jumps.add(target.jump.connection_key)

            def forward(jump: paramiko.Transport) -> paramiko.Channel:
                # direct-tcpip: the jump host's sshd opens the TCP connection for us
                return jump.open_channel(
                    "direct-tcpip",
                    (target.address, target.port),
                    ("127.0.0.1", 0),
                    timeout=timeout,
                )

            with self.connection(
                target.jump,
                forward,
                credentials=credentials,
                timeout=timeout,
                cancelled=cancelled,
            ) as (_, sock):
                pass
        left = max(0.5, timeout - (time.monotonic() - started))
        return handshake(
            target,
            sock,
            known_hosts=self.known_hosts,
            keys=self.keys,
            credentials=credentials,
            timeout=left,
            cancelled=cancelled,
        )

    def _drop(self, slot: _Slot, transport: paramiko.Transport) -> None:
        with slot.lock:
            if slot.transport is transport:
                slot.transport = None
        close_quietly(transport)

    def _evict(self) -> None:
        """Close the least recently used idle connections beyond ``max_open``."""
        victims: list[paramiko.Transport] = []
        with self._lock:
            if len(self._slots) <= self.max_open:
                return
            open_slots = [(k, s) for k, s in self._slots.items() if s.transport is not None]
            excess = len(open_slots) - self.max_open
            for key, slot in open_slots:  # OrderedDict order: least recently used first
                if excess <= 0:
                    break
                # A jump host carries other connections inside it: closing it closes them.
                if slot.users == 0 and key not in self._jumps and slot.transport is not None:
                    victims.append(slot.transport)
                    slot.transport = None
                    excess -= 1
        for transport in victims:
            close_quietly(transport)

    def close(self) -> None:
        """Close every connection (the runtime calls this when the run ends)."""
        with self._lock:
            self._closed = True
            slots = list(self._slots.values())
            self._slots.clear()
        for slot in slots:
            if slot.transport is not None:
                close_quietly(slot.transport)


def _dead_channel(exc: BaseException) -> bool:
    return isinstance(exc, EOFError | ConnectionError) or "not active" in str(exc)


def pool_for(ctx: ActionContext) -> ConnectionPool:
    """The run's pool, created by the first SSH step."""
    found = ctx.resources.get(POOL_RESOURCE)
    if isinstance(found, ConnectionPool):
        return found
    budget = connection_budget()
    pool = ConnectionPool(max_open=budget.cap)
    stored = ctx.resources.setdefault(POOL_RESOURCE, pool)
    assert isinstance(stored, ConnectionPool)
    if stored is pool and budget.cut:
        ctx.log(
            f"warning: {ENV}={budget.requested} does not fit the open-file limit "
            f"({budget.soft_limit} descriptors, {budget.in_use} in use): the run keeps at most "
            f"{budget.cap} SSH connections open"
        )
    return stored
