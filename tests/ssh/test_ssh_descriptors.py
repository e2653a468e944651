"""Descriptors: SSH steps work when the process holds more than 1,024 of them (select() cannot
watch those), and the pool's cap comes from the open-file limit."""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Iterator

import pytest

from runbook_engine.actions.ssh import ConnectionPool, HostsFailed, SshCommandAction
from runbook_engine.actions.ssh.limits import (
    DEFAULT_MAX_CONNECTIONS,
    ENV,
    RESERVE,
    connection_budget,
    plan,
    requested_cap,
)
from runbook_engine.actions.ssh.pool import POOL_RESOURCE, pool_for
from runbook_engine.errors import ActionError, ActionInputError
from tests.ssh.ssh_helpers import SshEnv, wait_gone

#: descriptors held open while the SSH work runs, so that every one it opens is numbered
#: past what select() accepts (FD_SETSIZE, 1,024)
HELD = 1100
INFINITY = resource.RLIM_INFINITY


@pytest.fixture
def nofile() -> Iterator[tuple[int, int]]:
    """The open-file limits, put back as they were after the test."""
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield limits
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


@pytest.fixture
def far_descriptors(nofile: tuple[int, int]) -> Iterator[None]:
    """``HELD`` descriptors open on os.devnull: what the test opens next is numbered past 1024."""
    soft, hard = nofile
    room = HELD + 1024  # the held ones, plus what the test process and the SSH work open
    if soft != INFINITY and soft < room:
        if hard != INFINITY and hard < room:
            pytest.skip(f"the hard open-file limit ({hard}) is below {room}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (room, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(HELD)]
    try:
        probe = os.open(os.devnull, os.O_RDONLY)
        os.close(probe)
        assert probe >= 1024, probe
        yield
    finally:
        for fd in held:
            os.close(fd)


# ------------------------------------------------------------- past descriptor number 1024


def test_commands_run_with_descriptors_past_1024(ssh: SshEnv, far_descriptors: None) -> None:
    ctx = ssh.ctx()
    result = ssh.run(
        SshCommandAction(),
        ctx,
        hosts="h[01:04]",
        command="echo far; echo err >&2",
        forks=4,
    )
    assert result["ok"] == ["h01", "h02", "h03", "h04"]
    assert [h["stdout"] for h in result["hosts"]] == ["far\n"] * 4
    assert [h["stderr"] for h in result["hosts"]] == ["err\n"] * 4
    # a second step on the pooled connections (their sockets are past 1024 too), with stdin
    again = ssh.run(SshCommandAction(), ctx, hosts="h[01:04]", command="cat", stdin="fed\n")
    assert [h["stdout"] for h in again["hosts"]] == ["fed\n"] * 4
    pool = ctx.resources[POOL_RESOURCE]
    assert isinstance(pool, ConnectionPool)
    assert pool.handshakes == 4


def test_timeout_and_cancel_work_with_descriptors_past_1024(
    ssh: SshEnv, far_descriptors: None
) -> None:
    with pytest.raises(HostsFailed) as timed_out:
        ssh.run(SshCommandAction(), hosts="h05", command="sleep 617.43", timeout=1)
    assert timed_out.value.kind == "timeout"
    assert "killed" in timed_out.value.hosts[0]["error"]
    # The cancel reaches the host's thread through the wake-up descriptor (past 1024 too).
    ctx = ssh.ctx()
    threading.Timer(0.8, ctx.cancelled.set).start()
    with pytest.raises(ActionError) as cancelled:
        ssh.run(SshCommandAction(), ctx, hosts="h[06:07]", command="sleep 618.43")
    assert cancelled.value.kind == "cancelled"
    assert wait_gone("sleep 61[78].43") == []


# ------------------------------------------------------------------- the connection cap


def test_default_cap_fits_a_thousand_hosts_by_raising_the_soft_limit() -> None:
    # systemd's limits for a service: soft 1,024, hard 524,288
    budget = plan(None, soft=1024, hard=524288, in_use=12)
    assert budget.cap == DEFAULT_MAX_CONNECTIONS >= 1100
    assert budget.soft_limit == 12 + DEFAULT_MAX_CONNECTIONS + RESERVE
    assert not budget.cut


def test_the_soft_limit_is_raised_only_as_far_as_needed() -> None:
    assert plan(None, soft=20000, hard=20000, in_use=12).soft_limit == 20000
    assert plan(None, soft=1024, hard=INFINITY, in_use=12).soft_limit == (
        12 + DEFAULT_MAX_CONNECTIONS + RESERVE
    )
    unlimited = plan(None, soft=INFINITY, hard=INFINITY, in_use=12)
    assert (unlimited.cap, unlimited.soft_limit) == (DEFAULT_MAX_CONNECTIONS, INFINITY)


def test_a_low_hard_limit_lowers_the_cap_and_keeps_a_reserve() -> None:
    raised = plan(None, soft=1024, hard=2048, in_use=12)
    assert (raised.cap, raised.soft_limit) == (2048 - 12 - RESERVE, 2048)
    # 1,024 and no more: a share of it is still left to everything else (256 as before)
    small = plan(None, soft=1024, hard=1024, in_use=12)
    assert small.soft_limit == 1024
    assert 250 <= small.cap <= 256
    assert plan(None, soft=1024, hard=1024, in_use=1020).cap == 1  # nothing left to pool


def test_a_requested_cap_is_kept_when_it_fits_and_cut_when_not() -> None:
    fits = plan(1100, soft=1024, hard=524288, in_use=12)
    assert (fits.cap, fits.soft_limit, fits.cut) == (1100, 12 + 1100 + RESERVE, False)
    small = plan(64, soft=1024, hard=1024, in_use=12)
    assert (small.cap, small.soft_limit, small.cut) == (64, 1024, False)
    cut = plan(5000, soft=1024, hard=4096, in_use=12)
    assert (cut.cap, cut.soft_limit, cut.cut) == (4096 - 12 - RESERVE, 4096, True)


def test_the_variable_must_be_a_positive_whole_number() -> None:
    assert requested_cap({}) is None
    assert requested_cap({ENV: " "}) is None
    assert requested_cap({ENV: "1100"}) == 1100
    for bad in ("0", "-5", "many", "1.5"):
        with pytest.raises(ActionInputError, match=ENV):
            requested_cap({ENV: bad})


def test_a_new_pool_raises_the_process_soft_limit(nofile: tuple[int, int]) -> None:
    _, hard = nofile
    if hard != INFINITY and hard < 4096:
        pytest.skip(f"the hard open-file limit ({hard}) leaves nothing to raise to")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    budget = connection_budget({})
    assert budget.cap == DEFAULT_MAX_CONNECTIONS
    soft_now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert soft_now == budget.soft_limit >= budget.in_use + DEFAULT_MAX_CONNECTIONS + RESERVE
    assert ConnectionPool().max_open == DEFAULT_MAX_CONNECTIONS
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft_now  # never lowered


def test_a_cap_that_does_not_fit_is_logged(
    ssh: SshEnv, nofile: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, hard = nofile
    if hard == INFINITY:
        pytest.skip("no hard open-file limit to exceed")
    monkeypatch.setenv(ENV, str(hard + 1))
    ctx = ssh.ctx()
    pool = pool_for(ctx)
    assert pool.max_open <= hard - RESERVE
    assert any(f"{ENV}={hard + 1} does not fit" in line for line in ssh.lines), ssh.lines


def test_a_fleet_larger_than_the_cap_is_noted(ssh: SshEnv) -> None:
    ctx = ssh.ctx(resources={POOL_RESOURCE: ConnectionPool(max_open=3)})
    result = ssh.run(SshCommandAction(), ctx, hosts="h[01:05]", command="true")
    assert len(result["ok"]) == 5
    assert any("at most 3 SSH connections open" in line for line in ssh.lines), ssh.lines
