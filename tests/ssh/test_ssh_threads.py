"""Threads stay bounded on a fleet bigger than the connection cap: forks workers plus at most
``max_open`` paramiko reader threads, never one thread per host."""

from __future__ import annotations

import threading
import time

from runbook_engine.actions.ssh import ConnectionPool, SshCommandAction
from runbook_engine.actions.ssh.pool import POOL_RESOURCE
from tests.ssh.ssh_helpers import FLEET_SIZE, SshEnv


def test_threads_are_bounded_by_forks_and_the_connection_cap(ssh: SshEnv) -> None:
    assert FLEET_SIZE >= 20
    cap, forks = 4, 3
    ctx = ssh.ctx(resources={POOL_RESOURCE: ConnectionPool(max_open=cap)})
    baseline = threading.active_count()
    peak = baseline
    stop = threading.Event()
    names: list[str] = []

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            count = threading.active_count()
            if count > peak:
                peak = count
                names[:] = [t.name for t in threading.enumerate()]
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for _ in range(2):  # a second step over the same fleet reconnects what was closed
            result = ssh.run(
                SshCommandAction(),
                ctx,
                hosts=f"h[01:{FLEET_SIZE:02d}]",
                command="true",
                forks=forks,
            )
            assert len(result["ok"]) == FLEET_SIZE
    finally:
        stop.set()
        sampler.join()
    # the sampler, the step's workers, the cancel watcher, reader threads of the kept
    # connections and of those in use, and a few just closed: a constant, not one per host
    assert peak - baseline <= 1 + forks + 1 + cap + forks + 4, (peak, baseline, names)
    assert peak - baseline < FLEET_SIZE
