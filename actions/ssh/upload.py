"""``ssh.upload``: write a file on many hosts, atomically, with an automatic undo.

Each host gets the content in a temporary file next to ``dest`` that is renamed over it
(``posix-rename``), so a reader sees the old file or the new one, never half of it. With
``backup`` (the default) an existing ``dest`` is first copied (``cp -p``) to
``dest.runbook-<run>.bak``; the undo renames the copy back, or removes a file the step created.
A step that fails (more host failures than ``max_failures``) undoes the hosts it had already
changed before it reports the failure: a failed upload leaves no host half-updated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import posixpath
import secrets
import shlex
import stat
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import paramiko
from pydantic import model_validator

from runbook_engine.actions.ssh.command import describe_fanout
from runbook_engine.actions.ssh.errors import HostFailure
from runbook_engine.actions.ssh.fanout import Report, Rollout
from runbook_engine.actions.ssh.params import FanoutParams
from runbook_engine.actions.ssh.remote import RemoteCommand, run_remote
from runbook_engine.actions.ssh.sftp import Progress, local_bytes, open_sftp, put, remote_errors
from runbook_engine.actions.ssh.static import check_hosts
from runbook_engine.actions.ssh.step import Fleet, finish, open_fleet, run_fleet
from runbook_engine.actions.ssh.targets import Target
from runbook_engine.actions.ssh.wrapper import command_line
from runbook_engine.plugin.contract import (
    Action,
    ActionContext,
    Result,
    StaticContext,
    StaticIssue,
)

__all__ = ["SshUploadAction", "SshUploadParams"]

_BLANK: dict[str, Any] = {"dest": None, "created": False, "backup": None, "bytes": 0}


class SshUploadParams(FanoutParams):
    """Parameters of ``ssh.upload``: exactly one of ``src`` and ``content``."""

    #: a local file to upload
    src: str | None = None
    #: the file's text
    content: str | None = None
    #: the remote path
    dest: str
    #: permissions, e.g. "0644" (default: those of the file replaced, else the server's)
    mode: int | str | None = None
    #: keep a copy of the file replaced, for the undo
    backup: bool = True

    @model_validator(mode="after")
    def _check(self) -> SshUploadParams:
        if (self.src is None) == (self.content is None):
            raise ValueError("give exactly one of src (a local file) and content (text)")
        if not self.dest or self.dest.endswith("/"):
            raise ValueError("dest is the remote file's path, not a directory")
        if isinstance(self.mode, str):
            try:
                self.mode = int(self.mode, 8)
            except ValueError:
                raise ValueError(f"mode {self.mode!r} is not octal, e.g. '0644'") from None
        if self.mode is not None and not 0 <= self.mode <= 0o7777:
            raise ValueError("mode must be between 0000 and 7777 (octal)")
        return self


class SshUploadAction(Action):
    """Upload a file to many hosts. Result per host: ``dest``, ``created``, ``backup`` (the
    copy of the replaced file, or null), ``bytes``, ``sha256``."""

    name = "ssh.upload"
    Params = SshUploadParams
    idempotent = False
    description = "Write a file on many hosts (SFTP, atomic rename), undone automatically."

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        return check_hosts(given, ctx)

    def describe(self, params: SshUploadParams) -> str:
        source = params.src or f"<{len(params.content or '')} characters>"
        return f"{self.name} {describe_fanout(params)}: {source} -> {params.dest}"

    def run(self, params: SshUploadParams, ctx: ActionContext) -> Result:
        data = _content(params)
        digest = hashlib.sha256(data).hexdigest()
        with open_fleet(params, ctx) as fleet:
            report = run_fleet(
                fleet,
                lambda target: _upload(fleet, target, params, data) | {"sha256": digest},
                blank=_BLANK,
            )
            return finish(
                fleet, report, what=self.name, before_failing=lambda r: _restore_changed(fleet, r)
            )

    def undo(
        self, params: SshUploadParams, result: Mapping[str, Any], ctx: ActionContext
    ) -> Result | None:
        changed = {h["host"]: h for h in result.get("hosts", ()) if h.get("ok")}
        if not changed:
            return None
        with open_fleet(params, ctx) as everyone:
            fleet = _only(everyone, changed)
            report = run_fleet(
                fleet,
                lambda target: _restore(fleet, target, changed[target.name]),
                blank={"restored": None},
                rollout=_everyone(fleet),
            )
            return finish(fleet, report, what=f"undo of {self.name}", tolerated=0)


def _content(params: SshUploadParams) -> bytes:
    return local_bytes(params.content, params.src, what="")


def _upload(fleet: Fleet, target: Target, params: SshUploadParams, data: bytes) -> dict[str, Any]:
    ctx = fleet.ctx
    timeout = params.connect_timeout
    dest = params.dest
    directory, name = posixpath.split(dest)
    tmp = posixpath.join(directory, f".{name}.runbook-{secrets.token_hex(6)}.tmp")
    with fleet.pool.connection(
        target,
        open_sftp(timeout),
        credentials=fleet.credentials,
        timeout=timeout,
        cancelled=ctx.cancelled,
    ) as (transport, sftp):
        try:
            existing = _stat(sftp, dest)
            if existing is not None and stat.S_ISDIR(existing.st_mode or 0):
                raise HostFailure("remote", f"{dest} is a directory", retryable=False)
            backup = None
            if existing is not None and params.backup:
                backup = f"{dest}.runbook-{ctx.run_id}.bak"
                _copy(transport, target, dest, backup, fleet)
            put(sftp, io.BytesIO(data), tmp, len(data), Progress(ctx, params.timeout))
            with remote_errors(f"set the mode and owner of {tmp}"):
                mode = params.mode
                if mode is None and existing is not None:
                    mode = stat.S_IMODE(existing.st_mode or 0o644)
                if mode is not None:
                    sftp.chmod(tmp, int(mode))
                if existing is not None and existing.st_uid is not None:
                    # Only root may give the file away; anyone else keeps their own.
                    with contextlib.suppress(OSError):
                        sftp.chown(tmp, existing.st_uid, existing.st_gid or 0)
            with remote_errors(f"rename {tmp} to {dest}"):
                sftp.posix_rename(tmp, dest)
        except BaseException:
            with contextlib.suppress(Exception):
                sftp.remove(tmp)
            raise
        finally:
            sftp.close()
    return {"dest": dest, "created": existing is None, "backup": backup, "bytes": len(data)}


def _stat(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        with remote_errors(f"look at {path}"):
            raise exc


def _copy(transport: paramiko.Transport, target: Target, src: str, dest: str, fleet: Fleet) -> None:
    """``cp -p`` on the host: keeps mode, owner and times, and costs no transfer."""
    channel = transport.open_session(timeout=fleet.params.connect_timeout)
    command = RemoteCommand(
        line=command_line(shlex.join(["cp", "-p", "--", src, dest])),
        timeout=fleet.params.timeout,
    )
    finished = run_remote(
        transport, channel, command, host=target.name, ctx=fleet.ctx, wakeup=fleet.wakeup
    )
    if finished.exit_code != 0:
        reason = finished.stderr.strip() or f"exit code {finished.exit_code}"
        raise HostFailure("remote", f"cannot back up {src}: {reason}", retryable=False)


def _restore(fleet: Fleet, target: Target, done: Mapping[str, Any]) -> dict[str, Any]:
    """Undo one host's upload: the backup back in place, or the created file removed."""
    timeout = fleet.params.connect_timeout
    dest, backup = str(done["dest"]), done.get("backup")
    with fleet.pool.connection(
        target,
        open_sftp(timeout),
        credentials=fleet.credentials,
        timeout=timeout,
        cancelled=fleet.ctx.cancelled,
    ) as (_, sftp):
        try:
            if backup:
                with remote_errors(f"restore {dest} from {backup}"):
                    sftp.posix_rename(str(backup), dest)
                return {"restored": "backup"}
            if done.get("created"):
                # Already gone is fine: the undo's goal holds.
                with remote_errors(f"remove {dest}"), contextlib.suppress(FileNotFoundError):
                    sftp.remove(dest)
                return {"restored": "removed"}
        finally:
            sftp.close()
    fleet.ctx.log(f"{target.name}: {dest} was replaced without a backup; nothing to restore")
    return {"restored": None}


