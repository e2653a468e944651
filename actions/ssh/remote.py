"""Run one command on one connection: stream its output, feed its stdin, enforce its timeout.

One thread per host in flight (the fan-out bounds them by ``forks``) waits on the channel's
file descriptor, which paramiko signals for stdout, stderr and close alike, together with the
step's cancel descriptor: output is logged as it arrives, a cancel is seen at once, and a host
that takes its time costs no CPU while it does. The wait is a poll selector, not ``select``:
with a big pool open the channel's descriptor is numbered well past 1024.
"""

from __future__ import annotations

import contextlib
import selectors
import time
from dataclasses import dataclass

import paramiko

from runbook_engine.actions.ssh.errors import HostFailure, Stopped
from runbook_engine.actions.ssh.output import HostOutput, MarkerFilter
from runbook_engine.actions.ssh.wakeup import CancelWakeup, wait_selector
from runbook_engine.actions.ssh.wrapper import kill_line
from runbook_engine.plugin.contract import ActionContext

__all__ = ["Finished", "RemoteCommand", "run_remote"]

_TICK = 0.05
#: the longest wait when a cancel can interrupt it (a safety net, not a poll)
_LONG_TICK = 1.0
_READ = 32 * 1024
#: how long to wait for the wrapper's process-group line when stopping a command that just
#: started (the marker is its first write, so it is at most a round trip away)
_PGID_WAIT = 1.0
#: the kill script's own limit: its SIGTERM grace plus a round trip
_KILL_WAIT = 4.0


@dataclass(frozen=True)
class RemoteCommand:
    line: str
    stdin: bytes | None = None
    timeout: float | None = None
    sudo: bool = False


@dataclass(frozen=True)
class Finished:
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    truncated: bool = False  # the middle of stdout or stderr was left out of the result
    stdout_bytes: int = 0
    stderr_bytes: int = 0


def run_remote(
    transport: paramiko.Transport,
    channel: paramiko.Channel,
    command: RemoteCommand,
    *,
    host: str,
    ctx: ActionContext,
    wakeup: CancelWakeup | None = None,
) -> Finished:
    """Run ``command`` on ``channel`` (a fresh session channel of ``transport``).

    Raises ``HostFailure`` (kind ``timeout``) when the command's own timeout expires and
    ``Stopped`` when ``ctx.cancelled`` is set; in both cases the remote processes were killed.
    """
    started = time.monotonic()
    stdout = HostOutput(ctx, host)
    stderr = MarkerFilter(HostOutput(ctx, host, stderr=True))
    pending = command.stdin or b""
    selector = wait_selector()
    try:
        # The channel's descriptor is a pipe paramiko makes on first use and closes with it.
        selector.register(channel, selectors.EVENT_READ)
        if wakeup is not None:
            selector.register(wakeup, selectors.EVENT_READ)
        channel.exec_command(command.line)
        if not pending:
            channel.shutdown_write()  # EOF at once: a command reading stdin must not hang
        while True:
            _drain(channel, stdout, stderr)
            if pending and channel.send_ready():
                sent = channel.send(pending[:_READ])
                pending = pending[sent:]
                if not pending:
                    channel.shutdown_write()
            if channel.exit_status_ready() and _finished(channel):
                _drain(channel, stdout, stderr)
                break
            if ctx.cancelled.is_set():
                killed = _stop(transport, channel, stderr, command)
                raise Stopped(killed)
            elapsed = time.monotonic() - started
            if command.timeout is not None and elapsed >= command.timeout:
                killed = _stop(transport, channel, stderr, command)
                raise HostFailure(
                    "timeout",
                    f"timed out after {command.timeout:g}s; {killed}",
                    retryable=True,
                )
            # While stdin is pending, no descriptor says when the send window reopens: poll.
            _wait(channel, selector, _tick(command.timeout, elapsed, wakeup, bool(pending)))
    finally:
        selector.close()
        stdout.finish()
        stderr.finish()
        channel.close()
    status: int = channel.exit_status  # -1: no status (killed by a signal, or connection lost)
    if status < 0 and not transport.is_active():
        raise HostFailure(
            "unreachable", "the connection was lost while the command ran", retryable=True
        )
    return Finished(
        exit_code=None if status < 0 else status,
        stdout=stdout.text(),
        stderr=stderr.text(),
        duration=round(time.monotonic() - started, 3),
        truncated=stdout.truncated or stderr.truncated,
        stdout_bytes=stdout.total_bytes,
        stderr_bytes=stderr.total_bytes,
    )


def _tick(
    timeout: float | None, elapsed: float, wakeup: CancelWakeup | None, sending: bool
) -> float:
    # With a wakeup descriptor a cancel interrupts the wait, so it can be long; without one,
    # the wait is how often the cancel event is looked at.
    tick = _LONG_TICK if wakeup is not None and not sending else _TICK
    if timeout is None:
        return tick
    return max(0.0, min(tick, timeout - elapsed))


def _finished(channel: paramiko.Channel) -> bool:
    """The exit status is in and every byte of output with it (EOF, or the channel closed)."""
    return bool(channel.eof_received or channel.closed) and not (
        channel.recv_ready() or channel.recv_stderr_ready()
    )


def _drain(channel: paramiko.Channel, stdout: HostOutput, stderr: MarkerFilter) -> None:
    while channel.recv_ready():
        stdout.feed(channel.recv(_READ))
    while channel.recv_stderr_ready():
        stderr.feed(channel.recv_stderr(_READ))


def _wait(channel: paramiko.Channel, selector: selectors.BaseSelector, timeout: float) -> None:
    """Until the channel has output or closes, the step is cancelled, or ``timeout``."""
    if channel.eof_received:
        # After EOF the channel's fd stays readable; wait for the exit status instead (it
        # follows EOF within a round trip, so a short wait cannot delay a cancel much).
        channel.status_event.wait(min(timeout, _TICK * 4))
        return
    selector.select(timeout)


def _stop(
    transport: paramiko.Transport,
    channel: paramiko.Channel,
    stderr: MarkerFilter,
    command: RemoteCommand,
) -> str:
    """Kill the remote command and its descendants; returns what was done, for the message."""
    give_up = time.monotonic() + _PGID_WAIT
    while stderr.pgid is None and not channel.closed and time.monotonic() < give_up:
        while channel.recv_stderr_ready():
            stderr.feed(channel.recv_stderr(_READ))
        if stderr.pgid is None:
            channel.status_event.wait(_TICK)
    if stderr.pgid is None:
        channel.close()
        return "the channel was closed (the command had not reported its process group)"
    try:
        killer = transport.open_session(timeout=_KILL_WAIT)
        killer.exec_command(kill_line(stderr.pgid, sudo=command.sudo))
        killer.shutdown_write()
        killer.status_event.wait(_KILL_WAIT)
        killer.close()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        channel.close()
        return f"killing the remote process group {stderr.pgid} failed ({exc})"
    finally:
        with contextlib.suppress(Exception):
            channel.close()
    return f"the remote process group {stderr.pgid} was killed"
