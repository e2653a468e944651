"""SSH actions on paramiko: ``ssh.command``, ``ssh.script``, ``ssh.upload``, ``ssh.download``.

Hosts come from the inventory (``runbook_engine.inventory``) by pattern; connections are pooled per
run (one handshake per host per run), checked against known_hosts, and may go through jump hosts.
Every action fans out over a bounded thread pool, optionally as a rolling rollout that stops at a
failure threshold. ``docs/ssh.md`` is the user's guide."""

from runbook_engine.actions.ssh.command import SshCommandAction, SshCommandParams
from runbook_engine.actions.ssh.download import SshDownloadAction, SshDownloadParams
from runbook_engine.actions.ssh.errors import HostFailure, HostsFailed
from runbook_engine.actions.ssh.pool import POOL_RESOURCE, ConnectionPool
from runbook_engine.actions.ssh.script import SshScriptAction, SshScriptParams
from runbook_engine.actions.ssh.upload import SshUploadAction, SshUploadParams
from runbook_engine.plugin.contract import Action

#: the SSH actions, for registration (``Registry.register``) and entry points
ACTIONS: list[type[Action]] = [
    SshCommandAction,
    SshScriptAction,
    SshUploadAction,
    SshDownloadAction,
]

__all__ = [
    "ACTIONS",
    "POOL_RESOURCE",
    "ConnectionPool",
    "HostFailure",
    "HostsFailed",
    "SshCommandAction",
    "SshCommandParams",
    "SshDownloadAction",
    "SshDownloadParams",
    "SshScriptAction",
    "SshScriptParams",
    "SshUploadAction",
    "SshUploadParams",
]