def _restore_changed(fleet: Fleet, report: Report) -> str:
    """Before a failed upload reports its failure, put back the hosts it changed."""
    changed = {o.target.name: o.data for o in report.outcomes if o.ok}
    if not changed:
        return ""
    fleet.ctx.log(f"restoring {len(changed)} host(s) changed before the failure")
    # Restoring is the safe direction: it goes on after a cancel or step timeout too (with
    # an event of its own), as long as the run's connections stay open.
    calm = dataclasses.replace(fleet.ctx, cancelled=threading.Event())
    subset = dataclasses.replace(_only(fleet, changed), ctx=calm)
    undone = run_fleet(
        subset,
        lambda target: _restore(subset, target, changed[target.name]),
        blank={"restored": None},
        rollout=_everyone(subset),
    )
    failed = [o.target.name for o in undone.failures]
    if failed:
        return f"Restoring failed on {', '.join(failed)}: those hosts keep the new file"
    return f"The {len(changed)} host(s) already changed were restored"


def _only(fleet: Fleet, names: Mapping[str, Any]) -> Fleet:
    return dataclasses.replace(fleet, targets=[t for t in fleet.targets if t.name in names])


def _everyone(fleet: Fleet) -> Rollout:
    """Restoring goes to every host, however many fail: each restored host is one fewer
    left in a state nobody planned."""
    total = max(1, len(fleet.targets))
    return Rollout(forks=fleet.params.forks, batch_size=total, tolerated=total)
