"""Who drives a run: the one place that answers "is a live engine still driving this run?".

An engine claims a run by writing its owner id (``host:pid``) on the run row and proves it is
alive by heartbeating every ``HEARTBEAT_EVERY`` seconds. It is taken for dead when its process
is gone (on this host, known at once) or its heartbeat is older than ``STALE_AFTER`` (any host).
The service, the server's sweeper, the workers' reaper and the CLI all ask here.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from runbook_engine.store import RunRecord

__all__ = ["HEARTBEAT_EVERY", "STALE_AFTER", "is_driven", "owner_dead", "owner_id"]

#: seconds between two heartbeats of a driving engine
HEARTBEAT_EVERY = 5.0
#: a heartbeat older than this means the engine is gone: three missed beats
STALE_AFTER = HEARTBEAT_EVERY * 3


def owner_id() -> str:
    """This process's name on the runs it drives."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_dead(owner: str | None) -> bool:
    """No owner, or an owner on this machine whose process is gone: dead now, not after the
    heartbeat timeout. An owner on another machine is alive as far as this can tell."""
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def is_driven(record: RunRecord, now: datetime | None = None) -> bool:
    """Is a live engine driving the run ``record`` describes (as read at ``now``)?

    A claimed run whose first heartbeat is still to come counts as driven."""
    if record.owner is None or owner_dead(record.owner):
        return False
    if record.heartbeat_at is None:
        return True
    now = now or datetime.now(UTC)
    return (now - record.heartbeat_at).total_seconds() < STALE_AFTER
