"""``shell.command``: run a command on the engine's own host.

The command runs in a new session (its own process group) so that a timeout or a cancel can kill
everything it started, not just the shell: a ``sleep 600 &`` left behind by a killed script would
otherwise outlive the step and hold resources the rollback needs.

Output is read with a selector on the pipes from the calling thread, which lets one loop stream
lines to the run log, feed stdin, and notice a cancel within a fraction of a second, without
helper threads that could block forever on a pipe held open by a stray grandchild.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import time
from pathlib import Path

from pydantic import Field, field_validator

from runbook_engine.actions._common import PositiveSeconds, stop_error
from runbook_engine.actions._output import OutputCapture
from runbook_engine.errors import ActionError, ActionInputError, ActionTimeout, CommandFailed
from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result

__all__ = ["MAX_CAPTURE", "ShellCommandAction", "ShellCommandParams"]

#: at most this many bytes of stdout (and, separately, of stderr) are kept in the result
#: what a result keeps of each stream: the first and the last 32 KiB (the log has every line)
MAX_CAPTURE = 64 * 1024
#: a "line" longer than this is logged in pieces, so a binary blob cannot exhaust memory
_MAX_LINE = 64 * 1024
_READ_SIZE = 64 * 1024
#: how often the loop wakes to check for cancel and timeout when the command is silent
_POLL = 0.05
#: after SIGTERM, how long the process group gets to exit before SIGKILL
_KILL_GRACE = 2.0
# When the command has exited but a background descendant still holds its stdout open, wait
# this long for output in flight, then stop reading; the descendant is left alone, as a shell
# would leave it (only a timeout or cancel kills the group).
_LINGER = 0.5
#: lines of stderr carried in CommandFailed, enough to see the error without flooding the report
_STDERR_TAIL_LINES = 20


class ShellCommandParams(ActionParams):
    """Parameters of ``shell.command``."""

    #: a string runs through ``/bin/sh -c``; a list is executed directly, without a shell
    command: str | list[str]
    cwd: str | None = None
    #: merged over the engine's environment
    env: dict[str, str] = Field(default_factory=dict)
    #: written to the command's stdin; without it stdin is empty (``/dev/null``)
    stdin: str | None = None
    accept_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)
    #: seconds (or a duration string); the step's own deadline applies as well
    timeout: PositiveSeconds | None = None

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str) and not value.strip():
            raise ValueError("command must not be empty")
        if isinstance(value, list) and (not value or not value[0]):
            raise ValueError("command list must start with the program to run")
        return value


class ShellCommandAction(Action):
    """Run a local command, streaming its output to the run log.

    Result: ``{"stdout", "stderr", "exit_code", "duration"}`` with secrets masked. An exit code
    outside ``accept_exit_codes`` raises ``CommandFailed`` (retryable) with the last lines of
    stderr. Never ``idempotent``: whether a command may safely run twice depends on the command.
    """

    name = "shell.command"
    Params = ShellCommandParams
    idempotent = False
    description = "Run a command on the engine host (string: via /bin/sh -c; list: directly)."
    shell_fields = ("command",)
    argv_fields = ("command",)

    def describe(self, params: ShellCommandParams) -> str:
        """Show the command, working directory and the *names* of extra environment variables;
        their values often are credentials."""
        shown = params.command if isinstance(params.command, str) else shlex.join(params.command)
        extras = []
        if params.cwd:
            extras.append(f"cwd={params.cwd}")
        if params.env:
            extras.append("env=" + ",".join(sorted(params.env)))
        if params.timeout is not None:
            extras.append(f"timeout={params.timeout:g}s")
        suffix = f" ({'; '.join(extras)})" if extras else ""
        return f"{self.name} {shown}{suffix}"

    def run(self, params: ShellCommandParams, ctx: ActionContext) -> Result:
        """Run the command; see the class docstring for the result and errors."""
        argv = (
            ["/bin/sh", "-c", params.command]
            if isinstance(params.command, str)
            else list(params.command)
        )
        limit = params.timeout
        if ctx.deadline is not None:
            limit = ctx.deadline if limit is None else min(limit, ctx.deadline)

        started = time.monotonic()
        proc = _spawn(argv, params)
        stdout = _capture(ctx, prefix="")
        stderr = _capture(ctx, prefix="stderr: ")
        try:
            _pump(
                proc,
                stdin_text=params.stdin,
                stdout=stdout,
                stderr=stderr,
                ctx=ctx,
                started=started,
                limit=limit,
            )
        except BaseException:
            # Whatever ended the loop early (timeout, cancel, a failing log callback), nothing
            # the command started may outlive the step.
            _kill_group(proc)
            raise
        finally:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        stdout.finish()
        stderr.finish()

        exit_code = proc.returncode
        assert exit_code is not None  # _pump returns only once the process has been reaped
        duration = round(time.monotonic() - started, 3)
        stderr_text = stderr.text()
        if exit_code not in params.accept_exit_codes:
            tail = "\n".join(stderr_text.splitlines()[-_STDERR_TAIL_LINES:])
            raise CommandFailed(
                f"command {_exit_description(exit_code)} "
                f"(accepted: {', '.join(map(str, params.accept_exit_codes))})",
                exit_code=exit_code,
                stderr=tail,
                retryable=True,
            )
        return {
            "stdout": stdout.text(),
            "stderr": stderr_text,
            "exit_code": exit_code,
            "duration": duration,
            "truncated": stdout.truncated or stderr.truncated,
            "stdout_bytes": stdout.total_bytes,
            "stderr_bytes": stderr.total_bytes,
        }


def _spawn(argv: list[str], params: ShellCommandParams) -> subprocess.Popen[bytes]:
    env = {**os.environ, **params.env}
    try:
        return subprocess.Popen(
            argv,
            cwd=params.cwd,
            env=env,
            stdin=subprocess.PIPE if params.stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        # A missing program or working directory is a runbook mistake: retrying cannot fix it.
        missing = exc.filename or argv[0]
        raise ActionInputError(f"cannot start {argv[0]!r}: {exc.strerror}: {missing}") from exc
    except OSError as exc:
        # Anything else (EAGAIN, ENOMEM when forking) is the host being busy; worth a retry.
        raise ActionError(f"cannot start {argv[0]!r}: {exc}", kind="spawn") from exc


def _pump(
    proc: subprocess.Popen[bytes],
    *,
    stdin_text: str | None,
    stdout: OutputCapture,
    stderr: OutputCapture,
    ctx: ActionContext,
    started: float,
    limit: float | None,
) -> None:
    """Move data between the pipes and the captures until the command is done.

    Raises the stop error on timeout or cancel; the caller kills the process group.
    """
    assert proc.stdout is not None
    assert proc.stderr is not None
    pending_stdin = (stdin_text or "").encode()
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout.fileno(), selectors.EVENT_READ, stdout)
        selector.register(proc.stderr.fileno(), selectors.EVENT_READ, stderr)
        stdin_fd: int | None = None
        if proc.stdin is not None:
            stdin_fd = proc.stdin.fileno()
            # Non-blocking, so a command that does not read its stdin cannot stall the loop.
            os.set_blocking(stdin_fd, False)
            if pending_stdin:
                selector.register(stdin_fd, selectors.EVENT_WRITE, None)
            else:
                proc.stdin.close()
                stdin_fd = None

        exited_at: float | None = None
        readers = 2
        while True:
            if ctx.cancelled.is_set():
                raise stop_error(ctx, started, "command")
            now = time.monotonic()
            if limit is not None and now - started >= limit:
                raise ActionTimeout(f"command timed out after {now - started:.1f}s")
            if proc.poll() is not None:
                if readers == 0:
                    return
                if exited_at is None:
                    exited_at = now
                elif now - exited_at >= _LINGER:
                    return

            wait = _POLL if limit is None else max(0.0, min(_POLL, limit - (now - started)))
            if not selector.get_map():
                # Both pipes are closed (the command closed them) but it is still running.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait)
                continue
            for key, _events in selector.select(wait):
                if key.fd == stdin_fd:
                    assert proc.stdin is not None
                    try:
                        written = os.write(key.fd, pending_stdin[:_READ_SIZE])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        # The command exited or closed stdin without reading everything; that
                        # is its business, as with a shell pipe.
                        written = len(pending_stdin)
                    pending_stdin = pending_stdin[written:]
                    if not pending_stdin:
                        selector.unregister(key.fd)
                        proc.stdin.close()
                        stdin_fd = None
                    continue
                data = os.read(key.fd, _READ_SIZE)
                capture: OutputCapture = key.data
                if data:
                    capture.feed(data)
                else:
                    selector.unregister(key.fd)
                    readers -= 1


def _capture(ctx: ActionContext, *, prefix: str) -> OutputCapture:
    """One output stream of the local command: ``MAX_CAPTURE`` bytes kept, head and tail."""
    return OutputCapture(ctx, prefix=prefix, max_bytes=MAX_CAPTURE, max_line=_MAX_LINE)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, SIGKILL it if anything is left after the grace."""
    # With start_new_session the command leads its own group, whose id is its pid; the group
    # lives on under that id after the leader exits as long as any member remains.
    pgid = proc.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        proc.wait()
        return
    give_up = time.monotonic() + _KILL_GRACE
    while time.monotonic() < give_up:
        proc.poll()  # reap the leader so it does not count as a member
        if not _group_alive(pgid):
            break
        time.sleep(0.02)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        # SIGKILL is delivered asynchronously: wait (briefly) until the group is really gone, so
        # "the step timed out" also means "nothing of it is still running"
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            proc.poll()
            if not _group_alive(pgid):
                break
            time.sleep(0.01)
    proc.wait()


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # kill(0) also succeeds for zombies, which are dead but linger when the container's init does
    # not reap orphans; on Linux, look at the states to avoid waiting the full grace for them.
    proc_root = Path("/proc")
    if not proc_root.is_dir():
        return True
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses; fields after the last
        # ")" are: state, ppid, pgrp, ...
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 3 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _exit_description(exit_code: int) -> str:
    if exit_code < 0:
        try:
            signame = signal.Signals(-exit_code).name
        except ValueError:
            signame = f"signal {-exit_code}"
        return f"was killed by {signame}"
    return f"exited with {exit_code}"
