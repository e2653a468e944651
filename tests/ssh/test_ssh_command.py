"""ssh.command on real sshd: fan-out, streaming, options, errors by kind, killing on timeout."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from runbook_engine.actions.ssh import ConnectionPool, HostsFailed, SshCommandAction
from runbook_engine.actions.ssh.pool import POOL_RESOURCE
from runbook_engine.errors import ActionError, ActionInputError, ActionTimeout
from tests.ssh.ssh_helpers import SshEnv, host_name, wait_gone, without_inventory
from tests.ssh.sshd import addresses, keygen

#: the command sees its own server address as the third word of $SSH_CONNECTION
WHERE = "set -- $SSH_CONNECTION; "


def test_runs_on_every_host_and_streams_lines(ssh: SshEnv) -> None:
    result = ssh.run(SshCommandAction(), hosts="h[01:08]", command=WHERE + 'echo "on $3"')
    assert result["ok"] == [host_name(i + 1) for i in range(8)]
    assert result["failed"] == [] and result["skipped"] == []
    assert result["summary"] == "8 hosts: 8 ok"
    for host, address in zip(result["hosts"], addresses(8), strict=True):
        assert host["ok"] is True
        assert host["address"] == address
        assert host["stdout"] == f"on {address}\n"
        assert host["exit_code"] == 0
        assert host["stderr"] == ""  # the wrapper's process-group line is not output
        assert host["duration"] > 0
    assert "h07: on 127.0.1.7" in ssh.lines
    assert any(line.startswith("h07: ok (") for line in ssh.lines)


def test_env_stdin_cwd_and_accepted_exit_codes(ssh: SshEnv) -> None:
    result = ssh.run(
        SshCommandAction(),
        hosts="h01",
        command='printf "%s|" "$GREETING"; cat; pwd; echo oops >&2; exit 3',
        env={"GREETING": "hello 'world'"},
        stdin="from stdin\n",
        cwd=str(ssh.scratch),
        accept_exit_codes=[0, 3],
    )
    host = result["hosts"][0]
    assert host["stdout"] == f"hello 'world'|from stdin\n{ssh.scratch}\n"
    assert host["stderr"] == "oops\n"
    assert host["exit_code"] == 3
    assert "h01: stderr: oops" in ssh.lines


def test_a_failing_host_fails_the_step_and_is_named(ssh: SshEnv) -> None:
    with pytest.raises(HostsFailed) as caught:
        ssh.run(
            SshCommandAction(),
            hosts="h[01:03]",
            command=WHERE + 'echo "out $3"; case $3 in *.2) echo "bad disk" >&2; exit 4;; esac',
        )
    error = caught.value
    assert error.host == "h02"
    assert error.kind == "exit"
    assert error.retryable is True
    assert error.exit_code == 4
    assert error.stderr == "bad disk"
    assert "h02: command exited with 4" in str(error)
    assert [h["ok"] for h in error.hosts] == [True, False, True]
    assert error.hosts[1]["stdout"] == "out 127.0.1.2\n"
    assert error.hosts[1]["kind"] == "exit"


def test_failures_within_max_failures_succeed_with_a_failed_list(ssh: SshEnv) -> None:
    result = ssh.run(
        SshCommandAction(),
        hosts="h01,h02,h03,h04",
        command=WHERE + "case $3 in *.2|*.4) exit 1;; esac",
        max_failures="50%",
    )
    assert result["ok"] == ["h01", "h03"]
    assert result["failed"] == ["h02", "h04"]
    assert result["summary"] == "4 hosts: 2 ok, 2 failed (h02, h04)"


def test_secrets_are_masked_in_output_and_log(ssh: SshEnv) -> None:
    ctx = ssh.ctx(secrets=("hunter2",))
    result = ssh.run(SshCommandAction(), ctx, hosts="h01", command="echo pw=hunter2")
    assert result["hosts"][0]["stdout"] == "pw=***\n"
    assert "h01: pw=***" in ssh.lines
    assert not any("hunter2" in line for line in ssh.lines)


def test_timeout_kills_the_remote_processes(ssh: SshEnv) -> None:
    marker = "sleep 612.71"
    started = time.monotonic()
    with pytest.raises(HostsFailed) as caught:
        ssh.run(
            SshCommandAction(),
            hosts="h01,h02",
            command=f"{marker} & sleep 613.71; echo never",
            timeout=1,
        )
    took = time.monotonic() - started
    assert took < 4, took
    error = caught.value
    assert error.kind == "timeout"
    assert error.retryable is True
    assert "timed out after 1s" in error.hosts[0]["error"]
    assert "killed" in error.hosts[0]["error"]
    assert wait_gone("sleep 61[23].71") == []


def test_cancel_stops_the_rollout_and_kills(ssh: SshEnv) -> None:
    ctx = ssh.ctx()
    threading.Timer(0.8, ctx.cancelled.set).start()
    with pytest.raises(ActionError) as caught:
        ssh.run(
            SshCommandAction(),
            ctx,
            hosts="h[01:08]",
            forks=2,
            command="sleep 614.17",
        )
    error = caught.value
    assert error.kind == "cancelled"
    assert error.retryable is False
    hosts = error.hosts
    assert hosts is not None
    assert len(hosts) == 2  # forks=2: the others were never started
    assert all(h["kind"] == "cancelled" for h in hosts)
    assert wait_gone("sleep 614.17") == []


def test_step_deadline_is_a_retryable_timeout(ssh: SshEnv) -> None:
    ctx = ssh.ctx(deadline=0.8)
    threading.Timer(0.8, ctx.cancelled.set).start()
    with pytest.raises(ActionTimeout) as caught:
        ssh.run(SshCommandAction(), ctx, hosts="h01", command="sleep 615.21")
    assert caught.value.retryable is True
    assert wait_gone("sleep 615.21") == []


@pytest.mark.skipif(shutil.which("sudo") is None, reason="needs sudo")
def test_sudo_runs_as_root_and_is_killed_on_timeout(ssh: SshEnv) -> None:
    result = ssh.run(SshCommandAction(), hosts="h01", command="id -u; echo $HOME", sudo=True)
    assert result["hosts"][0]["stdout"].startswith("0\n")
    with pytest.raises(HostsFailed):
        ssh.run(SshCommandAction(), hosts="h01", command="sleep 616.31", sudo=True, timeout=1)
    # sudo (use_pty) moves the command into a session of its own; it is gone all the same
    assert wait_gone("sleep 616.31") == []


def test_host_key_mismatch_is_refused_and_names_the_host(ssh: SshEnv) -> None:
    wrong = ssh.scratch / "known_hosts"
    wrong.write_text(ssh.fleet.known_hosts_line("127.0.1.3", other=True))
    ssh.write_inventory(
        ssh.inventory.read_text().replace(
            "h03: {address: 127.0.1.3}", f"h03: {{address: 127.0.1.3, known_hosts: {wrong}}}"
        )
    )
    result = ssh.run(SshCommandAction(), hosts="h[01:03]", command="true", max_failures=1)
    assert result["ok"] == ["h01", "h02"]
    failed = result["hosts"][2]
    assert failed["kind"] == "hostkey"
    assert "HOST KEY MISMATCH" in failed["error"]
    assert f"[127.0.1.3]:{ssh.fleet.port}" in failed["error"]

    with pytest.raises(HostsFailed) as caught:
        ssh.run(SshCommandAction(), hosts="h03", command="true")
    assert caught.value.host == "h03"
    assert caught.value.kind == "hostkey"
    assert caught.value.retryable is False


def test_unknown_host_key_is_refused(ssh: SshEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    without_inventory(ssh, monkeypatch)
    empty = ssh.scratch / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostsFailed) as caught:
        ssh.run(
            SshCommandAction(),
            hosts=f"root@127.0.1.4:{ssh.fleet.port}",
            command="true",
            known_hosts=str(empty),
            key_file=str(ssh.fleet.client_key),
        )
    assert caught.value.kind == "hostkey"
    assert "is not in known_hosts" in str(caught.value)


def test_host_key_checking_off_is_a_logged_warning(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_inventory(ssh, monkeypatch)
    empty = ssh.scratch / "empty_known_hosts"
    empty.write_text("")
    result = ssh.run(
        SshCommandAction(),
        hosts=f"root@127.0.1.4:{ssh.fleet.port}",
        command="echo reached",
        known_hosts=str(empty),
        key_file=str(ssh.fleet.client_key),
        host_key_checking=False,
    )
    assert result["hosts"][0]["stdout"] == "reached\n"
    warning = [line for line in ssh.lines if line.startswith("warning: host key checking")]
    assert warning and "root@127.0.1.4" in warning[0]


def test_refused_key_is_an_authentication_error(ssh: SshEnv, tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "stranger")
    with pytest.raises(HostsFailed) as caught:
        ssh.run(SshCommandAction(), hosts="h01", command="true", key_file=str(stranger))
    assert caught.value.kind == "auth"
    assert caught.value.retryable is False
    assert "authentication refused for root" in str(caught.value)


def test_key_text_parameter_authenticates(ssh: SshEnv) -> None:
    key_text = ssh.fleet.client_key.read_text()
    ssh.write_inventory(ssh.inventory.read_text().replace(f"key_file: {ssh.fleet.client_key}", ""))
    ctx = ssh.ctx(secrets=(key_text,))
    result = ssh.run(SshCommandAction(), ctx, hosts="h01", command="echo in", key=key_text)
    assert result["ok"] == ["h01"]


def test_nothing_listening_is_unreachable_and_retryable(ssh: SshEnv) -> None:
    with pytest.raises(HostsFailed) as caught:
        ssh.run(SshCommandAction(), hosts=f"127.0.1.200:{ssh.fleet.port}", command="true")
    assert caught.value.kind == "unreachable"
    assert caught.value.retryable is True
    assert "connection refused" in str(caught.value)


def test_literal_hosts_work_without_an_inventory(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_inventory(ssh, monkeypatch)
    result = ssh.run(
        SshCommandAction(),
        hosts=[f"root@127.0.1.5:{ssh.fleet.port}", f"root@127.0.1.6:{ssh.fleet.port}"],
        command="echo hi",
        key_file=str(ssh.fleet.client_key),
        known_hosts=str(ssh.fleet.known_hosts),
    )
    assert [h["address"] for h in result["hosts"]] == ["127.0.1.5", "127.0.1.6"]


def test_a_bad_pattern_is_an_input_error(ssh: SshEnv) -> None:
    with pytest.raises(ActionInputError, match="did you mean 'fleet'"):
        ssh.run(SshCommandAction(), hosts="flet", command="true")


def test_a_dead_pooled_connection_is_replaced(ssh: SshEnv) -> None:
    ctx = ssh.ctx()
    ssh.run(SshCommandAction(), ctx, hosts="h01", command="true")
    pool = ctx.resources[POOL_RESOURCE]
    assert isinstance(pool, ConnectionPool)
    for slot in pool._slots.values():
        assert slot.transport is not None
        slot.transport.close()  # as if the server had restarted between two steps
    result = ssh.run(SshCommandAction(), ctx, hosts="h01", command="echo again")
    assert result["hosts"][0]["stdout"] == "again\n"
    assert pool.handshakes == 2


def test_agent_keys_and_the_users_known_hosts_are_used(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_inventory(ssh, monkeypatch)
    # ~/.ssh/known_hosts (HOME is the test's own) is read without being named
    known = Path.home() / ".ssh" / "known_hosts"
    known.write_text(ssh.fleet.known_hosts_line("127.0.1.8"))
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(socket_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + 5
        while not socket_path.exists() and time.monotonic() < give_up:
            time.sleep(0.02)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket_path))
        subprocess.run(
            ["ssh-add", "-q", str(ssh.fleet.client_key)], check=True, capture_output=True
        )
        result = ssh.run(
            SshCommandAction(), hosts=f"root@127.0.1.8:{ssh.fleet.port}", command="echo agent"
        )
    finally:
        agent.terminate()
        agent.wait()
    assert result["hosts"][0]["stdout"] == "agent\n"


def test_an_unreadable_key_is_an_input_error_before_connecting(ssh: SshEnv) -> None:
    with pytest.raises(ActionInputError, match="not a key"):
        ssh.run(SshCommandAction(), hosts="h01", command="true", key="not a key at all")
    with pytest.raises(ActionInputError, match="does not exist"):
        ssh.run(SshCommandAction(), hosts="h01", command="true", key_file="/nonexistent/key")


def test_large_stdin_is_fed_whole(ssh: SshEnv) -> None:
    data = "0123456789" * 200_000  # 2 MB: many times the SSH window
    result = ssh.run(SshCommandAction(), hosts="h01", command="wc -c", stdin=data)
    assert result["hosts"][0]["stdout"].strip() == "2000000"


def test_a_host_result_keeps_head_and_tail_of_a_long_output(ssh: SshEnv) -> None:
    from runbook_engine.actions.ssh.output import MAX_OUTPUT

    result = ssh.run(
        SshCommandAction(),
        hosts="h[01:02]",
        command=f"echo FIRST; head -c {3 * MAX_OUTPUT} /dev/zero | tr '\\0' y; echo; echo LAST",
    )
    total = len("FIRST\n") + 3 * MAX_OUTPUT + 1 + len("LAST\n")
    for host in result["hosts"]:
        assert host["truncated"] is True
        assert host["stdout_bytes"] == total
        assert host["stdout"].startswith("FIRST\n")
        assert host["stdout"].endswith("\nLAST\n")
        assert "bytes truncated ...]" in host["stdout"]
        assert len(host["stdout"]) < MAX_OUTPUT + 100
    quiet = ssh.run(SshCommandAction(), hosts="h01", command="echo hi")["hosts"][0]
    assert "truncated" not in quiet and quiet["stdout"] == "hi\n"
