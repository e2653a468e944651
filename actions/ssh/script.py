"""``ssh.script``: copy a script to each host by SFTP, run it with arguments, remove it.

The script is written to a fresh name under ``remote_dir`` (mode 0700, readable by the login
user only; 0755 when sudo runs it as another, non-root user: ``sudo_user`` or the inventory's
``ansible_become_user``) and removed afterwards whatever happened, a timeout included. A script
starting with ``#!`` is executed directly (its interpreter decides); any other is run by
``/bin/sh``.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from runbook_engine.actions.ssh.become import Sudo, sudo_plan
from runbook_engine.actions.ssh.command import BLANK, check_exit, describe_fanout, remote_command
from runbook_engine.actions.ssh.params import CommandOptions, FanoutParams
from runbook_engine.actions.ssh.remote import run_remote
from runbook_engine.actions.ssh.sftp import Progress, local_bytes, open_sftp, put, remote_errors
from runbook_engine.actions.ssh.static import check_hosts
from runbook_engine.actions.ssh.step import Fleet, finish, open_fleet, run_fleet
from runbook_engine.actions.ssh.targets import Target
from runbook_engine.plugin.contract import (
    Action,
    ActionContext,
    Result,
    StaticContext,
    StaticIssue,
)

__all__ = ["SshScriptAction", "SshScriptParams"]


class SshScriptParams(FanoutParams, CommandOptions):
    """Parameters of ``ssh.script``: exactly one of ``script`` and ``path``."""

    #: the script's text
    script: str | None = None
    #: a local file holding the script
    path: str | None = None
    args: list[str] = Field(default_factory=list)
    #: where the script is written on each host
    remote_dir: str = "/tmp"

    @model_validator(mode="after")
    def _one_source(self) -> SshScriptParams:
        if (self.script is None) == (self.path is None):
            raise ValueError("give exactly one of script (the text) and path (a local file)")
        return self


class SshScriptAction(Action):
    """Run a script on many hosts; the result is ``ssh.command``'s."""

    name = "ssh.script"
    Params = SshScriptParams
    idempotent = False
    description = "Copy a script to many hosts (SFTP), run it with arguments, remove it."
    shell_fields = ("script",)
    #: the script's text goes to a file; its arguments are the remote process's argv
    argv_fields = ("args",)

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        return check_hosts(given, ctx)

    def describe(self, params: SshScriptParams) -> str:
        source = params.path or f"<inline script, {len(params.script or '')} characters>"
        args = f" {shlex.join(params.args)}" if params.args else ""
        return f"{self.name} {describe_fanout(params)}: {source}{args}"

    def run(self, params: SshScriptParams, ctx: ActionContext) -> Result:
        body = _script_bytes(params)
        with open_fleet(params, ctx) as fleet:
            plan = sudo_plan(fleet.targets, sudo=params.sudo, sudo_user=params.sudo_user)
            report = run_fleet(
                fleet,
                lambda target: _run_script(fleet, target, params, body, plan[target]),
                blank=BLANK,
            )
            return finish(fleet, report, what=self.name)


def _run_script(
    fleet: Fleet, target: Target, params: SshScriptParams, body: bytes, sudo: Sudo | None
) -> dict[str, Any]:
    ctx = fleet.ctx
    timeout = params.connect_timeout
    # Another user than the login user or root must be able to read the file to run it.
    shared = sudo is not None and sudo.user not in (None, "root", target.user)
    remote = f"{params.remote_dir.rstrip('/')}/.runbook-{secrets.token_hex(8)}"
    run_line = [remote] if body.startswith(b"#!") else ["/bin/sh", remote]
    command = remote_command(
        params, shlex.join([*run_line, *params.args]), sudo, timeout=params.timeout
    )
    with fleet.pool.connection(
        target,
        open_sftp(timeout),
        credentials=fleet.credentials,
        timeout=timeout,
        cancelled=ctx.cancelled,
    ) as (transport, sftp):
        try:
            put(sftp, io.BytesIO(body), remote, len(body), Progress(ctx, params.timeout))
            with remote_errors(f"make {remote} executable"):
                sftp.chmod(remote, 0o755 if shared else 0o700)
            channel = transport.open_session(timeout=timeout)
            finished = run_remote(
                transport, channel, command, host=target.name, ctx=ctx, wakeup=fleet.wakeup
            )
        finally:
            # Removed even after a timeout or a failure: nothing is left behind.
            with contextlib.suppress(Exception):
                sftp.remove(remote)
            sftp.close()
    return check_exit(finished, params.accept_exit_codes)


def _script_bytes(params: SshScriptParams) -> bytes:
    return local_bytes(params.script, params.path, what="the script ")
