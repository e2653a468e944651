"""Several writer processes on one run, and writers killed with SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal

from runbook_engine.store import Store
from tests.store.store_helpers import (
    Target,
    append_events,
    append_until_killed,
    make_run,
    run_in_processes,
)

WRITERS = 4
EVENTS_PER_WRITER = 25
KILL_AFTER = 40


def test_concurrent_appends_from_processes_get_gapless_unique_seqs(
    store: Store, target: Target
) -> None:
    make_run(store, "run-1")
    outcomes = run_in_processes(append_events, [(target, "run-1", EVENTS_PER_WRITER)] * WRITERS)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    got = [seq for _, seqs in outcomes for seq in seqs]
    total = 1 + WRITERS * EVENTS_PER_WRITER
    # Every append got its own seq, and together they fill 2..total exactly.
    assert sorted(got) == list(range(2, total + 1))
    # Each writer saw its own seqs rise.
    for _, seqs in outcomes:
        assert seqs == sorted(seqs)
    logged = store.events("run-1")
    assert [e.seq for e in logged] == list(range(1, total + 1))
    assert len({e.data["pid"] for e in logged[1:]}) == WRITERS


def test_sigkilled_writer_loses_no_reported_event(store: Store, target: Target) -> None:
    make_run(store, "run-1")
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=append_until_killed, args=(target, "run-1", sender))
    proc.start()
    sender.close()  # ours; the child holds its own copy
    reported: list[int] = []
    try:
        # Kill somewhere in the stream of appends: more often than not the child
        # is inside its next transaction at that moment.
        while len(reported) < KILL_AFTER:
            assert receiver.poll(30), f"child stopped reporting after {reported}"
            reported.append(receiver.recv())
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        # Seqs the child sent before it died were committed too: count them.
        while receiver.poll(0):
            reported.append(receiver.recv())
    except EOFError:
        pass  # the pipe closed as the child died, after its last whole message
    finally:
        if proc.is_alive():  # the test failed before its kill; never leave it running
            proc.kill()
            proc.join()
        exitcode = proc.exitcode
        proc.close()
        receiver.close()
    # Died of our SIGKILL, not of an error of its own after a few appends.
    assert exitcode == -signal.SIGKILL
    assert len(reported) >= KILL_AFTER

    with target.open() as reopened:
        seqs = [e.seq for e in reopened.events("run-1")]
        assert set(reported) <= set(seqs)
        # No gaps or half-written events: the log is exactly 1..N.
        assert seqs == list(range(1, len(seqs) + 1))
        run = reopened.get_run("run-1")
        assert run is not None
        # The run row moved in the same transactions as the events.
        assert run.state == {"n": len(seqs) - 1}
        # The store is not wedged by the dead writer's lock or transaction.
        assert reopened.append_event("run-1", "after").seq == len(seqs) + 1
