"""``ssh.download``: fetch a file from many hosts into ``dest/<host>/<file name>``."""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runbook_engine.actions.ssh.command import describe_fanout
from runbook_engine.actions.ssh.params import FanoutParams
from runbook_engine.actions.ssh.sftp import Progress, get, open_sftp
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

__all__ = ["SshDownloadAction", "SshDownloadParams"]


class SshDownloadParams(FanoutParams):
    """Parameters of ``ssh.download``."""

    #: the remote file
    src: str
    #: a local directory; each host's copy goes to ``dest/<host>/<file name>``
    dest: str


class SshDownloadAction(Action):
    """Download a file from many hosts. Result per host: ``path`` (local) and ``bytes``."""

    name = "ssh.download"
    Params = SshDownloadParams
    idempotent = True  # downloading again overwrites the local copies with the same files
    description = "Fetch a file from many hosts (SFTP) into a local directory per host."

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        return check_hosts(given, ctx)

    def describe(self, params: SshDownloadParams) -> str:
        return f"{self.name} {describe_fanout(params)}: {params.src} -> {params.dest}/<host>/"

    def run(self, params: SshDownloadParams, ctx: ActionContext) -> Result:
        root = Path(params.dest).expanduser()
        with open_fleet(params, ctx) as fleet:
            report = run_fleet(
                fleet,
                lambda target: _download(fleet, target, params, root),
                blank={"path": None, "bytes": 0},
            )
            return finish(fleet, report, what=self.name)


def _download(
    fleet: Fleet, target: Target, params: SshDownloadParams, root: Path
) -> dict[str, Any]:
    name = posixpath.basename(params.src.rstrip("/")) or "download"
    # A host name with a slash (none should have one) must not escape dest.
    local = root / target.name.replace(os.sep, "_") / name
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(f".{name}.partial")
    timeout = params.connect_timeout
    with fleet.pool.connection(
        target,
        open_sftp(timeout),
        credentials=fleet.credentials,
        timeout=timeout,
        cancelled=fleet.ctx.cancelled,
    ) as (_, sftp):
        try:
            with partial.open("wb") as sink:
                size = get(sftp, params.src, sink, Progress(fleet.ctx, params.timeout))
            os.replace(partial, local)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            sftp.close()
    return {"path": str(local), "bytes": size}
