"""``ssh.command``: one shell command on many hosts, in parallel or as a rolling rollout."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import paramiko
from pydantic import field_validator

from runbook_engine.actions.ssh.become import Sudo, sudo_plan
from runbook_engine.actions.ssh.errors import HostFailure
from runbook_engine.actions.ssh.params import CommandOptions, FanoutParams
from runbook_engine.actions.ssh.remote import Finished, RemoteCommand, run_remote
from runbook_engine.actions.ssh.static import check_hosts
from runbook_engine.actions.ssh.step import Fleet, finish, open_fleet, run_fleet
from runbook_engine.actions.ssh.targets import Target
from runbook_engine.actions.ssh.wrapper import command_line, env_stdin
from runbook_engine.plugin.contract import (
    Action,
    ActionContext,
    Result,
    StaticContext,
    StaticIssue,
)

__all__ = [
    "SshCommandAction",
    "SshCommandParams",
    "check_exit",
    "describe_fanout",
    "remote_command",
    "run_on",
]

#: the fields of a host's result that a host failing before its command ran has empty
BLANK: dict[str, Any] = {"exit_code": None, "stdout": "", "stderr": ""}


class SshCommandParams(FanoutParams, CommandOptions):
    """Parameters of ``ssh.command``."""

    #: a shell command line (put parameters in with ``| quote``); a list is quoted for you
    command: str | list[str]

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str) and not value.strip():
            raise ValueError("command must not be empty")
        if isinstance(value, list) and (not value or not value[0]):
            raise ValueError("command list must start with the program to run")
        return value

    def shell_command(self) -> str:
        return self.command if isinstance(self.command, str) else shlex.join(self.command)


class SshCommandAction(Action):
    """Run a command on every host a pattern selects, streaming ``host: line`` to the run log.

    Result: ``{"hosts": [{"host", "address", "ok", "exit_code", "stdout", "stderr",
    "duration", "error"?, "kind"?}], "ok": [...], "failed": [...], "skipped": [...],
    "summary"}``. More failures than ``max_failures`` stop the rollout and fail the step with
    ``HostsFailed`` (``host``: the first failure, ``hosts``: every result).
    """

    name = "ssh.command"
    Params = SshCommandParams
    idempotent = False
    description = "Run a shell command on many hosts over SSH (parallel or rolling batches)."
    shell_fields = ("command",)
    argv_fields = ("command",)

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        return check_hosts(given, ctx)

    def describe(self, params: SshCommandParams) -> str:
        return f"{self.name} {describe_fanout(params)}: {params.shell_command()}"

    def run(self, params: SshCommandParams, ctx: ActionContext) -> Result:
        with open_fleet(params, ctx) as fleet:
            plan = sudo_plan(fleet.targets, sudo=params.sudo, sudo_user=params.sudo_user)

            def work(target: Target) -> dict[str, Any]:
                command = remote_command(
                    params, params.shell_command(), plan[target], timeout=params.timeout
                )
                finished = run_on(fleet, target, command)
                return check_exit(finished, params.accept_exit_codes)

            report = run_fleet(fleet, work, blank=BLANK)
            return finish(fleet, report, what=self.name)


def remote_command(
    options: CommandOptions, shell: str, sudo: Sudo | None, *, timeout: float | None
) -> RemoteCommand:
    """``shell`` (a shell command line) as the step's options and the host's sudo say."""
    return RemoteCommand(
        line=command_line(
            shell,
            env=options.env,
            cwd=options.cwd,
            sudo=sudo is not None,
            sudo_user=sudo.user if sudo is not None else None,
        ),
        stdin=_stdin(options),
        timeout=timeout,
        sudo=sudo is not None,
    )


def _stdin(options: CommandOptions) -> bytes | None:
    """The environment's values first (never on a remote command line), then the input."""
    if not options.env and options.stdin is None:
        return None
    return env_stdin(options.env) + (options.stdin or "").encode()


def run_on(fleet: Fleet, target: Target, command: RemoteCommand) -> Finished:
    """Run ``command`` on ``target`` through the run's connection pool."""
    timeout = fleet.params.connect_timeout

    def open_session(transport: paramiko.Transport) -> paramiko.Channel:
        return transport.open_session(timeout=timeout)

    with fleet.pool.connection(
        target,
        open_session,
        credentials=fleet.credentials,
        timeout=timeout,
        cancelled=fleet.ctx.cancelled,
    ) as (transport, channel):
        return run_remote(
            transport, channel, command, host=target.name, ctx=fleet.ctx, wakeup=fleet.wakeup
        )


def check_exit(finished: Finished, accepted: list[int]) -> dict[str, Any]:
    """The host's result fields; raises ``HostFailure`` (kind ``exit``) for a code not in
    ``accepted``, with the output in the host's result."""
    data: dict[str, Any] = {
        "exit_code": finished.exit_code,
        "stdout": finished.stdout,
        "stderr": finished.stderr,
    }
    if finished.truncated:
        data.update(
            truncated=True,
            stdout_bytes=finished.stdout_bytes,
            stderr_bytes=finished.stderr_bytes,
        )
    if finished.exit_code in accepted:
        return data
    if finished.exit_code is None:
        what = "was killed by a signal (no exit status)"
    else:
        what = f"exited with {finished.exit_code}"
    tail = finished.stderr.strip().splitlines()[-1:] if finished.stderr.strip() else []
    hint = f": {tail[0][:200]}" if tail else ""
    raise HostFailure(
        "exit",
        f"command {what} (accepted: {', '.join(map(str, accepted))}){hint}",
        retryable=True,
        details=data,
    )


def describe_fanout(params: FanoutParams) -> str:
    """The hosts and rollout options, for plans and dry runs (no secrets: never the key)."""
    hosts = params.hosts if isinstance(params.hosts, str) else ",".join(params.hosts)
    extras = [f"forks={params.forks}"]
    if params.batch is not None:
        extras.append(f"batch={params.batch}")
    extras.append(f"max_failures={params.max_failures}")
    if params.timeout is not None:
        extras.append(f"timeout={params.timeout:g}s")
    if params.jump:
        extras.append(f"jump={params.jump}")
    return f"{hosts} ({', '.join(extras)})"
