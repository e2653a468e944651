"""How many connections a run's pool keeps open: the cap, from the descriptors the process may
open.

A pooled connection holds one socket and one paramiko reader thread. A host in flight adds its
channel's wake-up pipe (two descriptors) and, for a transfer, a local file. Processes usually
start with a soft open-file limit of 1,024 under a much higher hard limit (systemd gives
services 1,024 and 524,288), so when a pool is created the soft limit is raised as far as the
cap needs, never past the hard limit, and the cap is what then fits beside a reserve kept for
everything else: a run on 1,000 hosts keeps its 1,000 connections from its first step to its
last instead of reconnecting in every step.

``RUNBOOK_SSH_MAX_CONNECTIONS`` sets the cap; unset, it is ``DEFAULT_MAX_CONNECTIONS``. Either
is lowered to what the descriptors allow.
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from runbook_engine.actions.ssh.params import MAX_FORKS
from runbook_engine.errors import ActionInputError

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "ENV",
    "RESERVE",
    "Budget",
    "connection_budget",
    "plan",
    "requested_cap",
]

ENV = "RUNBOOK_SSH_MAX_CONNECTIONS"
#: the cap where the descriptor limit allows it: a run over 2,000 hosts keeps every
#: connection. Each open connection is one paramiko reader thread, so this also bounds the
#: pool's threads (below systemd's default TasksMax of 4,915 for a service, with room to spare)
DEFAULT_MAX_CONNECTIONS = 2048
#: descriptors kept for everything but pooled connections: the wake-up pipe and local file of
#: each of up to MAX_FORKS hosts in flight (three each), plus the store, logs, the CLI's streams
RESERVE = 3 * MAX_FORKS + 256
#: the largest share of a small limit the reserve takes: 1,024 descriptors still pool 256
#: connections, as before the cap was derived
_RESERVE_SHARE = 0.75

_lock = threading.Lock()


@dataclass(frozen=True)
class Budget:
    """A pool's cap, and the soft open-file limit that makes room for it."""

    #: connections the pool keeps open
    cap: int
    #: the soft ``RLIMIT_NOFILE`` to run with (the current one, or higher)
    soft_limit: int
    #: ``RUNBOOK_SSH_MAX_CONNECTIONS``, when set
    requested: int | None
    #: descriptors open when the budget was made
    in_use: int

    @property
    def cut(self) -> bool:
        """The requested cap did not fit the descriptor limit."""
        return self.requested is not None and self.cap < self.requested


def plan(requested: int | None, *, soft: int, hard: int, in_use: int) -> Budget:
    """The budget for a pool, given the open-file limits and the descriptors already open;
    no system call. ``RLIM_INFINITY`` stands for no limit in ``soft`` and ``hard``."""
    wanted = DEFAULT_MAX_CONNECTIONS if requested is None else requested
    if soft == resource.RLIM_INFINITY:
        return Budget(wanted, soft, requested, in_use)
    needed = in_use + wanted + RESERVE
    limit = soft
    if soft < needed:
        # Only as far as needed: children (shell steps) inherit the limit, and some programs
        # walk every descriptor number up to it.
        limit = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    free = max(0, limit - in_use)
    reserve = min(RESERVE, int(free * _RESERVE_SHARE))
    return Budget(max(1, min(wanted, free - reserve)), limit, requested, in_use)


def requested_cap(environ: Mapping[str, str]) -> int | None:
    """``RUNBOOK_SSH_MAX_CONNECTIONS`` as a number, or None when unset or empty."""
    raw = environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ActionInputError(f"{ENV} must be a whole number of at least 1, not {raw!r}")
    return value


def connection_budget(environ: Mapping[str, str] | None = None) -> Budget:
    """The budget for a new pool, with the process's soft open-file limit raised to it."""
    requested = requested_cap(os.environ if environ is None else environ)
    # One at a time: two pools made at once must not lower the limit the other one raised.
    with _lock:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        in_use = _open_descriptors()
        budget = plan(requested, soft=soft, hard=hard, in_use=in_use)
        if budget.soft_limit != soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (budget.soft_limit, hard))
            except (ValueError, OSError):
                # macOS refuses a soft limit above OPEN_MAX even under an unlimited hard one:
                # fit the cap within the limit the process has.
                budget = plan(requested, soft=soft, hard=soft, in_use=in_use)
        return budget


def _open_descriptors() -> int:
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(listing))
        except OSError:
            continue
    return 0
