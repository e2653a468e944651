"""``runbook input`` as the API's client (no store, no runbook files): the same refusals and
exit codes as on a local store, a secret value that reaches only the server, and a ``runbook
run`` in client mode that waits through the input and follows the run to its end."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping

from tests.api.conftest import BOB
from tests.api.test_input_api import ASK
from tests.client.conftest import Remote

CLIENT_ASK = ASK.replace(f"from: [{BOB}]", "from: [alice@example.com]")


def _remote(remote_factory: Callable[[Mapping[str, str]], Remote]) -> tuple[Remote, str]:
    remote = remote_factory({"ask": CLIENT_ASK})
    started = remote.cli("run", "ask", "--yes", "--no-wait", "-o", "json")
    assert started.returncode == 5, started.stderr
    run_id = started.stdout.split('"run_id": "')[1].split('"')[0]
    return remote, run_id


def test_runbook_input_through_the_api(
    remote_factory: Callable[[Mapping[str, str]], Remote],
) -> None:
    remote, run_id = _remote(remote_factory)
    bad = remote.cli("input", run_id, "--set", "replicas=zero")
    assert bad.returncode == 2, bad.stderr
    assert "field 'replicas': expected an integer, got 'zero'" in bad.stderr
    other = remote.cli("input", run_id, "--set", "replicas=2", user="bob@example.com")
    assert other.returncode == 2
    assert "bob@example.com may not give input to runs of ask" in other.stderr
    secret = "client-mode-secret"
    given: subprocess.CompletedProcess[str] = remote.cli(
        "input", run_id, "--set", "replicas=4", "--set", "token=-", input=secret + "\n"
    )
    assert given.returncode == 0, given.stderr
    assert "gave input to step ask" in given.stdout
    assert "replicas=4, env=staging, token=***" in given.stdout
    assert "succeeded" in given.stdout
    assert secret not in given.stdout + given.stderr
    assert remote.local_files() == []
    again = remote.cli("input", run_id, "--set", "replicas=4")
    assert again.returncode == 2
    assert "not waiting for input" in again.stderr


def test_runbook_run_in_client_mode_waits_through_the_input(
    remote_factory: Callable[[Mapping[str, str]], Remote],
) -> None:
    remote = remote_factory({"ask": CLIENT_ASK})
    follower = remote.spawn("run", "ask", "--yes")
    assert follower.stdout is not None
    line = ""
    while "waiting for input" not in line:
        line = follower.stdout.readline()
        assert line, "the run ended before it asked"
    run_id = next(
        r.id for r in remote.server.store.list_runs(limit=5) if r.status == "waiting_input"
    )
    given = remote.cli("input", run_id, "--set", "replicas=1", "--no-resume")
    assert given.returncode == 0, given.stderr
    out, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0, out
    assert "succeeded" in out
